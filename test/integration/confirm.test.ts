import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import {
  type CallToolResult,
  type ClientCapabilities,
  type ElicitRequest,
  ElicitRequestSchema,
  type ElicitResult,
} from '@modelcontextprotocol/sdk/types.js';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { type App, createApp } from '../../src/app.js';
import { resolveConfig } from '../../src/config/resolve.js';
import {
  type ConfirmationRequired,
  confirmationRequiredData,
  confirmationRequiredSchema,
  confirmDestructive,
  confirmTokenArg,
  type DestructivePlan,
} from '../../src/safety/confirm.js';
import { createMcpServer } from '../../src/server.js';
import { initParser } from '../../src/sql/parser.js';
import { defineTool } from '../../src/tools/define.js';
import { resultText } from '../../src/tools/result-text.js';
import { captureLog, type LogLine } from '../support/log-capture.js';
import { pgEnv } from '../support/mcp-client.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';

/** A destructive tool for these tests only: drops a table after confirmDestructive says so. */
const testDrop = defineTool({
  name: 'test_drop',
  title: 'Drop a table (test)',
  description: 'Drops a table; destructive, so it is confirmed first.',
  toolset: 'write',
  readOnly: false,
  destructive: true,
  input: z.object({ table: z.string().regex(/^[a-z_][a-z0-9_]*$/), confirm_token: confirmTokenArg }),
  output: z.object({
    status: z.enum(['ran', 'confirmation_required']),
    via: z.string().optional(),
    confirmation: confirmationRequiredSchema.optional(),
  }),
  async handler(args, ctx) {
    const plan: DestructivePlan = {
      tool: 'test_drop',
      args,
      action: `DROP TABLE public.${args.table}`,
      reasons: [`removes table ${args.table} and every row in it`],
      details: `DROP TABLE public.${args.table};`,
    };
    const c = await confirmDestructive(ctx, plan, args.confirm_token);
    if (!c.confirmed) {
      return {
        text: c.message,
        data: { status: 'confirmation_required' as const, confirmation: confirmationRequiredData(plan, c) },
      };
    }
    await ctx.pools.get().query(`drop table public.${args.table}`);
    return { text: `ran (confirmed via ${c.via})`, data: { status: 'ran' as const, via: c.via } };
  },
});

type Answer = ElicitResult | (() => never);

interface Session {
  /** The elicitation requests the client received. */
  asked: ElicitRequest['params'][];
  call(args: Record<string, unknown>): Promise<CallToolResult & { text: string; data: Data }>;
  close(): Promise<void>;
}
interface Data {
  status?: string;
  via?: string;
  confirmation?: ConfirmationRequired;
}

interface TestApp {
  app: App;
  logs: LogLine[];
  session(opts?: {
    sessionId?: string;
    identity?: string;
    capabilities?: ClientCapabilities;
    /** What the client answers to an elicitation request (a function that throws: the handler fails). */
    answer?: Answer;
  }): Promise<Session>;
  close(): Promise<void>;
}

let db: TestDatabase;
const opened: TestApp[] = [];

async function startApp(env: Record<string, string> = {}): Promise<TestApp> {
  await initParser();
  const { config } = resolveConfig({ env: { ...pgEnv(db), PGMCP_ACCESS: 'write', ...env } });
  const { log, lines: logs } = captureLog('info');
  const app = createApp(config, log, { auditToStderr: false });
  const sessions: Session[] = [];
  let closed = false;
  const testApp: TestApp = {
    app,
    logs,
    async session(opts = {}) {
      const server = createMcpServer(
        app,
        {
          sessionId: opts.sessionId ?? `s-${Math.random().toString(36).slice(2)}`,
          identity: opts.identity ?? 'tester',
        },
        [testDrop],
      );
      const capabilities = opts.capabilities ?? (opts.answer ? { elicitation: { form: {} } } : {});
      const client = new Client({ name: 'confirm-test', version: '0' }, { capabilities });
      const asked: ElicitRequest['params'][] = [];
      const answer = opts.answer;
      if (answer) {
        client.setRequestHandler(ElicitRequestSchema, (request) => {
          asked.push(request.params);
          return typeof answer === 'function' ? answer() : answer;
        });
      }
      const [a, b] = InMemoryTransport.createLinkedPair();
      await Promise.all([server.connect(b), client.connect(a)]);
      const session: Session = {
        asked,
        async call(args) {
          const result = (await client.callTool({ name: 'test_drop', arguments: args })) as CallToolResult;
          return { ...result, text: resultText(result), data: (result.structuredContent ?? {}) as Data };
        },
        async close() {
          await client.close();
          await server.close();
        },
      };
      sessions.push(session);
      return session;
    },
    async close() {
      for (const s of sessions.splice(0)) await s.close();
      if (!closed) {
        closed = true;
        await app.close();
      }
    },
  };
  opened.push(testApp);
  return testApp;
}

let tableNo = 0;
/** A new table with a row in it; its name. */
async function newTable(): Promise<string> {
  const name = `victim_${++tableNo}`;
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  await c.query(`create table public.${name} (id int); insert into public.${name} values (1)`);
  await c.end();
  return name;
}

async function exists(table: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  const r = await c.query('select to_regclass($1) is not null as e', [`public.${table}`]);
  await c.end();
  return r.rows[0].e as boolean;
}

beforeAll(async () => {
  db = await createTestDatabase(inject('pg'), 'confirm');
});

afterEach(async () => {
  for (const t of opened.splice(0)) await t.close();
});

afterAll(async () => {
  await db?.drop();
});

const accept = (confirm: boolean): ElicitResult => ({ action: 'accept', content: { confirm } });

describe('confirmation by elicitation', () => {
  it('asks the user with the action, the reasons and the exact statement; yes runs it', async () => {
    const t = await startApp();
    const s = await t.session({ answer: accept(true) });
    const table = await newTable();
    const r = await s.call({ table });
    expect(r.isError).toBeFalsy();
    expect(r.data).toEqual({ status: 'ran', via: 'elicitation' });
    expect(await exists(table)).toBe(false);
    expect(s.asked).toHaveLength(1);
    const q = s.asked[0] as ElicitRequest['params'] & { requestedSchema: Record<string, unknown> };
    expect(q.mode).toBe('form');
    expect(q.message).toContain(`DROP TABLE public.${table}`);
    expect(q.message).toContain(`removes table ${table} and every row in it`);
    expect(q.message).toContain(`DROP TABLE public.${table};`);
    expect(q.requestedSchema).toMatchObject({
      type: 'object',
      properties: { confirm: { type: 'boolean', title: 'Run this?' } },
      required: ['confirm'],
    });
  });

  it('runs nothing when the user answers no', async () => {
    const t = await startApp();
    const s = await t.session({ answer: accept(false) });
    const table = await newTable();
    const r = await s.call({ table });
    expect(r.isError).toBe(true);
    expect(r.text).toContain('(confirmation_declined)');
    expect(r.text).toContain('the user declined: nothing was run');
    expect(await exists(table)).toBe(true);
  });

  it('runs nothing when the user declines', async () => {
    const t = await startApp();
    const s = await t.session({ answer: { action: 'decline' } });
    const table = await newTable();
    const r = await s.call({ table });
    expect(r.isError).toBe(true);
    expect(r.text).toContain('(confirmation_declined)');
    expect(r.text).toContain('the user declined: nothing was run');
    expect(await exists(table)).toBe(true);
  });

  it('runs nothing when the user dismisses the question', async () => {
    const t = await startApp();
    const s = await t.session({ answer: { action: 'cancel' } });
    const table = await newTable();
    const r = await s.call({ table });
    expect(r.isError).toBe(true);
    expect(r.text).toContain('(confirmation_cancelled)');
    expect(r.text).toContain('the user dismissed the question: nothing was run; ask again if needed');
    expect(await exists(table)).toBe(true);
  });

  it('falls back to a token when the question fails on the client, and logs it', async () => {
    const t = await startApp();
    const s = await t.session({
      answer: () => {
        throw new Error('the dialog broke');
      },
    });
    const table = await newTable();
    const first = await s.call({ table });
    expect(first.isError).toBeFalsy();
    expect(first.data.status).toBe('confirmation_required');
    expect(first.text).toContain('could not ask the user directly');
    expect(first.text).toContain('the dialog broke');
    expect(await exists(table)).toBe(true);
    expect(t.logs.some((l) => l.level === 40 && /falling back to a confirmation token/.test(l.msg))).toBe(true);
    const token = first.data.confirmation?.confirm_token;
    const second = await s.call({ table, confirm_token: token });
    expect(second.data).toEqual({ status: 'ran', via: 'token' });
    expect(s.asked).toHaveLength(1); // a token given: not asked again
    expect(await exists(table)).toBe(false);
  });

  it('falls back to a token when the client declared elicitation but does not answer it (method not found)', async () => {
    const t = await startApp();
    const s = await t.session({ capabilities: { elicitation: { form: {} } } });
    const table = await newTable();
    const r = await s.call({ table });
    expect(r.isError).toBeFalsy();
    expect(r.data.status).toBe('confirmation_required');
    expect(r.data.confirmation?.confirm_token).toMatch(/^[A-Za-z0-9_-]{76}$/);
    expect(r.text).toMatch(/could not ask the user directly: .*Method not found/);
    expect(await exists(table)).toBe(true);
  });

  it('falls back to a token when the client can elicit only by URL', async () => {
    const t = await startApp();
    const s = await t.session({ capabilities: { elicitation: { url: {} } } });
    const table = await newTable();
    const r = await s.call({ table });
    expect(r.data.status).toBe('confirmation_required');
    expect(r.text).toMatch(/could not ask the user directly: .*does not support form elicitation/);
    expect(await exists(table)).toBe(true);
  });
});

describe('confirmation by token (client without elicitation)', () => {
  it('returns confirmation_required with the plan and a token; the same call with the token runs it', async () => {
    const t = await startApp();
    const s = await t.session();
    const table = await newTable();
    const first = await s.call({ table });
    expect(first.isError).toBeFalsy();
    expect(await exists(table)).toBe(true);
    const conf = first.data.confirmation;
    expect(first.data.status).toBe('confirmation_required');
    expect(conf).toMatchObject({
      action: `DROP TABLE public.${table}`,
      reasons: [`removes table ${table} and every row in it`],
      details: `DROP TABLE public.${table};`,
    });
    expect(Date.parse(conf?.expires_at ?? '') - Date.now()).toBeGreaterThan(100_000); // default TTL 2 min
    expect(first.text).toContain('CONFIRMATION REQUIRED: nothing was run');
    expect(first.text).toContain(`"confirm_token": "${conf?.confirm_token}"`);
    expect(first.text).toContain('in 2 min');
    const second = await s.call({ table, confirm_token: conf?.confirm_token });
    expect(second.isError).toBeFalsy();
    expect(second.data).toEqual({ status: 'ran', via: 'token' });
    expect(await exists(table)).toBe(false);
  });

  it('refuses a replayed token', async () => {
    const t = await startApp();
    const s = await t.session();
    const table = await newTable();
    const token = (await s.call({ table })).data.confirmation?.confirm_token;
    expect((await s.call({ table, confirm_token: token })).data.status).toBe('ran');
    // the table is back; the same call with the same token must not drop it again
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    await c.query(`create table public.${table} (id int)`);
    await c.end();
    const replay = await s.call({ table, confirm_token: token });
    expect(replay.isError).toBe(true);
    expect(replay.text).toContain('(token_used)');
    expect(replay.text).toContain('already used');
    expect(await exists(table)).toBe(true);
  });

  it('refuses a token issued for other arguments', async () => {
    const t = await startApp();
    const s = await t.session();
    const [a, b] = [await newTable(), await newTable()];
    const token = (await s.call({ table: a })).data.confirmation?.confirm_token;
    const r = await s.call({ table: b, confirm_token: token });
    expect(r.isError).toBe(true);
    expect(r.text).toContain('(token_mismatch)');
    expect(r.text).toContain('this token was issued for a different call');
    expect(await exists(a)).toBe(true);
    expect(await exists(b)).toBe(true);
  });

  it('refuses an expired token, saying when it expired and the TTL', async () => {
    const t = await startApp({ PGMCP_CONFIRM_TTL: '300ms' });
    const s = await t.session();
    const table = await newTable();
    const conf = (await s.call({ table })).data.confirmation;
    expect(conf?.expires_at).toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, 400));
    const r = await s.call({ table, confirm_token: conf?.confirm_token });
    expect(r.isError).toBe(true);
    expect(r.text).toContain('(token_expired)');
    expect(r.text).toContain(`expired at ${conf?.expires_at}`);
    expect(r.text).toContain('valid for 300 ms');
    expect(await exists(table)).toBe(true);
  });

  it("refuses another session's token, and another identity's; the owner can still use it", async () => {
    const t = await startApp();
    const owner = await t.session({ sessionId: 'owner', identity: 'alice' });
    const otherSession = await t.session({ sessionId: 'intruder', identity: 'alice' });
    const otherIdentity = await t.session({ sessionId: 'owner', identity: 'mallory' });
    const table = await newTable();
    const token = (await owner.call({ table })).data.confirmation?.confirm_token;
    for (const s of [otherSession, otherIdentity]) {
      const r = await s.call({ table, confirm_token: token });
      expect(r.isError).toBe(true);
      expect(r.text).toContain('(token_mismatch)');
      expect(await exists(table)).toBe(true);
    }
    expect((await owner.call({ table, confirm_token: token })).data).toEqual({ status: 'ran', via: 'token' });
    expect(await exists(table)).toBe(false);
  });

  it('refuses garbage as an invalid token', async () => {
    const t = await startApp();
    const s = await t.session();
    const table = await newTable();
    const r = await s.call({ table, confirm_token: 'yes please' });
    expect(r.isError).toBe(true);
    expect(r.text).toContain('(token_invalid)');
    expect(await exists(table)).toBe(true);
    // an empty token is no token: the plan and a new token come back
    const empty = await s.call({ table, confirm_token: '' });
    expect(empty.isError).toBeFalsy();
    expect(empty.data.status).toBe('confirmation_required');
    expect(await exists(table)).toBe(true);
  });

  it('accepts a token from a client that can elicit, without asking again', async () => {
    const t = await startApp();
    const plain = await t.session({ sessionId: 'shared', identity: 'bob' });
    const table = await newTable();
    const token = (await plain.call({ table })).data.confirmation?.confirm_token;
    const eliciting = await t.session({ sessionId: 'shared', identity: 'bob', answer: accept(false) });
    const r = await eliciting.call({ table, confirm_token: token });
    expect(r.data).toEqual({ status: 'ran', via: 'token' });
    expect(eliciting.asked).toHaveLength(0);
  });
});

describe('confirmation turned off (PGMCP_CONFIRM=false)', () => {
  it('runs without asking and logs a warning for each use', async () => {
    const t = await startApp({ PGMCP_CONFIRM: 'false' });
    const eliciting = await t.session({ answer: accept(false) });
    const plain = await t.session();
    for (const s of [eliciting, plain]) {
      const table = await newTable();
      const r = await s.call({ table });
      expect(r.isError).toBeFalsy();
      expect(r.data).toEqual({ status: 'ran', via: 'disabled' });
      expect(await exists(table)).toBe(false);
    }
    expect(eliciting.asked).toHaveLength(0);
    expect(t.logs.filter((l) => l.level === 40 && /without confirmation/.test(l.msg))).toHaveLength(2);
  });
});

describe('a call cancelled while the question is open', () => {
  it('runs nothing and issues no token', async () => {
    const auditDir = mkdtempSync(join(tmpdir(), 'pgmcp-confirm-'));
    const auditFile = join(auditDir, 'audit.log');
    const t = await startApp({ PGMCP_AUDIT_FILE: auditFile });
    const table = await newTable();
    const controller = new AbortController();
    let release: (() => void) | undefined;
    const client = new Client({ name: 'confirm-test', version: '0' }, { capabilities: { elicitation: { form: {} } } });
    client.setRequestHandler(ElicitRequestSchema, async () => {
      controller.abort(); // the user's client gives up on the call while the question is shown
      await new Promise<void>((resolve) => (release = resolve));
      return accept(true);
    });
    const server = createMcpServer(t.app, { sessionId: 'cancelling', identity: 'tester' }, [testDrop]);
    const [a, b] = InMemoryTransport.createLinkedPair();
    await Promise.all([server.connect(b), client.connect(a)]);
    try {
      await expect(
        client.callTool({ name: 'test_drop', arguments: { table } }, undefined, { signal: controller.signal }),
      ).rejects.toThrow(/abort/i);
      release?.(); // the late yes changes nothing
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await exists(table)).toBe(true);
      expect(t.logs.some((l) => /falling back|tool failed/.test(l.msg))).toBe(false);
    } finally {
      await client.close();
      await server.close();
    }
    await t.close(); // writes every audit line
    const audit = readFileSync(auditFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).audit);
    rmSync(auditDir, { recursive: true, force: true });
    expect(audit).toEqual([expect.objectContaining({ tool: 'test_drop', outcome: 'error', code: 'cancelled' })]);
  });
});

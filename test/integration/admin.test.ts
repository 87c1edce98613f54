/**
 * pg_admin against a real PostgreSQL 15 (the shared server, in a database of this file; roles and databases it
 * makes carry a random suffix and are removed at the end). Server-wide changes (ALTER SYSTEM, shared statistics)
 * are tested on a throwaway server of their own in admin-settings.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult, ElicitResult, Progress } from '@modelcontextprotocol/sdk/types.js';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type App, createApp } from '../../src/app.js';
import { resolveConfig } from '../../src/config/resolve.js';
import { createLogger } from '../../src/log.js';
import { createMcpServer } from '../../src/server.js';
import { initParser } from '../../src/sql/parser.js';
import { md5Secret, scramSecret } from '../../src/tools/admin/password.js';
import { pgAdmin } from '../../src/tools/admin.js';
import type { ToolDefinition } from '../../src/tools/define.js';
import { resultText as textOf } from '../../src/tools/result-text.js';
import { type InProcess, pgEnv, startInProcess } from '../support/mcp-client.js';
import { connectionUrl, createTestDatabase, type TestDatabase } from '../support/postgres-server.js';

interface Out {
  action: string;
  status: 'executed' | 'dry_run' | 'confirmation_required';
  database: string;
  summary: string;
  plan: string[];
  destructive: boolean;
  reasons?: string[];
  confirmation?: { action: string; details: string; confirm_token: string; expires_at: string };
  confirmedVia?: string;
  steps?: { sql: string; durationMs: number; result?: string; messages?: string[] }[];
  changes?: { object: string; item: string; before: string | null; after: string | null }[];
  // biome-ignore lint/suspicious/noExplicitAny: facts differ per action
  facts?: Record<string, any>;
  restartRequired?: boolean;
  warnings?: string[];
}

type Result = CallToolResult & { text: string };

const suffix = randomBytes(3).toString('hex');
const created = { roles: [] as string[], databases: [] as string[] };

let db: TestDatabase;
let admin: InProcess;
let writer: InProcess;
/** A superuser connection to the test database, outside pgmcp. */
let check: pg.Client;

const out = (r: { structuredContent?: unknown }) => r.structuredContent as Out;
const one = async (sql: string, params: unknown[] = []) =>
  (await check.query(sql, params)).rows[0] as Record<string, unknown>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const change = (o: Out, object: string, item: string) => o.changes?.find((c) => c.object === object && c.item === item);

/** Calls pg_admin through `mcp`, with progress notifications collected when asked for. */
async function call(mcp: { client: Client }, args: Record<string, unknown>, progress?: Progress[]): Promise<Result> {
  const r = (await mcp.client.callTool(
    { name: 'pg_admin', arguments: args },
    undefined,
    progress ? { onprogress: (p) => progress.push(p), timeout: 120_000 } : { timeout: 120_000 },
  )) as CallToolResult;
  return { ...r, text: textOf(r) };
}

/** The token flow: the first call must come back confirmation_required (nothing done); `between` checks that. */
async function confirmed(
  mcp: { client: Client },
  args: Record<string, unknown>,
  between?: (asked: Out) => Promise<void>,
  progress?: Progress[],
): Promise<{ asked: Out; ran: Result }> {
  const first = await call(mcp, args);
  expect(first.isError, first.text).toBeFalsy();
  const asked = out(first);
  expect(asked.status).toBe('confirmation_required');
  expect(first.text).toMatch(/^CONFIRMATION REQUIRED: nothing was run/);
  expect(asked.confirmation?.confirm_token).toMatch(/^[A-Za-z0-9_-]{76}$/);
  await between?.(asked);
  const ran = await call(mcp, { ...args, confirm_token: asked.confirmation?.confirm_token }, progress);
  return { asked, ran };
}

async function waitFor(what: string, probe: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  db = await createTestDatabase(inject('pg'), 'admin');
  check = new pg.Client({ connectionString: db.url });
  await check.connect();
  const env = pgEnv(db);
  [admin, writer] = await Promise.all([
    startInProcess({ ...env, PGMCP_ACCESS: 'admin' }),
    startInProcess({ ...env, PGMCP_ACCESS: 'write' }),
  ]);
});

afterAll(async () => {
  await Promise.all([admin?.close(), writer?.close()]);
  for (const d of created.databases) await check?.query(`drop database if exists "${d}" with (force)`).catch(() => {});
  for (const r of created.roles) {
    await check?.query(`drop owned by "${r}"`).catch(() => {});
    await check?.query(`drop role if exists "${r}"`).catch(() => {});
  }
  await check?.end();
  await db?.drop();
});

describe('pg_admin: registration and access', () => {
  it('is listed at admin level as a destructive tool with every action', async () => {
    const { tools } = await admin.client.listTools();
    const t = tools.find((x) => x.name === 'pg_admin');
    expect(t?.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true, idempotentHint: false });
    const action = (t?.inputSchema.properties ?? {}) as Record<string, { enum?: string[] }>;
    expect(action.action?.enum).toEqual([
      'vacuum',
      'analyze',
      'reindex',
      'cancel_backend',
      'terminate_backend',
      'set_setting',
      'reset_setting',
      'reload_config',
      'create_database',
      'drop_database',
      'create_role',
      'alter_role',
      'drop_role',
      'grant',
      'revoke',
      'reset_stats',
    ]);
    expect(JSON.stringify(t?.outputSchema).length).toBeLessThan(4000);
  });

  it('is not listed at write level, and a call is an unknown tool', async () => {
    const { tools } = await writer.client.listTools();
    expect(tools.map((t) => t.name)).not.toContain('pg_admin');
    expect(tools.map((t) => t.name)).toContain('pg_execute');
    await expect(call(writer, { action: 'analyze' })).rejects.toThrow(/unknown tool/);
  });

  it('is refused at call time below admin, even when a server offers it', async () => {
    await initParser();
    const { config } = resolveConfig({ env: { ...pgEnv(db), PGMCP_ACCESS: 'write', PGMCP_LOG_LEVEL: 'error' } });
    const app = createApp(config, createLogger('error'), { auditToStderr: false });
    const server = createMcpServer(app, { sessionId: 'below-admin', identity: 'test' }, [
      pgAdmin as unknown as ToolDefinition,
    ]);
    const client = new Client({ name: 'below', version: '0' });
    const [a, b] = InMemoryTransport.createLinkedPair();
    await Promise.all([server.connect(b), client.connect(a)]);
    try {
      const name = `never_${suffix}`;
      const r = await call({ client }, { action: 'create_database', name });
      expect(r.isError).toBe(true);
      expect(r.text).toMatch(/pg_admin needs access level admin; this server runs at write/);
      expect((await one('select count(*)::int as n from pg_database where datname = $1', [name])).n).toBe(0);
    } finally {
      await client.close();
      await app.close();
    }
  });
});

describe('pg_admin: arguments', () => {
  it.each([
    [{ action: 'vacuum', pid: 1 }, /pid does not apply to action vacuum/, /vacuum takes: tables, full/],
    [{ action: 'cancel_backend' }, /action cancel_backend needs pid/, /takes: pid/],
    [{ action: 'grant', objects: ['t'], grantees: ['x'] }, /action grant needs object_type/, /privileges/],
    [{ action: 'reload_config', name: 'x' }, /name does not apply to action reload_config/, /takes no other/],
  ])('refuses %j, naming the argument', async (args, message, hint) => {
    const r = await call(admin, args);
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(message);
    expect(r.text).toMatch(hint);
  });

  it('refuses an unknown table with where to look', async () => {
    const r = await call(admin, { action: 'vacuum', tables: ['no_such_table'] });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/vacuum: no table or other relation named no_such_table/);
  });

  it('refuses VACUUM FULL in parallel', async () => {
    const r = await call(admin, { action: 'vacuum', full: true, parallel: 2 });
    expect(r.text).toMatch(/VACUUM FULL cannot run in parallel/);
  });
});

describe('pg_admin: vacuum and analyze', () => {
  const filenode = async (t: string) => (await one(`select pg_relation_filenode($1::regclass)::text as f`, [t])).f;
  const size = async (t: string) => Number((await one(`select pg_total_relation_size($1::regclass) as s`, [t])).s);

  beforeAll(async () => {
    // A table of which 90% are dead rows, and one with mixed-case names.
    await check.query(`create table bloat (id int primary key, pad text);
      insert into bloat select g, repeat('x', 300) from generate_series(1, 150000) g;
      delete from bloat where id % 10 <> 0;
      create table "Mixed Case" (a int); insert into "Mixed Case" values (1), (2);
      delete from "Mixed Case" where a = 1`);
  });

  it('a plain VACUUM runs without confirmation and reports dead tuples before and after', async () => {
    const r = await call(admin, { action: 'vacuum', tables: ['Mixed Case'] });
    expect(r.isError, r.text).toBeFalsy();
    const o = out(r);
    expect(o).toMatchObject({ status: 'executed', destructive: false, plan: ['VACUUM public."Mixed Case"'] });
    expect(o.confirmedVia).toBeUndefined();
    expect(change(o, 'public."Mixed Case"', 'dead tuples')?.after).toBe('0');
    expect(change(o, 'public."Mixed Case"', 'last vacuum')?.after).toMatch(/^\d{4}-/);
    expect(r.text).toMatch(/^EXECUTED vacuum: VACUUM public\."Mixed Case"/);
  });

  it('VACUUM FULL needs confirmation; nothing happens before the token; then it shrinks the table with progress', async () => {
    const nodeBefore = await filenode('bloat');
    const sizeBefore = await size('bloat');
    const progress: Progress[] = [];
    const { asked, ran } = await confirmed(
      admin,
      { action: 'vacuum', tables: ['bloat'], full: true, verbose: true },
      async (o) => {
        expect(o.plan).toEqual(['VACUUM (FULL, VERBOSE) public.bloat']);
        expect(o.confirmation?.details).toBe('VACUUM (FULL, VERBOSE) public.bloat;');
        expect(o.reasons?.[0]).toMatch(/rewrites public\.bloat \(\d+ MB .*ACCESS EXCLUSIVE lock/);
        expect(await filenode('bloat')).toBe(nodeBefore);
      },
      progress,
    );
    expect(asked.destructive).toBe(true);
    expect(ran.isError, ran.text).toBeFalsy();
    const o = out(ran);
    expect(o).toMatchObject({ status: 'executed', confirmedVia: 'token' });
    expect(await filenode('bloat')).not.toBe(nodeBefore);
    const sizeAfter = await size('bloat');
    expect(sizeAfter).toBeLessThan(sizeBefore * 0.3);
    const c = change(o, 'public.bloat', 'total size');
    expect(Number(c?.before?.match(/\((\d+) bytes\)/)?.[1])).toBe(sizeBefore);
    expect(Number(c?.after?.match(/\((\d+) bytes\)/)?.[1])).toBe(sizeAfter);
    expect(o.steps?.[0]?.messages?.some((m) => /^INFO: vacuuming "public\.bloat"/.test(m))).toBe(true);

    // Progress: a start, a finish, values only going up, out of the announced total.
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress[0]?.message).toBe('VACUUM (FULL, VERBOSE) public.bloat: started');
    expect(progress.at(-1)?.message).toMatch(/^public\.bloat: done in .* \(\d+ [kM]B → \d+ [kM]B\)$/);
    expect(progress.at(-1)).toMatchObject({ progress: 1, total: 1 });
    for (let i = 1; i < progress.length; i++)
      expect(progress[i]?.progress).toBeGreaterThan(progress[i - 1]?.progress as number);
  });

  it('a dry run of VACUUM FULL returns the plan and a token the real call accepts', async () => {
    const nodeBefore = await filenode('bloat');
    const dry = await call(admin, { action: 'vacuum', tables: ['bloat'], full: true, dry_run: true });
    const o = out(dry);
    expect(o).toMatchObject({ status: 'dry_run', destructive: true, plan: ['VACUUM (FULL) public.bloat'] });
    expect(dry.text).toMatch(/^DRY RUN: nothing was run/);
    expect(dry.text).toContain('VACUUM (FULL) public.bloat;');
    expect(await filenode('bloat')).toBe(nodeBefore);
    const ran = await call(admin, {
      action: 'vacuum',
      tables: ['bloat'],
      full: true,
      confirm_token: o.confirmation?.confirm_token,
    });
    expect(out(ran)).toMatchObject({ status: 'executed', confirmedVia: 'token' });
    expect(await filenode('bloat')).not.toBe(nodeBefore);
  });

  it('analyze updates the statistics of the tables named, or of the whole database', async () => {
    await check.query('create table fresh (a int); insert into fresh select generate_series(1, 1000)');
    const r = await call(admin, { action: 'analyze', tables: ['fresh'] });
    expect(r.isError, r.text).toBeFalsy();
    expect(out(r)).toMatchObject({ status: 'executed', plan: ['ANALYZE public.fresh'] });
    expect(change(out(r), 'public.fresh', 'last analyze')?.after).toMatch(/^\d{4}-/);
    expect(
      (await one(`select last_analyze is not null as ok from pg_stat_user_tables where relname = 'fresh'`)).ok,
    ).toBe(true);
    const all = await call(admin, { action: 'analyze', verbose: true });
    expect(out(all)).toMatchObject({ status: 'executed', plan: ['ANALYZE (VERBOSE)'] });
    expect(out(all).steps?.[0]?.messages?.length).toBeGreaterThan(1);
  });
});

describe('pg_admin: reindex', () => {
  const indexOid = async (name: string) => (await one(`select $1::regclass::oid::int as oid`, [name])).oid;
  const filenode = async (t: string) => (await one(`select pg_relation_filenode($1::regclass)::text as f`, [t])).f;

  beforeAll(async () => {
    await check.query(`create table rx (id int primary key, v text);
      insert into rx select g, md5(g::text) from generate_series(1, 50000) g;
      create index rx_v on rx (v)`);
  });

  it('runs CONCURRENTLY by default without confirmation, reporting the wait for a writer as progress', async () => {
    const oidBefore = await indexOid('rx_v');
    // A session writing to the table: REINDEX CONCURRENTLY waits for it before it builds.
    const blocker = new pg.Client({ connectionString: db.url });
    await blocker.connect();
    await blocker.query(`begin; insert into rx values (0, 'writer')`);
    const progress: Progress[] = [];
    const pending = call(admin, { action: 'reindex', target: 'index', name: 'rx_v' }, progress);
    await waitFor('the reindex to wait for the writer', async () =>
      progress.some((p) => /waiting for writers before build/.test(p.message ?? '')),
    );
    await blocker.query('commit');
    await blocker.end();
    const r = await pending;
    expect(r.isError, r.text).toBeFalsy();
    const o = out(r);
    expect(o).toMatchObject({
      status: 'executed',
      destructive: false,
      plan: ['REINDEX INDEX CONCURRENTLY public.rx_v'],
    });
    expect(o.confirmedVia).toBeUndefined();
    // CONCURRENTLY builds a new index and swaps it in: the name stays, the OID changes, it is valid.
    expect(await indexOid('rx_v')).not.toBe(oidBefore);
    expect((await one(`select indisvalid from pg_index where indexrelid = 'rx_v'::regclass`)).indisvalid).toBe(true);
    expect(change(o, 'public.rx_v', 'size')?.after).toMatch(/bytes/);
    const waiting = progress.find((p) => /waiting for writers before build/.test(p.message ?? ''));
    expect(waiting?.message).toMatch(/sessions waited for.*waiting for pid \d+/);
    expect(progress[0]?.message).toBe('REINDEX INDEX CONCURRENTLY public.rx_v: started');
  });

  it('without CONCURRENTLY it needs confirmation, and nothing happens before the token', async () => {
    const before = await filenode('rx_pkey');
    const { asked, ran } = await confirmed(
      admin,
      { action: 'reindex', target: 'table', name: 'rx', concurrently: false },
      async () => {
        expect(await filenode('rx_pkey')).toBe(before);
      },
    );
    expect(asked.plan).toEqual(['REINDEX TABLE public.rx']);
    expect(asked.reasons?.[0]).toMatch(/blocks writes to the tables/);
    expect(out(ran)).toMatchObject({ status: 'executed', confirmedVia: 'token' });
    expect(await filenode('rx_pkey')).not.toBe(before);
  });

  it('cancelling the call cancels the statement on the server', async () => {
    const blocker = new pg.Client({ connectionString: db.url });
    await blocker.connect();
    await blocker.query('begin; lock table rx in row exclusive mode');
    const args = { action: 'reindex', target: 'table', name: 'rx', concurrently: false };
    const asked = out(await call(admin, args));
    const abort = new AbortController();
    const pending = admin.client.callTool(
      { name: 'pg_admin', arguments: { ...args, confirm_token: asked.confirmation?.confirm_token } },
      undefined,
      { signal: abort.signal },
    );
    const waiting = async () =>
      Number((await one(`select count(*) as n from pg_stat_activity where query = 'REINDEX TABLE public.rx'`)).n);
    await waitFor('the REINDEX to wait for the lock', async () => (await waiting()) === 1);
    abort.abort();
    await expect(pending).rejects.toThrow();
    await waitFor('the REINDEX to be cancelled', async () => (await waiting()) === 0, 2000);
    await blocker.query('commit');
    await blocker.end();
  });

  it('a system catalog index cannot go CONCURRENTLY: the plan says so and asks for confirmation', async () => {
    const r = await call(admin, { action: 'reindex', target: 'index', name: 'pg_class_oid_index', dry_run: true });
    const o = out(r);
    expect(o).toMatchObject({
      status: 'dry_run',
      destructive: true,
      plan: ['REINDEX INDEX pg_catalog.pg_class_oid_index'],
    });
    expect(o.warnings?.join()).toMatch(/system catalog index: it cannot be reindexed concurrently/);
  });
});

describe('pg_admin: cancel and terminate a backend', () => {
  /** A direct session running pg_sleep; resolves with its error. */
  async function plant(tag: string): Promise<{ pid: number; client: pg.Client; failed: Promise<Error> }> {
    const client = new pg.Client({ connectionString: db.url, application_name: `planted-${tag}` });
    await client.connect();
    client.on('error', () => {});
    const pid = (await client.query('select pg_backend_pid() as pid')).rows[0].pid as number;
    const failed = client.query(`select pg_sleep(60) /* ${tag} */`).then(
      () => new Error('pg_sleep finished'),
      (err: Error) => err,
    );
    await waitFor('the planted statement', async () => (await state(pid)) === 'active');
    return { pid, client, failed };
  }
  const state = async (pid: number) =>
    ((await check.query('select state from pg_stat_activity where pid = $1', [pid])).rows[0]?.state as string) ??
    'gone';

  it('cancel_backend: the plan shows what runs; nothing before the token; then the statement is cancelled', async () => {
    const p = await plant('cancel-me');
    const { asked, ran } = await confirmed(admin, { action: 'cancel_backend', pid: p.pid }, async (o) => {
      expect(o.reasons?.join('\n')).toMatch(/it is running \(for .*\): select pg_sleep\(60\) \/\* cancel-me \*\//);
      expect(o.facts?.backend).toMatchObject({ pid: p.pid, application: 'planted-cancel-me', state: 'active' });
      await sleep(200);
      expect(await state(p.pid)).toBe('active');
    });
    expect(asked.plan[0]).toMatch(
      new RegExp(`^SELECT pg_cancel_backend\\(pid\\) FROM pg_stat_activity WHERE pid = ${p.pid} AND backend_start = '`),
    );
    expect(ran.isError, ran.text).toBeFalsy();
    const o = out(ran);
    expect(o).toMatchObject({ status: 'executed', facts: { signalled: true, statement: 'ended' } });
    expect(((await p.failed) as Error & { code?: string }).code).toBe('57014');
    expect(await state(p.pid)).toBe('idle');
    await p.client.end();
  });

  it('terminate_backend: nothing before the token; then the backend is gone', async () => {
    const p = await plant('end-me');
    const { ran } = await confirmed(admin, { action: 'terminate_backend', pid: p.pid }, async (o) => {
      expect(o.summary).toMatch(new RegExp(`^terminate client backend ${p.pid} of postgres in ${db.database}`));
      expect(o.reasons?.join('\n')).toMatch(/pg_sleep\(60\) \/\* end-me \*\//);
      expect(await state(p.pid)).toBe('active');
    });
    expect(out(ran)).toMatchObject({ status: 'executed', facts: { signalled: true, gone: true } });
    expect(change(out(ran), `backend ${p.pid}`, 'backend')).toMatchObject({ before: 'active', after: 'gone' });
    expect(await state(p.pid)).toBe('gone');
    expect(((await p.failed) as Error & { code?: string }).code).toBe('57P01');
    await p.client.end().catch(() => {});
  });

  it("refuses pgmcp's own connections and says so", async () => {
    const q = await admin.call('pg_query', { sql: 'select pg_backend_pid() as pid' });
    const pid = (q.structuredContent as { rows: { pid: number }[] }).rows[0]?.pid;
    const r = await call(admin, { action: 'terminate_backend', pid });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(new RegExp(`pid ${pid} is one of pgmcp's own connections .*pgmcp refuses`));
    expect(r.text).not.toMatch(/confirm_token/);
    expect(await state(pid as number)).not.toBe('gone');
  });

  it('says when there is no such backend', async () => {
    const r = await call(admin, { action: 'cancel_backend', pid: 999_999 });
    expect(r.text).toMatch(/no backend with pid 999999/);
  });
});

describe('pg_admin: create and drop a database', () => {
  const exists = async (name: string) =>
    (await one('select count(*)::int as n from pg_database where datname = $1', [name])).n === 1;

  it('creates a database with options, and drops it only after confirmation', async () => {
    const name = `Admin Made ${suffix}`;
    created.databases.push(name);
    const r = await call(admin, {
      action: 'create_database',
      name,
      template: 'template0',
      encoding: 'UTF8',
      locale: 'C',
      connection_limit: 7,
    });
    expect(r.isError, r.text).toBeFalsy();
    expect(out(r).plan).toEqual([
      `CREATE DATABASE "${name}" TEMPLATE = template0 ENCODING = 'UTF8' LOCALE = 'C' CONNECTION LIMIT = 7`,
    ]);
    expect(out(r).destructive).toBe(false);
    const row = await one(
      `select pg_encoding_to_char(encoding) as enc, datcollate, datconnlimit from pg_database where datname = $1`,
      [name],
    );
    expect(row).toEqual({ enc: 'UTF8', datcollate: 'C', datconnlimit: 7 });

    const { asked, ran } = await confirmed(admin, { action: 'drop_database', name }, async () => {
      expect(await exists(name)).toBe(true);
    });
    expect(asked.plan).toEqual([`DROP DATABASE "${name}"`]);
    expect(asked.reasons?.[0]).toMatch(/deletes database .* and everything in it; this cannot be undone/);
    expect(out(ran)).toMatchObject({ status: 'executed', confirmedVia: 'token' });
    expect(await exists(name)).toBe(false);
  });

  it("closes pgmcp's own idle connections to it; other sessions need force", async () => {
    const name = `t_admin_force_${suffix}`;
    created.databases.push(name);
    await call(admin, { action: 'create_database', name });
    // pgmcp's pool now holds an idle connection to it.
    const q = await admin.call('pg_query', { sql: 'select 1 as one', database: name });
    expect(q.isError, q.text).toBeFalsy();
    const other = new pg.Client({ connectionString: connectionUrl(db, name) });
    other.on('error', () => {});
    await other.connect();

    const { asked, ran } = await confirmed(admin, { action: 'drop_database', name });
    expect(asked.warnings?.join('\n')).toMatch(/1 session\(s\) are connected .* unless force: true/);
    expect(asked.warnings?.join('\n')).toMatch(/closes its own 1 idle pooled connection/);
    expect(ran.isError).toBe(true);
    expect(ran.text).toMatch(/^ERROR 55006: DROP DATABASE \w+: database "\w+" is being accessed by other users/);
    expect(ran.text).toMatch(/drop it with force: true/);
    expect(await exists(name)).toBe(true);

    const forced = await confirmed(admin, { action: 'drop_database', name, force: true });
    expect(forced.asked.plan).toEqual([`DROP DATABASE ${name} WITH (FORCE)`]);
    expect(forced.asked.reasons?.join('\n')).toMatch(/terminates the 1 session\(s\) connected to it/);
    expect(out(forced.ran).status).toBe('executed');
    expect(await exists(name)).toBe(false);
    await other.end().catch(() => {});
  });

  it("refuses to drop pgmcp's own database", async () => {
    const r = await call(admin, { action: 'drop_database', name: db.database, force: true });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/is the database pgmcp connects to by default: pgmcp refuses to drop it/);
    expect(await exists(db.database)).toBe(true);
  });
});

describe('pg_admin: roles and passwords', () => {
  const password = `Pw-${randomBytes(9).toString('base64url')}-secret`;
  const password2 = `Pw2-${randomBytes(9).toString('base64url')}-secret`;
  const role = `adm_user_${suffix}`;
  const logs: string[] = [];
  let dir: string;
  let auditFile: string;
  let app: App;
  let client: Client;
  const texts: string[] = [];
  const record = async (args: Record<string, unknown>) => {
    const r = await call({ client }, args);
    texts.push(r.text, JSON.stringify(r.structuredContent ?? null));
    return r;
  };
  const canLogin = async (user: string, pw: string) => {
    const c = new pg.Client({ host: db.host, port: db.port, user, password: pw, database: db.database });
    try {
      await c.connect();
      await c.end();
      return true;
    } catch (err) {
      return (err as Error).message;
    }
  };

  beforeAll(async () => {
    await initParser();
    dir = mkdtempSync(path.join(tmpdir(), 'pgmcp-admin-'));
    auditFile = path.join(dir, 'audit.log');
    const { config } = resolveConfig({
      env: { ...pgEnv(db), PGMCP_ACCESS: 'admin', PGMCP_AUDIT_FILE: auditFile, PGMCP_LOG_LEVEL: 'debug' },
    });
    const sink = new Writable({
      write(chunk, _enc, done) {
        logs.push(String(chunk));
        done();
      },
    });
    app = createApp(config, pino({ level: 'debug' }, sink));
    const server = createMcpServer(app, { sessionId: 'roles', identity: 'test' });
    client = new Client({ name: 'roles', version: '0' });
    const [a, b] = InMemoryTransport.createLinkedPair();
    await Promise.all([server.connect(b), client.connect(a)]);
    created.roles.push(role, `${role}_renamed`, `adm_boss_${suffix}`, `adm_uni_${suffix}`);
  });

  afterAll(async () => {
    await client?.close();
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates a login role whose password works, shown only as ****', async () => {
    const r = await record({
      action: 'create_role',
      name: role,
      login: true,
      password,
      connection_limit: 5,
      valid_until: 'infinity',
    });
    expect(r.isError, r.text).toBeFalsy();
    const o = out(r);
    expect(o.plan).toEqual([
      `CREATE ROLE ${role} WITH LOGIN PASSWORD '****' CONNECTION LIMIT 5 VALID UNTIL 'infinity'`,
    ]);
    expect(o.destructive).toBe(false);
    expect(change(o, `role ${role}`, 'password')?.after).toBe('set (scram-sha-256)');
    expect(await canLogin(role, password)).toBe(true);
    expect(await canLogin(role, 'wrong')).toMatch(/password authentication failed/);
    const stored = await one('select rolpassword from pg_authid where rolname = $1', [role]);
    expect(stored.rolpassword).toMatch(/^SCRAM-SHA-256\$4096:/);
  });

  it('a dry run shows the password masked too', async () => {
    const r = await record({ action: 'alter_role', name: role, password: password2, dry_run: true });
    expect(out(r).plan).toEqual([`ALTER ROLE ${role} WITH PASSWORD '****'`]);
    expect(r.text).toContain(`ALTER ROLE ${role} WITH PASSWORD '****';`);
    expect(await canLogin(role, password)).toBe(true);
  });

  it('alters the password (old one stops working), attributes and the name', async () => {
    const r = await record({
      action: 'alter_role',
      name: role,
      password: password2,
      createdb: true,
      new_name: `${role}_renamed`,
    });
    expect(r.isError, r.text).toBeFalsy();
    expect(out(r).plan).toEqual([
      `ALTER ROLE ${role} RENAME TO ${role}_renamed`,
      `ALTER ROLE ${role}_renamed WITH CREATEDB PASSWORD '****'`,
    ]);
    expect(change(out(r), `role ${role}_renamed`, 'createdb')).toMatchObject({ before: 'false', after: 'true' });
    expect(await canLogin(`${role}_renamed`, password2)).toBe(true);
    expect(await canLogin(`${role}_renamed`, password)).toMatch(/password authentication failed/);
  });

  it('failures with a password in the call do not show it either', async () => {
    const dup = await record({ action: 'create_role', name: `${role}_renamed`, password });
    expect(dup.isError).toBe(true);
    expect(dup.text).toMatch(/already exists/);
    const missing = await record({ action: 'alter_role', name: 'no_such_role_at_all', password });
    expect(missing.isError).toBe(true);
    // A server-side failure while the hashed password is in the statement.
    const reserved = await record({ action: 'create_role', name: `pg_reserved_${suffix}`, password });
    expect(reserved.isError).toBe(true);
    expect(reserved.text).toMatch(
      /^ERROR 42939: CREATE ROLE pg_reserved_\w+ WITH PASSWORD '\*\*\*\*': role name "pg_reserved_\w+" is reserved/,
    );
  });

  it('granting SUPERUSER needs confirmation', async () => {
    const boss = `adm_boss_${suffix}`;
    const { asked } = await confirmed({ client }, { action: 'create_role', name: boss, superuser: true }, async () => {
      expect((await one('select count(*)::int as n from pg_roles where rolname = $1', [boss])).n).toBe(0);
    });
    expect(asked.reasons?.[0]).toMatch(/gives .* SUPERUSER: SUPERUSER bypasses every permission check/);
    expect((await one('select rolsuper from pg_roles where rolname = $1', [boss])).rolsuper).toBe(true);
  });

  it('hashes a non-ASCII password the way the server normalises it (SASLprep)', async () => {
    const uni = `adm_uni_${suffix}`;
    // U+FB01 (ﬁ) becomes "fi" under NFKC; U+00A0 becomes a space.
    const r = await record({ action: 'create_role', name: uni, login: true, password: 'Grüße\u00a0ﬁx-Paß' });
    expect(r.isError, r.text).toBeFalsy();
    expect(await canLogin(uni, 'Grüße\u00a0ﬁx-Paß')).toBe(true);
    expect(await canLogin(uni, 'Grüße fix-Paß')).toBe(true);
  });

  it('drops a role only after confirmation', async () => {
    const name = `${role}_renamed`;
    const count = async () => (await one('select count(*)::int as n from pg_roles where rolname = $1', [name])).n;
    const { asked, ran } = await confirmed({ client }, { action: 'drop_role', name }, async () => {
      expect(await count()).toBe(1);
    });
    texts.push(JSON.stringify(asked), ran.text);
    expect(asked.plan).toEqual([`DROP ROLE ${name}`]);
    expect(asked.reasons?.[0]).toMatch(/deletes role .* \(login\): its attributes and password are gone for good/);
    expect(out(ran)).toMatchObject({ status: 'executed', confirmedVia: 'token' });
    expect(await count()).toBe(0);
  });

  it("refuses to drop pgmcp's own login", async () => {
    const r = await record({ action: 'drop_role', name: 'postgres' });
    expect(r.text).toMatch(/pgmcp logs in as postgres: pgmcp refuses to drop its own login/);
  });

  it('the passwords appear nowhere: results, errors, audit, logs, pg_stat_statements, the server log', async () => {
    await sleep(50);
    await check.query('create extension if not exists pg_stat_statements');
    const audit = readFileSync(auditFile, 'utf8');
    expect(audit.split('\n').filter(Boolean).length).toBeGreaterThanOrEqual(8);
    const statements = await check.query(
      `select query from pg_stat_statements where query ilike '%create role%' or query ilike '%alter role%'`,
    );
    const serverLog = readFileSync(inject('pg').logFile, 'utf8');
    const everything = [...texts, audit, ...logs, ...statements.rows.map((r) => r.query as string), serverLog];
    expect(logs.length).toBeGreaterThan(0);
    for (const pw of [password, password2, 'Grüße']) {
      for (const t of everything) expect(t).not.toContain(pw);
    }
    // Not even the hash pgmcp sent goes back out.
    for (const t of [...texts, audit, ...logs]) expect(t).not.toContain('SCRAM-SHA-256$');
  });

  it('makes the same md5 and SCRAM secrets as the server', async () => {
    expect(md5Secret('pw', 'alice')).toBe((await one(`select 'md5' || md5('pw' || 'alice') as m`)).m);
    const salt = Buffer.from('0123456789abcdef');
    expect(scramSecret('pencil', 4096, salt)).toMatch(/^SCRAM-SHA-256\$4096:MDEyMzQ1Njc4OWFiY2RlZg==\$[^:]+:[^:]+$/);
  });
});

describe('pg_admin: grant and revoke', () => {
  const user = `adm_grantee_${suffix}`;
  const group = `adm_group_${suffix}`;
  const has = async (priv: string, table = 'gt') =>
    (await one('select has_table_privilege($1, $2, $3) as ok', [user, table, priv])).ok;
  const member = async () => (await one(`select pg_has_role($1, $2, 'MEMBER') as ok`, [user, group])).ok;

  beforeAll(async () => {
    created.roles.push(user, group);
    await check.query(`create role "${user}"; create role "${group}";
      create table gt (a int); create schema gs; create table gs.one (a int); create table gs.two (a int)`);
  });

  it('grants table privileges without confirmation, checked with has_table_privilege', async () => {
    expect(await has('SELECT')).toBe(false);
    const r = await call(admin, {
      action: 'grant',
      privileges: ['SELECT', 'INSERT'],
      object_type: 'table',
      objects: ['gt'],
      grantees: [user],
    });
    expect(r.isError, r.text).toBeFalsy();
    expect(out(r)).toMatchObject({
      status: 'executed',
      destructive: false,
      plan: [`GRANT SELECT, INSERT ON TABLE public.gt TO ${user}`],
    });
    expect(change(out(r), 'table public.gt', `INSERT (${user})`)).toMatchObject({ before: 'false', after: 'true' });
    expect(await has('SELECT')).toBe(true);
    expect(await has('INSERT')).toBe(true);
  });

  it('revokes only after confirmation', async () => {
    const { asked, ran } = await confirmed(
      admin,
      { action: 'revoke', privileges: ['INSERT'], object_type: 'table', objects: ['gt'], grantees: [user] },
      async () => {
        expect(await has('INSERT')).toBe(true);
      },
    );
    expect(asked.plan).toEqual([`REVOKE INSERT ON TABLE public.gt FROM ${user}`]);
    expect(asked.reasons?.[0]).toMatch(/takes INSERT on public\.gt away from/);
    expect(out(ran).status).toBe('executed');
    expect(await has('INSERT')).toBe(false);
    expect(await has('SELECT')).toBe(true);
  });

  it('grants on every table of a schema, and role membership; revoking membership is confirmed', async () => {
    const r = await call(admin, {
      action: 'grant',
      privileges: ['SELECT'],
      object_type: 'all_tables_in_schema',
      objects: ['gs'],
      grantees: [user],
    });
    expect(out(r).plan).toEqual([`GRANT SELECT ON ALL TABLES IN SCHEMA gs TO ${user}`]);
    expect(await has('SELECT', 'gs.one')).toBe(true);
    expect(await has('SELECT', 'gs.two')).toBe(true);

    const m = await call(admin, { action: 'grant', object_type: 'role', objects: [group], grantees: [user] });
    expect(out(m).plan).toEqual([`GRANT ${group} TO ${user}`]);
    expect(await member()).toBe(true);
    const { ran } = await confirmed(
      admin,
      { action: 'revoke', object_type: 'role', objects: [group], grantees: [user] },
      async () => {
        expect(await member()).toBe(true);
      },
    );
    expect(out(ran).status).toBe('executed');
    expect(await member()).toBe(false);
  });

  it('refuses a privilege the object type does not have', async () => {
    const r = await call(admin, {
      action: 'grant',
      privileges: ['EXECUTE'],
      object_type: 'table',
      objects: ['gt'],
      grantees: [user],
    });
    expect(r.text).toMatch(/EXECUTE is not a privilege of table/);
  });
});

describe('pg_admin: reset statistics', () => {
  it('resets the counters of a table only after confirmation', async () => {
    await check.query('create table st (a int); insert into st values (1)');
    for (let i = 0; i < 3; i++) await check.query('select count(*) from st');
    const scans = async () =>
      Number((await one(`select seq_scan from pg_stat_user_tables where relname = 'st'`)).seq_scan);
    await waitFor('the scans to be counted', async () => (await scans()) >= 3);
    const { asked, ran } = await confirmed(
      admin,
      { action: 'reset_stats', target: 'table', tables: ['st'] },
      async () => {
        expect(await scans()).toBeGreaterThanOrEqual(3);
      },
    );
    expect(asked.plan).toEqual([`SELECT pg_stat_reset_single_table_counters('public.st'::regclass)`]);
    expect(out(ran).status).toBe('executed');
    expect(change(out(ran), 'public.st', 'sequential scans')?.after).toBe('0');
    expect(await scans()).toBe(0);
  });

  it('resets the statistics of the database', async () => {
    const { ran } = await confirmed(admin, { action: 'reset_stats', target: 'database' });
    const c = change(out(ran), `database ${db.database}`, 'stats reset at');
    expect(c?.after).not.toBe(c?.before);
  });
});

describe('pg_admin: the admin login (PGMCP_ADMIN_URL)', () => {
  it('does all its work on the admin login, never the main one', async () => {
    const main = `adm_main_${suffix}`;
    const made = `adm_made_${suffix}`;
    created.roles.push(main, made);
    await check.query(`create role ${main} login password 'main-pw'`);
    const mcp = await startInProcess({
      ...pgEnv(db),
      PGUSER: main,
      PGPASSWORD: 'main-pw',
      PGMCP_ACCESS: 'admin',
      PGMCP_ADMIN_URL: db.url,
    });
    try {
      // The main login may not create roles; the admin login (a superuser) may.
      const r = await call(mcp, { action: 'create_role', name: made, createdb: true });
      expect(r.isError, r.text).toBeFalsy();
      expect((await one('select rolcreatedb from pg_roles where rolname = $1', [made])).rolcreatedb).toBe(true);
      const own = await call(mcp, { action: 'drop_role', name: main });
      expect(own.text).toMatch(new RegExp(`pgmcp logs in as ${main}: pgmcp refuses to drop its own login`));
    } finally {
      await mcp.close();
    }
  });
});

describe('pg_admin: a client that can ask its user (elicitation)', () => {
  let eliciting: InProcess;
  let answer: ElicitResult = { action: 'decline' };
  const questions: string[] = [];

  beforeAll(async () => {
    eliciting = await startInProcess(
      { ...pgEnv(db), PGMCP_ACCESS: 'admin', PGMCP_LOG_LEVEL: 'error' },
      {
        ask: (params) => {
          questions.push(params.message);
          return answer;
        },
      },
    );
  });

  afterAll(async () => {
    await eliciting?.close();
  });

  it('asks with the plan: declined drops nothing, accepted drops the database', async () => {
    const name = `t_admin_elicit_${suffix}`;
    created.databases.push(name);
    await check.query(`create database ${name}`);
    const exists = async () => (await one('select count(*)::int as n from pg_database where datname = $1', [name])).n;

    answer = { action: 'decline' };
    const no = await call(eliciting, { action: 'drop_database', name });
    expect(no.isError).toBe(true);
    expect(no.text).toMatch(/confirmation_declined/);
    expect(questions.at(-1)).toMatch(new RegExp(`pg_admin wants to run: drop database ${name}`));
    expect(questions.at(-1)).toContain(`DROP DATABASE ${name};`);
    expect(await exists()).toBe(1);

    answer = { action: 'accept', content: { confirm: true } };
    const yes = await call(eliciting, { action: 'drop_database', name });
    expect(yes.structuredContent).toMatchObject({ status: 'executed', confirmedVia: 'elicitation' });
    expect(await exists()).toBe(0);
  });
});

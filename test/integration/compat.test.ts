/**
 * Drop-in compatibility (issue 7): the built binary configured only by other deployments' variables, `pgmcp
 * --transport http` without a sub-command, `pgmcp health`, and the legacy HTTP+SSE transport (GET /sse + POST
 * /messages) with the SDK's SSEClientTransport — authenticated, its transactions its own and rolled back when its
 * stream closes, behind the same Origin checks, body limit, session cap, idle expiry and audit as /mcp.
 */
import http, { type IncomingMessage } from 'node:http';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { BINARY, BUNDLE, requireFiles, run } from '../support/built.js';
import { pgEnv } from '../support/mcp-client.js';
import { createTestDatabase, freePort, type TestDatabase } from '../support/postgres-server.js';
import {
  connect,
  initializeBody,
  MCP_HEADERS,
  type McpSession,
  raw,
  removeTempDirs,
  type SpawnedGateway,
  sessionOver,
  spawnGateway,
  spawnServing,
  startTestGateway,
  type TestGateway,
  until,
  writeTokensFile,
} from './http-helpers.js';

let db: TestDatabase;
let verify: pg.Client;
const spawned: SpawnedGateway[] = [];
const gateways: TestGateway[] = [];

beforeAll(async () => {
  requireFiles([BUNDLE, BINARY]);
  db = await createTestDatabase(inject('pg'), 'compat');
  verify = new pg.Client({ connectionString: db.url });
  await verify.connect();
  await verify.query('create table items (id int primary key)');
});

afterEach(async () => {
  for (const gw of spawned.splice(0)) {
    if (gw.child.exitCode === null && gw.child.signalCode === null) {
      gw.signal('SIGTERM');
      await gw.exited;
    }
  }
  await Promise.allSettled(gateways.splice(0).map((g) => g.stop()));
});

afterAll(async () => {
  await verify?.end();
  await db?.drop();
  removeTempDirs();
});

const basic = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' };

async function backendGone(pid: number): Promise<boolean> {
  const r = await verify.query('select 1 from pg_stat_activity where pid = $1', [pid]);
  return r.rowCount === 0;
}

describe('only the aliases set (no PG*, no PGMCP_*)', () => {
  it('the built binary connects, runs read-only, refuses pg_execute, serves on PORT and checks Origin', async () => {
    const port = await freePort();
    const env = {
      POSTGRES_URL: db.url,
      MCP_READ_ONLY: 'true',
      MCP_TRANSPORT: 'http',
      PORT: String(port),
      MCP_ALLOWED_ORIGINS: 'http://allowed.example',
    };
    const gw = await spawnServing(BINARY, [], env);
    spawned.push(gw);
    expect(new URL(gw.url).port).toBe(String(port));
    expect(gw.stderr()).toMatch(/"access":"read"/);

    const health = await raw(`${gw.base}/health`);
    expect(health.status).toBe(200);
    expect(health.json()).toMatchObject({ status: 'ok', postgres_connection: 'ok' });

    const s = await connect(gw.url);
    try {
      expect(s.client.getInstructions()).toContain('access level "read"');
      const names = (await s.client.listTools()).tools.map((t) => t.name);
      expect(names).toContain('pg_query');
      expect(names).not.toContain('pg_execute');
      await expect(
        s.client.callTool({ name: 'pg_execute', arguments: { sql: 'insert into items values (1)' } }),
      ).rejects.toThrow(/unknown tool pg_execute/);
      const who = await s.ok('pg_query', { sql: 'select current_database() as db' });
      expect((who.structuredContent as { rows: { db: string }[] }).rows[0]?.db).toBe(db.database);
      // Read-only: a write through the read tool is refused too, and nothing was written.
      const write = await s.call('pg_query', { sql: 'insert into items values (2)' });
      expect(write.isError).toBe(true);
    } finally {
      await s.close();
    }
    expect((await verify.query('select count(*)::int as n from items')).rows[0]?.n).toBe(0);

    const post = (origin: string) =>
      raw(gw.url, { method: 'POST', headers: { ...MCP_HEADERS, origin }, body: initializeBody() });
    const foreign = await post('http://evil.example');
    expect(foreign.status).toBe(403);
    expect(foreign.json<{ error: { message: string } }>().error.message).toMatch(
      /Origin "http:\/\/evil\.example" is not allowed/,
    );
    const listed = await post('http://allowed.example');
    expect(listed.status).toBe(200);
    expect(listed.headers['access-control-allow-origin']).toBe('http://allowed.example');
    const sse = await raw(`${gw.base}/sse`, { headers: { origin: 'http://evil.example' } });
    expect(sse.status).toBe(403);
  });

  it('doctor says which name was used for each value, secrets masked', async () => {
    const env = { POSTGRES_URL: db.url, MCP_READ_ONLY: 'true', PORT: '3999', MCP_TRANSPORT: 'sse' };
    const { stdout } = await run(BINARY, ['doctor'], { env });
    const masked = new URL(db.url);
    masked.password = '****';
    expect(stdout).toContain(`connection.url = ${masked.toString()}   [env POSTGRES_URL (alias of DATABASE_URL)]`);
    expect(stdout).toContain('access = read   [env MCP_READ_ONLY (alias of PGMCP_ACCESS)]');
    expect(stdout).toContain('http.port = 3999   [env PORT (alias of PGMCP_HTTP_PORT)]');
    expect(stdout).toContain('transport = http   [env MCP_TRANSPORT (alias of PGMCP_TRANSPORT)]');
    expect(stdout).not.toContain(db.password);
    expect(stdout).toMatch(/ok +postgres: PostgreSQL 15/);

    const both = await run(BINARY, ['doctor'], {
      env: { ...env, PGMCP_ACCESS: 'write', PGMCP_HTTP_PORT: '4000' },
    });
    expect(both.stdout).toContain('access = write   [env PGMCP_ACCESS]');
    expect(both.stdout).toContain('note: MCP_READ_ONLY is set but not used (access comes from env PGMCP_ACCESS)');
    expect(both.stdout).toContain('note: PORT is set but not used (http.port comes from env PGMCP_HTTP_PORT)');
  });

  it('a bad alias value exits 2 naming the alias', async () => {
    const err = await run(BINARY, ['tools'], { env: { POSTGRES_URL: db.url, MCP_READ_ONLY: 'sometimes' } }).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(err).toMatchObject({ code: 2 });
    expect((err as { stderr: string }).stderr).toContain(
      'invalid configuration MCP_READ_ONLY="sometimes" (from env, alias of PGMCP_ACCESS): expected true or false',
    );
  });
});

describe('pgmcp --transport http (no sub-command)', () => {
  it.each([
    ['binary', 'http', BINARY, []],
    ['node bundle', 'http', process.execPath, [BUNDLE]],
    ['binary', 'sse', BINARY, []],
  ])('%s: `pgmcp --transport %s` serves the gateway', async (_n, transport, command, pre) => {
    const gw = await spawnServing(command, [...pre, '--transport', transport, '--port', '0'], {
      ...basic,
      ...pgEnv(db),
    });
    spawned.push(gw);
    const health = await raw(`${gw.base}/health`);
    expect(health.status).toBe(200);
    const s = await connect(gw.url);
    await s.ok('pg_query', { sql: 'select 1' });
    await s.close();
    gw.signal('SIGTERM');
    expect((await gw.exited).code).toBe(0);
  });
});

describe('pgmcp health', () => {
  it('exits 0 on a healthy gateway (token from PGMCP_HEALTH_TOKEN, URL from the configuration), 1 otherwise', async () => {
    const { file, secrets } = writeTokensFile([{ name: 'healthcheck', scope: 'read' }]);
    const port = await freePort();
    const env = {
      ...basic,
      ...pgEnv(db),
      PGMCP_HTTP_TOKENS_FILE: file,
      PGMCP_HTTP_ALLOWED_HOSTS: 'pgmcp.example.com',
      PGMCP_HTTP_HOST: '0.0.0.0',
      PORT: String(port),
    };
    const gw = await spawnServing(BINARY, ['serve', '--transport', 'http'], env);
    spawned.push(gw);

    const ok = await run(BINARY, ['health'], { env: { ...env, PGMCP_HEALTH_TOKEN: secrets.healthcheck as string } });
    expect(ok.stdout).toContain(`http://127.0.0.1:${port}/health: HTTP 200: status ok, postgres ok`);

    const noToken = await run(BINARY, ['health'], { env }).catch((e: { code: number; stderr: string }) => e);
    expect(noToken).toMatchObject({ code: 1 });
    expect((noToken as { stderr: string }).stderr).toMatch(/HTTP 401.*set PGMCP_HEALTH_TOKEN/);

    const down = await run(BINARY, ['health', '--url', `http://127.0.0.1:${await freePort()}/health`], {
      env,
    }).catch((e: { code: number; stderr: string }) => e);
    expect(down).toMatchObject({ code: 1 });
    expect((down as { stderr: string }).stderr).toMatch(/ECONNREFUSED/);
  });

  it('exits 1 when PostgreSQL is unreachable (503)', async () => {
    const env = { ...basic, ...pgEnv(db), PGPORT: '1', PGMCP_CONNECT_TIMEOUT: '1s' };
    const gw = await spawnGateway(BINARY, [], env);
    spawned.push(gw);
    const err = await run(BINARY, ['health', '--url', `${gw.base}/health`], { env }).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(err).toMatchObject({ code: 1 });
    expect((err as { stderr: string }).stderr).toMatch(/HTTP 503: status degraded, postgres failed/);
  });
});

type SseSession = McpSession<SSEClientTransport>;

/** A real SDK client over the legacy HTTP+SSE transport, with a bearer token. */
function connectSse(base: string, token?: string): Promise<SseSession> {
  const transport = new SSEClientTransport(new URL(`${base}/sse`), {
    requestInit: { headers: token ? { authorization: `Bearer ${token}` } : {} },
  });
  return sessionOver(transport, 'pgmcp-sse-test');
}

interface RawStream {
  status: number;
  /** The endpoint event's URL path (`/messages?sessionId=…`) when the stream opened. */
  endpoint?: string;
  text: string;
  /** Settles when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

/** GET /sse by hand: the status, the endpoint event, and when the stream ends. */
function openRawSse(base: string, headers: Record<string, string> = {}): Promise<RawStream> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}/sse`, { headers: { accept: 'text/event-stream', ...headers } });
    req.on('error', reject);
    req.on('response', (res: IncomingMessage) => {
      let text = '';
      let resolved = false;
      const ended = new Promise<void>((done) => {
        res.on('end', () => done());
        res.on('close', () => done());
      });
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        const m = /event: endpoint\ndata: (\S+)\n\n/.exec(text);
        if (m && !resolved) {
          resolved = true;
          resolve({ status: res.statusCode ?? 0, endpoint: m[1], text, ended, close: () => req.destroy() });
        }
      });
      ended.then(() => {
        if (!resolved) resolve({ status: res.statusCode ?? 0, text, ended, close: () => req.destroy() });
      });
    });
  });
}

describe('legacy HTTP+SSE transport (GET /sse + POST /messages)', () => {
  let gw: TestGateway;
  let secrets: Record<string, string>;

  beforeAll(async () => {
    const tokens = writeTokensFile([
      { name: 'alice', scope: 'write' },
      { name: 'bob', scope: 'write' },
      { name: 'reader', scope: 'read' },
    ]);
    secrets = tokens.secrets;
    gw = await startTestGateway({
      ...pgEnv(db),
      PGMCP_ACCESS: 'write',
      PGMCP_HTTP_TOKENS_FILE: tokens.file,
      PGMCP_HTTP_BODY_LIMIT: '2048',
    });
  });

  afterAll(async () => {
    await gw?.stop();
  });

  it('an SDK SSE client lists and calls tools with its bearer token; calls are audited under it', async () => {
    const s = await connectSse(gw.base, secrets.alice);
    try {
      const names = (await s.client.listTools()).tools.map((t) => t.name);
      expect(names).toEqual(expect.arrayContaining(['pg_query', 'pg_schema', 'pg_tx', 'pg_execute']));
      const r = await s.ok('pg_query', { sql: 'select 6 * 7 as answer' });
      expect((r.structuredContent as { rows: { answer: number }[] }).rows[0]?.answer).toBe(42);
    } finally {
      await s.close();
    }
    await until(() => gw.audit().some((a) => a.who === 'alice' && a.tool === 'pg_query' && a.outcome === 'ok'));
  });

  it("a read token's SSE session sees only read tools and is refused pg_execute", async () => {
    const s = await connectSse(gw.base, secrets.reader);
    try {
      const names = (await s.client.listTools()).tools.map((t) => t.name);
      expect(names).not.toContain('pg_execute');
      const r = await s.call('pg_execute', { sql: 'insert into items values (9)' });
      expect(r.isError).toBe(true);
    } finally {
      await s.close();
    }
  });

  it('no token or a wrong token: 401 before any stream opens', async () => {
    expect((await openRawSse(gw.base)).status).toBe(401);
    expect((await openRawSse(gw.base, { authorization: 'Bearer nope' })).status).toBe(401);
    await expect(connectSse(gw.base)).rejects.toThrow(/401|Unauthorized/i);
  });

  it('its transaction stays its own, and closing its stream rolls it back', async () => {
    const a = await connectSse(gw.base, secrets.alice);
    const sameToken = await connectSse(gw.base, secrets.alice);
    const other = await connectSse(gw.base, secrets.bob);
    try {
      const begun = await a.ok('pg_tx', { action: 'begin', read_only: false });
      const tx = (begun.structuredContent as { transaction: { handle: string } }).transaction.handle;
      await a.ok('pg_execute', { tx, sql: 'insert into items values (1)' });
      const pidRow = await a.ok('pg_query', { sql: 'select pg_backend_pid() as pid', tx });
      const pid = (pidRow.structuredContent as { rows: { pid: number }[] }).rows[0]?.pid as number;
      const state = await verify.query('select state from pg_stat_activity where pid = $1', [pid]);
      expect(state.rows[0]?.state).toBe('idle in transaction');

      for (const s of [sameToken, other]) {
        const used = await s.call('pg_query', { sql: 'select count(*) from items', tx });
        expect(used.isError).toBe(true);
        expect(used.text).toMatch(/tx_unknown|no open transaction/);
        const commit = await s.call('pg_tx', { action: 'commit', tx });
        expect(commit.isError).toBe(true);
      }
      // Still open and its own: it sees its row; nobody else does.
      const mine = await a.ok('pg_query', { sql: 'select count(*)::int as n from items', tx });
      expect((mine.structuredContent as { rows: { n: number }[] }).rows[0]?.n).toBe(1);

      await a.close(); // the stream closes
      await until(() => backendGone(pid));
      expect((await verify.query('select count(*)::int as n from items')).rows[0]?.n).toBe(0);
    } finally {
      await Promise.allSettled([a.close(), sameToken.close(), other.close()]);
    }
  });

  it("a session's messages come only from its own token; bad posts are refused", async () => {
    const stream = await openRawSse(gw.base, { authorization: `Bearer ${secrets.alice}` });
    try {
      expect(stream.status).toBe(200);
      expect(stream.endpoint).toMatch(/^\/messages\?sessionId=[0-9a-f-]{36}$/);
      const url = `${gw.base}${stream.endpoint}`;
      const body = initializeBody();
      const post = (token: string | undefined, target = url, text = body) =>
        raw(target, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
          body: text,
        });
      expect((await post(secrets.bob)).status).toBe(403);
      expect((await post(undefined)).status).toBe(401);
      expect((await post(secrets.alice, `${gw.base}/messages`)).status).toBe(400);
      expect(
        (await post(secrets.alice, `${gw.base}/messages?sessionId=00000000-0000-0000-0000-000000000000`)).status,
      ).toBe(404);
      expect((await post(secrets.alice, url, '{"jsonrpc":')).status).toBe(400);
      const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping', params: { pad: 'x'.repeat(4096) } });
      expect((await post(secrets.alice, url, big)).status).toBe(413);
      expect((await post(secrets.alice)).status).toBe(202);
      // The SSE session id is no Streamable HTTP session.
      const sessionId = new URL(url).searchParams.get('sessionId') as string;
      const mcp = await raw(gw.url, {
        method: 'POST',
        headers: { ...MCP_HEADERS, authorization: `Bearer ${secrets.alice}`, 'mcp-session-id': sessionId },
        body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
      });
      expect(mcp.status).toBe(404);
      // GET only on /sse, POST only on /messages.
      expect(
        (await raw(`${gw.base}/sse`, { method: 'POST', headers: { authorization: `Bearer ${secrets.alice}` } })).status,
      ).toBe(405);
      expect((await raw(url, { headers: { authorization: `Bearer ${secrets.alice}` } })).status).toBe(405);
    } finally {
      stream.close();
    }
  });

  it('SSE sessions count in /health and /metrics', async () => {
    const auth = { authorization: `Bearer ${secrets.alice}` };
    const openSessions = async () =>
      (await raw(`${gw.base}/health`, { headers: auth })).json<{ components: { sessions: { open: number } } }>()
        .components.sessions.open;
    await until(async () => (await openSessions()) === 0); // the streams of earlier tests have ended
    const stream = await openRawSse(gw.base, auth);
    try {
      expect(await openSessions()).toBe(1);
      const metrics = await raw(`${gw.base}/metrics`, { headers: auth });
      expect(metrics.text).toMatch(/pgmcp_sessions_open 1\b/);
    } finally {
      stream.close();
    }
    await until(async () => (await openSessions()) === 0);
  });
});

describe('legacy SSE sessions: cap and idle expiry', () => {
  it('share the session cap with /mcp (503 beyond it)', async () => {
    const gw = await startTestGateway({ ...pgEnv(db), PGMCP_HTTP_MAX_SESSIONS: '1' });
    gateways.push(gw);
    const first = await openRawSse(gw.base);
    expect(first.status).toBe(200);
    const second = await openRawSse(gw.base);
    expect(second.status).toBe(503);
    const streamable = await raw(gw.url, { method: 'POST', headers: MCP_HEADERS, body: initializeBody() });
    expect(streamable.status).toBe(503);
    first.close();
    await until(async () => {
      const next = await openRawSse(gw.base);
      next.close();
      return next.status === 200;
    });
  });

  it('a Streamable HTTP session at the cap keeps a new SSE session out', async () => {
    const gw = await startTestGateway({ ...pgEnv(db), PGMCP_HTTP_MAX_SESSIONS: '1' });
    gateways.push(gw);
    const s = await connect(gw.url);
    try {
      expect((await openRawSse(gw.base)).status).toBe(503);
    } finally {
      await s.close();
    }
  });

  it('a session with no message for the idle time ends: its stream is closed and its transaction rolled back', async () => {
    const gw = await startTestGateway({
      ...pgEnv(db),
      PGMCP_ACCESS: 'write',
      PGMCP_HTTP_SESSION_IDLE_TIMEOUT: '1500ms',
    });
    gateways.push(gw);
    // Raw stream: expiry ends it from the server side (an SDK client's EventSource would reconnect).
    const stream = await openRawSse(gw.base);
    const s = await connectSse(gw.base);
    const begun = await s.ok('pg_tx', { action: 'begin', read_only: false });
    const tx = (begun.structuredContent as { transaction: { handle: string } }).transaction.handle;
    const pidRow = await s.ok('pg_query', { sql: 'select pg_backend_pid() as pid', tx });
    const pid = (pidRow.structuredContent as { rows: { pid: number }[] }).rows[0]?.pid as number;
    await until(() => backendGone(pid), 8000);
    await stream.ended;
    await s.close();
  });
});

// Streamable HTTP still works beside the legacy endpoints on the same server.
describe('both transports on one gateway', () => {
  it('a Streamable HTTP client and an SSE client at once', async () => {
    const gw = await startTestGateway({ ...pgEnv(db) });
    gateways.push(gw);
    const [a, b] = await Promise.all([connect(gw.url), connectSse(gw.base)]);
    try {
      const [ra, rb] = await Promise.all([
        a.ok('pg_query', { sql: 'select 1 as one' }),
        b.ok('pg_query', { sql: 'select 2 as two' }),
      ]);
      expect(ra.structuredContent).toMatchObject({ rows: [{ one: 1 }] });
      expect(rb.structuredContent).toMatchObject({ rows: [{ two: 2 }] });
      expect(a.transport).toBeInstanceOf(StreamableHTTPClientTransport);
    } finally {
      await Promise.allSettled([a.close(), b.close()]);
    }
  });
});

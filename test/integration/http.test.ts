/**
 * The HTTP gateway against a real PostgreSQL, on a random loopback port, with real SDK StreamableHTTPClientTransport
 * clients and raw HTTP requests: sessions and their transactions, DELETE, Host/Origin checks, tokens and scopes,
 * database limits, identity headers, body limit, /health, /metrics and POST /tools/NAME.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { pgEnv } from '../support/mcp-client.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';
import {
  connect,
  initializeBody,
  MCP_HEADERS,
  type McpSession,
  raw,
  removeTempDirs,
  startTestGateway,
  type TestGateway,
  until,
  writeTokensFile,
} from './http-helpers.js';

let db: TestDatabase;
let other: TestDatabase;
let verify: pg.Client;
let gw: TestGateway;
let secrets: Record<string, string>;
const BODY_LIMIT = 64 * 1024;
const open: McpSession[] = [];

const bearer = (name: string) => ({ authorization: `Bearer ${secrets[name]}` });

async function session(token?: string, headers: Record<string, string> = {}): Promise<McpSession> {
  const s = await connect(gw.url, token ? secrets[token] : undefined, headers);
  open.push(s);
  return s;
}

async function begin(s: McpSession, args: Record<string, unknown> = {}): Promise<string> {
  const r = await s.ok('pg_tx', { action: 'begin', read_only: false, ...args });
  return (r.structuredContent as { transaction: { handle: string } }).transaction.handle;
}

async function backendPid(s: McpSession, tx: string): Promise<number> {
  const r = await s.ok('pg_query', { sql: 'select pg_backend_pid() as pid', tx });
  return (r.structuredContent as { rows: { pid: number }[] }).rows[0]?.pid as number;
}

async function itemLocks(pid: number): Promise<number> {
  const r = await verify.query<{ n: number }>(
    "select count(*)::int as n from pg_locks where pid = $1 and relation = 'items'::regclass",
    [pid],
  );
  return r.rows[0]?.n ?? 0;
}

async function backendState(pid: number): Promise<string | undefined> {
  const r = await verify.query<{ state: string }>('select state from pg_stat_activity where pid = $1', [pid]);
  return r.rows[0]?.state;
}

async function committedIds(): Promise<number[]> {
  const r = await verify.query<{ id: number }>('select id from items order by id');
  return r.rows.map((row) => row.id);
}

beforeAll(async () => {
  db = await createTestDatabase(inject('pg'), 'http');
  other = await createTestDatabase(inject('pg'), 'http_other');
  verify = new pg.Client({ connectionString: db.url });
  await verify.connect();
  await verify.query('create table items (id int primary key, note text)');
  await verify.query('create table victim (id int)');
  const tokens = writeTokensFile(
    [
      { name: 'reader', scope: 'read' },
      { name: 'writer', scope: 'write' },
      { name: 'limited', scope: 'write', databases: [db.database] },
    ],
    [
      { login: 'alice@example.com', scope: 'write' },
      { login: '*', scope: 'read' },
    ],
  );
  secrets = tokens.secrets;
  gw = await startTestGateway({
    ...pgEnv(db),
    PGMCP_ACCESS: 'write',
    PGMCP_HTTP_TOKENS_FILE: tokens.file,
    PGMCP_HTTP_TRUST_IDENTITY_HEADERS: 'true',
    PGMCP_HTTP_ALLOWED_HOSTS: 'pi.example-tailnet.ts.net',
    PGMCP_HTTP_ALLOWED_ORIGINS: 'https://console.example.com',
    PGMCP_HTTP_BODY_LIMIT: String(BODY_LIMIT),
  });
});

afterAll(async () => {
  await Promise.allSettled(open.map((s) => s.close()));
  await gw?.stop();
  await verify?.end();
  await db?.drop();
  await other?.drop();
  removeTempDirs();
});

describe('MCP sessions over Streamable HTTP', () => {
  it('two SDK clients at once hold separate transactions; DELETE rolls one back', async () => {
    const [a, b] = await Promise.all([session('writer'), session('writer')]);
    expect(a.transport.sessionId).toBeTruthy();
    expect(b.transport.sessionId).not.toBe(a.transport.sessionId);
    const [txA, txB] = await Promise.all([begin(a), begin(b)]);
    await a.ok('pg_execute', { tx: txA, sql: "insert into items values (1, 'from a')" });
    await b.ok('pg_execute', { tx: txB, sql: "insert into items values (2, 'from b')" });
    const seen = async (s: McpSession, tx: string) =>
      (
        (await s.ok('pg_query', { sql: 'select id from items order by id', tx })).structuredContent as {
          rows: { id: number }[];
        }
      ).rows.map((r) => r.id);
    expect(await seen(a, txA)).toEqual([1]);
    expect(await seen(b, txB)).toEqual([2]);
    // A handle works only in the session that began it.
    const foreign = await a.call('pg_query', { sql: 'select 1', tx: txB });
    expect(foreign.isError).toBe(true);

    const [pidA, pidB] = await Promise.all([backendPid(a, txA), backendPid(b, txB)]);
    expect(pidA).not.toBe(pidB);
    expect(await backendState(pidA)).toBe('idle in transaction');
    expect(await backendState(pidB)).toBe('idle in transaction');
    expect(await itemLocks(pidB)).toBeGreaterThan(0);
    expect(await committedIds()).toEqual([]);

    await a.ok('pg_tx', { action: 'commit', tx: txA });
    // DELETE ends session b: its transaction is rolled back before the answer.
    await b.transport.terminateSession();
    expect(await itemLocks(pidB)).toBe(0);
    expect(await backendState(pidB)).not.toBe('idle in transaction');
    expect(await committedIds()).toEqual([1]);
    // The ended session is unknown now.
    const after = await raw(gw.url, {
      method: 'POST',
      headers: { ...MCP_HEADERS, ...bearer('writer'), 'mcp-session-id': b.transport.sessionId ?? 'gone' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list', params: {} }),
    });
    expect(after.status).toBe(404);
    // a is untouched.
    expect((await a.ok('pg_query', { sql: 'select 1 as one' })).structuredContent).toMatchObject({
      rows: [{ one: 1 }],
    });
  });

  it('an unknown session id gets 404; a request without one that is not initialize gets 400', async () => {
    const unknown = await raw(gw.url, {
      method: 'POST',
      headers: { ...MCP_HEADERS, ...bearer('reader'), 'mcp-session-id': '5b1cf2a4-0000-4000-8000-000000000000' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
    });
    expect(unknown.status).toBe(404);
    expect(unknown.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32001 } });
    const get = await raw(gw.url, {
      headers: { ...bearer('reader'), accept: 'text/event-stream', 'mcp-session-id': 'x' },
    });
    expect(get.status).toBe(404);
    const noSession = await raw(gw.url, {
      method: 'POST',
      headers: { ...MCP_HEADERS, ...bearer('reader') },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
    });
    expect(noSession.status).toBe(400);
  });

  it('a session belongs to the token that opened it', async () => {
    const s = await session('reader');
    const stolen = await raw(gw.url, {
      method: 'POST',
      headers: { ...MCP_HEADERS, ...bearer('writer'), 'mcp-session-id': s.transport.sessionId as string },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
    });
    expect(stolen.status).toBe(403);
    expect((await s.client.listTools()).tools.length).toBeGreaterThan(0);
  });
});

describe('DNS-rebinding protection', () => {
  it('refuses a foreign Host or Origin with 403 and accepts loopback and configured names', async () => {
    const port = new URL(gw.base).port;
    const health = (headers: Record<string, string>) =>
      raw(`${gw.base}/health`, { headers: { ...bearer('reader'), ...headers } });
    expect((await health({ host: 'evil.example.com' })).status).toBe(403);
    expect((await health({ host: `evil.example.com:${port}` })).status).toBe(403);
    expect((await health({ origin: 'http://evil.example.com' })).status).toBe(403);
    expect((await health({ origin: 'null' })).status).toBe(403);
    expect((await health({ host: `localhost:${port}` })).status).toBe(200);
    expect((await health({ host: `[::1]:${port}` })).status).toBe(200);
    expect((await health({ host: 'pi.example-tailnet.ts.net' })).status).toBe(200);
    expect((await health({ origin: `http://localhost:${port}` })).status).toBe(200);
    expect((await health({ origin: 'https://console.example.com' })).status).toBe(200);
    // Refused before authentication and before the body is read.
    const mcp = await raw(gw.url, {
      method: 'POST',
      headers: { ...MCP_HEADERS, host: 'evil.example.com', origin: 'http://evil.example.com' },
      body: initializeBody(),
    });
    expect(mcp.status).toBe(403);
    expect(mcp.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32000 } });
  });
});

describe('bearer tokens', () => {
  it('answers 401 without a token or with a bad one, on every endpoint', async () => {
    for (const [url, method, body] of [
      [gw.url, 'POST', initializeBody()],
      [`${gw.base}/health`, 'GET', undefined],
      [`${gw.base}/metrics`, 'GET', undefined],
      [`${gw.base}/tools/pg_query`, 'POST', '{"sql":"select 1"}'],
    ] as const) {
      const none = await raw(url, { method, headers: MCP_HEADERS, ...(body ? { body } : {}) });
      expect(none.status, `${method} ${url} without a token`).toBe(401);
      expect(none.headers['www-authenticate']).toMatch(/^Bearer realm="pgmcp"/);
      const bad = await raw(url, {
        method,
        headers: { ...MCP_HEADERS, authorization: 'Bearer pgmcp_not-a-real-token' },
        ...(body ? { body } : {}),
      });
      expect(bad.status, `${method} ${url} with a bad token`).toBe(401);
      expect(bad.headers['www-authenticate']).toContain('error="invalid_token"');
      const basic = await raw(url, { method, headers: { ...MCP_HEADERS, authorization: 'Basic dXNlcjpwYXNz' } });
      expect(basic.status).toBe(401);
    }
    await expect(connect(gw.url)).rejects.toThrow();
    await expect(connect(gw.url, 'pgmcp_wrong')).rejects.toThrow();
  });

  it('a read token lists only what it may call and is refused a write tool, per call', async () => {
    const reader = await session('reader');
    const writer = await session('writer');
    const names = (await reader.client.listTools()).tools.map((t) => t.name);
    expect(names).toContain('pg_query');
    expect(names).not.toContain('pg_execute');
    expect((await writer.client.listTools()).tools.map((t) => t.name)).toContain('pg_execute');

    // Naming the write tool anyway: refused by the dispatcher at call time.
    const refused = await reader.call('pg_execute', { sql: "insert into items values (50, 'no')" });
    expect(refused.isError).toBe(true);
    expect(refused.text).toMatch(/pg_execute needs access level write; reader has scope read/);
    // Writable transactions are refused too (the tool sees the token's level).
    const tx = await reader.call('pg_tx', { action: 'begin', read_only: false });
    expect(tx.isError).toBe(true);
    expect(tx.text).toMatch(/access level read/);
    // Over REST: 403 with the code.
    const rest = await raw(`${gw.base}/tools/pg_execute`, {
      method: 'POST',
      headers: bearer('reader'),
      body: JSON.stringify({ sql: "insert into items values (51, 'no')" }),
    });
    expect(rest.status).toBe(403);
    expect(rest.json()).toMatchObject({ ok: false, code: 'access_denied' });
    expect(await committedIds()).not.toContain(50);
    expect(await committedIds()).not.toContain(51);
    await until(() =>
      gw.audit().some((a) => a.who === 'reader' && a.tool === 'pg_execute' && a.code === 'access_denied'),
    );
  });

  it('a token limited to one database is refused another', async () => {
    const limited = await session('limited');
    const own = await limited.ok('pg_query', { sql: 'select current_database() as db' });
    expect(own.structuredContent).toMatchObject({ rows: [{ db: db.database }] });
    const elsewhere = await limited.call('pg_query', { sql: 'select 1', database: other.database });
    expect(elsewhere.isError).toBe(true);
    expect(elsewhere.text).toMatch(/not allowed for limited/);
    const schema = await limited.call('pg_schema', { database: other.database });
    expect(schema.isError).toBe(true);
    const rest = await raw(`${gw.base}/tools/pg_query`, {
      method: 'POST',
      headers: bearer('limited'),
      body: JSON.stringify({ sql: 'select 1', database: other.database }),
    });
    expect(rest.status).toBe(403);
    expect(rest.json()).toMatchObject({ code: 'database_not_allowed' });
    // An unlimited token reaches the other database.
    const writer = await session('writer');
    await writer.ok('pg_query', { sql: 'select 1', database: other.database });
  });
});

describe('identity headers', () => {
  it('trusts the identity header from a loopback peer, maps it to a scope and audits it', async () => {
    const alice = { 'tailscale-user-login': 'alice@example.com' };
    const bob = { 'tailscale-user-login': 'bob@example.com' };
    const asAlice = await raw(`${gw.base}/tools/pg_query`, {
      method: 'POST',
      headers: alice,
      body: JSON.stringify({ sql: 'select 7 as seven' }),
    });
    expect(asAlice.status).toBe(200);
    const s = await session(undefined, alice);
    expect((await s.client.listTools()).tools.map((t) => t.name)).toContain('pg_execute');
    await s.ok('pg_execute', { sql: "insert into items values (70, 'alice')" });
    // bob matches "*": read.
    const asBob = await raw(`${gw.base}/tools/pg_execute`, {
      method: 'POST',
      headers: bob,
      body: JSON.stringify({ sql: "insert into items values (71, 'bob')" }),
    });
    expect(asBob.status).toBe(403);
    await until(() => gw.audit().some((a) => a.who === 'alice@example.com' && a.tool === 'pg_execute'));
    expect(gw.audit().some((a) => a.who === 'bob@example.com' && a.code === 'access_denied')).toBe(true);
    expect(await committedIds()).toContain(70);
    expect(await committedIds()).not.toContain(71);
  });
});

describe('request body limit', () => {
  it('answers 413 for a body over the limit, declared or streamed', async () => {
    const big = JSON.stringify({ sql: `select '${'x'.repeat(BODY_LIMIT)}'` });
    const declared = await raw(`${gw.base}/tools/pg_query`, { method: 'POST', headers: bearer('reader'), body: big });
    expect(declared.status).toBe(413);
    const chunked = await raw(`${gw.base}/tools/pg_query`, {
      method: 'POST',
      headers: bearer('reader'),
      body: big,
      chunked: true,
    });
    expect(chunked.status).toBe(413);
    const s = await session('reader');
    const mcp = await raw(gw.url, {
      method: 'POST',
      headers: { ...MCP_HEADERS, ...bearer('reader'), 'mcp-session-id': s.transport.sessionId as string },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 5,
        method: 'tools/call',
        params: { name: 'pg_query', arguments: { sql: big } },
      }),
    });
    expect(mcp.status).toBe(413);
    expect(mcp.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32600 } });
    // Just under the limit is fine.
    const fits = await raw(`${gw.base}/tools/pg_query`, {
      method: 'POST',
      headers: bearer('reader'),
      body: JSON.stringify({ sql: `select length('${'x'.repeat(BODY_LIMIT - 200)}') as n` }),
    });
    expect(fits.status).toBe(200);
  });
});

describe('/health, /metrics and POST /tools/NAME', () => {
  it('/health reports PostgreSQL, Citus, uptime and components', async () => {
    const r = await raw(`${gw.base}/health`, { headers: bearer('reader') });
    expect(r.status).toBe(200);
    const h = r.json<Record<string, unknown> & { components: Record<string, unknown> }>();
    expect(h).toMatchObject({ status: 'ok', postgres_connection: 'ok', citus_extension: false });
    expect(typeof h.uptime_seconds).toBe('number');
    expect(h.components).toMatchObject({
      postgres: { status: 'ok', database: db.database },
      citus: { status: 'absent' },
      patroni: { configured: false },
      sessions: { max: 100 },
    });
    expect(JSON.stringify(h)).not.toContain(db.password);
  });

  it('POST /tools/pg_query runs one call with JSON in and out', async () => {
    const r = await raw(`${gw.base}/tools/pg_query`, {
      method: 'POST',
      headers: { ...bearer('reader'), 'content-type': 'application/json' },
      body: JSON.stringify({ sql: 'select $1::int + 1 as answer', params: [41] }),
    });
    expect(r.status).toBe(200);
    expect(r.json()).toMatchObject({ ok: true, tool: 'pg_query', data: { rows: [{ answer: 42 }], rowCount: 1 } });
    const bad = await raw(`${gw.base}/tools/pg_query`, {
      method: 'POST',
      headers: bearer('reader'),
      body: JSON.stringify({ sql: 'select * from missing_table' }),
    });
    expect(bad.status).toBe(422);
    expect(bad.json()).toMatchObject({ ok: false, code: '42P01' });
    const wrongArgs = await raw(`${gw.base}/tools/pg_query`, {
      method: 'POST',
      headers: bearer('reader'),
      body: JSON.stringify({ sqll: 'select 1' }),
    });
    expect(wrongArgs.status).toBe(400);
    const notJson = await raw(`${gw.base}/tools/pg_query`, { method: 'POST', headers: bearer('reader'), body: '{' });
    expect(notJson.status).toBe(400);
    const unknown = await raw(`${gw.base}/tools/pg_nothing`, { method: 'POST', headers: bearer('reader'), body: '{}' });
    expect(unknown.status).toBe(404);
    expect(unknown.json<{ tools: string[] }>().tools).not.toContain('pg_execute');
    const get = await raw(`${gw.base}/tools/pg_query`, { headers: bearer('reader') });
    expect(get.status).toBe(405);
    await until(() =>
      gw.audit().some((a) => a.who === 'reader' && a.session === 'rest:token:reader' && a.tool === 'pg_query'),
    );
  });

  it('POST /tools/pg_execute keeps the confirmation-token flow: 409 with a token, then the same call with it', async () => {
    const call = (extra: Record<string, unknown> = {}) =>
      raw(`${gw.base}/tools/pg_execute`, {
        method: 'POST',
        headers: bearer('writer'),
        body: JSON.stringify({ sql: 'drop table victim', ...extra }),
      });
    const first = await call();
    expect(first.status).toBe(409);
    const body = first.json<{ code: string; confirm_token: string; text: string }>();
    expect(body.code).toBe('confirmation_required');
    expect(body.confirm_token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect((await verify.query("select to_regclass('victim') as t")).rows[0]?.t).toBe('victim');
    // Another token cannot use it.
    const stolen = await raw(`${gw.base}/tools/pg_execute`, {
      method: 'POST',
      headers: { 'tailscale-user-login': 'alice@example.com' },
      body: JSON.stringify({ sql: 'drop table victim', confirm_token: body.confirm_token }),
    });
    expect(stolen.status).toBe(422);
    const second = await call({ confirm_token: body.confirm_token });
    expect(second.status).toBe(200);
    expect(second.json()).toMatchObject({ ok: true, data: { status: 'executed' } });
    expect((await verify.query("select to_regclass('victim') as t")).rows[0]?.t).toBeNull();
  });

  it('/metrics exposes tool calls, latency, pools, transactions and sessions in Prometheus format', async () => {
    const s = await session('writer');
    const tx = await begin(s);
    await s.ok('pg_query', { sql: 'select 1', tx });
    const r = await raw(`${gw.base}/metrics`, { headers: bearer('reader') });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain/);
    const text = r.text;
    expect(text).toMatch(/^pgmcp_tool_calls_total\{tool="pg_query",outcome="ok"\} \d+/m);
    expect(text).toMatch(/^pgmcp_tool_calls_total\{tool="pg_execute",outcome="error"\} \d+/m);
    expect(text).toMatch(/^pgmcp_tool_call_duration_seconds_bucket\{le="0\.005",tool="pg_query"\} \d+/m);
    expect(text).toMatch(/^pgmcp_tool_call_duration_seconds_count\{tool="pg_query"\} \d+/m);
    expect(text).toMatch(
      new RegExp(`^pgmcp_pool_connections\\{database="${db.database}",role="main",state="total"\\} \\d+`, 'm'),
    );
    expect(text).toMatch(/^pgmcp_transactions_open [1-9]\d*$/m);
    const open = Number(/^pgmcp_sessions_open (\d+)$/m.exec(text)?.[1]);
    expect(open).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^pgmcp_http_auth_failures_total\{status="401"\} \d+/m);
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
    await s.ok('pg_tx', { action: 'rollback', tx });
  });
});

describe('session expiry and the session cap', () => {
  let small: TestGateway;

  beforeAll(async () => {
    small = await startTestGateway({
      ...pgEnv(db),
      PGMCP_ACCESS: 'write',
      PGMCP_HTTP_SESSION_IDLE_TIMEOUT: '400ms',
      PGMCP_HTTP_MAX_SESSIONS: '2',
      PGMCP_HTTP_REQUEST_TIMEOUT: '1s',
    });
  });

  afterAll(async () => {
    await small?.stop();
  });

  it('without a tokens file on loopback the caller is anonymous; sessions are capped (503); a session whose client left expires when idle, rolling back its transaction', async () => {
    const a = await connect(small.url);
    const b = await connect(small.url);
    open.push(a, b);
    const third = await raw(small.url, { method: 'POST', headers: MCP_HEADERS, body: initializeBody() });
    expect(third.status).toBe(503);
    expect(third.headers['retry-after']).toBe('30');

    const tx = await begin(a);
    await a.ok('pg_execute', { tx, sql: "insert into items values (90, 'expires')" });
    const pid = await backendPid(a, tx);
    const sessionA = a.transport.sessionId as string;
    expect(await itemLocks(pid)).toBeGreaterThan(0);
    // a's client goes away without DELETE (its GET stream closes); b stays busy meanwhile.
    await a.close();
    const keep = setInterval(() => void b.client.ping().catch(() => undefined), 100);
    try {
      await until(async () => (await itemLocks(pid)) === 0, 5000);
    } finally {
      clearInterval(keep);
    }
    expect(await committedIds()).not.toContain(90);
    const expired = await raw(small.url, {
      method: 'POST',
      headers: { ...MCP_HEADERS, 'mcp-session-id': sessionA },
      body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list', params: {} }),
    });
    expect(expired.status).toBe(404);
    await b.ok('pg_query', { sql: 'select 1' });
    // a's place is free again.
    const c = await connect(small.url);
    open.push(c);
    await until(() => small.audit().some((r) => r.who === 'anonymous'));
  });

  it('a POST /tools call running past the request timeout answers 504 and its statement is cancelled', async () => {
    const started = performance.now();
    const r = await raw(`${small.base}/tools/pg_query`, {
      method: 'POST',
      body: JSON.stringify({ sql: "select pg_sleep(20), 'http-timeout-probe' as probe" }),
    });
    expect(r.status).toBe(504);
    expect(performance.now() - started).toBeLessThan(5000);
    await until(async () => {
      const running = await verify.query(
        "select count(*)::int as n from pg_stat_activity where query like '%http-timeout-probe%' and pid <> pg_backend_pid() and state = 'active'",
      );
      return running.rows[0]?.n === 0;
    });
  });
});

/**
 * pg_tx and transactions across calls, against a real PostgreSQL through real SDK clients in-process. Several clients
 * of one App are several MCP sessions of one pgmcp process; writes inside transactions go through pg_execute; a
 * separate `pg` connection checks what the server holds.
 */
import { randomUUID } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { type App, createApp } from '../../src/app.js';
import { resolveConfig } from '../../src/config/resolve.js';
import { createLogger } from '../../src/log.js';
import { createMcpServer } from '../../src/server.js';
import { initParser } from '../../src/sql/parser.js';
import type { Caller } from '../../src/tools/context.js';
import { resultText } from '../../src/tools/result-text.js';
import { pgEnv } from '../support/mcp-client.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';

type Result = CallToolResult & { text: string };

interface Session {
  caller: Caller;
  client: Client;
  call(name: string, args?: Record<string, unknown>): Promise<Result>;
  /** Closes the client's transport: the MCP session ends. */
  close(): Promise<void>;
}

let db: TestDatabase;
let verify: pg.Client;
const apps: App[] = [];
const sessions: Session[] = [];

async function makeApp(env: Record<string, string> = {}): Promise<App> {
  const { config } = resolveConfig({ env: { PGMCP_LOG_LEVEL: 'error', PGMCP_ACCESS: 'write', ...pgEnv(db), ...env } });
  const app = createApp(config, createLogger(config.log.level), { auditToStderr: false });
  apps.push(app);
  return app;
}

/** A new MCP session (its own SDK Server and Client) on `app`. */
async function openSession(app: App, identity = 'test'): Promise<Session> {
  const caller: Caller = { sessionId: `s-${randomUUID()}`, identity };
  const server = createMcpServer(app, caller);
  const [a, b] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: 'tx-test', version: '0' });
  await Promise.all([server.connect(b), client.connect(a)]);
  const session: Session = {
    caller,
    client,
    async call(name, args = {}) {
      const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
      return { ...result, text: resultText(result) };
    },
    close: () => client.close(),
  };
  sessions.push(session);
  return session;
}

async function ok(s: Session, name: string, args: Record<string, unknown> = {}): Promise<Result> {
  const r = await s.call(name, args);
  if (r.isError) throw new Error(`${name} ${JSON.stringify(args)} failed: ${r.text}`);
  return r;
}

async function fails(s: Session, name: string, args: Record<string, unknown> = {}): Promise<string> {
  const r = await s.call(name, args);
  if (!r.isError) throw new Error(`${name} ${JSON.stringify(args)} succeeded: ${r.text}`);
  return r.text;
}

interface TxData {
  handle: string;
  state: string;
  savepoints: string[];
  read_only: boolean;
  isolation: string;
  database: string;
}

async function begin(s: Session, args: Record<string, unknown> = {}): Promise<string> {
  const r = await ok(s, 'pg_tx', { action: 'begin', ...args });
  return (r.structuredContent as { transaction: TxData }).transaction.handle;
}

const txOf = (r: Result) => (r.structuredContent as { transaction: TxData }).transaction;

/** A write inside the transaction, through the tool path. */
const write = (s: Session, tx: string, sql: string) => s.call('pg_execute', { tx, sql });

async function rows(s: Session, sql: string, tx?: string): Promise<Record<string, unknown>[]> {
  const r = await ok(s, 'pg_query', { sql, ...(tx ? { tx } : {}) });
  return (r.structuredContent as { rows: Record<string, unknown>[] }).rows;
}

async function count(s: Session, where: string, tx?: string): Promise<number> {
  const [row] = await rows(s, `select count(*)::int as n from items where ${where}`, tx);
  return row?.n as number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it is true; the milliseconds it took, or throws after `timeoutMs`. */
async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await check()) return performance.now() - started;
    if (performance.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms`);
    await sleep(5);
  }
}

async function backendGone(pid: number): Promise<boolean> {
  const r = await verify.query<{ locks: number; sessions: number }>(
    `select (select count(*)::int from pg_locks where pid = $1) as locks,
            (select count(*)::int from pg_stat_activity where pid = $1) as sessions`,
    [pid],
  );
  return r.rows[0]?.locks === 0 && r.rows[0]?.sessions === 0;
}

async function idleInTransaction(): Promise<number> {
  const r = await verify.query<{ n: number }>(
    `select count(*)::int as n from pg_stat_activity where datname = $1 and state like 'idle in transaction%'`,
    [db.database],
  );
  return r.rows[0]?.n ?? -1;
}

async function pidOf(s: Session, tx: string): Promise<number> {
  const [row] = await rows(s, 'select pg_backend_pid() as pid', tx);
  return row?.pid as number;
}

beforeAll(async () => {
  await initParser();
  db = await createTestDatabase(inject('pg'), 'tx');
  verify = new pg.Client({ connectionString: db.url });
  await verify.connect();
  await verify.query(`
    create table items (id int primary key, note text);
    insert into items values (1, 'one'), (2, 'two');
    create function sneaky_write() returns int language sql as $$ insert into items values (999, 'sneaky') returning 1 $$;
    create function grab_advisory() returns int language plpgsql as $$ begin perform pg_advisory_lock(7); return 1; end $$;
  `);
});

afterAll(async () => {
  await Promise.allSettled(sessions.map((s) => s.close()));
  await Promise.allSettled(apps.map((a) => a.close()));
  await verify?.end();
  await db?.drop();
});

describe('pg_tx across sessions (access level write)', () => {
  let app: App;
  let a: Session;
  let b: Session;

  beforeAll(async () => {
    app = await makeApp();
    a = await openSession(app, 'alice');
    b = await openSession(app, 'bob');
  });

  afterEach(async () => {
    // A failed test leaves nothing open for the next one.
    for (const s of [a, b])
      for (const t of app.transactions.list(s.caller)) await app.transactions.rollback(s.caller, t.handle);
  });

  it('is listed as a core tool that may change things but is not destructive', async () => {
    const { tools } = await a.client.listTools();
    const tx = tools.find((t) => t.name === 'pg_tx');
    expect(tx?.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false });
    expect(tx?.inputSchema.properties).toHaveProperty('action');
    expect(tools.find((t) => t.name === 'pg_query')?.inputSchema.properties).toHaveProperty('tx');
  });

  it('A inserts in a transaction; B does not see it until A commits', async () => {
    const r = await ok(a, 'pg_tx', { action: 'begin' });
    const info = txOf(r);
    expect(info).toMatchObject({ state: 'idle', read_only: false, isolation: 'read committed', savepoints: [] });
    expect(info.handle).toMatch(/^tx_[a-z2-7]{16}$/);
    expect(r.text).toContain(`"tx": "${info.handle}"`);
    expect(r.text).toContain('pg_execute');
    const tx = info.handle;

    expect((await write(a, tx, "insert into items values (10, 'ten')")).isError).toBeFalsy();
    expect(await count(a, 'id = 10', tx)).toBe(1); // A sees its own row inside the transaction
    expect(await count(b, 'id = 10')).toBe(0); // B, another session, does not
    expect(await count(a, 'id = 10')).toBe(0); // nor does A outside the transaction

    const committed = await ok(a, 'pg_tx', { action: 'commit', tx });
    expect(txOf(committed).state).toBe('committed');
    expect(await count(b, 'id = 10')).toBe(1);
    expect(await idleInTransaction()).toBe(0);

    // The handle is closed, and says so.
    const again = await fails(a, 'pg_query', { sql: 'select 1', tx });
    expect(again).toMatch(/tx_closed/);
    expect(again).toMatch(/was committed at/);
  });

  it("refuses A's handle in B's session as unknown, exactly like a handle that never existed", async () => {
    const tx = await begin(a);
    await ok(a, 'pg_execute', { tx, sql: "insert into items values (11, 'eleven')" });
    const made = 'tx_aaaaaaaaaaaaaaaa';
    const stolen = await fails(b, 'pg_query', { sql: 'select * from items', tx });
    const invented = await fails(b, 'pg_query', { sql: 'select * from items', tx: made });
    expect(stolen).toMatch(/tx_unknown/);
    expect(stolen.replace(tx, 'X')).toBe(invented.replace(made, 'X'));
    for (const action of ['commit', 'rollback']) {
      expect(await fails(b, 'pg_tx', { action, tx })).toMatch(/tx_unknown/);
    }
    expect(await fails(b, 'pg_execute', { tx, sql: 'delete from items where id = 1' })).toMatch(/tx_unknown/);
    const bList = await ok(b, 'pg_tx', { action: 'list' });
    expect(bList.text).not.toContain(tx);
    // A's transaction is untouched by all that.
    expect(await count(a, 'id = 11', tx)).toBe(1);
    await ok(a, 'pg_tx', { action: 'rollback', tx });
    expect(await count(b, 'id = 11')).toBe(0);
  });

  it('a handle is bound to the caller too: the same session id with another identity does not reach it', async () => {
    const tx = await begin(a);
    const other = { ...a.caller, identity: 'mallory' };
    await expect(app.transactions.use(other, tx, async () => 1)).rejects.toMatchObject({
      info: { code: 'tx_unknown' },
    });
    expect(app.transactions.list(other)).toEqual([]);
    await ok(a, 'pg_tx', { action: 'rollback', tx });
  });

  it('a failed read inside a transaction leaves it open and usable (savepoint)', async () => {
    const tx = await begin(a);
    await ok(a, 'pg_execute', { tx, sql: "insert into items values (20, 'twenty')" });
    const err = await fails(a, 'pg_query', { sql: 'select 1 / (id - id) from items', tx });
    expect(err).toMatch(/22012/); // division by zero
    expect(err).toMatch(/transaction is unchanged and still open/);
    const missing = await fails(a, 'pg_query', { sql: 'select * from no_such_table', tx });
    expect(missing).toMatch(/42P01/);
    const listed = await ok(a, 'pg_tx', { action: 'list' });
    expect((listed.structuredContent as { transactions: TxData[] }).transactions).toEqual([
      expect.objectContaining({ handle: tx, state: 'idle' }),
    ]);
    expect(await count(a, 'id = 20', tx)).toBe(1);
    await ok(a, 'pg_execute', { tx, sql: "insert into items values (21, 'twenty-one')" });
    await ok(a, 'pg_tx', { action: 'commit', tx });
    expect(await count(b, 'id in (20, 21)')).toBe(2);
  });

  it('a read inside a read-write transaction is still read-only, and the transaction stays read-write', async () => {
    const tx = await begin(a);
    const err = await fails(a, 'pg_query', { sql: 'select sneaky_write()', tx });
    expect(err).toMatch(/25006/); // cannot execute INSERT in a read-only transaction
    // A read does not leave settings behind in the transaction either.
    expect(await fails(a, 'pg_query', { sql: "select set_config('search_path', 'nowhere', false)", tx })).toMatch(
      /denied_function|will not call/,
    );
    // The transaction is read-write again after the read: a write in it works.
    const wrote = await ok(a, 'pg_execute', { tx, sql: "insert into items values (22, 'twenty-two')" });
    expect(wrote.structuredContent).toMatchObject({ status: 'executed', tx, rowCount: 1 });
    expect(await count(a, 'id = 22', tx)).toBe(1);
    await ok(a, 'pg_tx', { action: 'rollback', tx });
    expect(await count(b, 'id in (22, 999)')).toBe(0);
  });

  it('pages and converts types inside a transaction as outside', async () => {
    const tx = await begin(a, { isolation: 'repeatable read' });
    const r = await ok(a, 'pg_query', {
      sql: 'select g, g::numeric * 1.5 as n, now() = statement_timestamp() as same from generate_series(1, 5) g',
      tx,
      limit: 2,
      offset: 1,
    });
    expect(r.structuredContent).toMatchObject({
      rows: [
        { g: 2, n: '3.0' },
        { g: 3, n: '4.5' },
      ],
      truncated: true,
      nextOffset: 3,
      columns: [
        { name: 'g', type: 'integer' },
        { name: 'n', type: 'numeric' },
        { name: 'same', type: 'boolean' },
      ],
    });
    // database must match the transaction's when given
    expect(await fails(a, 'pg_query', { sql: 'select 1', tx, database: 'postgres' })).toMatch(/tx_database/);
    expect((await ok(a, 'pg_query', { sql: 'select 1 as x', tx, database: db.database })).isError).toBeFalsy();
    await ok(a, 'pg_tx', { action: 'rollback', tx });
  });

  it('a failed write leaves the transaction aborted, and every message says what to do', async () => {
    const tx = await begin(a);
    await ok(a, 'pg_execute', { tx, sql: "insert into items values (30, 'thirty')" });
    const dup = await fails(a, 'pg_execute', { tx, sql: "insert into items values (30, 'again')" });
    expect(dup).toMatch(/23505/);
    expect(dup).toMatch(/is now aborted/);
    expect(dup).toContain(`pg_tx action rollback with tx "${tx}"`);

    const read = await fails(a, 'pg_query', { sql: 'select 1', tx });
    expect(read).toMatch(/tx_aborted/);
    expect(read).toMatch(/ERROR 23505/);
    expect(read).toMatch(/action rollback/);
    const commit = await fails(a, 'pg_tx', { action: 'commit', tx });
    expect(commit).toMatch(/tx_aborted/);
    expect(commit).toMatch(/cannot be committed/);
    expect(await fails(a, 'pg_tx', { action: 'savepoint', tx, name: 'sp' })).toMatch(/tx_aborted/);
    const listed = await ok(a, 'pg_tx', { action: 'list' });
    expect((listed.structuredContent as { transactions: (TxData & { aborted_by?: string })[] }).transactions).toEqual([
      expect.objectContaining({ handle: tx, state: 'aborted', aborted_by: expect.stringMatching(/23505/) }),
    ]);

    const rolled = await ok(a, 'pg_tx', { action: 'rollback', tx });
    expect(txOf(rolled).state).toBe('rolled_back');
    expect(await count(b, 'id = 30')).toBe(0);
  });

  it('after a failed write, rollback_to a savepoint makes the transaction usable again', async () => {
    const tx = await begin(a);
    await ok(a, 'pg_execute', { tx, sql: "insert into items values (31, 'kept')" });
    await ok(a, 'pg_tx', { action: 'savepoint', tx, name: 'before_dup' });
    const dup = await fails(a, 'pg_execute', { tx, sql: "insert into items values (31, 'dup')" });
    expect(dup).toMatch(/rollback_to with name "before_dup"/);
    const back = await ok(a, 'pg_tx', { action: 'rollback_to', tx, name: 'before_dup' });
    expect(txOf(back)).toMatchObject({ state: 'idle', savepoints: ['before_dup'] });
    await ok(a, 'pg_execute', { tx, sql: "insert into items values (32, 'also kept')" });
    await ok(a, 'pg_tx', { action: 'commit', tx });
    expect(await count(b, 'id in (31, 32)')).toBe(2);
  });

  it('savepoint, rollback_to and release round trip', async () => {
    const tx = await begin(a);
    await ok(a, 'pg_execute', { tx, sql: "insert into items values (40, 'a')" });
    expect(txOf(await ok(a, 'pg_tx', { action: 'savepoint', tx, name: 's1' })).savepoints).toEqual(['s1']);
    await ok(a, 'pg_execute', { tx, sql: "insert into items values (41, 'b')" });
    const s2 = await ok(a, 'pg_tx', { action: 'savepoint', tx, name: 'S2' });
    expect(txOf(s2).savepoints).toEqual(['s1', 'S2']);
    expect(s2.text).toMatch(/rollback_to/);
    await ok(a, 'pg_execute', { tx, sql: "insert into items values (42, 'c')" });
    expect(await count(a, 'id between 40 and 49', tx)).toBe(3);

    const back = await ok(a, 'pg_tx', { action: 'rollback_to', tx, name: 's1' });
    expect(txOf(back).savepoints).toEqual(['s1']);
    expect(await count(a, 'id between 40 and 49', tx)).toBe(1);
    expect(await fails(a, 'pg_tx', { action: 'release', tx, name: 'S2' })).toMatch(
      /no savepoint "S2"; its savepoints: s1/,
    );

    await ok(a, 'pg_execute', { tx, sql: "insert into items values (43, 'd')" });
    const released = await ok(a, 'pg_tx', { action: 'release', tx, name: 's1' });
    expect(txOf(released).savepoints).toEqual([]);
    expect(await fails(a, 'pg_tx', { action: 'rollback_to', tx, name: 's1' })).toMatch(/it has no savepoints/);

    for (const name of ['1bad', 'a;drop table items', 'a"b', 'pgmcp_read', 'x'.repeat(64)]) {
      expect(await fails(a, 'pg_tx', { action: 'savepoint', tx, name })).toMatch(/tx_savepoint|invalid arguments/);
    }
    await ok(a, 'pg_tx', { action: 'commit', tx });
    expect((await rows(b, 'select id from items where id between 40 and 49 order by id')).map((r) => r.id)).toEqual([
      40, 43,
    ]);
  });

  it('list shows the open transactions of this session only', async () => {
    const empty = await ok(b, 'pg_tx', { action: 'list' });
    expect(empty.text).toMatch(/No open transactions/);
    const t1 = await begin(a, { read_only: true, isolation: 'repeatable read' });
    const t2 = await begin(a);
    const tb = await begin(b);
    const listed = await ok(a, 'pg_tx', { action: 'list' });
    const txs = (listed.structuredContent as { transactions: TxData[] }).transactions;
    expect(txs.map((t) => t.handle)).toEqual([t1, t2]);
    expect(txs[0]).toMatchObject({ read_only: true, isolation: 'repeatable read', database: db.database });
    expect(listed.text).toContain(t1);
    expect(listed.text).not.toContain(tb);
    expect(app.transactions.stats()).toMatchObject({ open: 3, perSession: { [a.caller.sessionId]: 2 } });
    for (const tx of [t1, t2]) await ok(a, 'pg_tx', { action: 'rollback', tx });
    await ok(b, 'pg_tx', { action: 'rollback', tx: tb });
    expect(app.transactions.stats().open).toBe(0);
  });

  it('checks the arguments of each action', async () => {
    expect(await fails(a, 'pg_tx', { action: 'commit' })).toMatch(/commit needs tx/);
    expect(await fails(a, 'pg_tx', { action: 'savepoint', tx: 'tx_aaaaaaaaaaaaaaaa' })).toMatch(/needs name/);
    expect(await fails(a, 'pg_tx', { action: 'begin', name: 'x' })).toMatch(/begin does not take name/);
    expect(await fails(a, 'pg_tx', { action: 'list', tx: 'tx_aaaaaaaaaaaaaaaa' })).toMatch(/does not take tx/);
    expect(await fails(a, 'pg_tx', { action: 'begin', deferrable: true })).toMatch(/serializable/);
    expect(await fails(a, 'pg_tx', { action: 'begin', isolation: 'snapshot' })).toMatch(/invalid arguments/);
    expect(await fails(a, 'pg_tx', { action: 'begin', database: 'no_such_database_here' })).toMatch(
      /no_such_database_here/,
    );
    const tx = await begin(a, { isolation: 'serializable', read_only: true, deferrable: true });
    await ok(a, 'pg_tx', { action: 'commit', tx });
    expect(app.transactions.stats().open).toBe(0);
  });

  it('one call at a time per transaction; rollback cancels a running statement', async () => {
    const tx = await begin(a);
    const slow = write(a, tx, "insert into items values (900, (select 'slow' from pg_sleep(5)))");
    await sleep(100);
    const busy = await fails(a, 'pg_query', { sql: 'select 1', tx });
    expect(busy).toMatch(/tx_busy/);
    expect(await fails(a, 'pg_tx', { action: 'commit', tx })).toMatch(/tx_busy/);
    const started = performance.now();
    await ok(a, 'pg_tx', { action: 'rollback', tx });
    expect(performance.now() - started).toBeLessThan(2000);
    const r = await slow;
    expect(r.isError).toBe(true);
    expect(await idleInTransaction()).toBe(0);
  });

  it('a begin still connecting when its session ends is rolled back at once', async () => {
    const caller: Caller = { sessionId: `s-${randomUUID()}`, identity: 'x' };
    const pending = app.transactions.begin(caller, { database: db.database, readOnly: false });
    await app.transactions.closeSession(caller.sessionId);
    await expect(pending).rejects.toMatchObject({ info: { code: 'tx_unavailable' } });
    expect(app.transactions.stats().open).toBe(0);
    expect(await idleInTransaction()).toBe(0);
  });

  it('what a read leaves that a savepoint rollback does not undo ends with the transaction', async () => {
    // A function body pgmcp cannot see takes a session advisory lock: it lasts until the transaction's connection
    // closes (each transaction has its own), not beyond.
    const tx = await begin(a);
    expect(await rows(a, 'select grab_advisory() as x', tx)).toEqual([{ x: 1 }]);
    const advisory = () =>
      verify.query<{ n: number }>("select count(*)::int as n from pg_locks where locktype = 'advisory'");
    expect((await advisory()).rows[0]?.n).toBe(1);
    await ok(a, 'pg_tx', { action: 'rollback', tx });
    expect((await advisory()).rows[0]?.n).toBe(0);
  });

  it('a client that takes a row lock and disconnects leaves no lock and no idle transaction within 1 s', async () => {
    const c = await openSession(app, 'carol');
    const tx = await begin(c);
    const pid = await pidOf(c, tx);
    await ok(c, 'pg_execute', { tx, sql: "update items set note = 'held' where id = 1" });
    const held = await verify.query(
      `select count(*)::int as n from pg_locks l join pg_class c on c.oid = l.relation
        where l.pid = $1 and c.relname = 'items' and l.mode = 'RowExclusiveLock'`,
      [pid],
    );
    expect(held.rows[0].n).toBe(1);
    expect(await idleInTransaction()).toBe(1);

    const closed = performance.now();
    await c.close();
    const ms = await until(async () => (await backendGone(pid)) && (await idleInTransaction()) === 0, 1000);
    const total = performance.now() - closed;
    if (process.env.PGMCP_TEST_VERBOSE) console.error(`[tx] disconnect → locks gone in ${total.toFixed(1)} ms`);
    expect(ms).toBeLessThan(1000);
    // The row is free: another connection updates it at once.
    await verify.query("set lock_timeout = '200ms'");
    await verify.query("update items set note = 'free' where id = 1");
    await verify.query('reset lock_timeout');
    expect(app.transactions.stats().perSession[c.caller.sessionId]).toBeUndefined();
  });
});

describe('idle expiry', () => {
  let s: Session;
  let app: App;

  beforeAll(async () => {
    app = await makeApp({ PGMCP_TX_IDLE_TIMEOUT: '300ms' });
    s = await openSession(app);
  });

  it('each call restarts the idle clock', async () => {
    const tx = await begin(s);
    for (let i = 0; i < 6; i++) {
      await sleep(100);
      await rows(s, 'select 1', tx);
    }
    await ok(s, 'pg_tx', { action: 'commit', tx });
  });

  it('an idle transaction is rolled back, its connection closed, and the next use says so', async () => {
    const tx = await begin(s);
    const pid = await pidOf(s, tx);
    await ok(s, 'pg_execute', { tx, sql: "insert into items values (50, 'lost')" });
    const ms = await until(() => backendGone(pid), 2000);
    if (process.env.PGMCP_TEST_VERBOSE)
      console.error(`[tx] idle expiry: backend gone ${ms.toFixed(0)} ms after polling began`);
    const used = await fails(s, 'pg_query', { sql: 'select 1', tx });
    expect(used).toMatch(/tx_expired/);
    expect(used).toMatch(/was rolled back at .* because it was idle too long \(idle since .*; the limit is 300 ms/);
    expect(used).toMatch(/begin a new transaction/);
    expect(await fails(s, 'pg_tx', { action: 'commit', tx })).toMatch(/tx_expired/);
    expect(await fails(s, 'pg_execute', { tx, sql: "insert into items values (51, 'x')" })).toMatch(/tx_expired/);
    expect((await ok(s, 'pg_tx', { action: 'list' })).text).toMatch(/No open transactions/);
    expect(await count(s, 'id = 50')).toBe(0);
    // Another session still learns nothing about it.
    const other = await openSession(app);
    expect(await fails(other, 'pg_query', { sql: 'select 1', tx })).toMatch(/tx_unknown/);
  });

  it('sets the server-side idle_in_transaction_session_timeout backstop', async () => {
    const tx = await begin(s);
    const [row] = await rows(s, 'select current_setting($$idle_in_transaction_session_timeout$$) as t', tx);
    expect(row?.t).toBe('5300ms');
    await ok(s, 'pg_tx', { action: 'rollback', tx });
  });
});

describe('caps', () => {
  let app: App;
  let a: Session;
  let b: Session;
  let c: Session;

  beforeAll(async () => {
    // One pooled connection: the transactions' own connections do not take it.
    app = await makeApp({ PGMCP_TX_PER_SESSION: '2', PGMCP_TX_TOTAL: '3', PGMCP_POOL_SIZE: '1' });
    [a, b, c] = await Promise.all([openSession(app), openSession(app), openSession(app)]);
  });

  afterAll(async () => {
    for (const s of [a, b, c]) await app.transactions.closeSession(s.caller.sessionId);
  });

  it('per session and in total, with clear errors, while pg_query keeps answering', async () => {
    const a1 = await begin(a);
    const a2 = await begin(a);
    const third = await fails(a, 'pg_tx', { action: 'begin' });
    expect(third).toMatch(/tx_limit/);
    expect(third).toMatch(/this session already has 2 open transaction\(s\).*limit 2/);
    expect(third).toContain(a1);
    expect(third).toContain(a2);
    expect(third).toMatch(/commit or roll back one/);
    expect(await rows(a, 'select 42 as x')).toEqual([{ x: 42 }]);

    const b1 = await begin(b);
    const total = await fails(b, 'pg_tx', { action: 'begin' });
    expect(total).toMatch(/tx_limit/);
    expect(total).toMatch(/3 open transaction\(s\) across all sessions.*limit \(3/);
    expect(total).toMatch(/this session holds 1/);
    expect(total).toContain(b1);
    expect(total).not.toContain(a1); // other sessions' handles are never shown

    const none = await fails(c, 'pg_tx', { action: 'begin' });
    expect(none).toMatch(/this session holds 0/);
    expect(none).toMatch(/wait for other sessions/);
    expect(await rows(c, 'select 43 as x')).toEqual([{ x: 43 }]);
    expect(await count(c, 'true')).toBeGreaterThan(0);

    // Concurrent begins cannot slip past the cap.
    await ok(a, 'pg_tx', { action: 'rollback', tx: a1 });
    const raced = await Promise.all([c.call('pg_tx', { action: 'begin' }), b.call('pg_tx', { action: 'begin' })]);
    expect(raced.filter((r) => !r.isError)).toHaveLength(1);
    expect(app.transactions.stats().open).toBe(3);
  });
});

describe('access level read', () => {
  let app: App;
  let s: Session;

  beforeAll(async () => {
    app = await makeApp({ PGMCP_ACCESS: 'read' });
    s = await openSession(app);
  });

  it('offers pg_tx for read-only snapshot transactions', async () => {
    const { tools } = await s.client.listTools();
    expect(tools.map((t) => t.name)).toContain('pg_tx');
    const refused = await fails(s, 'pg_tx', { action: 'begin', read_only: false });
    expect(refused).toMatch(/tx_read_only_level/);
    expect(refused).toMatch(/access level read/);

    const r = await ok(s, 'pg_tx', { action: 'begin', isolation: 'repeatable read' });
    const info = txOf(r);
    expect(info).toMatchObject({ read_only: true, isolation: 'repeatable read' });
    expect(r.text).not.toContain('pg_execute');
    const tx = info.handle;
    const before = await count(s, 'true', tx);
    await verify.query("insert into items values (60, 'committed meanwhile')");
    // The snapshot was taken at begin: the transaction keeps seeing the data as it was; outside it, the row is there.
    expect(await count(s, 'true', tx)).toBe(before);
    expect(await count(s, 'id = 60', tx)).toBe(0);
    expect(await count(s, 'id = 60')).toBe(1);
    await ok(s, 'pg_tx', { action: 'commit', tx });
  });
});

describe('shutdown', () => {
  it('closing the app rolls back every open transaction before the pools close', async () => {
    const app = await makeApp();
    const s = await openSession(app);
    const tx = await begin(s);
    const pid = await pidOf(s, tx);
    await ok(s, 'pg_execute', { tx, sql: "insert into items values (70, 'never')" });
    await app.close();
    expect(await backendGone(pid)).toBe(true);
    expect(await idleInTransaction()).toBe(0);
    const r = await verify.query('select count(*)::int as n from items where id = 70');
    expect(r.rows[0].n).toBe(0);
    await expect(app.transactions.begin(s.caller, { database: db.database, readOnly: true })).rejects.toMatchObject({
      info: { code: 'tx_unavailable' },
    });
  });
});

/**
 * pgmcp through PgBouncer (real PgBouncer processes in front of the suite's PostgreSQL): a stock one, which refuses
 * pgmcp's settings as startup parameters, and ones that accept and drop them (ignore_startup_parameters), in
 * transaction and session pooling. pgmcp must notice, set its timeouts and standard_conforming_strings in every
 * transaction it opens, and keep them out of the direct path. The test databases read backslash escapes in plain
 * literals (standard_conforming_strings = off), so a literal shows whether the setting was in force when the server
 * parsed the caller's statement.
 */
import { randomUUID } from 'node:crypto';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { POOLED_READ, pooledRead } from '../../src/db/read-flight.js';
import type { SettingsMode } from '../../src/db/session-settings.js';
import { beginText, settingsAfterBegin } from '../../src/db/settings-client.js';
import { captureLog, type LogLine } from '../support/log-capture.js';
import { type InProcess, startInProcess } from '../support/mcp-client.js';
import { startPgBouncer, type TestBouncer } from '../support/pgbouncer.js';
import { connectionUrl, createTestDatabase, freePort, type TestDatabase } from '../support/postgres-server.js';

type Result = CallToolResult & { text: string };

const STATEMENT_TIMEOUT_MS = 400;
const LOCK_TIMEOUT_MS = 200;
const TX_IDLE_MS = 4000;
/** pgmcp's server-side backstop for a pg_tx transaction: its idle limit plus 5 s. */
const TX_BACKSTOP_MS = TX_IDLE_MS + 5000;
const DROPPED = [
  'extra_float_digits',
  'options',
  'statement_timeout',
  'lock_timeout',
  'idle_in_transaction_session_timeout',
];

interface Pgmcp extends InProcess {
  /** Log lines pgmcp wrote (info and above). */
  logs: LogLine[];
}

async function startPgmcp(port: number, db: TestDatabase): Promise<Pgmcp> {
  const { log, lines: logs } = captureLog('info');
  const env = {
    PGHOST: '127.0.0.1',
    PGPORT: String(port),
    PGUSER: db.user,
    PGPASSWORD: db.password,
    PGDATABASE: db.database,
    PGMCP_ACCESS: 'admin',
    PGMCP_CONFIRM: 'false',
    PGMCP_CITUS_TOOLS: 'off',
    PGMCP_STATEMENT_TIMEOUT: `${STATEMENT_TIMEOUT_MS}ms`,
    PGMCP_LOCK_TIMEOUT: `${LOCK_TIMEOUT_MS}ms`,
    PGMCP_TX_IDLE_TIMEOUT: `${TX_IDLE_MS}ms`,
  };
  const mcp = await startInProcess(env, { log });
  return Object.assign(mcp, { logs });
}

async function ok(mcp: Pgmcp, name: string, args: Record<string, unknown>): Promise<Result> {
  const r = await mcp.call(name, args);
  if (r.isError) throw new Error(`${name} ${JSON.stringify(args)} failed: ${r.text}`);
  return r;
}

async function fails(mcp: Pgmcp, name: string, args: Record<string, unknown>): Promise<string> {
  const r = await mcp.call(name, args);
  if (!r.isError) throw new Error(`${name} ${JSON.stringify(args)} succeeded: ${r.text}`);
  return r.text;
}

const rowsOf = (r: Result) => (r.structuredContent as { rows: Record<string, unknown>[] }).rows;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A direct superuser connection to `db`, outside pgmcp. */
async function direct(db: TestDatabase): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  return c;
}

/** Statements pgmcp's per-transaction settings ran in `db` (pg_stat_statements, constants normalised). */
async function settingsStatementCalls(db: TestDatabase): Promise<number> {
  // The extension (and its view of every database) is in the server's postgres database.
  const c = new pg.Client({ connectionString: connectionUrl(inject('pg'), 'postgres') });
  await c.connect();
  try {
    const r = await c.query<{ n: string }>(
      `select coalesce(sum(s.calls), 0)::text as n from pg_stat_statements s
         join pg_database d on d.oid = s.dbid
        where d.datname = $1 and s.query ilike 'SET LOCAL statement_timeout%'`,
      [db.database],
    );
    return Number(r.rows[0]?.n ?? 0);
  } finally {
    await c.end();
  }
}

let poolerDb: TestDatabase;
let directDb: TestDatabase;
const bouncers: Record<'stock' | 'ignoring' | 'ignoringSession', TestBouncer | undefined> = {
  stock: undefined,
  ignoring: undefined,
  ignoringSession: undefined,
};

beforeAll(async () => {
  const server = inject('pg');
  [poolerDb, directDb] = await Promise.all([
    createTestDatabase(server, 'pooler'),
    createTestDatabase(server, 'pooler_direct'),
  ]);
  const admin = new pg.Client({ connectionString: connectionUrl(server, 'postgres') });
  await admin.connect();
  try {
    for (const db of [poolerDb, directDb]) {
      await admin.query(`alter database ${db.database} set standard_conforming_strings = off`);
    }
  } finally {
    await admin.end();
  }
  const logins = [{ user: server.user, password: server.password }];
  const [stock, ignoring, ignoringSession] = await Promise.all([
    startPgBouncer({ server, logins, name: 'stock' }),
    startPgBouncer({ server, logins, name: 'ignoring', ignoreStartupParameters: DROPPED }),
    startPgBouncer({ server, logins, name: 'ignoring-session', ignoreStartupParameters: DROPPED, poolMode: 'session' }),
  ]);
  Object.assign(bouncers, { stock, ignoring, ignoringSession });
});

afterAll(async () => {
  await Promise.all(Object.values(bouncers).map((b) => b?.stop()));
  await Promise.all([poolerDb?.drop(), directDb?.drop()]);
});

interface Case {
  name: string;
  port: () => number;
  db: () => TestDatabase;
  mode: SettingsMode;
  reason: RegExp;
}

const CASES: Case[] = [
  {
    name: 'stock PgBouncer (refuses the parameters), transaction pooling',
    port: () => bouncers.stock?.port ?? 0,
    db: () => poolerDb,
    mode: 'transaction',
    reason: /refused as startup parameters: unsupported startup parameter/,
  },
  {
    name: 'PgBouncer ignoring the parameters, transaction pooling',
    port: () => bouncers.ignoring?.port ?? 0,
    db: () => poolerDb,
    mode: 'transaction',
    reason: /not in effect: standard_conforming_strings=off \(wanted on\), statement_timeout=0 \(wanted 400\)/,
  },
  {
    name: 'PgBouncer ignoring the parameters, session pooling',
    port: () => bouncers.ignoringSession?.port ?? 0,
    db: () => poolerDb,
    mode: 'transaction',
    reason: /not in effect/,
  },
  {
    name: 'direct PostgreSQL',
    port: () => directDb.port,
    db: () => directDb,
    mode: 'startup',
    reason: /accepted and in effect/,
  },
];

describe.each(CASES)('$name', (c) => {
  let mcp: Pgmcp;
  let db: TestDatabase;
  const table = `t_${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    db = c.db();
    mcp = await startPgmcp(c.port(), db);
  });

  afterAll(async () => {
    await mcp?.close();
  });

  it('decides the settings mode once, on the first connections, and logs it once without secrets', async () => {
    expect(mcp.app.pools.settingsMode()).toBeUndefined();
    // Several first connections at once: one detection, one answer, all calls served.
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => mcp.call('pg_query', { sql: `select ${i} as i` })),
    );
    expect(results.map((r) => r.isError ?? false)).toEqual(Array(6).fill(false));
    expect(mcp.app.pools.settingsMode()).toBe(c.mode);
    const decided = mcp.logs.filter((l) => String(l.msg).startsWith('session settings'));
    expect(decided).toHaveLength(1);
    expect(decided[0]).toMatchObject({ level: 30, settings_mode: c.mode, server: `127.0.0.1:${c.port()}` });
    expect(String(decided[0]?.reason)).toMatch(c.reason);
    expect(JSON.stringify(mcp.logs)).not.toContain(db.password);
  });

  it('reads run with the timeouts, and with standard_conforming_strings on before the statement is parsed', async () => {
    const r = await ok(mcp, 'pg_query', {
      sql: "select current_setting('statement_timeout') as st, current_setting('lock_timeout') as lt, current_setting('standard_conforming_strings') as scs, 'a\\\\b' as lit",
    });
    expect(rowsOf(r)).toEqual([
      { st: `${STATEMENT_TIMEOUT_MS}ms`, lt: `${LOCK_TIMEOUT_MS}ms`, scs: 'on', lit: 'a\\\\b' },
    ]);
  });

  it('a read running longer than the statement timeout is cancelled by the server', async () => {
    const started = Date.now();
    expect(await fails(mcp, 'pg_query', { sql: 'select pg_sleep(3)' })).toMatch(/57014/);
    expect(Date.now() - started).toBeLessThan(2500);
    // The pooled connection is fine afterwards.
    expect(rowsOf(await ok(mcp, 'pg_query', { sql: 'select 1 as one' }))).toEqual([{ one: 1 }]);
  });

  it("refuses the '\\' … ' literal trick", async () => {
    const sql = "select '\\' as a, ' , pg_read_file($$PG_VERSION$$) --'";
    expect(await fails(mcp, 'pg_query', { sql })).toMatch(/backslash right before a quote/);
  });

  it('pg_execute writes atomically with the timeouts; a slow write and a lock wait end on the server', async () => {
    await ok(mcp, 'pg_execute', {
      statements: [`create table ${table} (id serial primary key, v text)`, `insert into ${table} (v) values ('a')`],
    });
    const r = await ok(mcp, 'pg_execute', {
      sql: `insert into ${table} (v) select current_setting('statement_timeout') || '/' || current_setting('lock_timeout') returning v`,
    });
    const [statement] = (r.structuredContent as { statements: { rows: Record<string, unknown>[] }[] }).statements;
    expect(statement?.rows).toEqual([{ v: `${STATEMENT_TIMEOUT_MS}ms/${LOCK_TIMEOUT_MS}ms` }]);
    expect(await fails(mcp, 'pg_execute', { sql: `insert into ${table} (v) select 'slow' from pg_sleep(3)` })).toMatch(
      /57014/,
    );
    const blocker = await direct(db);
    try {
      await blocker.query(`begin; lock table ${table} in access exclusive mode`);
      const started = Date.now();
      expect(await fails(mcp, 'pg_execute', { sql: `insert into ${table} (v) values ('blocked')` })).toMatch(/55P03/);
      expect(Date.now() - started).toBeLessThan(2500);
      await blocker.query('rollback');
      const dry = await ok(mcp, 'pg_execute', {
        sql: `insert into ${table} (v) select current_setting('statement_timeout') returning v`,
        dry_run: true,
      });
      expect(dry.text).toContain(`${STATEMENT_TIMEOUT_MS}ms`);
      const kept = await blocker.query(`select v from ${table} order by id`);
      expect(kept.rows.map((x) => x.v)).toEqual(['a', `${STATEMENT_TIMEOUT_MS}ms/${LOCK_TIMEOUT_MS}ms`]);
    } finally {
      await blocker.end();
    }
  });

  it('a statement that cannot run in a transaction block still ends: at the lock timeout directly, at the statement timeout (pgmcp cancels it) through a pooler', async () => {
    const blocker = await direct(db);
    const index = `${table}_v_cic`;
    try {
      // CREATE INDEX CONCURRENTLY waits for this lock; nothing would end the wait without a timeout.
      await blocker.query(`begin; lock table ${table} in share update exclusive mode`);
      const started = Date.now();
      const text = await fails(mcp, 'pg_execute', { sql: `create index concurrently ${index} on ${table} (v)` });
      expect(Date.now() - started).toBeLessThan(2500);
      if (c.mode === 'startup') {
        expect(text).toMatch(/55P03/);
        expect(text).not.toMatch(/pgmcp cancelled it/);
      } else {
        expect(text).toMatch(/57014/);
        expect(text).toMatch(
          new RegExp(
            `pgmcp cancelled it after ${STATEMENT_TIMEOUT_MS} ms, its statement timeout \\(PGMCP_STATEMENT_TIMEOUT\\)`,
          ),
        );
      }
      await blocker.query('rollback');
      // The pooled connection is fine afterwards, and the failed build's INVALID index can be dropped.
      await ok(mcp, 'pg_execute', { sql: `drop index if exists ${index}` });
      expect(rowsOf(await ok(mcp, 'pg_query', { sql: 'select 1 as one' }))).toEqual([{ one: 1 }]);
    } finally {
      await blocker.end();
    }
  });

  it('pg_tx: the transaction carries the timeouts and its idle backstop; a slow read in it is cancelled', async () => {
    const begun = await ok(mcp, 'pg_tx', { action: 'begin', read_only: false });
    const tx = (begun.structuredContent as { transaction: { handle: string } }).transaction.handle;
    const settings = await ok(mcp, 'pg_query', {
      sql: `select name, setting from pg_settings where name in ('statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout', 'standard_conforming_strings') order by name`,
      tx,
    });
    expect(rowsOf(settings)).toEqual([
      { name: 'idle_in_transaction_session_timeout', setting: String(TX_BACKSTOP_MS) },
      { name: 'lock_timeout', setting: String(LOCK_TIMEOUT_MS) },
      { name: 'standard_conforming_strings', setting: 'on' },
      { name: 'statement_timeout', setting: String(STATEMENT_TIMEOUT_MS) },
    ]);
    expect(await fails(mcp, 'pg_query', { sql: 'select pg_sleep(3)', tx })).toMatch(/57014/);
    await ok(mcp, 'pg_execute', { sql: `insert into ${table} (v) values ('in tx')`, tx });
    await ok(mcp, 'pg_tx', { action: 'commit', tx });
    const check = await direct(db);
    try {
      expect((await check.query(`select count(*)::int as n from ${table} where v = 'in tx'`)).rows[0]).toEqual({
        n: 1,
      });
    } finally {
      await check.end();
    }
  });

  it('the server ends a transaction left idle longer than its idle timeout', async () => {
    const pools = mcp.app.pools;
    const client = await pools.connectDedicated(pools.clientOptions(db.database, 'main', 300), (x) =>
      x.on('error', () => undefined),
    );
    try {
      expect(client.settingsMode).toBe(c.mode);
      await client.query(beginText(client, 'BEGIN'));
      await sleep(1000);
      await expect(client.query('select 1')).rejects.toThrow();
    } finally {
      await client.end().catch(() => undefined);
    }
  });

  it('pg_admin: a statement waiting for a lock ends at the lock timeout', async () => {
    const blocker = await direct(db);
    try {
      await blocker.query(`begin; lock table ${table} in row exclusive mode`);
      const started = Date.now();
      const err = await fails(mcp, 'pg_admin', {
        action: 'reindex',
        target: 'table',
        name: table,
        concurrently: false,
      });
      expect(err).toMatch(/55P03/);
      expect(Date.now() - started).toBeLessThan(2500);
    } finally {
      await blocker.query('rollback').catch(() => undefined);
      await blocker.end();
    }
    const done = await ok(mcp, 'pg_admin', { action: 'reindex', target: 'table', name: table, concurrently: false });
    expect(done.structuredContent).toMatchObject({ status: 'executed' });
  });

  it('catalog reads, plans and maintenance work', async () => {
    expect((await ok(mcp, 'pg_schema', { action: 'list_tables' })).text).toContain(table);
    expect((await ok(mcp, 'pg_perf', { action: 'explain', sql: `select * from ${table} where id = 1` })).text).toMatch(
      /Scan/,
    );
    await ok(mcp, 'pg_execute', { sql: `vacuum ${table}` });
  });

  if (c.mode === 'startup') {
    it('the direct path sends exactly the batches it sent before: no per-transaction settings statement', async () => {
      const client = await mcp.app.pools.get().connect();
      try {
        expect(settingsAfterBegin(client)).toBeUndefined();
        expect(pooledRead(settingsAfterBegin(client))).toBe(POOLED_READ);
        expect(beginText(client, 'BEGIN')).toBe('BEGIN');
      } finally {
        client.release();
      }
      expect(await settingsStatementCalls(directDb)).toBe(0);
      expect(await settingsStatementCalls(poolerDb)).toBeGreaterThan(0);
    });
  }
});

describe('a detection that fails decides nothing', () => {
  it('a server that is down leaves the mode open; once a stock PgBouncer answers there, it is decided', async () => {
    const port = await freePort();
    const mcp = await startPgmcp(port, poolerDb);
    let late: TestBouncer | undefined;
    try {
      expect(await fails(mcp, 'pg_query', { sql: 'select 1' })).toMatch(/connection_failed|ECONNREFUSED/);
      expect(mcp.app.pools.settingsMode()).toBeUndefined();
      const server = inject('pg');
      late = await startPgBouncer({ server, logins: [{ user: server.user, password: server.password }], port });
      expect(rowsOf(await ok(mcp, 'pg_query', { sql: 'select 2 as two' }))).toEqual([{ two: 2 }]);
      expect(mcp.app.pools.settingsMode()).toBe('transaction');
    } finally {
      await mcp.close();
      await late?.stop();
    }
  });
});

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, type PgServer, startPostgres, startStandby } from '../support/postgres-server.js';

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function one(url: string, sql: string, params: unknown[] = []): Promise<Record<string, unknown>> {
  return withClient(url, async (c) => {
    const r = await c.query(sql, params);
    return r.rows[0] ?? {};
  });
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('shared test server (global setup)', () => {
  const server = inject('pg');

  it('is PostgreSQL 15 on loopback with password auth', async () => {
    expect(server.host).toBe('127.0.0.1');
    expect(server.user).toBe('postgres');
    expect(server.password.length).toBeGreaterThan(10);
    const row = await one(server.url, "select current_setting('server_version_num')::int as v, current_user as u");
    expect(Math.floor(Number(row.v) / 10000)).toBe(15);
    expect(row.u).toBe('postgres');
  });

  it('preloads pg_stat_statements and has the extension created', async () => {
    await withClient(server.url, async (c) => {
      const spl = await c.query('show shared_preload_libraries');
      expect(spl.rows[0].shared_preload_libraries).toContain('pg_stat_statements');
      const ext = await c.query("select 1 from pg_extension where extname = 'pg_stat_statements'");
      expect(ext.rowCount).toBe(1);
      const stmts = await c.query('select count(*)::int as n from pg_stat_statements');
      expect(stmts.rows[0].n).toBeGreaterThan(0);
    });
  });

  it('offers hypopg', async () => {
    const row = await one(server.url, "select count(*)::int as n from pg_available_extensions where name = 'hypopg'");
    expect(row.n).toBe(1);
  });

  it('refuses a wrong password', async () => {
    const bad = new pg.Client({ ...server, password: 'wrong' });
    await expect(bad.connect()).rejects.toThrow(/password authentication failed/);
    await bad.end().catch(() => {});
  });

  it('creates and drops isolated test databases', async () => {
    const db = await createTestDatabase(server, 'Harness Test!');
    expect(db.database).toMatch(/^t_harness_test_[0-9a-f]{8}$/);
    const row = await one(db.url, 'select current_database() as d');
    expect(row.d).toBe(db.database);
    // An open connection does not block the drop.
    const lingering = new pg.Client({ connectionString: db.url });
    lingering.on('error', () => {});
    await lingering.connect();
    await db.drop();
    await db.drop();
    await lingering.end().catch(() => {});
    const gone = await one(server.url, 'select count(*)::int as n from pg_database where datname = $1', [db.database]);
    expect(gone.n).toBe(0);
  });
});

describe('startPostgres + startStandby', () => {
  let primary: PgServer | undefined;
  let standby: PgServer | undefined;

  beforeAll(async () => {
    primary = await startPostgres({ name: 'harness-primary', settings: { work_mem: '8MB' } });
  });

  afterAll(async () => {
    await standby?.stop();
    await primary?.stop();
  });

  it('starts a primary with the requested settings', async () => {
    const p = primary!;
    const row = await one(p.url, "select current_setting('work_mem') as w, current_setting('wal_level') as l");
    expect(row).toEqual({ w: '8MB', l: 'replica' });
    expect(p.url).toBe(`postgresql://postgres:${encodeURIComponent(p.password)}@127.0.0.1:${p.port}/postgres`);
  });

  it('streams to a standby', async () => {
    const p = primary!;
    await one(p.url, 'create table harness_repl (id int primary key, note text)');
    standby = await startStandby(p);
    const s = standby;
    expect(s.port).not.toBe(p.port);
    expect((await one(s.url, 'select pg_is_in_recovery() as r')).r).toBe(true);

    await one(p.url, "insert into harness_repl values (1, 'hello standby')");
    const note = await waitFor('the row on the standby', async () => {
      const r = await one(s.url, 'select note from harness_repl where id = 1');
      return r.note as string | undefined;
    });
    expect(note).toBe('hello standby');

    const repl = await waitFor('pg_stat_replication to show the standby streaming', async () => {
      const r = await one(p.url, "select state, sync_state from pg_stat_replication where state = 'streaming'");
      return r.state ? r : undefined;
    });
    expect(repl).toEqual({ state: 'streaming', sync_state: 'async' });

    // The standby refuses writes.
    await expect(one(s.url, "insert into harness_repl values (2, 'no')")).rejects.toThrow(/read-only transaction/);

    await s.stop();
    await waitFor('the walsender to go away', async () => {
      const r = await one(p.url, 'select count(*)::int as n from pg_stat_replication');
      return r.n === 0 ? true : undefined;
    });
  });
});

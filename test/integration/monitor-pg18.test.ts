/**
 * pg_monitor on PostgreSQL 18 (the embedded server from the npm package), where the catalog differs from 15:
 * pg_stat_checkpointer instead of pg_stat_bgwriter's counters, renamed pg_stat_progress_vacuum columns, more
 * replication-slot columns, autovacuum_vacuum_max_threshold.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedPostgres, startEmbedded } from '../../src/db/embedded.js';
import { type MonitorOutput, monitorOutput } from '../../src/tools/monitor/output.js';
import { type InProcess, startInProcess } from '../support/mcp-client.js';

let e: EmbeddedPostgres;
let mcp: InProcess;
const clients: pg.Client[] = [];

async function client(application: string): Promise<{ c: pg.Client; pid: number }> {
  const c = new pg.Client({
    host: e.host,
    port: e.port,
    user: e.user,
    password: e.password,
    database: e.database,
    application_name: application,
  });
  c.on('error', () => {});
  await c.connect();
  clients.push(c);
  return { c, pid: Number((await c.query('select pg_backend_pid() as pid')).rows[0].pid) };
}

async function ok(args: Record<string, unknown>): Promise<{ data: MonitorOutput; text: string }> {
  const r = await mcp.call('pg_monitor', args);
  if (r.isError) throw new Error(`pg_monitor failed: ${r.text}`);
  return { data: monitorOutput.strict().parse(r.structuredContent), text: r.text };
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  e = await startEmbedded({ log: () => {} });
  mcp = await startInProcess({
    PGHOST: e.host,
    PGPORT: String(e.port),
    PGUSER: e.user,
    PGPASSWORD: e.password,
    PGDATABASE: e.database,
  });
  await mcp.client.listTools();
  const { c } = await client('setup');
  for (const sql of [
    'create table m18 (id int primary key, v text) with (autovacuum_enabled = false, autovacuum_vacuum_max_threshold = 100)',
    'insert into m18 select i, md5(i::text) from generate_series(1, 40000) i',
    'delete from m18 where id % 2 = 0',
    'analyze m18',
    "select pg_create_physical_replication_slot('m18_slot', true)",
  ]) {
    await c.query(sql);
  }
}, 180_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.end().catch(() => {})));
  await mcp?.close();
  await e?.stop();
});

describe('pg_monitor on PostgreSQL 18', () => {
  it('health reads the checkpoint counters from pg_stat_checkpointer', async () => {
    const { data } = await ok({ action: 'health' });
    expect(data.health?.versionNum).toBeGreaterThanOrEqual(180000);
    expect(data.checks.find((c) => c.check === 'checkpoints')?.evidence).toMatch(/checkpoints/);
    expect(data.checks.find((c) => c.check === 'inactive replication slot')?.object).toBe('slot m18_slot (physical)');
  });

  it('locks and activity: lock wait start (waitstart) and query_id', async () => {
    const a = await client('m18-a');
    const b = await client('m18-b');
    await a.c.query('begin');
    await a.c.query('update m18 set v = v where id = 1');
    const waiting = b.c.query('update m18 set v = v where id = 1');
    try {
      await waitFor('the lock wait', async () => {
        const r = await ok({ action: 'locks' });
        return r.data.locks?.waiting === 1 ? r : undefined;
      });
      const { data } = await ok({ action: 'locks' });
      expect(data.locks?.roots).toEqual([a.pid]);
      const nb = data.locks?.nodes.find((n) => n.pid === b.pid);
      expect(nb?.waitingFor).toMatchObject({ locktype: 'transactionid', mode: 'ShareLock' });
      expect(nb?.waited?.seconds).toBeGreaterThanOrEqual(0);
      const act = await ok({ action: 'activity', application: 'm18-b' });
      expect(act.data.activity?.sessions[0]?.queryId).toMatch(/^-?\d+$/);
    } finally {
      await a.c.query('rollback');
      await waiting;
    }
  });

  it('vacuum: the PostgreSQL 18 autovacuum trigger cap and a VACUUM in progress (renamed progress columns)', async () => {
    const slow = await client('m18-vacuum');
    await slow.c.query("set vacuum_cost_delay = '100ms'");
    await slow.c.query('set vacuum_cost_limit = 1');
    const running = slow.c.query('vacuum m18').catch((err: Error) => err);
    try {
      const { data, text } = await waitFor('the vacuum in pg_stat_progress_vacuum', async () => {
        const r = await ok({ action: 'vacuum', pattern: 'm18' });
        return (r.data.vacuum?.progress.length ?? 0) > 0 ? r : undefined;
      });
      const p = data.vacuum!.progress[0]!;
      expect(p).toMatchObject({ pid: slow.pid, relation: 'm18', autovacuum: false, wraparound: false });
      expect(p.phase).toMatch(/heap/);
      expect(p.heapBlocks).toBeGreaterThan(100);
      expect(p.running?.seconds).toBeGreaterThanOrEqual(0);
      expect(text).toContain('vacuums running now:');
      const t = data.vacuum!.tables.find((x) => x.name === 'm18')!;
      // 50 + 0.2 × 20,000 rows would be 4,050: autovacuum_vacuum_max_threshold = 100 caps it.
      expect(t.autovacuumAt).toBe(100);
    } finally {
      const { c } = await client('m18-cancel');
      await c.query('select pg_cancel_backend($1)', [slow.pid]);
      await running;
    }
  });

  it('replication: slot columns of PostgreSQL 17+ (inactive_since)', async () => {
    const { data } = await ok({ action: 'replication' });
    const slot = data.replication?.slots.find((s) => s.name === 'm18_slot');
    expect(slot).toMatchObject({ active: false, walStatus: 'reserved', invalidationReason: null });
    expect(slot?.inactiveSince).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('every other action answers', async () => {
    for (const action of ['long_running', 'sizes', 'bloat', 'settings', 'extensions']) await ok({ action });
    const ext = await ok({ action: 'extensions', pattern: 'pg_stat_statements' });
    expect(ext.data.extensions?.installed[0]).toMatchObject({ preload: 'loaded' });
  });
});

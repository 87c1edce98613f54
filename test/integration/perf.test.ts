/**
 * pg_perf against real PostgreSQL 15 (pg_stat_statements preloaded, hypopg installed by the test setup).
 * Index advice works in its own database with 200k orders and 20k customers, vacuumed and analysed; the health
 * report in another with each planted problem.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type InProcess, pgEnv, startInProcess } from '../support/mcp-client.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';

interface PlanNode {
  id: number;
  node: string;
  relation?: string;
  index?: string;
  actualRows?: number;
  loops?: number;
}
interface Explain {
  statement: string;
  analyzed: boolean;
  rolledBack?: boolean;
  genericPlan?: string;
  totalCost: number;
  actualRows?: number;
  executionMs?: number;
  nodes: PlanNode[];
  costliest: number[];
  warnings: { kind: string; severity: string; node?: number; message: string }[];
  hypothetical?: {
    costBefore: number;
    costAfter: number;
    indexes: { definition: string; name: string; bytes: number; used: boolean }[];
  };
}
interface Advice {
  source: string;
  genericPlans?: string;
  stoppedBy: string;
  plans: number;
  workloadCost: { before: number; after: number; factor: number };
  recommendations: {
    create: string;
    table: string;
    keys: string[];
    include: string[];
    bytes: number;
    benefitPercent: number;
    statements: number[];
  }[];
  statements: {
    n: number;
    query: string;
    calls?: number;
    costBefore: number | null;
    costAfter: number | null;
    factor: number | null;
    uses: number[];
    skipped?: string;
  }[];
  considered: { definition: string; verdict: string; detail: string }[];
}
interface Health {
  verdict: string;
  checks: { name: string; status: string; summary: string }[];
  findings: { check: string; severity: string; object: string; evidence: string; fix?: string }[];
}
interface Output {
  action: string;
  database: string;
  serverVersion: number;
  explain?: Explain;
  topQueries?: { orderBy: string; queries: { query: string; calls: number; totalMs: number; meanMs: number }[] };
  advice?: Advice;
  health?: Health;
}

const out = (r: { structuredContent?: unknown }) => r.structuredContent as Output;

let advDb: TestDatabase;
let healthDb: TestDatabase;
let adv: pg.Client;
let health: pg.Client;
let reader: InProcess;
let writer: InProcess;
/** A server with one pooled connection per database: what one call leaves on it, the next one finds. */
let single: InProcess;
let healthReader: InProcess;

const J1 = 'select * from orders where customer_id = $1';
const J2 = 'select * from orders where status = $1 and region = $2';
const J3 =
  'select o.id, o.total, c.name from orders o join customers c on c.id = o.customer_id where c.email = $1 order by o.created_at desc limit 10';
const NO_INDEX_HELPS = [
  'select count(*), sum(total), avg(quantity) from orders where total >= 0',
  'select region, sum(total), sum(quantity), max(created_at), min(note) from orders group by region',
  "select count(*) from orders where note like '%abc%'",
];

async function indexCount(c: pg.Client): Promise<number> {
  const r = await c.query<{ n: number }>("select count(*)::int as n from pg_indexes where schemaname = 'public'");
  return r.rows[0]?.n ?? -1;
}

beforeAll(async () => {
  const server = inject('pg');
  [advDb, healthDb] = await Promise.all([
    createTestDatabase(server, 'perf_advice'),
    createTestDatabase(server, 'perf_health'),
  ]);
  adv = new pg.Client({ connectionString: advDb.url });
  health = new pg.Client({ connectionString: healthDb.url });
  await Promise.all([adv.connect(), health.connect()]);
  await adv.query(`
    create extension hypopg;
    create extension pg_stat_statements;
    create table customers (id int primary key, email text not null, name text not null, country text not null);
    insert into customers
      select g, 'user' || g || '@example.org', 'name ' || g, (array['de', 'fr', 'us', 'uk'])[1 + g % 4]
        from generate_series(1, 20000) g;
    create table orders (
      id bigint primary key,
      customer_id int not null references customers,
      status int not null,
      region int not null,
      total numeric(10, 2) not null,
      quantity int not null,
      created_at timestamptz not null,
      note text
    );
    insert into orders
      select g, 1 + (g * 7919) % 20000, g % 50, (g / 50) % 100, (g % 1000) / 10.0, g % 7,
             timestamptz '2026-01-01' - g * interval '1 minute', md5(g::text)
        from generate_series(1, 200000) g;
    create sequence plain_seq;
  `);
  await adv.query('vacuum analyze customers');
  await adv.query('vacuum analyze orders');

  // Health: one of each planted problem.
  await health.query(`
    create table parent (id int primary key, a int not null, b text not null);
    insert into parent select g, g % 10, 'b' || (g % 3) from generate_series(1, 1000) g;
    create index parent_a_dup1 on parent (a);
    create index parent_a_dup2 on parent (a);
    create index parent_unused_b on parent (b);
    create table child (id serial primary key, parent_id int not null references parent (id), note text);
    insert into child (parent_id) select 1 + g % 1000 from generate_series(1, 500) g;
    alter table parent add constraint parent_a_nonneg check (a >= 0) not valid;
    create sequence nearly_done as integer;
    select setval('nearly_done', 2040109466);
    create table healthy (id bigint generated always as identity primary key, v int);
    create sequence legacy_seq;
    create table legacy (id int not null default nextval('legacy_seq') primary key);
    select setval('legacy_seq', 1950000000);
    create table churn (id int primary key, k text not null);
    insert into churn select g, md5(g::text) from generate_series(1, 300000) g;
    create index churn_k on churn (k);
    delete from churn where id % 10 <> 0;
  `);
  await health.query('vacuum analyze');
  // A unique index built concurrently that fails on duplicates stays behind INVALID.
  await expect(health.query('create unique index concurrently parent_b_unique on parent (b)')).rejects.toThrow(
    /could not create unique index/,
  );

  const env = pgEnv(advDb);
  [reader, writer, single, healthReader] = await Promise.all([
    startInProcess({ ...env, PGMCP_ACCESS: 'read' }),
    startInProcess({ ...env, PGMCP_ACCESS: 'write' }),
    startInProcess({ ...env, PGMCP_ACCESS: 'read', PGMCP_POOL_SIZE: '1' }),
    startInProcess({ ...pgEnv(healthDb), PGMCP_ACCESS: 'read' }),
  ]);
});

afterAll(async () => {
  await Promise.all([reader?.close(), writer?.close(), single?.close(), healthReader?.close()]);
  await Promise.all([adv?.end(), health?.end()]);
  await Promise.all([advDb?.drop(), healthDb?.drop()]);
});

describe('pg_perf: registration', () => {
  it('is a read tool in the perf toolset, listed at read level', async () => {
    const { tools } = await reader.client.listTools();
    const t = tools.find((x) => x.name === 'pg_perf');
    expect(t?.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
    expect(Object.keys(t?.inputSchema.properties ?? {})).toEqual(
      expect.arrayContaining(['action', 'sql', 'params', 'analyze', 'hypothetical_indexes', 'statements', 'checks']),
    );
    // The declared output schema stays small: clients compile it.
    expect(JSON.stringify(t?.outputSchema).length).toBeLessThan(4000);
  });

  it('refuses arguments an action would ignore', async () => {
    const r = await reader.call('pg_perf', { action: 'top_queries', sql: 'select 1' });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/top_queries does not take `sql`/);
  });
});

describe('pg_perf explain', () => {
  it('summarises the plan as a tree with the costliest nodes and warnings', async () => {
    const r = await reader.call('pg_perf', { action: 'explain', sql: 'select * from orders where customer_id = 42' });
    expect(r.isError).toBeFalsy();
    const e = out(r).explain as Explain;
    expect(e.analyzed).toBe(false);
    const scan = e.nodes.find((n) => /Seq Scan/.test(n.node));
    expect(scan?.relation).toBe('public.orders');
    expect(e.costliest).toContain(scan?.id);
    const w = e.warnings.find((x) => x.kind === 'seq_scan' && x.severity === 'warning');
    expect(w?.message).toMatch(/public\.orders reads ~200k rows/);
    expect(r.text).toMatch(/#\d+ (Parallel )?Seq Scan on public\.orders/);
    expect(r.text).toMatch(/Costliest: /);
  });

  it('warns about a join key without an index', async () => {
    const r = await reader.call('pg_perf', {
      action: 'explain',
      sql: 'select c.name, sum(o.total) from customers c join orders o on o.customer_id = c.id group by c.name',
    });
    const e = out(r).explain as Explain;
    const w = e.warnings.find((x) => x.kind === 'missing_join_index');
    expect(w?.message).toMatch(/public\.orders starts with customer_id/);
  });

  it('plans a statement with $n and no params generically', async () => {
    const r = await reader.call('pg_perf', { action: 'explain', sql: J1 });
    expect(r.isError).toBeFalsy();
    const e = out(r).explain as Explain;
    expect(e.genericPlan).toMatch(/force_generic_plan/);
    expect(e.nodes[0]?.node).toMatch(/Gather|Seq Scan/);
    // pgmcp's own setting is not reported as the caller's.
    expect((out(r).explain as { settings?: Record<string, string> }).settings?.plan_cache_mode).toBeUndefined();
  });

  it('analyzes a read in a read-only transaction: actual rows, times, estimate errors', async () => {
    const r = await reader.call('pg_perf', {
      action: 'explain',
      sql: 'select * from orders where (customer_id % 2) = 0',
      analyze: true,
    });
    expect(r.isError).toBeFalsy();
    const e = out(r).explain as Explain;
    expect(e.analyzed).toBe(true);
    expect(e.executionMs).toBeGreaterThan(0);
    expect(e.actualRows).toBe(100000);
    expect(e.warnings.some((w) => w.kind === 'estimate' && /underestimated/.test(w.message))).toBe(true);
    expect(r.text).toMatch(/EXPLAIN ANALYZE \(read-only, rolled back\)/);
  });

  it('binds params for analyze, and needs them', async () => {
    const ok = await reader.call('pg_perf', { action: 'explain', sql: J1, params: [77], analyze: true });
    expect(out(ok).explain?.actualRows).toBe(10);
    const missing = await reader.call('pg_perf', { action: 'explain', sql: J1, analyze: true });
    expect(missing.isError).toBe(true);
    expect(missing.text).toMatch(/needs values for \$1/);
  });

  it('shows the plan with hypothetical indexes, which change it, and creates nothing', async () => {
    const before = await indexCount(adv);
    const r = await reader.call('pg_perf', {
      action: 'explain',
      sql: 'select * from orders where customer_id = 42',
      hypothetical_indexes: ['create index on orders (customer_id)', 'create index on orders (note)'],
    });
    expect(r.isError).toBeFalsy();
    const h = (out(r).explain as Explain).hypothetical;
    expect(h?.costAfter).toBeLessThan((h?.costBefore ?? 0) / 10);
    expect(h?.indexes.map((i) => i.used)).toEqual([true, false]);
    expect(h?.indexes[0]?.bytes).toBeGreaterThan(1_000_000);
    const usedName = h?.indexes[0]?.name ?? '';
    expect(out(r).explain?.nodes.some((n) => n.index === usedName)).toBe(true);
    expect(r.text).toMatch(/With hypothetical indexes: cost [\d.]+ → [\d.]+ \(\d+× lower\)/);
    expect(await indexCount(adv)).toBe(before);
  });

  it('never leaves a hypothetical index to the next use of a pooled connection', async () => {
    const pid = async () => {
      const q = await single.call('pg_query', { sql: 'select pg_backend_pid() as pid' });
      return (q.structuredContent as { rows: { pid: number }[] }).rows[0]?.pid;
    };
    const hypos = async () => {
      const q = await single.call('pg_query', { sql: 'select count(*)::int as n from hypopg()' });
      return (q.structuredContent as { rows: { n: number }[] }).rows[0]?.n;
    };
    const first = await pid();
    const r = await single.call('pg_perf', {
      action: 'explain',
      sql: 'select * from orders where customer_id = 42',
      hypothetical_indexes: ['create index on orders (customer_id)'],
    });
    expect(out(r).explain?.hypothetical?.indexes[0]?.used).toBe(true);
    expect(await hypos()).toBe(0);
    // A call that fails after making hypothetical indexes leaves none either.
    const failed = await single.call('pg_perf', {
      action: 'explain',
      sql: 'select nope from orders',
      hypothetical_indexes: ['create index on orders (status)'],
    });
    expect(failed.isError).toBe(true);
    expect(await hypos()).toBe(0);
    // The connection that held them was closed: the pool opened a new one.
    expect(await pid()).not.toBe(first);
    // The plain read path reuses its connection (the pool of one works as a pool).
    const a = await pid();
    expect(await pid()).toBe(a);
  });

  it('refuses EXPLAIN ANALYZE of a write at access level read, and changes nothing', async () => {
    const r = await reader.call('pg_perf', {
      action: 'explain',
      sql: 'update orders set total = total + 1000 where id <= 10',
      analyze: true,
    });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/ERROR \(not_read_only\)/);
    const sum = await adv.query<{ s: string }>('select sum(total)::text as s from orders where id <= 10');
    expect(Number(sum.rows[0]?.s)).toBeLessThan(1000);
    // Without analyze the write is only planned.
    const plan = await reader.call('pg_perf', {
      action: 'explain',
      sql: 'update orders set total = total + 1000 where id <= 10',
    });
    expect(out(plan).explain?.nodes[0]?.node).toBe('Update');
  });

  it('at access level write, analyzes a write in a transaction that is always rolled back', async () => {
    const before = await adv.query<{ s: string }>('select sum(total)::text as s from orders where id <= 10');
    const r = await writer.call('pg_perf', {
      action: 'explain',
      sql: 'update orders set total = total + 1000 where id <= 10',
      analyze: true,
    });
    expect(r.isError).toBeFalsy();
    const e = out(r).explain as Explain;
    expect(e.analyzed).toBe(true);
    expect(e.rolledBack).toBe(true);
    expect(e.nodes[0]).toMatchObject({ node: 'Update', relation: 'public.orders' });
    expect(r.text).toMatch(/rolled back: nothing was kept/);
    const after = await adv.query<{ s: string }>('select sum(total)::text as s from orders where id <= 10');
    expect(after.rows[0]?.s).toBe(before.rows[0]?.s);
  });

  it('refuses to analyze destructive statements, pointing at pg_execute dry_run', async () => {
    const r = await writer.call('pg_perf', { action: 'explain', sql: 'delete from orders', analyze: true });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/destructive_statement/);
    expect(r.text).toMatch(/dry_run/);
  });

  it('refuses denied functions, EXPLAIN itself and several statements; errors point into the statement', async () => {
    const denied = await reader.call('pg_perf', {
      action: 'explain',
      sql: "select * from pg_read_file('/etc/passwd')",
    });
    expect(denied.text).toMatch(/denied_function/);
    const explain = await reader.call('pg_perf', { action: 'explain', sql: 'explain select 1' });
    expect(explain.text).toMatch(/without EXPLAIN/);
    const two = await reader.call('pg_perf', { action: 'explain', sql: 'select 1; select 2' });
    expect(two.text).toMatch(/multiple_statements/);
    const bad = await reader.call('pg_perf', { action: 'explain', sql: 'select nocolumn from orders' });
    expect(bad.text).toMatch(/ERROR 42703/);
    expect(bad.text).toContain('LINE 1: select nocolumn from orders\n               ^');
  });
});

describe('pg_perf top_queries', () => {
  it('lists the database’s statements from pg_stat_statements by total time and by calls', async () => {
    for (let i = 0; i < 30; i++) await adv.query('select count(*) from orders where region = $1', [i]);
    for (let i = 0; i < 3; i++) await adv.query('select sum(total) from orders where status = $1', [i]);
    const byTime = await reader.call('pg_perf', { action: 'top_queries', limit: 20 });
    expect(byTime.isError).toBeFalsy();
    const t = out(byTime).topQueries;
    const region = t?.queries.find((q) => q.query === 'select count(*) from orders where region = $1');
    expect(region?.calls).toBe(30);
    expect(region?.totalMs).toBeGreaterThan(0);
    const times = t?.queries.map((q) => q.totalMs) ?? [];
    expect(times).toEqual([...times].sort((a, b) => b - a));
    const byCalls = await reader.call('pg_perf', { action: 'top_queries', order_by: 'calls', limit: 5 });
    const calls = out(byCalls).topQueries?.queries.map((q) => q.calls) ?? [];
    expect(calls).toEqual([...calls].sort((a, b) => b - a));
    expect(byCalls.text).toMatch(/\| # \| total ms \| % time \| calls \|/);
  });

  it('says how to set it up when the extension is missing', async () => {
    const r = await healthReader.call('pg_perf', { action: 'top_queries' });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/pg_stat_statements_missing/);
    expect(r.text).toMatch(/CREATE EXTENSION pg_stat_statements;/);
  });
});

describe('pg_perf index_advice', () => {
  const advise = async (statements: string[], extra: Record<string, unknown> = {}) => {
    const r = await reader.call('pg_perf', { action: 'index_advice', statements, ...extra });
    expect(r.isError, r.text).toBeFalsy();
    return { advice: out(r).advice as Advice, text: r.text };
  };

  it('workload 1, a selective single-column filter: an index on that column, ≥ 10× cheaper', async () => {
    const before = await indexCount(adv);
    const { advice, text } = await advise([J1]);
    expect(advice.recommendations).toHaveLength(1);
    expect(advice.recommendations[0]).toMatchObject({ table: 'public.orders', keys: ['customer_id'], include: [] });
    expect(advice.recommendations[0]?.create).toMatch(
      /^CREATE INDEX CONCURRENTLY orders_customer_id_idx ON public\.orders \(customer_id\);$/,
    );
    expect(advice.statements[0]?.factor).toBeGreaterThanOrEqual(10);
    expect(advice.workloadCost.factor).toBeGreaterThanOrEqual(10);
    expect(advice.genericPlans).toMatch(/generic/);
    expect(text).toMatch(/pgmcp created nothing/);
    expect(await indexCount(adv)).toBe(before);
  });

  it('workload 2, equality on two columns: one two-column index, ≥ 10× cheaper', async () => {
    const { advice } = await advise([J2]);
    expect(advice.recommendations).toHaveLength(1);
    expect([...(advice.recommendations[0]?.keys ?? [])].sort()).toEqual(['region', 'status']);
    expect(advice.statements[0]?.factor).toBeGreaterThanOrEqual(10);
    // The single-column ones were tried and are not needed beside it.
    const single = advice.considered.filter((c) => /\((status|region)\)$/.test(c.definition));
    expect(single.length).toBe(2);
  });

  it('workload 3, a join with ordering: both sides of the join indexed, ≥ 10× cheaper', async () => {
    const { advice } = await advise([J3]);
    const tables = advice.recommendations.map((r) => `${r.table}(${r.keys.join(',')})`);
    expect(tables).toContain('public.customers(email)');
    expect(tables.some((t) => t.startsWith('public.orders(customer_id'))).toBe(true);
    expect(advice.statements[0]?.factor).toBeGreaterThanOrEqual(10);
    expect(advice.statements[0]?.uses.length).toBe(advice.recommendations.length);
  });

  it('recommends nothing for a workload no index helps, and says what it tried', async () => {
    const { advice, text } = await advise(NO_INDEX_HELPS);
    expect(advice.recommendations).toEqual([]);
    expect(advice.workloadCost.factor).toBe(1);
    expect(advice.considered.length).toBeGreaterThan(0);
    expect(advice.considered.every((c) => c.verdict !== 'recommended')).toBe(true);
    expect(text).toMatch(/Recommended: nothing/);
  });

  it('does not suggest what an existing index already serves', async () => {
    const { advice } = await advise([
      'select * from customers where id = $1',
      'select * from orders where id > $1 order by id limit 10',
    ]);
    expect(advice.recommendations).toEqual([]);
    expect(advice.considered.filter((c) => c.verdict === 'exists').map((c) => c.detail)).toEqual(
      expect.arrayContaining([expect.stringMatching(/customers_pkey/), expect.stringMatching(/orders_pkey/)]),
    );
  });

  it('takes the workload from pg_stat_statements by total time, weighted by calls, and reports progress', async () => {
    for (let i = 1; i <= 40; i++) {
      await adv.query(J1, [i * 13]);
      await adv.query(J2, [i % 50, i % 100]);
      await adv.query(J3, [`user${i}@example.org`]);
    }
    const progress: { progress: number; total?: number; message?: string }[] = [];
    const raw = (await reader.client.callTool({ name: 'pg_perf', arguments: { action: 'index_advice' } }, undefined, {
      onprogress: (p) => progress.push(p),
    })) as CallToolResult;
    expect(raw.isError).toBeFalsy();
    const advice = out(raw).advice as Advice;
    expect(advice.source).toBe('pg_stat_statements');
    const defs = advice.recommendations.map((r) => `${r.table}(${r.keys.join(',')})`);
    expect(defs).toEqual(expect.arrayContaining(['public.orders(customer_id)', 'public.customers(email)']));
    // Every planted statement is in the workload with its calls and ends up ≥ 10× cheaper (J2 through a two-column
    // index, or through single-column ones that other statements of the workload use too).
    for (const q of [J1, J2, J3.replace('limit 10', 'limit $2')]) {
      const s = advice.statements.find((x) => x.query === q);
      expect(s?.calls, q).toBe(40);
      expect(s?.factor, q).toBeGreaterThanOrEqual(10);
    }
    // pgmcp's own catalog queries and utility statements are not part of the workload.
    expect(advice.statements.some((s) => /pg_catalog|hypopg|EXPLAIN/i.test(s.query))).toBe(false);
    // Progress notifications reached the client, in increasing order.
    expect(progress.length).toBeGreaterThanOrEqual(3);
    const values = progress.map((p) => p.progress);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    expect(progress.some((p) => /round \d+: chose/.test(p.message ?? ''))).toBe(true);
  });

  it('reads the query out of a statement pg_stat_statements recorded under its PREPARE', async () => {
    await adv.query('prepare app_lookup(text) as select id from orders where note = $1 and quantity = 3');
    for (let i = 0; i < 5; i++) await adv.query(`execute app_lookup('${i}')`);
    await adv.query('deallocate app_lookup');
    const r = await reader.call('pg_perf', { action: 'index_advice' });
    const s = out(r).advice?.statements.find((x) => /note = \$1 and quantity = \$2/.test(x.query));
    expect(s?.query).toBe('select id from orders where note = $1 and quantity = $2');
    expect(s?.calls).toBe(5);
    expect(s?.skipped).toBeUndefined();
  });

  it('keeps its own EXPLAINs and catalog queries out of pg_stat_statements (superuser login)', async () => {
    const marker = 'select id from orders where quantity = 6 and region = 59 and total < 1';
    await reader.call('pg_perf', { action: 'explain', sql: marker });
    await reader.call('pg_perf', { action: 'index_advice', statements: [marker] });
    const r = await adv.query<{ n: number }>(
      "select count(*)::int as n from pg_stat_statements where query like '%quantity = $_ and region = $_ and total%'",
    );
    expect(r.rows[0]?.n).toBe(0);
  });

  it('keeps to the size budget and max_indexes', async () => {
    const { advice: small } = await advise([J1, J2, J3], { size_budget_mb: 6 });
    expect(small.recommendations.reduce((sum, r) => sum + r.bytes, 0)).toBeLessThanOrEqual(6 * 1048576);
    expect(small.recommendations.length).toBeGreaterThan(0);
    expect(small.considered.some((c) => c.verdict === 'over_budget')).toBe(true);
    expect(small.stoppedBy).toBe('size_budget');
    const { advice: one } = await advise([J1, J2, J3], { max_indexes: 1 });
    expect(one.recommendations).toHaveLength(1);
    expect(one.stoppedBy).toBe('max_indexes');
  });

  it('checks given statements before sending anything', async () => {
    const r = await reader.call('pg_perf', { action: 'index_advice', statements: ['select 1', 'vacuum orders'] });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/statements\[1\]/);
  });

  it('says how to install hypopg when it is missing', async () => {
    const r = await healthReader.call('pg_perf', {
      action: 'index_advice',
      statements: ['select * from parent where a = 1'],
    });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/hypopg_missing/);
    expect(r.text).toMatch(/CREATE EXTENSION hypopg;/);
  });
});

describe('pg_perf health_report', () => {
  let report: Health;
  let text: string;
  beforeAll(async () => {
    const r = await healthReader.call('pg_perf', { action: 'health_report' });
    expect(r.isError, r.text).toBeFalsy();
    report = out(r).health as Health;
    text = r.text;
  });
  const finding = (check: string, object: RegExp) =>
    report.findings.find((f) => f.check === check && object.test(f.object));

  it('runs every check and gives a verdict', () => {
    expect(report.checks.map((c) => c.name)).toEqual([
      'invalid_indexes',
      'duplicate_indexes',
      'unused_indexes',
      'bloated_indexes',
      'fk_without_index',
      'sequences',
      'wraparound',
      'unvalidated_constraints',
      'connections',
      'replication',
      'cache_hit',
    ]);
    expect(report.checks.every((c) => c.status !== 'skipped')).toBe(true);
    expect(report.verdict).toBe('critical');
    expect(text).toMatch(/^Health of database \S+: CRITICAL/);
  });

  it('finds the duplicate index', () => {
    const f = finding('duplicate_indexes', /parent_a_dup2$/);
    expect(f?.severity).toBe('warning');
    expect(f?.evidence).toMatch(/duplicate of public\.parent_a_dup1/);
    expect(f?.fix).toBe('DROP INDEX CONCURRENTLY public.parent_a_dup2;');
  });

  it('finds the unused index', () => {
    const f = finding('unused_indexes', /parent_unused_b$/);
    expect(f?.evidence).toMatch(/0 index scans since/);
    expect(f?.fix).toBe('DROP INDEX CONCURRENTLY public.parent_unused_b;');
    // Unique and primary-key indexes are never called unused.
    expect(finding('unused_indexes', /pkey/)).toBeUndefined();
  });

  it('finds the invalid index left by a failed CREATE UNIQUE INDEX CONCURRENTLY', () => {
    const f = finding('invalid_indexes', /parent_b_unique$/);
    expect(f?.severity).toBe('warning');
    expect(f?.evidence).toMatch(/UNIQUE/);
    expect(f?.fix).toContain('DROP INDEX CONCURRENTLY public.parent_b_unique;');
    expect(f?.fix).toContain('CREATE UNIQUE INDEX CONCURRENTLY parent_b_unique ON public.parent USING btree (b);');
  });

  it('finds the sequence at 95% of its range', () => {
    const f = finding('sequences', /nearly_done$/);
    expect(f?.severity).toBe('critical');
    expect(f?.evidence).toMatch(/^95% of its range used/);
    expect(f?.fix).toBe('ALTER SEQUENCE public.nearly_done AS bigint;');
    expect(finding('sequences', /healthy/)).toBeUndefined();
  });

  it('finds an int column fed by a bigint sequence near the column’s limit', () => {
    const f = finding('sequences', /legacy_seq$/);
    expect(f?.severity).toBe('critical');
    expect(f?.evidence).toMatch(/of 2147483647 \(the integer column public\.legacy\.id/);
    expect(f?.fix).toMatch(/^ALTER TABLE public\.legacy ALTER COLUMN id TYPE bigint;/);
  });

  it('estimates index bloat', () => {
    const f = finding('bloated_indexes', /churn_k$/);
    expect(f?.evidence).toMatch(/~\d+% bloat \(estimate\)/);
    expect(f?.fix).toBe('REINDEX INDEX CONCURRENTLY public.churn_k;');
    expect(finding('bloated_indexes', /churn_pkey$/)).toBeUndefined();
  });

  it('finds the unvalidated constraint', () => {
    const f = finding('unvalidated_constraints', /parent_a_nonneg/);
    expect(f?.evidence).toMatch(/NOT VALID/);
    expect(f?.fix).toMatch(/^ALTER TABLE public\.parent VALIDATE CONSTRAINT parent_a_nonneg;/);
  });

  it('finds the foreign key without an index', () => {
    const f = finding('fk_without_index', /public\.child/);
    expect(f?.evidence).toMatch(/\(parent_id\) → public\.parent/);
    expect(f?.fix).toBe('CREATE INDEX CONCURRENTLY ON public.child (parent_id);');
  });

  it('runs only the checks asked for', async () => {
    const r = await healthReader.call('pg_perf', { action: 'health_report', checks: ['sequences', 'connections'] });
    const h = out(r).health as Health;
    expect(h.checks.map((c) => c.name)).toEqual(['sequences', 'connections']);
    expect(h.findings.every((f) => f.check === 'sequences')).toBe(true);
  });
});

/**
 * Citus: detection against the suite's plain PostgreSQL (always), and against a real Citus 13 coordinator with at
 * least two workers named by PGMCP_TEST_CITUS_URL: every pg_citus action, pg_cluster's Citus section and the Citus
 * actions of pg_cluster_admin, each outcome checked through a separate connection. The tests work in a fresh schema
 * they drop afterwards and put every node back as they found it. Without the URL those tests are skipped, and say so.
 */
import { randomBytes } from 'node:crypto';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { citusOutput } from '../../src/tools/cluster/citus/output.js';
import { type InProcess, pgEnv, startInProcess } from '../support/mcp-client.js';

const CITUS_URL = process.env.PGMCP_TEST_CITUS_URL;
const SKIPPED = 'Citus tests skipped: set PGMCP_TEST_CITUS_URL to a Citus 13 coordinator with ≥2 workers';
if (!CITUS_URL) process.stderr.write(`${SKIPPED}\n`);

async function names(mcp: InProcess): Promise<string[]> {
  return (await mcp.client.listTools()).tools.map((t) => t.name);
}

describe('Citus detection on a plain PostgreSQL', () => {
  const opened: InProcess[] = [];
  const open = async (env: Record<string, string>) => {
    const mcp = await startInProcess({ ...pgEnv(inject('pg')), ...env });
    opened.push(mcp);
    return mcp;
  };
  afterAll(async () => {
    await Promise.all(opened.map((m) => m.close()));
  });

  it('auto: no citus extension, so no pg_citus (nor pg_cluster without another component)', async () => {
    const mcp = await open({});
    const tools = await names(mcp);
    expect(tools).toContain('pg_query');
    expect(tools).not.toContain('pg_citus');
    expect(tools).not.toContain('pg_cluster');
    expect(mcp.app.citus.state).toBe('absent');
  });

  it('on: pg_citus is registered anyway and says the extension is missing', async () => {
    const mcp = await open({ PGMCP_CITUS_TOOLS: 'on' });
    expect(await names(mcp)).toEqual(expect.arrayContaining(['pg_citus', 'pg_cluster']));
    const r = await mcp.call('pg_citus', { action: 'nodes' });
    expect(r.isError).toBe(true);
    expect(r.text).toContain('the citus extension is not installed in database postgres');
  });

  it('off: never, even when detected later', async () => {
    const mcp = await open({ PGMCP_CITUS_TOOLS: 'off' });
    mcp.app.citus.record('13.2-1');
    expect(await names(mcp)).not.toContain('pg_citus');
  });

  it('a later answer changes the list and the client is told (notifications/tools/list_changed)', async () => {
    const mcp = await open({});
    expect(await names(mcp)).not.toContain('pg_citus');
    const changed = new Promise<void>((resolve) => {
      mcp.client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve());
    });
    mcp.app.citus.record('13.2-1');
    await changed;
    expect(await names(mcp)).toContain('pg_citus');
    expect(mcp.client.getServerCapabilities()?.tools?.listChanged).toBe(true);
  });

  it('an unreachable database delays nothing: tools/list answers at once, without Citus', async () => {
    const mcp = await open({ PGHOST: '127.0.0.1', PGPORT: '1', PGPASSWORD: 'x' });
    const t0 = performance.now();
    const tools = await names(mcp);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(tools).toContain('pg_query');
    expect(tools).not.toContain('pg_citus');
    expect(mcp.app.citus.state).toBe('unknown');
  });
});

// Without the URL the run shows why these tests did not run.
if (CITUS_URL === undefined) {
  describe('Citus on a real cluster', () => {
    it.skip(SKIPPED, () => undefined);
  });
}

describe.skipIf(CITUS_URL === undefined)('Citus on a real cluster', () => {
  const url = CITUS_URL as string;
  const schema = `pgmcp_citus_${randomBytes(3).toString('hex')}`;
  let admin: pg.Client;
  let mcp: InProcess;
  let workers: { name: string; host: string; port: number }[] = [];

  const sql = async <T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> =>
    (await admin.query(text, params)).rows as T[];

  /** Calls pg_citus, checks the result against the declared schema and returns it. */
  const citus = async (args: Record<string, unknown>) => {
    const r = await mcp.call('pg_citus', args);
    expect(r.isError ?? false, r.text).toBe(false);
    return { text: r.text, data: citusOutput.parse(r.structuredContent) };
  };

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: url });
    await admin.connect();
    workers = (
      await sql<{ nodename: string; nodeport: number }>(
        `select nodename, nodeport from pg_dist_node where groupid <> 0 and noderole = 'primary' and isactive
          order by nodeid`,
      )
    ).map((w) => ({ name: `${w.nodename}:${w.nodeport}`, host: w.nodename, port: w.nodeport }));
    expect(workers.length, 'the Citus cluster needs at least two active workers').toBeGreaterThanOrEqual(2);
    const [a, b] = workers as [(typeof workers)[0], (typeof workers)[0]];
    await sql(`create schema ${schema}`);
    await sql('set citus.shard_count = 8');
    // events: one hot tenant fills one shard (skew); countries: a reference table
    await sql(`create table ${schema}.events (tenant_id int, id bigserial, payload text, primary key (tenant_id, id))`);
    await sql(`select create_distributed_table('${schema}.events', 'tenant_id', colocate_with => 'none')`);
    await sql(
      `insert into ${schema}.events (tenant_id, payload) select 7, repeat('x', 500) from generate_series(1, 24000)`,
    );
    await sql(
      `insert into ${schema}.events (tenant_id, payload) select g % 60, repeat('y', 80) from generate_series(1, 3000) g`,
    );
    await sql(`create table ${schema}.countries (code text primary key, name text)`);
    await sql(`select create_reference_table('${schema}.countries')`);
    await sql(`insert into ${schema}.countries values ('fr', 'France'), ('de', 'Germany')`);
    // orders: every shard on the first worker (the second took none while it was created), so a rebalance has work
    await sql('select citus_set_node_property($1, $2, $3, false)', [b.host, b.port, 'shouldhaveshards']);
    try {
      await sql(
        `create table ${schema}.orders (customer_id int, id bigserial, amount numeric, primary key (customer_id, id))`,
      );
      await sql(`select create_distributed_table('${schema}.orders', 'customer_id', colocate_with => 'none')`);
    } finally {
      await sql('select citus_set_node_property($1, $2, $3, true)', [b.host, b.port, 'shouldhaveshards']);
    }
    await sql(`insert into ${schema}.orders (customer_id, amount) select g % 500, g from generate_series(1, 20000) g`);
    expect(a.name).not.toBe(b.name);
    mcp = await startInProcess({ DATABASE_URL: url, PGMCP_ACCESS: 'admin' });
  }, 120_000);

  afterAll(async () => {
    await mcp?.close();
    if (admin) {
      await admin.query(`drop schema if exists ${schema} cascade`).catch(() => undefined);
      await admin.end();
    }
  }, 120_000);

  it('auto mode detects Citus: pg_citus and pg_cluster are registered', async () => {
    expect(await names(mcp)).toEqual(expect.arrayContaining(['pg_citus', 'pg_cluster']));
    expect(mcp.app.citus.state).toBe('installed');
  });

  it('nodes: the coordinator and the workers, all reachable', async () => {
    const { text, data } = await citus({ action: 'nodes' });
    const nodes = data.nodes ?? [];
    expect(nodes.filter((n) => n.kind === 'coordinator')).toHaveLength(1);
    for (const w of workers)
      expect(nodes.find((n) => n.name === w.name)).toMatchObject({ kind: 'worker', reachable: true });
    expect(text).toContain('| id | group | node |');
    const one = await citus({ action: 'nodes', node: workers[1]?.name });
    expect(one.data.nodes?.map((n) => n.name)).toEqual([workers[1]?.name]);
    const bad = await mcp.call('pg_citus', { action: 'nodes', node: 'nowhere:1' });
    expect(bad.isError).toBe(true);
    expect(bad.text).toContain('no Citus node nowhere:1');
  });

  it('node_health: every node reaches every node', async () => {
    const { text, data } = await citus({ action: 'node_health' });
    const m = data.nodeHealth;
    expect(m?.nodes.length).toBeGreaterThanOrEqual(3);
    expect(m?.failures).toEqual([]);
    expect(text).toContain('every node reaches every node');
  });

  it('tables: types, distribution column, colocation, shard count and size', async () => {
    const { text, data } = await citus({ action: 'tables', schema });
    const byName = Object.fromEntries((data.tables ?? []).map((t) => [t.name, t]));
    expect(byName[`${schema}.events`]).toMatchObject({
      type: 'distributed',
      distributionColumn: 'tenant_id',
      shardCount: 8,
    });
    expect(byName[`${schema}.events`]?.bytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(byName[`${schema}.countries`]).toMatchObject({ type: 'reference', distributionColumn: null, shardCount: 1 });
    expect(text).toContain(`| ${schema}.events | distributed | tenant_id |`);
    const one = await citus({ action: 'tables', table: `${schema}.orders` });
    expect(one.data.tables?.map((t) => t.name)).toEqual([`${schema}.orders`]);
    const missing = await mcp.call('pg_citus', { action: 'tables', table: `${schema}.nope` });
    expect(missing.isError).toBe(true);
    const stray = await mcp.call('pg_citus', { action: 'tables', strategy: 'by_disk_size' });
    expect(stray.text).toContain('tables does not take `strategy`');
  });

  it('shard_distribution: shards and bytes per node, and per table', async () => {
    const { data } = await citus({ action: 'shard_distribution', schema, per_table: true });
    const perTable = data.distribution?.tables ?? [];
    const events = perTable.filter((t) => t.table === `${schema}.events`);
    expect(events.reduce((n, t) => n + t.placements, 0)).toBe(8);
    const orders = perTable.filter((t) => t.table === `${schema}.orders`);
    expect(orders.map((t) => t.node)).toEqual([workers[0]?.name]);
    const nodes = data.distribution?.nodes ?? [];
    expect(nodes.find((n) => n.node === workers[0]?.name)?.distributedPlacements).toBeGreaterThan(8);
  });

  it('skew: the hot tenant and the hot node, with what to do', async () => {
    const { text, data } = await citus({ action: 'skew', schema });
    const events = data.skew?.tables.find((t) => t.table === `${schema}.events`);
    expect(events?.skewed).toBe(true);
    expect(events?.shardRatio).toBeGreaterThan(2);
    expect(events?.hotNode).toBe(events?.largestShard.node);
    expect(events?.advice).toContain('isolate_tenant_to_new_shard');
    expect(text).toContain('SKEWED');
    const lax = await citus({
      action: 'skew',
      table: `${schema}.events`,
      shard_ratio: 1000,
      node_imbalance_percent: 10_000,
    });
    expect(lax.data.skew?.tables[0]?.skewed).toBe(false);
  });

  it('rebalance_plan: the moves by shard count go from the full worker to the empty one; nothing moves', async () => {
    const before = await sql(
      `select count(*)::int as n from citus_shards where table_name = '${schema}.orders'::regclass
                                 and nodeport = $1`,
      [workers[0]?.port],
    );
    const { text, data } = await citus({
      action: 'rebalance_plan',
      table: `${schema}.orders`,
      strategy: 'by_shard_count',
    });
    const plan = data.rebalancePlan;
    expect(plan?.strategy).toBe('by_shard_count');
    expect(plan?.summary.moves).toBeGreaterThanOrEqual(2);
    expect(new Set(plan?.moves.map((m) => m.from))).toEqual(new Set([workers[0]?.name]));
    expect(plan?.strategies.map((s) => s.name)).toEqual(expect.arrayContaining(['by_disk_size', 'by_shard_count']));
    expect(text).toContain('nothing moved');
    const after = await sql(
      `select count(*)::int as n from citus_shards where table_name = '${schema}.orders'::regclass
                                and nodeport = $1`,
      [workers[0]?.port],
    );
    expect(after).toEqual(before);
    const bad = await mcp.call('pg_citus', { action: 'rebalance_plan', strategy: 'no_such' });
    expect(bad.text).toContain('no rebalance strategy named no_such');
  });

  it('rebalance_status answers (a job or none)', async () => {
    const { data } = await citus({ action: 'rebalance_status' });
    expect(data.rebalanceStatus === null || typeof data.rebalanceStatus?.state === 'string').toBe(true);
  });

  it('activity and locks: a distributed transaction blocking another, across nodes, by global pid', async () => {
    const holder = new pg.Client({ connectionString: url, application_name: 'citus-test-holder' });
    const waiter = new pg.Client({ connectionString: url, application_name: 'citus-test-waiter' });
    await Promise.all([holder.connect(), waiter.connect()]);
    try {
      await holder.query('begin');
      await holder.query(`update ${schema}.events set payload = 'held' where tenant_id = 3`);
      const holderGpid = String((await holder.query('select citus_backend_gpid() as g')).rows[0].g);
      const waiting = waiter.query(`update ${schema}.events set payload = 'waits' where tenant_id = 3`);
      waiting.catch(() => undefined);
      let locks: Awaited<ReturnType<typeof citus>> | undefined;
      for (let i = 0; i < 50; i++) {
        locks = await citus({ action: 'locks' });
        if ((locks.data.locks?.waits.length ?? 0) > 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const wait = locks?.data.locks?.waits.find((w) => w.blockingGlobalPid === holderGpid);
      expect(wait, locks?.text).toBeDefined();
      expect(wait?.blockedStatement).toContain("set payload = 'waits'");
      expect(locks?.text).toContain(`at the head of the chains: ${holderGpid}`);

      const act = await citus({ action: 'activity' });
      const held = act.data.activity?.queries.find((q) => q.globalPid === holderGpid);
      expect(held, act.text).toBeDefined();
      expect(held?.application).toBe('citus-test-holder');
      expect(held?.backends.some((b) => b.workerQuery && workers.some((w) => w.name === b.node))).toBe(true);
      await holder.query('rollback');
      await waiting;
    } finally {
      await Promise.all([holder.end(), waiter.end()]);
    }
  });

  it('stat_statements: citus_stat_statements with timings, or a note saying what is missing', async () => {
    await sql(`select * from ${schema}.events where tenant_id = 7 limit 1`);
    const { text, data } = await citus({ action: 'stat_statements', limit: 5 });
    expect(Array.isArray(data.statements)).toBe(true);
    if ((data.statements ?? []).length === 0) expect(data.notes.join(' '), text).toMatch(/pg_stat_statements|track/);
    else expect(data.statements?.[0]?.calls).toBeGreaterThan(0);
  });

  it('pg_cluster has a Citus section: the summary row and the skewed table as a warning with what to do', async () => {
    const r = await mcp.call('pg_cluster');
    expect(r.isError ?? false, r.text).toBe(false);
    const data = r.structuredContent as {
      summary: { component: string; detail: string }[];
      problems: { component: string; severity: string; subject: string; action: string }[];
      citus: { version: string } | null;
    };
    expect(data.summary.find((s) => s.component === 'citus')?.detail).toMatch(/workers active/);
    expect(data.citus?.version).toMatch(/^1[0-9]\./);
    expect(data.problems).toContainEqual(
      expect.objectContaining({ component: 'citus', severity: 'warning', subject: `${schema}.events` }),
    );
  });

  // ---------------------------------------------------------------------------------------------------------------
  // pg_cluster_admin: every Citus action confirmed by token, its outcome checked through `admin` (a separate login)

  interface AdminOut {
    status: string;
    verified: boolean | null;
    summary: string;
    plan: { phase: string; what: string }[];
    checks: { check: string; ok: boolean; required: boolean }[];
    confirmation?: { confirm_token: string };
    durationMs: number;
    notes: string[];
  }
  const timings: string[] = [];

  /** pg_cluster_admin with progress notifications collected. */
  const clusterAdmin = async (args: Record<string, unknown>, progress: string[] = []) => {
    const r = (await mcp.client.callTool({ name: 'pg_cluster_admin', arguments: args }, undefined, {
      onprogress: (p) => progress.push(p.message ?? ''),
      timeout: 330_000,
    })) as { isError?: boolean; structuredContent?: unknown; content: { type: string; text?: string }[] };
    const text = r.content.map((c) => c.text ?? '').join('\n');
    return { isError: r.isError ?? false, text, data: r.structuredContent as AdminOut };
  };

  /** The token flow: the first call asks (nothing changes), the second runs; returns the executed result. */
  const confirmed = async (args: Record<string, unknown>, unchanged?: () => Promise<void>, progress: string[] = []) => {
    const asked = await clusterAdmin(args);
    expect(asked.isError, asked.text).toBe(false);
    expect(asked.data.status).toBe('confirmation_required');
    await unchanged?.();
    const ran = await clusterAdmin({ ...args, confirm_token: asked.data.confirmation?.confirm_token }, progress);
    expect(ran.isError, ran.text).toBe(false);
    expect(ran.data.status).toBe('executed');
    expect(ran.data.verified, ran.text).toBe(true);
    timings.push(`${args.action} ${ran.data.durationMs} ms`);
    return ran;
  };

  const partition = async (table: string) =>
    (
      await sql<{ method: string; repmodel: string; shards: number; column: string | null }>(
        `select p.partmethod::text as method, p.repmodel::text as repmodel,
                (select count(*)::int from pg_dist_shard s where s.logicalrelid = p.logicalrelid) as shards,
                case when p.partkey is not null then column_to_column_name(p.logicalrelid, p.partkey) end as column
           from pg_dist_partition p where p.logicalrelid = to_regclass($1)`,
        [table],
      )
    )[0];
  const shardsOn = async (port: number) =>
    (
      await sql<{ n: number }>(
        `select count(*)::int as n from pg_dist_placement pl join pg_dist_node n on n.groupid = pl.groupid
           join pg_dist_shard s on s.shardid = pl.shardid join pg_dist_partition d on d.logicalrelid = s.logicalrelid
          where n.nodeport = $1 and d.repmodel <> 't' and (d.partkey is not null or d.colocationid <> 0)`,
        [port],
      )
    )[0]?.n ?? 0;
  const nodeRow = async (port: number) =>
    (
      await sql<{ isactive: boolean; shouldhaveshards: boolean }>(
        'select isactive, shouldhaveshards from pg_dist_node where nodeport = $1',
        [port],
      )
    )[0];
  const walLevel = async () => (await sql<{ w: string }>("select current_setting('wal_level') as w"))[0]?.w;

  afterAll(async () => {
    if (!admin) return;
    // Whatever happened, every worker is back, active and may hold shards.
    for (const w of workers) {
      const row = await nodeRow(w.port).catch(() => undefined);
      if (!row) await admin.query('select citus_add_node($1, $2)', [w.host, w.port]).catch(() => undefined);
      else if (!row.isactive)
        await admin.query('select citus_activate_node($1, $2)', [w.host, w.port]).catch(() => undefined);
      await admin
        .query('select citus_set_node_property($1, $2, $3, true)', [w.host, w.port, 'shouldhaveshards'])
        .catch(() => undefined);
    }
    if (timings.length) process.stderr.write(`[citus.test] timings: ${timings.join('; ')}\n`);
  }, 60_000);

  it('distribute_table: dry run shows the SQL and the pre-checks; bad columns are refused; then it runs', async () => {
    await sql(`create table ${schema}.items (id int primary key, sku text, loc point)`);
    await sql(`insert into ${schema}.items select g, 'sku' || g, point(g, g) from generate_series(1, 3000) g`);
    const args = { action: 'distribute_table', table: `${schema}.items`, distribution_column: 'id', shard_count: 4 };
    const dry = await clusterAdmin({ ...args, dry_run: true });
    expect(dry.data.status).toBe('dry_run');
    expect(dry.text).toContain(
      `select pg_catalog.create_distributed_table('${schema}.items'::regclass, 'id', shard_count => 4)`,
    );
    expect(dry.text).toContain('column id (integer) exists and its type can be hashed');
    expect(dry.text).toContain(`${schema}.items exists and is not distributed`);
    expect(await partition(`${schema}.items`)).toBeUndefined();

    const point = await clusterAdmin({ ...args, distribution_column: 'loc', dry_run: true });
    expect(point.isError).toBe(true);
    expect(point.text).toContain('no default hash operator class');
    const missing = await clusterAdmin({ ...args, distribution_column: 'nope', dry_run: true });
    expect(missing.text).toContain('its columns: id, sku, loc');

    await confirmed(args, async () => expect(await partition(`${schema}.items`)).toBeUndefined());
    expect(await partition(`${schema}.items`)).toMatchObject({ method: 'h', shards: 4, column: 'id' });
    const again = await clusterAdmin(args);
    expect(again.text).toContain('is already a distributed table');

    await sql(`create table ${schema}.lookup (code text primary key)`);
    await confirmed({ action: 'distribute_table', table: `${schema}.lookup`, reference: true });
    expect(await partition(`${schema}.lookup`)).toMatchObject({ repmodel: 't', shards: 1 });
  });

  it('alter_distributed_table changes the shard count; undistribute_table brings every row back', async () => {
    await confirmed({ action: 'alter_distributed_table', table: `${schema}.items`, shard_count: 6 });
    expect(await partition(`${schema}.items`)).toMatchObject({ method: 'h', shards: 6 });
    await confirmed({ action: 'undistribute_table', table: `${schema}.items` });
    expect(await partition(`${schema}.items`)).toBeUndefined();
    expect((await sql<{ n: number }>(`select count(*)::int as n from ${schema}.items`))[0]?.n).toBe(3000);
  });

  it('move_shard moves one shard to the other worker', async () => {
    const [a, b] = workers as [(typeof workers)[0], (typeof workers)[0]];
    const shard = (
      await sql<{ shardid: string }>(
        `select shardid from citus_shards where table_name = '${schema}.orders'::regclass and nodeport = $1 limit 1`,
        [a.port],
      )
    )[0]?.shardid;
    const ran = await confirmed({ action: 'move_shard', shard_id: Number(shard), target_node: b.name });
    expect(ran.text).toContain(`citus_move_shard_placement(${shard}, '${a.host}', ${a.port}, '${b.host}', ${b.port}`);
    const where = await sql<{ nodeport: number }>('select nodeport from citus_shards where shardid = $1', [shard]);
    expect(where.map((w) => w.nodeport)).toEqual([b.port]);
  });

  it('rebalance_start (block_writes when wal_level is not logical) moves the planned shards and says why', async () => {
    const logical = (await walLevel()) === 'logical';
    if (!logical) {
      const refused = await clusterAdmin({
        action: 'rebalance_start',
        shard_transfer_mode: 'force_logical',
        dry_run: true,
      });
      expect(refused.text).toContain('needs wal_level = logical');
    }
    const progress: string[] = [];
    const args = { action: 'rebalance_start', strategy: 'by_shard_count', timeout_seconds: 300 };
    const dry = await clusterAdmin({ ...args, dry_run: true });
    expect(dry.text).toContain(`shard_transfer_mode => '${logical ? 'auto' : 'block_writes'}'`);
    if (!logical) expect(dry.text).toContain('logical replication cannot copy shards');
    const ran = await confirmed(args, undefined, progress);
    expect(ran.data.checks.map((c) => c.check)).toEqual(
      expect.arrayContaining([expect.stringMatching(/ended finished/), expect.stringMatching(/every planned shard/)]),
    );
    expect(progress.some((p) => /rebalance job \d+/.test(p))).toBe(true);
    expect(
      Math.abs((await shardsOn(workers[0]?.port as number)) - (await shardsOn(workers[1]?.port as number))),
    ).toBeLessThanOrEqual(1 + 2 * (workers.length - 2));
    const nothing = await clusterAdmin(args);
    expect(nothing.text).toContain('nothing to move');
  }, 320_000);

  it('rebalance_stop cancels a running job', async () => {
    const none = await clusterAdmin({ action: 'rebalance_stop' });
    expect(none.text).toContain('no rebalance is running');
    const [, b] = workers as [(typeof workers)[0], (typeof workers)[0]];
    await sql('select citus_set_node_property($1, $2, $3, false)', [b.host, b.port, 'shouldhaveshards']);
    try {
      await sql(`create table ${schema}.burst (k int, v text)`);
      await sql(`select create_distributed_table('${schema}.burst', 'k', colocate_with => 'none')`);
    } finally {
      await sql('select citus_set_node_property($1, $2, $3, true)', [b.host, b.port, 'shouldhaveshards']);
    }
    // a lock on the table holds its moves back, so the job is still running when it is stopped
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query('begin');
      await holder.query(`lock table ${schema}.burst in access exclusive mode`);
      await sql(
        "select citus_rebalance_start(rebalance_strategy => 'by_shard_count', shard_transfer_mode => 'block_writes')",
      );
      await confirmed({ action: 'rebalance_stop' });
      const state = (await sql<{ state: string }>('select state::text from citus_rebalance_status()'))[0]?.state;
      expect(state).toBe('cancelled');
    } finally {
      await holder.query('rollback').catch(() => undefined);
      await holder.end();
    }
  }, 120_000);

  it('drain_node empties a worker; then disable/activate and remove/add it; a rebalance spreads shards again', async () => {
    const [, b] = workers as [(typeof workers)[0], (typeof workers)[0]];
    expect(await shardsOn(b.port)).toBeGreaterThan(0);
    const refusedDisable = await clusterAdmin({ action: 'disable_node', node: b.name, dry_run: true });
    expect(refusedDisable.text).toContain('drain_node');
    const refusedRemove = await clusterAdmin({ action: 'remove_node', node: b.name, dry_run: true });
    expect(refusedRemove.text).toContain('drain_node');

    const progress: string[] = [];
    const drained = await confirmed({ action: 'drain_node', node: b.name, timeout_seconds: 300 }, undefined, progress);
    expect(drained.text).toContain(`citus_drain_node('${b.host}', ${b.port}`);
    expect(await shardsOn(b.port)).toBe(0);
    expect(await nodeRow(b.port)).toMatchObject({ shouldhaveshards: false });

    await confirmed({ action: 'disable_node', node: b.name });
    expect(await nodeRow(b.port)).toMatchObject({ isactive: false });
    await confirmed({ action: 'activate_node', node: b.name });
    expect(await nodeRow(b.port)).toMatchObject({ isactive: true });

    await confirmed({ action: 'remove_node', node: b.name });
    expect(await nodeRow(b.port)).toBeUndefined();
    const unreachable = await clusterAdmin({ action: 'add_node', node: '127.0.0.1:1', dry_run: true });
    expect(unreachable.text).toContain('cannot connect');
    await confirmed({ action: 'add_node', node: b.name });
    expect(await nodeRow(b.port)).toMatchObject({ isactive: true, shouldhaveshards: true });
    const already = await clusterAdmin({ action: 'add_node', node: b.name, dry_run: true });
    expect(already.text).toContain('already a Citus node');

    await confirmed({ action: 'rebalance_start', strategy: 'by_shard_count', timeout_seconds: 300 });
    expect(await shardsOn(b.port)).toBeGreaterThan(0);
  }, 900_000);
});

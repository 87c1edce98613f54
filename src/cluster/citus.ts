/**
 * The Citus catalog on the connected coordinator: nodes, the node health matrix, tables, shard placements, the
 * rebalancer's plan and status. Read with the caller's connection (pg_citus runs them in a READ ONLY transaction).
 * Written against the views and functions Citus 12 and 13 share: pg_dist_node, citus_tables, citus_shards,
 * citus_check_cluster_node_health(), citus_check_connection_to_node(), get_rebalance_table_shards_plan(),
 * citus_rebalance_status() and pg_dist_rebalance_strategy; values are always bound as parameters.
 */
import type pg from 'pg';

type Client = pg.ClientBase;
type Row = Record<string, unknown>;

/** `host:port`, the way nodes are named everywhere in pgmcp's Citus output. */
export function nodeName(host: string, port: number): string {
  return `${host}:${port}`;
}

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

export interface CitusInfo {
  /** citus extension version (e.g. 13.2-1), null when the extension is not installed in this database. */
  version: string | null;
  /** citus_version(): the full build string. */
  build: string | null;
  coordinator: boolean;
  walLevel: string;
  /** The citus_tables view, schema-qualified and quoted (Citus puts it in public when that schema exists). */
  tablesView: string;
}

export async function citusInfo(client: Client): Promise<CitusInfo> {
  const r = await client.query(
    `select (select extversion from pg_catalog.pg_extension where extname = 'citus') as version,
            current_setting('wal_level') as wal_level,
            (select format('%I.%I', n.nspname, c.relname) from pg_catalog.pg_class c
               join pg_catalog.pg_namespace n on n.oid = c.relnamespace
              where c.oid = coalesce(to_regclass('public.citus_tables'), to_regclass('pg_catalog.citus_tables')))
              as tables_view`,
  );
  const row = r.rows[0] ?? {};
  const version = (row.version as string | null) ?? null;
  const base = { version, walLevel: String(row.wal_level), tablesView: String(row.tables_view ?? 'citus_tables') };
  if (version === null) return { ...base, build: null, coordinator: false };
  const more = await client.query('select citus_version() as build, citus_is_coordinator() as coordinator');
  return {
    ...base,
    build: (more.rows[0]?.build as string | null) ?? null,
    coordinator: more.rows[0]?.coordinator === true,
  };
}

export interface CitusNode {
  id: number;
  group: number;
  host: string;
  port: number;
  name: string;
  /** coordinator (group 0) or worker. */
  kind: 'coordinator' | 'worker';
  /** pg_dist_node.noderole: primary, secondary or unavailable. */
  role: string;
  cluster: string;
  /** pg_dist_node.isactive: the metadata says the node is in use (a stopped node stays active). */
  isActive: boolean;
  shouldHaveShards: boolean;
  hasMetadata: boolean;
  metadataSynced: boolean;
  /** Shard placements on the node (reference table replicas included). */
  placements: number;
  /** Placements of distributed tables: what draining the node moves away (reference and local tables not). */
  shardPlacements: number;
  /** Whether this coordinator could connect to it just now; null when not checked. */
  reachable: boolean | null;
}

/** pg_dist_node with placements per node; `probe` also checks that the coordinator reaches each node. */
export async function readNodes(client: Client, probe: boolean): Promise<CitusNode[]> {
  const reach = probe ? 'citus_check_connection_to_node(n.nodename, n.nodeport)' : 'null::boolean';
  const r = await client.query(
    `select n.nodeid, n.groupid, n.nodename, n.nodeport, n.noderole::text as noderole, n.nodecluster::text as nodecluster,
            n.isactive, n.shouldhaveshards, n.hasmetadata, n.metadatasynced,
            (select count(*) from pg_catalog.pg_dist_placement p where p.groupid = n.groupid) as placements,
            (select count(*) from pg_catalog.pg_dist_placement p
               join pg_catalog.pg_dist_shard s on s.shardid = p.shardid
               join pg_catalog.pg_dist_partition d on d.logicalrelid = s.logicalrelid
              where p.groupid = n.groupid and d.repmodel <> 't' and (d.partkey is not null or d.colocationid <> 0))
              as shard_placements,
            ${reach} as reachable
       from pg_catalog.pg_dist_node n
      order by n.groupid, n.nodeid`,
  );
  return r.rows.map(nodeFromRow);
}

/** One pg_dist_node row as readNodes selects it. */
export function nodeFromRow(x: Row): CitusNode {
  return {
    id: num(x.nodeid),
    group: num(x.groupid),
    host: String(x.nodename),
    port: num(x.nodeport),
    name: nodeName(String(x.nodename), num(x.nodeport)),
    kind: num(x.groupid) === 0 ? 'coordinator' : 'worker',
    role: String(x.noderole),
    cluster: String(x.nodecluster),
    isActive: x.isactive === true,
    shouldHaveShards: x.shouldhaveshards === true,
    hasMetadata: x.hasmetadata === true,
    metadataSynced: x.metadatasynced === true,
    placements: num(x.placements),
    shardPlacements: num(x.shard_placements),
    reachable: x.reachable === null ? null : x.reachable === true,
  };
}

export interface HealthEdge {
  from: string;
  to: string;
  /** true: connected; false: could not connect; null: not known (the `from` node itself could not be asked). */
  ok: boolean | null;
}

/** citus_check_cluster_node_health(): can each node connect to each other node. */
export async function readNodeHealth(client: Client): Promise<HealthEdge[]> {
  const r = await client.query(
    `select from_nodename, from_nodeport, to_nodename, to_nodeport, result
       from pg_catalog.citus_check_cluster_node_health()`,
  );
  return r.rows.map(edgeFromRow);
}

/** One row of citus_check_cluster_node_health(). */
export function edgeFromRow(x: Row): HealthEdge {
  return {
    from: nodeName(String(x.from_nodename), num(x.from_nodeport)),
    to: nodeName(String(x.to_nodename), num(x.to_nodeport)),
    ok: x.result === null ? null : x.result === true,
  };
}

/** Which tables a read covers: a schema and/or one table (a regclass oid found by resolveTable). */
export interface TableFilter {
  schema: string | null;
  tableOid: number | null;
}

/**
 * A table by name, SQL rules first (`orders`, `sales.orders`, `"Mixed"`), then, for a name without quotes, its
 * exact spelling as one identifier; null when neither names a relation.
 */
export async function resolveTable(client: Client, raw: string): Promise<{ oid: number; name: string } | null> {
  const r = await client.query(
    `select c.oid::int8 as oid, c.oid::regclass::text as name
       from pg_catalog.pg_class c
      where c.oid = coalesce(pg_catalog.to_regclass($1),
                             case when strpos($1, '"') = 0 then pg_catalog.to_regclass(pg_catalog.quote_ident($1)) end)`,
    [raw],
  );
  const row = r.rows[0];
  return row ? { oid: num(row.oid), name: String(row.name) } : null;
}

const FILTER_SQL = `($1::text is null or n.nspname = $1) and ($2::oid is null or c.oid = $2::oid)`;

export type CitusTableType = 'distributed' | 'reference' | 'local' | 'schema';

export interface CitusTable {
  name: string;
  schema: string;
  type: CitusTableType;
  distributionColumn: string | null;
  colocationId: number;
  shardCount: number;
  /** All placements together (reference tables: every replica), as citus_tables counts it. */
  bytes: number;
  owner: string;
  accessMethod: string | null;
}

/** citus_tables (`view` from CitusInfo.tablesView) with sizes in bytes (summed from citus_shards). */
export async function readTables(client: Client, view: string, filter: TableFilter): Promise<CitusTable[]> {
  const r = await client.query(
    `with sizes as (select s.table_name, sum(s.shard_size) as bytes from pg_catalog.citus_shards s group by 1)
     select t.table_name::text as name, n.nspname as schema, t.citus_table_type as type,
            nullif(t.distribution_column, '<none>') as distribution_column, t.colocation_id, t.shard_count,
            coalesce(z.bytes, 0) as bytes, t.table_owner as owner, t.access_method
       from ${view} t
       join pg_catalog.pg_class c on c.oid = t.table_name
       join pg_catalog.pg_namespace n on n.oid = c.relnamespace
       left join sizes z on z.table_name = t.table_name
      where ${FILTER_SQL}
      order by 1`,
    [filter.schema, filter.tableOid],
  );
  return r.rows.map((x) => ({
    name: String(x.name),
    schema: String(x.schema),
    type: String(x.type) as CitusTableType,
    distributionColumn: (x.distribution_column as string | null) ?? null,
    colocationId: num(x.colocation_id),
    shardCount: num(x.shard_count),
    bytes: num(x.bytes),
    owner: String(x.owner),
    accessMethod: (x.access_method as string | null) ?? null,
  }));
}

export interface ShardPlacement {
  table: string;
  shardId: number;
  type: CitusTableType;
  colocationId: number;
  node: string;
  /** null when Citus could not measure it (its node did not answer). */
  bytes: number | null;
}

/** citus_shards: one row per placement. */
export async function readPlacements(client: Client, filter: TableFilter): Promise<ShardPlacement[]> {
  const r = await client.query(
    `select s.table_name::text as table_name, s.shardid, s.citus_table_type, s.colocation_id, s.nodename, s.nodeport,
            s.shard_size
       from pg_catalog.citus_shards s
       join pg_catalog.pg_class c on c.oid = s.table_name
       join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where ${FILTER_SQL}
      order by 1, 2, s.nodename, s.nodeport`,
    [filter.schema, filter.tableOid],
  );
  return r.rows.map(placementFromRow);
}

/** One row of citus_shards. */
export function placementFromRow(x: Row): ShardPlacement {
  return {
    table: String(x.table_name),
    shardId: num(x.shardid),
    type: String(x.citus_table_type) as CitusTableType,
    colocationId: num(x.colocation_id),
    node: nodeName(String(x.nodename), num(x.nodeport)),
    bytes: numOrNull(x.shard_size),
  };
}

export interface RebalanceStrategy {
  name: string;
  isDefault: boolean;
  defaultThreshold: number;
  minimumThreshold: number;
  improvementThreshold: number | null;
}

export async function readStrategies(client: Client): Promise<RebalanceStrategy[]> {
  const r = await client.query(
    `select name::text as name, default_strategy, default_threshold, minimum_threshold,
            to_jsonb(s) -> 'improvement_threshold' as improvement_threshold
       from pg_catalog.pg_dist_rebalance_strategy s order by name`,
  );
  return r.rows.map((x) => ({
    name: String(x.name),
    isDefault: x.default_strategy === true,
    defaultThreshold: num(x.default_threshold),
    minimumThreshold: num(x.minimum_threshold),
    improvementThreshold: numOrNull(x.improvement_threshold),
  }));
}

export interface PlannedMove {
  table: string;
  shardId: number;
  bytes: number;
  from: string;
  to: string;
}

export interface PlanOptions {
  tableOid: number | null;
  strategy: string | null;
  threshold: number | null;
  drainOnly: boolean;
}

/**
 * get_rebalance_table_shards_plan(): the moves a rebalance with these arguments would make (nothing moves), with each
 * shard's size from citus_shards (the plan's own shard_size is the strategy's cost: 0 or 1 by shard count).
 */
export async function readRebalancePlan(client: Client, opts: PlanOptions): Promise<PlannedMove[]> {
  const r = await client.query(
    `with sizes as (select shardid, max(shard_size) as bytes from pg_catalog.citus_shards group by 1)
     select p.table_name::text as table_name, p.shardid, coalesce(z.bytes, p.shard_size) as shard_size,
            p.sourcename, p.sourceport, p.targetname, p.targetport
       from pg_catalog.get_rebalance_table_shards_plan(relation => $1::oid::regclass, threshold => $2::float4,
                                                       drain_only => $3::boolean, rebalance_strategy => $4::name) p
       left join sizes z on z.shardid = p.shardid`,
    [opts.tableOid, opts.threshold, opts.drainOnly, opts.strategy],
  );
  return r.rows.map((x) => ({
    table: String(x.table_name),
    shardId: num(x.shardid),
    bytes: num(x.shard_size),
    from: nodeName(String(x.sourcename), num(x.sourceport)),
    to: nodeName(String(x.targetname), num(x.targetport)),
  }));
}

export interface RebalanceJob {
  jobId: number;
  state: string;
  type: string;
  description: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  /** Task counts by state (done, running, blocked, …) from the job's details. */
  tasks: Record<string, number>;
  /** The tasks running now, as Citus describes them (command, progress). */
  running: Record<string, unknown>[];
}

/** citus_rebalance_status(): the latest rebalance job, or null when there never was one. */
export async function readRebalanceStatus(client: Client): Promise<RebalanceJob | null> {
  const r = await client.query(
    `select job_id, state::text as state, job_type::text as job_type, description,
            to_char(started_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as started_at,
            to_char(finished_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as finished_at, details
       from pg_catalog.citus_rebalance_status()`,
  );
  return r.rows[0] ? jobFromRow(r.rows[0]) : null;
}

/** One row of citus_rebalance_status(). */
export function jobFromRow(x: Row): RebalanceJob {
  const details = (x.details ?? {}) as { tasks?: unknown; task_state_counts?: Record<string, unknown> };
  const counts = details.task_state_counts ?? {};
  return {
    jobId: num(x.job_id),
    state: String(x.state),
    type: String(x.job_type),
    description: (x.description as string | null) ?? null,
    startedAt: (x.started_at as string | null) ?? null,
    finishedAt: (x.finished_at as string | null) ?? null,
    tasks: Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, num(v)])),
    running: Array.isArray(details.tasks) ? (details.tasks as Record<string, unknown>[]) : [],
  };
}

/** Job states in which a rebalance still runs (or waits to). */
export const RUNNING_JOB_STATES: ReadonlySet<string> = new Set(['scheduled', 'running', 'cancelling', 'failing']);

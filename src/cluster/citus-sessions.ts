/**
 * What runs across a Citus cluster: distributed queries from citus_stat_activity (grouped by global pid: the
 * coordinator's backend and its fragments on the workers), who blocks whom from citus_lock_waits and the waiting
 * locks of citus_locks, and citus_stat_statements joined to pg_stat_statements for timings. pgmcp's own query (its
 * global pid, citus_backend_gpid()) is left out.
 */
import type pg from 'pg';
import { nodeName } from './citus.js';

type Client = pg.ClientBase;

const num = (v: unknown): number => Number(v ?? 0);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

/** Whitespace collapsed, cut at `max` characters (saying how long it was). */
function cut(query: unknown, max: number): string | null {
  if (query === null || query === undefined) return null;
  const flat = String(query).replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max)}… [${flat.length} chars]`;
}

export interface Backend {
  node: string;
  pid: number;
  workerQuery: boolean;
  state: string | null;
  wait: string | null;
  query: string | null;
}

export interface DistributedQuery {
  globalPid: string;
  /** Where it started (the node of the backend that is not a worker query), when seen. */
  node: string | null;
  user: string | null;
  database: string | null;
  application: string | null;
  state: string | null;
  transactionSeconds: number | null;
  querySeconds: number | null;
  query: string | null;
  /** Its backends on every node: the initiating one first, then the fragments running on workers. */
  backends: Backend[];
}

export interface ActivityOptions {
  includeIdle: boolean;
  /** Only queries with a backend on this node (host:port). */
  node: string | null;
  limit: number;
  queryChars: number;
}

/** citus_stat_activity grouped by global pid, longest running first. */
export async function readActivity(
  client: Client,
  opts: ActivityOptions,
): Promise<{ queries: DistributedQuery[]; total: number }> {
  const r = await client.query(
    `select a.global_pid::text as gpid, a.is_worker_query, a.pid, n.nodename, n.nodeport, a.datname, a.usename,
            a.application_name, a.state, concat_ws(': ', a.wait_event_type, a.wait_event) as wait,
            extract(epoch from now() - a.xact_start)::float8 as xact_s,
            extract(epoch from now() - a.query_start)::float8 as query_s, a.query
       from pg_catalog.citus_stat_activity a
       left join pg_catalog.pg_dist_node n on n.nodeid = a.nodeid
      where a.global_pid is distinct from pg_catalog.citus_backend_gpid()
        and a.backend_type = 'client backend'
        and ($1::boolean or a.state is distinct from 'idle')
      order by a.global_pid, a.is_worker_query, n.nodeid, a.pid`,
    [opts.includeIdle],
  );
  const groups = new Map<string, { rows: Record<string, unknown>[]; nodeIds: Set<string> }>();
  for (const x of r.rows) {
    const gpid = String(x.gpid);
    const g = groups.get(gpid) ?? { rows: [], nodeIds: new Set<string>() };
    g.rows.push(x);
    g.nodeIds.add(nodeName(String(x.nodename), num(x.nodeport)));
    groups.set(gpid, g);
  }
  if (opts.node !== null) {
    for (const [gpid, g] of groups) if (!g.nodeIds.has(opts.node)) groups.delete(gpid);
  }
  const queries = [...groups.entries()].map(([gpid, g]): DistributedQuery => {
    const head = g.rows.find((x) => x.is_worker_query !== true) ?? (g.rows[0] as Record<string, unknown>);
    const starter = head.is_worker_query !== true;
    return {
      globalPid: gpid,
      node: starter ? nodeName(String(head.nodename), num(head.nodeport)) : null,
      user: strOrNull(head.usename),
      database: strOrNull(head.datname),
      application: strOrNull(head.application_name),
      state: strOrNull(head.state),
      transactionSeconds: numOrNull(head.xact_s),
      querySeconds: numOrNull(head.query_s),
      query: cut(head.query, opts.queryChars),
      backends: g.rows.map((x) => ({
        node: nodeName(String(x.nodename), num(x.nodeport)),
        pid: num(x.pid),
        workerQuery: x.is_worker_query === true,
        state: strOrNull(x.state),
        wait: strOrNull(x.wait) || null,
        query: x === head ? null : cut(x.query, opts.queryChars),
      })),
    };
  });
  queries.sort(
    (a, b) =>
      (b.transactionSeconds ?? b.querySeconds ?? 0) - (a.transactionSeconds ?? a.querySeconds ?? 0) ||
      a.globalPid.localeCompare(b.globalPid),
  );
  return { queries: queries.slice(0, opts.limit), total: queries.length };
}

export interface LockWait {
  waitingGlobalPid: string;
  blockingGlobalPid: string;
  waitingNode: string | null;
  blockingNode: string | null;
  blockedStatement: string | null;
  blockingStatement: string | null;
}

export interface WaitingLock {
  globalPid: string;
  node: string | null;
  pid: number;
  locktype: string;
  relation: string | null;
  mode: string;
  waitSeconds: number | null;
}

/** citus_lock_waits (who blocks whom, across nodes) and the locks not granted from citus_locks. */
export async function readLocks(
  client: Client,
  queryChars: number,
): Promise<{ waits: LockWait[]; waiting: WaitingLock[] }> {
  const nodeOf = `(select format('%s:%s', n.nodename, n.nodeport) from pg_catalog.pg_dist_node n where n.nodeid = `;
  const waits = await client.query(
    `select w.waiting_gpid::text as waiting, w.blocking_gpid::text as blocking,
            ${nodeOf}w.waiting_nodeid) as waiting_node, ${nodeOf}w.blocking_nodeid) as blocking_node,
            w.blocked_statement, w.current_statement_in_blocking_process as blocking_statement
       from pg_catalog.citus_lock_waits w
      order by 1, 2`,
  );
  const waiting = await client.query(
    `select l.global_pid::text as gpid, ${nodeOf}l.nodeid) as node, l.pid, l.locktype, l.relation_name, l.mode,
            extract(epoch from now() - l.waitstart)::float8 as wait_s
       from pg_catalog.citus_locks l
      where not l.granted and l.global_pid is distinct from pg_catalog.citus_backend_gpid()
      order by wait_s desc nulls last, 1`,
  );
  return {
    waits: waits.rows.map((x) => ({
      waitingGlobalPid: String(x.waiting),
      blockingGlobalPid: String(x.blocking),
      waitingNode: strOrNull(x.waiting_node),
      blockingNode: strOrNull(x.blocking_node),
      blockedStatement: cut(x.blocked_statement, queryChars),
      blockingStatement: cut(x.blocking_statement, queryChars),
    })),
    waiting: waiting.rows.map((x) => ({
      globalPid: String(x.gpid),
      node: strOrNull(x.node),
      pid: num(x.pid),
      locktype: String(x.locktype),
      relation: strOrNull(x.relation_name),
      mode: String(x.mode),
      waitSeconds: numOrNull(x.wait_s),
    })),
  };
}

export interface CitusStatement {
  queryId: string;
  query: string | null;
  executors: string | null;
  calls: number;
  /** Distinct distribution key values the statement was routed by (router and fast-path queries). */
  partitionKeys: number;
  /** The values with the most calls (up to 3). */
  topPartitionKeys: string[];
  totalMs: number | null;
  meanMs: number | null;
}

export interface StatementsAvailability {
  /** citus_stat_statements exists, pg_stat_statements is installed here and its schema (quoted), and the tracking setting. */
  view: boolean;
  pgStatStatementsSchema: string | null;
  track: string | null;
}

export async function statementsAvailability(client: Client): Promise<StatementsAvailability> {
  const r = await client.query(
    `select to_regclass('pg_catalog.citus_stat_statements') is not null as view,
            (select quote_ident(n.nspname) from pg_catalog.pg_extension e
               join pg_catalog.pg_namespace n on n.oid = e.extnamespace where e.extname = 'pg_stat_statements') as schema,
            current_setting('citus.stat_statements_track', true) as track`,
  );
  const x = r.rows[0] ?? {};
  return { view: x.view === true, pgStatStatementsSchema: strOrNull(x.schema), track: strOrNull(x.track) };
}

/** citus_stat_statements of this database grouped per statement, with pg_stat_statements' timings. */
export async function readStatements(
  client: Client,
  pgStatStatementsSchema: string,
  limit: number,
  queryChars: number,
): Promise<CitusStatement[]> {
  const r = await client.query(
    `with c as (
       select queryid, userid, dbid, query, executor, partition_key, calls
         from pg_catalog.citus_stat_statements
        where dbid = (select oid from pg_catalog.pg_database where datname = current_database()))
     select c.queryid::text as queryid, min(c.query) as query, string_agg(distinct c.executor, ', ') as executors,
            sum(c.calls) as calls, count(distinct c.partition_key) as keys,
            (array_agg(c.partition_key order by c.calls desc) filter (where c.partition_key is not null))[1:3] as top_keys,
            max(s.total_exec_time) as total_ms, max(s.mean_exec_time) as mean_ms
       from c left join ${pgStatStatementsSchema}.pg_stat_statements s
         on s.queryid = c.queryid and s.userid = c.userid and s.dbid = c.dbid
      group by c.queryid, c.userid, c.dbid
      order by total_ms desc nulls last, calls desc
      limit $1`,
    [limit],
  );
  return r.rows.map((x) => ({
    queryId: String(x.queryid),
    query: cut(x.query, queryChars),
    executors: strOrNull(x.executors),
    calls: num(x.calls),
    partitionKeys: num(x.keys),
    topPartitionKeys: Array.isArray(x.top_keys) ? (x.top_keys as unknown[]).map(String) : [],
    totalMs: numOrNull(x.total_ms),
    meanMs: numOrNull(x.mean_ms),
  }));
}

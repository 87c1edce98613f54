/**
 * pg_stat_statements: found in the database (any schema), its columns read from the view itself so that every
 * version is right (total_exec_time from 13, total_time before; wal_* from 13; toplevel from 14;
 * shared_blk_read_time from 17, blk_read_time before), and clear set-up steps when it is missing or not preloaded.
 */
import { ToolError } from '../tools/errors.js';
import { type PerfSession, StatementFailure } from './session.js';

export const TOP_ORDERS = [
  'total_time',
  'mean_time',
  'calls',
  'rows',
  'shared_read',
  'shared_hit',
  'temp',
  'io_time',
  'wal_bytes',
] as const;
export type TopOrder = (typeof TOP_ORDERS)[number];

export interface StatStatements {
  /** quote_ident(schema) of the extension. */
  schema: string;
  version: string;
  columns: Set<string>;
  /** Column expressions for this version. */
  total: string;
  mean: string;
  max: string;
  plan?: string;
  readTime?: string;
  writeTime?: string;
}

export interface TopQuery {
  queryid: string;
  query: string;
  user: string | null;
  calls: number;
  rows: number;
  totalMs: number;
  meanMs: number;
  maxMs: number;
  /** Share of the database's total execution time. */
  percent: number;
  planMs?: number;
  sharedHit: number;
  sharedRead: number;
  sharedWritten: number;
  tempBlocks: number;
  /** Shared buffer hit ratio of the statement (0–1); null when it touched no blocks. */
  hitRatio: number | null;
  ioMs?: number;
  walBytes?: string;
  toplevel?: boolean;
}

export interface StatsInfo {
  /** pg_stat_statements_info.stats_reset (14+). */
  since?: string;
  /** Entries evicted since then (pg_stat_statements.max too small when it grows). */
  dealloc?: number;
}

/** The extension in the session's database, or a tool error with what to do. */
export async function openStatStatements(session: PerfSession): Promise<StatStatements> {
  // shared_preload_libraries is visible to superusers and pg_read_all_settings only: null = unknown.
  const r = await session.query<{
    schema: string | null;
    version: string | null;
    available: string | null;
    preload: string | null;
    view: string | null;
  }>(
    `select (select quote_ident(n.nspname) from pg_catalog.pg_extension e
               join pg_catalog.pg_namespace n on n.oid = e.extnamespace where e.extname = 'pg_stat_statements') as schema,
            (select extversion from pg_catalog.pg_extension where extname = 'pg_stat_statements') as version,
            (select default_version from pg_catalog.pg_available_extensions where name = 'pg_stat_statements') as available,
            (select setting from pg_catalog.pg_settings where name = 'shared_preload_libraries') as preload,
            (select (quote_ident(n.nspname) || '.pg_stat_statements')::regclass::oid::text from pg_catalog.pg_extension e
               join pg_catalog.pg_namespace n on n.oid = e.extnamespace where e.extname = 'pg_stat_statements') as view`,
  );
  const row = r.rows[0];
  const preload = row?.preload ?? null;
  const listed =
    preload === null
      ? undefined
      : preload
          .split(',')
          .map((x) => x.trim().replace(/^"|"$/g, ''))
          .some((lib) => /(^|\/)pg_stat_statements(\.so)?$/.test(lib));
  if (!row?.schema || !row.version || !row.view) {
    throw missing(session, { installed: false, available: Boolean(row?.available), preloaded: listed, preload });
  }
  // Created but its library not loaded: reading the view fails with 55000.
  try {
    await session.query(`select 1 from ${row.schema}.pg_stat_statements limit 1`);
  } catch (err) {
    if (!(err instanceof StatementFailure) || (err.pgError as { code?: string }).code !== '55000') throw err;
    await session.restart();
    throw missing(session, { installed: true, available: true, preloaded: false, preload });
  }
  const cols = await session.query<{ name: string }>(
    'select attname as name from pg_catalog.pg_attribute where attrelid = $1::oid and attnum > 0 and not attisdropped',
    [row.view],
  );
  const columns = new Set(cols.rows.map((c) => c.name));
  const pick = (...names: string[]) => names.find((n) => columns.has(n));
  const pss: StatStatements = {
    schema: row.schema,
    version: row.version,
    columns,
    total: pick('total_exec_time', 'total_time') ?? 'total_time',
    mean: pick('mean_exec_time', 'mean_time') ?? 'mean_time',
    max: pick('max_exec_time', 'max_time') ?? 'max_time',
  };
  const plan = pick('total_plan_time');
  if (plan) pss.plan = plan;
  const readTime = pick('shared_blk_read_time', 'blk_read_time');
  if (readTime) pss.readTime = readTime;
  const writeTime = pick('shared_blk_write_time', 'blk_write_time');
  if (writeTime) pss.writeTime = writeTime;
  return pss;
}

function missing(
  session: PerfSession,
  s: { installed: boolean; available: boolean; preloaded: boolean | undefined; preload: string | null },
): ToolError {
  const steps: string[] = [];
  const major = session.serverMajor;
  if (!s.available) {
    steps.push(
      `install PostgreSQL's contrib modules on the server (Debian/Ubuntu: part of postgresql-${major}; RHEL/Fedora with PGDG: postgresql${major}-contrib)`,
    );
  }
  if (s.preloaded !== true) {
    const libs = (s.preload ?? '')
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
    const value = [...libs, 'pg_stat_statements'].join(',');
    const keep =
      s.preload === null
        ? 'add pg_stat_statements to what is listed there now (this login cannot read the setting)'
        : `keeps what is listed now${libs.length ? `: ${libs.join(', ')}` : ''}`;
    steps.push(
      `${s.preloaded === undefined ? 'unless it is already there, ' : ''}load the library at server start: ALTER SYSTEM SET shared_preload_libraries = '${value}'; (${keep}; or set it in postgresql.conf), then RESTART PostgreSQL — a reload is not enough`,
    );
  }
  if (!s.installed) {
    steps.push(
      `create the view in this database: CREATE EXTENSION pg_stat_statements; in database "${session.database}" (pg_execute at access level write, or psql)`,
    );
  }
  steps.push(
    'optional: pg_stat_statements.track = all also counts statements run inside functions; pg_stat_statements.track_planning = on adds planning times; track_io_timing = on adds I/O times',
  );
  const what = !s.installed
    ? 'is not created in this database'
    : 'is created in this database but its library is not loaded (shared_preload_libraries)';
  return new ToolError(`pg_stat_statements ${what}: top queries and workload index advice read it`, {
    code: 'pg_stat_statements_missing',
    hint: steps.map((x, i) => `${i + 1}. ${x}`).join('\n'),
  });
}

/** Statistics of the whole view: when they were reset and how many entries were evicted. */
export async function statsInfo(session: PerfSession, pss: StatStatements): Promise<StatsInfo> {
  if (session.version < 140000) return {};
  const r = await session.query<{ since: Date | null; dealloc: string | null }>(
    `select stats_reset as since, dealloc::int8 as dealloc from ${pss.schema}.pg_stat_statements_info`,
  );
  const row = r.rows[0];
  const out: StatsInfo = {};
  if (row?.since) out.since = new Date(row.since).toISOString();
  if (row?.dealloc !== null && row?.dealloc !== undefined) out.dealloc = Number(row.dealloc);
  return out;
}

function orderExpression(pss: StatStatements, order: TopOrder): string {
  switch (order) {
    case 'total_time':
      return `s.${pss.total}`;
    case 'mean_time':
      return `s.${pss.mean}`;
    case 'calls':
      return 's.calls';
    case 'rows':
      return 's.rows';
    case 'shared_read':
      return 's.shared_blks_read';
    case 'shared_hit':
      return 's.shared_blks_hit';
    case 'temp':
      return '(s.temp_blks_read + s.temp_blks_written)';
    case 'io_time':
      if (!pss.readTime || !pss.writeTime) throw unsupported('io_time', 'blk_read_time');
      return `(s.${pss.readTime} + s.${pss.writeTime})`;
    case 'wal_bytes':
      if (!pss.columns.has('wal_bytes')) throw unsupported('wal_bytes', 'wal_bytes (PostgreSQL 13+)');
      return 's.wal_bytes';
  }
}

function unsupported(order: string, column: string): ToolError {
  return new ToolError(`order_by ${order} needs the column ${column}, which this pg_stat_statements does not have`, {
    code: 'invalid_argument',
    hint: 'order by total_time, mean_time, calls, rows, shared_read, shared_hit or temp',
  });
}

interface Row {
  queryid: string | null;
  query: string | null;
  usename: string | null;
  calls: string;
  rows: string;
  total_ms: number;
  mean_ms: number;
  max_ms: number;
  plan_ms: number | null;
  shared_hit: string;
  shared_read: string;
  shared_written: string;
  temp_blocks: string;
  io_ms: number | null;
  wal_bytes: string | null;
  toplevel: boolean | null;
  percent: number | null;
}

/** Collapses whitespace; caps the length. */
export function normaliseQueryText(query: string, max: number): string {
  const one = query.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/** The database's statements ordered by `order`, `limit` of them. */
export async function topQueries(
  session: PerfSession,
  pss: StatStatements,
  order: TopOrder,
  limit: number,
  maxQueryChars = 2000,
): Promise<TopQuery[]> {
  const has = (c: string) => pss.columns.has(c);
  const r = await session.query<Row>(
    `select s.queryid::text as queryid, s.query, r.rolname as usename, s.calls::int8 as calls, s.rows::int8 as rows,
            s.${pss.total}::float8 as total_ms, s.${pss.mean}::float8 as mean_ms, s.${pss.max}::float8 as max_ms,
            ${pss.plan ? `s.${pss.plan}::float8` : 'null::float8'} as plan_ms,
            s.shared_blks_hit::int8 as shared_hit, s.shared_blks_read::int8 as shared_read,
            s.shared_blks_written::int8 as shared_written,
            (s.temp_blks_read + s.temp_blks_written)::int8 as temp_blocks,
            ${pss.readTime && pss.writeTime ? `(s.${pss.readTime} + s.${pss.writeTime})::float8` : 'null::float8'} as io_ms,
            ${has('wal_bytes') ? 's.wal_bytes::text' : 'null::text'} as wal_bytes,
            ${has('toplevel') ? 's.toplevel' : 'null::boolean'} as toplevel,
            (100 * s.${pss.total} / nullif(sum(s.${pss.total}) over (), 0))::float8 as percent
       from ${pss.schema}.pg_stat_statements s
       left join pg_catalog.pg_roles r on r.oid = s.userid
      where s.dbid = (select oid from pg_catalog.pg_database where datname = current_database())
      order by ${orderExpression(pss, order)} desc nulls last
      limit $1`,
    [limit],
  );
  return r.rows.map((row) => {
    const hit = Number(row.shared_hit);
    const read = Number(row.shared_read);
    const q: TopQuery = {
      queryid: row.queryid ?? '',
      query: normaliseQueryText(row.query ?? '<insufficient privilege>', maxQueryChars),
      user: row.usename,
      calls: Number(row.calls),
      rows: Number(row.rows),
      totalMs: round(row.total_ms),
      meanMs: round(row.mean_ms, 3),
      maxMs: round(row.max_ms, 3),
      percent: round(row.percent ?? 0),
      sharedHit: hit,
      sharedRead: read,
      sharedWritten: Number(row.shared_written),
      tempBlocks: Number(row.temp_blocks),
      hitRatio: hit + read > 0 ? round(hit / (hit + read), 4) : null,
    };
    if (row.plan_ms !== null) q.planMs = round(row.plan_ms);
    if (row.io_ms !== null) q.ioMs = round(row.io_ms);
    if (row.wal_bytes !== null) q.walBytes = row.wal_bytes;
    if (row.toplevel !== null) q.toplevel = row.toplevel;
    return q;
  });
}

/** Full query texts of the database's statements by total time, for index advice (`limit` of them). */
export async function workloadQueries(
  session: PerfSession,
  pss: StatStatements,
  limit: number,
): Promise<{ query: string; calls: number; totalMs: number; meanMs: number; rows: number }[]> {
  const r = await session.query<{
    query: string | null;
    calls: string;
    total_ms: number;
    mean_ms: number;
    rows: string;
  }>(
    `select s.query, s.calls::int8 as calls, s.${pss.total}::float8 as total_ms, s.${pss.mean}::float8 as mean_ms,
            s.rows::int8 as rows
       from ${pss.schema}.pg_stat_statements s
      where s.dbid = (select oid from pg_catalog.pg_database where datname = current_database())
        and s.query is not null
      order by s.${pss.total} desc
      limit $1`,
    [limit],
  );
  return r.rows.map((row) => ({
    query: row.query ?? '',
    calls: Number(row.calls),
    totalMs: round(row.total_ms),
    meanMs: round(row.mean_ms, 3),
    rows: Number(row.rows),
  }));
}

function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

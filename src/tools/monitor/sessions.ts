import type pg from 'pg';
import { time } from '../schema/values.js';
import { cutQuery, durationOf, toInt, toNumber, toStr } from './format.js';
import type { Session } from './output.js';

/**
 * A client connection in pg_stat_activity (alias `a`). Sessions of other roles show backend_type null to a login
 * without pg_read_all_stats; those with a user are taken for client connections.
 */
export const CLIENT_BACKEND =
  "(a.backend_type = 'client backend' or (a.backend_type is null and a.usesysid is not null))";

/** What every action needs to know about the server it reads. */
export interface ServerInfo {
  versionNum: number;
  version: string;
  inRecovery: boolean;
  superuser: boolean;
  /** Superuser or member of pg_read_all_stats: sees every session's statement and replication positions. */
  readAllStats: boolean;
  currentDatabase: string;
}

export async function serverInfo(client: pg.ClientBase): Promise<ServerInfo> {
  const r = await client.query(`select current_setting('server_version_num')::int as num,
      current_setting('server_version') as version, pg_catalog.pg_is_in_recovery() as recovery,
      coalesce((select rolsuper from pg_catalog.pg_roles where rolname = current_user), false) as superuser,
      pg_catalog.pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') as read_all_stats,
      pg_catalog.current_database() as db`);
  const row = r.rows[0] as Record<string, unknown>;
  const superuser = row.superuser === true;
  return {
    versionNum: Number(row.num),
    version: String(row.version),
    inRecovery: row.recovery === true,
    superuser,
    readAllStats: superuser || row.read_all_stats === true,
    currentDatabase: String(row.db),
  };
}

/** The note shown when the login cannot see other roles' statements. */
export function privilegeNote(info: ServerInfo): string | undefined {
  return info.readAllStats
    ? undefined
    : `this login (not superuser, not in pg_read_all_stats) sees other roles' statements as <insufficient privilege> ` +
        'and some statistics as null: GRANT pg_monitor TO <login> shows everything';
}

/** Which sessions to read; every filter is bound as a parameter. */
export interface SessionFilter {
  /** Databases the caller may see (null = any). */
  allowed: readonly string[] | null;
  database?: string | null;
  user?: string | null;
  /** ILIKE pattern on application_name. */
  application?: string | null;
  state?: string | null;
  includeSelf?: boolean;
  /** Background processes too (autovacuum, WAL senders, checkpointer …), not only client backends. */
  includeBackground?: boolean;
  /** Only these pids. */
  pids?: readonly number[] | null;
}

/** One session as read, with its raw durations for sorting and thresholds. */
export interface SessionRow {
  session: Session;
  isSelf: boolean;
  background: boolean;
  xactSeconds: number | null;
  querySeconds: number | null;
  stateSeconds: number | null;
  waitEventType: string | null;
  /** The full statement text (not cut). */
  fullQuery: string | null;
}

function sessionSql(info: ServerInfo): string {
  const queryId = info.versionNum >= 140000 ? 'a.query_id::text' : 'null::text';
  return `select a.pid, a.usename::text as usename, a.datname::text as datname, a.application_name,
      case when a.client_addr is not null then pg_catalog.host(a.client_addr) || coalesce(':' || a.client_port, '')
           when a.client_port = -1 then 'local' end as client,
      a.backend_type, a.state, a.wait_event_type, a.wait_event,
      a.backend_start::text as backend_start, a.xact_start::text as xact_start, a.query_start::text as query_start,
      a.state_change::text as state_change,
      extract(epoch from now() - a.backend_start)::float8 as connected_s,
      extract(epoch from now() - a.xact_start)::float8 as xact_s,
      extract(epoch from now() - a.query_start)::float8 as query_s,
      extract(epoch from now() - a.state_change)::float8 as state_s,
      pg_catalog.age(a.backend_xmin) as xmin_age, a.query, ${queryId} as query_id,
      case when a.wait_event_type = 'Lock' then pg_catalog.pg_blocking_pids(a.pid) else '{}'::int[] end as blocked_by,
      a.leader_pid, a.pid = pg_catalog.pg_backend_pid() as is_self
    from pg_catalog.pg_stat_activity a
    where ($1::text[] is null or a.datname = any($1::text[]))
      and ($2::text is null or a.datname = $2::text)
      and ($3::text is null or a.usename = $3::text)
      and ($4::text is null or a.application_name ilike $4::text)
      and ($5::text is null or a.state = $5::text)
      and ($6::boolean or a.pid <> pg_catalog.pg_backend_pid())
      and ($7::boolean or ${CLIENT_BACKEND})
      and ($8::int[] is null or a.pid = any($8::int[]))`;
}

export function toSession(r: Record<string, unknown>, queryChars: number): Session {
  const waitType = toStr(r.wait_event_type);
  const waitEvent = toStr(r.wait_event);
  return {
    pid: Number(r.pid),
    user: toStr(r.usename),
    database: toStr(r.datname),
    application: toStr(r.application_name),
    client: toStr(r.client),
    backendType: toStr(r.backend_type),
    state: toStr(r.state),
    waitEvent: waitType ? `${waitType}: ${waitEvent ?? '?'}` : null,
    backendStart: time(r.backend_start),
    xactStart: time(r.xact_start),
    queryStart: time(r.query_start),
    stateChange: time(r.state_change),
    connected: durationOf(r.connected_s),
    transaction: durationOf(r.xact_s),
    query: durationOf(r.query_s),
    inState: durationOf(r.state_s),
    xminAge: toInt(r.xmin_age),
    statement: cutQuery(toStr(r.query), queryChars),
    queryId: toStr(r.query_id),
    blockedBy: Array.isArray(r.blocked_by) ? r.blocked_by.map(Number) : [],
    leaderPid: toInt(r.leader_pid),
  };
}

/** Reads sessions from pg_stat_activity with the filters applied on the server. */
export async function loadSessions(
  client: pg.ClientBase,
  info: ServerInfo,
  filter: SessionFilter,
  queryChars: number,
): Promise<SessionRow[]> {
  const r = await client.query(sessionSql(info), [
    filter.allowed,
    filter.database ?? null,
    filter.user ?? null,
    filter.application ?? null,
    filter.state ?? null,
    filter.includeSelf ?? false,
    filter.includeBackground ?? false,
    filter.pids ?? null,
  ]);
  return r.rows.map((row: Record<string, unknown>) => ({
    session: toSession(row, queryChars),
    isSelf: row.is_self === true,
    background: row.backend_type !== 'client backend' && row.backend_type !== null,
    xactSeconds: toNumber(row.xact_s),
    querySeconds: toNumber(row.query_s),
    stateSeconds: toNumber(row.state_s),
    waitEventType: toStr(row.wait_event_type),
    fullQuery: toStr(row.query),
  }));
}

/** A session's working age: its transaction, else its statement, else its time in state. */
export function ageOf(s: SessionRow): number {
  return s.xactSeconds ?? (s.session.state === 'active' ? s.querySeconds : null) ?? s.stateSeconds ?? 0;
}

/** Working sessions first (oldest transaction or statement first), then idle ones (longest idle first). */
export function longestFirst(rows: SessionRow[]): SessionRow[] {
  const idle = (s: SessionRow) => s.session.state === 'idle' || s.session.state === null;
  return [...rows].sort((a, b) => {
    const ia = idle(a);
    const ib = idle(b);
    if (ia !== ib) return ia ? 1 : -1;
    return ageOf(b) - ageOf(a) || a.session.pid - b.session.pid;
  });
}

/** `pid 123 (alice@shop, app "psql")` */
export function who(s: Session): string {
  const parts = [`pid ${s.pid}`];
  const at = [s.user, s.database].filter(Boolean).join('@');
  const extra = [at, s.application ? `app "${s.application}"` : ''].filter(Boolean).join(', ');
  return extra ? `${parts[0]} (${extra})` : (parts[0] as string);
}

/** The fix for a session that is in the way: cancel a running statement, terminate an idle transaction. */
export function endSessionFix(s: Session): string {
  if (s.state === 'active') {
    return `SELECT pg_cancel_backend(${s.pid}); -- cancels the statement (pg_terminate_backend(${s.pid}) ends the session)`;
  }
  return `SELECT pg_terminate_backend(${s.pid}); -- ends the session and rolls its transaction back`;
}

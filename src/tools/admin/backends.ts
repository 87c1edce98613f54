/** cancel_backend and terminate_backend: the plan says what the backend is doing; afterwards its state is checked. */
import type pg from 'pg';
import { backendPid } from '../../db/cancel.js';
import type { ToolContext } from '../context.js';
import { ToolError } from '../errors.js';
import type { Change } from './output.js';
import { type AdminPlan, duration, type PlanInput, type RunOutcome } from './plan.js';
import type { AdminSession } from './session.js';
import { quoteLiteral } from './sql.js';

/** How long terminate waits for the backend to exit, and cancel for its statement to end. */
const WAIT_MS = 5000;
const QUERY_CHARS = 2000;

interface BackendRow {
  pid: number;
  backend_start: string;
  backend_type: string | null;
  user: string | null;
  database: string | null;
  application: string | null;
  client: string | null;
  state: string | null;
  query: string | null;
  query_start: string | null;
  query_ms: number | null;
  xact_ms: number | null;
  wait_event: string | null;
  own: boolean;
}

const BACKEND_SQL = `
  select a.pid, a.backend_start::text as backend_start, a.backend_type, a.usename::text as user,
         a.datname::text as database, nullif(a.application_name, '') as application,
         coalesce(pg_catalog.host(a.client_addr), case when a.client_port = -1 then 'local socket' end) as client,
         a.state, left(a.query, ${QUERY_CHARS}) as query, a.query_start::text as query_start,
         (extract(epoch from now() - a.query_start) * 1000)::float8 as query_ms,
         (extract(epoch from now() - a.xact_start) * 1000)::float8 as xact_ms,
         concat_ws(':', a.wait_event_type, a.wait_event) as wait_event,
         a.pid = pg_catalog.pg_backend_pid() as own
    from pg_catalog.pg_stat_activity a where a.pid = $1`;

/** Backend pids of the connections this pgmcp process holds in its pools. */
function pooledPids(ctx: ToolContext): Set<number> {
  const pids = new Set<number>();
  for (const s of ctx.pools.stats()) {
    const pool = ctx.pools.get(s.database, s.role) as unknown as { _clients?: pg.ClientBase[] };
    for (const c of pool._clients ?? []) {
      const pid = backendPid(c);
      if (pid) pids.add(pid);
    }
  }
  return pids;
}

/** `client backend 1234 of alice in app (psql, from 10.0.0.5)`. */
export function backendLabel(b: BackendRow): string {
  const who = [b.user && `of ${b.user}`, b.database && `in ${b.database}`].filter(Boolean).join(' ');
  const via = [b.application, b.client && `from ${b.client}`].filter(Boolean).join(', ');
  return `${b.backend_type ?? 'backend'} ${b.pid}${who ? ` ${who}` : ''}${via ? ` (${via})` : ''}`;
}

/** What the backend is doing, for the plan. */
function doing(b: BackendRow): string {
  const q = b.query?.trim() ? b.query.trim().replace(/\s+/g, ' ') : undefined;
  const wait = b.wait_event ? `, waiting on ${b.wait_event}` : '';
  if (b.state === 'active') {
    return `it is running (for ${duration(b.query_ms ?? 0)}${wait}): ${q ?? '(no statement text)'}`;
  }
  const tx = b.xact_ms !== null ? ` with a transaction open for ${duration(b.xact_ms)}` : '';
  const last = q ? `; its last statement was: ${q}` : '';
  return `it is ${b.state ?? 'in an unknown state'}${tx}${last}`;
}

function backendFacts(b: BackendRow): Record<string, unknown> {
  const { own: _own, ...rest } = b;
  return rest;
}

export async function planBackendSignal(input: PlanInput, kind: 'cancel' | 'terminate'): Promise<AdminPlan> {
  const { args, catalog, ctx } = input;
  const pid = args.pid as number;
  const b = await catalog.one<BackendRow>(BACKEND_SQL, [pid]);
  if (!b) {
    throw new ToolError(`no backend with pid ${pid} (it ended, or the pid is not a PostgreSQL backend)`, {
      code: 'backend_not_found',
      hint: 'pg_monitor (activity) lists the sessions with their pids',
    });
  }
  const allowed = ctx.caller.databases;
  if (allowed && !(b.database && allowed.includes(b.database))) {
    throw new ToolError(
      `backend ${pid} is ${b.database ? `in database ${b.database}` : 'not in a database'}, which ${ctx.caller.identity} may not use`,
      { code: 'database_not_allowed', hint: `allowed: ${allowed.join(', ')}` },
    );
  }
  if (b.own || pooledPids(ctx).has(pid)) {
    throw new ToolError(
      `pid ${pid} is one of pgmcp's own connections (its ${b.own ? 'connection for this very call' : 'connection pool'}): ${kind === 'cancel' ? 'cancelling' : 'terminating'} it would only break pgmcp's own work, so pgmcp refuses`,
      { code: 'own_backend', hint: 'pick the pid of the session you mean from pg_monitor (activity)' },
    );
  }
  const warnings: string[] = [];
  if (b.application === 'pgmcp') {
    warnings.push(
      `backend ${pid} is a pgmcp connection (a pg_tx transaction, or another pgmcp process): whoever uses it gets an error`,
    );
  }
  if (b.backend_type && b.backend_type !== 'client backend') {
    warnings.push(
      b.backend_type === 'autovacuum worker'
        ? `backend ${pid} is an autovacuum worker: autovacuum starts on that table again later`
        : `backend ${pid} is a ${b.backend_type}, not a client session: PostgreSQL restarts or reconnects it, but its work is interrupted`,
    );
  }
  const start = quoteLiteral(b.backend_start);
  const sql =
    kind === 'cancel'
      ? `SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE pid = ${pid} AND backend_start = ${start}`
      : `SELECT pg_terminate_backend(pid, ${WAIT_MS}) FROM pg_stat_activity WHERE pid = ${pid} AND backend_start = ${start}`;
  const label = backendLabel(b);
  const reasons =
    kind === 'cancel'
      ? [
          `cancels what ${label} is doing: the statement fails with "canceling statement due to user request", and a transaction it is in is aborted (rolled back)`,
          doing(b),
        ]
      : [`terminates ${label}: its connection is closed, and a transaction it has open is rolled back`, doing(b)];
  return {
    summary: `${kind === 'cancel' ? 'cancel the statement of' : 'terminate'} ${label}`,
    sql: [sql],
    destructive: true,
    reasons,
    // The token confirms this backend, not whichever session gets the pid next.
    bind: { backend_start: b.backend_start },
    facts: { backend: backendFacts(b) },
    warnings,
    async run(session): Promise<RunOutcome> {
      const r = await session.run(sql, {
        result: (q) =>
          q.rows.length === 0 ? 'no such backend any more' : String(Object.values(q.rows[0] ?? {})[0] ?? ''),
      });
      const row = r.rows[0] as Record<string, unknown> | undefined;
      if (!row) {
        throw new ToolError(
          `backend ${pid} is no longer the one in the plan (it ended, or its pid now belongs to a new session): nothing was signalled`,
          { code: 'backend_gone', hint: 'look at pg_monitor (activity) again' },
        );
      }
      const signalled = Object.values(row)[0] === true;
      return kind === 'cancel' ? afterCancel(session, b, signalled) : afterTerminate(session, b, signalled);
    },
  };
}

async function current(session: AdminSession, pid: number): Promise<BackendRow | undefined> {
  return (await session.query<BackendRow>(BACKEND_SQL, [pid]))[0];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function afterCancel(session: AdminSession, b: BackendRow, signalled: boolean): Promise<RunOutcome> {
  const warnings: string[] = [];
  if (!signalled) warnings.push(`PostgreSQL could not signal backend ${b.pid} (see the step's messages)`);
  let now = await current(session, b.pid);
  const deadline = Date.now() + WAIT_MS;
  const same = (x: BackendRow | undefined) =>
    x !== undefined && x.backend_start === b.backend_start && x.state === 'active' && x.query_start === b.query_start;
  while (b.state === 'active' && same(now) && Date.now() < deadline) {
    await sleep(50);
    now = await current(session, b.pid);
  }
  const verified = b.state !== 'active' ? 'it was not running a statement' : same(now) ? 'still running' : 'ended';
  if (verified === 'still running') {
    warnings.push(
      `backend ${b.pid} was still running the same statement ${WAIT_MS / 1000} s after the cancel request: it may be in a part that cannot be interrupted; terminate_backend ends the whole session`,
    );
  }
  const changes: Change[] = [
    {
      object: `backend ${b.pid}`,
      item: 'state',
      before: b.state,
      after: now && now.backend_start === b.backend_start ? now.state : 'gone',
    },
  ];
  return {
    changes,
    facts: { signalled, statement: verified, ...(now ? { after: backendFacts(now) } : {}) },
    warnings,
  };
}

async function afterTerminate(session: AdminSession, b: BackendRow, signalled: boolean): Promise<RunOutcome> {
  let now = await current(session, b.pid);
  const deadline = Date.now() + 1000;
  while (now?.backend_start === b.backend_start && Date.now() < deadline) {
    await sleep(50);
    now = await current(session, b.pid);
  }
  const gone = now?.backend_start !== b.backend_start;
  const warnings = gone
    ? []
    : [`backend ${b.pid} was still there ${WAIT_MS / 1000} s after it was told to terminate (see the step's messages)`];
  return {
    changes: [
      { object: `backend ${b.pid}`, item: 'backend', before: b.state, after: gone ? 'gone' : (now?.state ?? null) },
    ],
    facts: { signalled, gone },
    warnings,
  };
}

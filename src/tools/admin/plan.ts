import type { ToolContext } from '../context.js';
import type { AdminArgs } from './args.js';
import type { Change } from './output.js';
import type { AdminSession } from './session.js';
import type { Catalog } from './sql.js';

/** What a planner gets: the call, and the catalog of the database it works in. */
export interface PlanInput<A extends AdminArgs = AdminArgs> {
  args: A;
  ctx: ToolContext;
  /** The database the call works in (checked against what the caller may use). */
  database: string;
  catalog: Catalog;
}

/** What running a plan found out. */
export interface RunOutcome {
  changes?: Change[];
  facts?: Record<string, unknown>;
  warnings?: string[];
  restartRequired?: boolean;
}

/** Everything about one pg_admin call before it runs: shown in full by a dry run and in a confirmation. */
export interface AdminPlan {
  /** One line, e.g. `VACUUM (FULL) public.orders`. */
  summary: string;
  /** Exactly what runs, in order, as shown (a password masked). */
  sql: string[];
  /** Needs confirmation. */
  destructive: boolean;
  /** Why it needs confirmation (or what to know about it). */
  reasons: string[];
  /** Values a confirmation token is bound to besides the arguments (e.g. which backend a pid was). */
  bind?: Record<string, unknown>;
  facts?: Record<string, unknown>;
  warnings?: string[];
  /** The database to connect to when it is not the call's (dropping a database connects to another one). */
  connectTo?: string;
  /** Run without the statement timeout (maintenance, creating a database). */
  unlimited?: boolean;
  /** Wait for locks without pgmcp's lock timeout (work whose wait blocks no reads or writes). */
  waitForLocks?: boolean;
  /** A hint for a failure of one of its statements (by SQLSTATE). */
  failureHint?: (code: string | undefined) => string | undefined | Promise<string | undefined>;
  run(session: AdminSession): Promise<RunOutcome>;
}

/** `true`/`false` as changes show them. */
export function yesNo(v: boolean | null | undefined): string | null {
  return v === null || v === undefined ? null : v ? 'true' : 'false';
}

/** Milliseconds as people read them. */
export function duration(msValue: number): string {
  if (msValue < 1000) return `${Math.round(msValue)} ms`;
  if (msValue < 120_000) return `${(msValue / 1000).toFixed(1)} s`;
  return `${(msValue / 60_000).toFixed(1)} min`;
}

/** Hint for the usual failure of statements that take strong locks. */
export function lockHint(code: string | undefined): string | undefined {
  if (code === '55P03')
    return "another session holds a conflicting lock and pgmcp's lock timeout ran out; find it with pg_monitor (locks) and try again";
  if (code === '57014') return 'the statement was cancelled (by a timeout or another session)';
  return undefined;
}

/**
 * Runs the statements pg_execute accepted, in one of four frames:
 * - `atomic` (pooled connection): BEGIN; the statements; COMMIT — in one round trip. Any error: the server skips the
 *   rest (COMMIT included), pgmcp sends ROLLBACK: nothing of the call stays.
 * - `alone` (pooled connection): one statement that PostgreSQL refuses inside a transaction block (CREATE INDEX
 *   CONCURRENTLY, VACUUM, …), sent by itself; it commits on its own.
 * - `dry_run` (pooled connection): BEGIN; the statements; ROLLBACK — always rolled back.
 * - `in_tx` / `dry_run_in_tx` (a pg_tx transaction's connection): the statements as they are, or under a savepoint
 *   that is always rolled back to.
 * Through a pooler (settings mode `transaction`, see session-settings.ts) the settings statements follow BEGIN in the
 * same batch. An `alone` statement cannot have it: PostgreSQL refuses VACUUM & co. anywhere but first in a batch
 * ("cannot be executed within a pipeline"), and a session SET sent before it would, in transaction pooling, land on
 * whichever server connection the pooler picks and stay there for other clients. It runs with the server's defaults
 * for the lock timeout (a role-level ALTER ROLE … SET lock_timeout covers it); its statement timeout pgmcp keeps
 * itself, by cancelling the statement when that time is up.
 * A pooled connection goes back to the pool only when it is known to be clean: outside any transaction, and no code
 * ran whose effects on the session cannot be checked (DO, CALL) and no temporary object was made; otherwise it is
 * destroyed. What functions or triggers may have left in the session (settings, advisory locks, prepared statements)
 * is cleared in the same round trip (SESSION_CLEANUP).
 */
import type pg from 'pg';
import type { Config } from '../config/settings.js';
import { isPgServerError } from '../tools/errors.js';
import { cancelActive } from './cancel.js';
import { capCell } from './cells.js';
import { uniqueNames } from './column-names.js';
import { connectionFailure } from './connect-error.js';
import type { ParamValue } from './params.js';
import type { PoolManager, PoolRole } from './pools.js';
import { connect } from './read-query.js';
import { settingsAfterBegin } from './settings-client.js';
import { lookupTypes } from './type-names.js';
import { convertValue, type JsonValue } from './values.js';
import {
  FlightError,
  type FlightOutcome,
  type FlightStep,
  fly,
  type Notice,
  type StepResult,
  WriteFlight,
} from './write-flight.js';

export type { Notice } from './write-flight.js';

export type WriteFrame = 'atomic' | 'alone' | 'dry_run' | 'in_tx' | 'dry_run_in_tx';

export interface WriteJob {
  statements: readonly { text: string; params: readonly ParamValue[] }[];
  frame: WriteFrame;
  /** RETURNING rows kept per statement. */
  limit: number;
  /** Destroy the pooled connection afterwards: the statements may have left state in the session. */
  discardConnection?: boolean;
}

/** One statement's result, rows converted to JSON values like pg_query's. */
export interface StatementOutcome {
  /** PostgreSQL's command tag, e.g. `INSERT 0 3`. */
  tag?: string;
  /** Rows inserted, updated, deleted, merged, copied or selected, from the tag; null for commands without a count. */
  rowsAffected: number | null;
  /** Present when the statement returns rows (RETURNING, SELECT … INTO returns none). */
  columns?: { name: string; type: string }[];
  rows?: Record<string, JsonValue>[];
  /** Rows the statement returned in all (`rows` may hold fewer). */
  rowsReturned?: number;
  truncated?: boolean;
  truncatedBy?: 'limit' | 'bytes';
  cutCells?: number;
  notices: Notice[];
}

export interface WriteRun {
  statements: StatementOutcome[];
  /** Notices sent while pgmcp's own statements ran (BEGIN, COMMIT, …). */
  notices: Notice[];
}

/** A statement, or pgmcp's COMMIT/ROLLBACK around them, failed; nothing of the call was kept (except `in_tx`). */
export class WriteFailure extends Error {
  constructor(
    /** The error PostgreSQL sent (or the connection error). */
    readonly error: Error,
    /** 0-based index of the failing statement; undefined when pgmcp's own step failed (e.g. COMMIT). */
    readonly statement: number | undefined,
    /** The text of the failing step. */
    readonly stepText: string | undefined,
    /** What completed before the failure. */
    readonly completed: StatementOutcome[],
    readonly notices: Notice[],
  ) {
    super(error.message);
    this.name = 'WriteFailure';
  }

  /** Set when pgmcp cancelled the statement itself at the statement timeout (an `alone` statement via a pooler). */
  cancelledAfterMs: number | undefined;
}

const DRY_RUN_SAVEPOINT = 'pgmcp_dry_run';

/**
 * What a pooled connection could carry out of a call that COMMIT or ROLLBACK does not end: session settings, session
 * advisory locks and prepared statements made by functions or triggers the statements ran. Cleared in the same round
 * trip (settings given at connection start are what RESET ALL goes back to).
 */
const SESSION_CLEANUP = ['RESET ALL', 'SELECT pg_catalog.pg_advisory_unlock_all()', 'DEALLOCATE ALL'];
const cleanupSteps = () => SESSION_CLEANUP.map(control);

function control(text: string): FlightStep {
  return { kind: 'control', text };
}

function stepsFor(
  job: WriteJob,
  afterBegin: readonly string[] | undefined,
): { steps: FlightStep[]; after: FlightStep[] } {
  const statements: FlightStep[] = job.statements.map((s, index) => ({
    kind: 'statement',
    index,
    text: s.text,
    params: s.params,
  }));
  const begin = [control('BEGIN'), ...(afterBegin ?? []).map(control)];
  switch (job.frame) {
    case 'atomic':
      return { steps: [...begin, ...statements, control('COMMIT'), ...cleanupSteps()], after: [] };
    case 'alone':
      return { steps: [...statements, ...cleanupSteps()], after: [] };
    case 'in_tx':
      return { steps: statements, after: [] };
    // Dry runs roll back after the type names of returned rows are looked up (types made by the run still exist).
    case 'dry_run':
      return { steps: [...begin, ...statements], after: [control('ROLLBACK'), ...cleanupSteps()] };
    case 'dry_run_in_tx':
      return {
        steps: [control(`SAVEPOINT ${DRY_RUN_SAVEPOINT}`), ...statements],
        after: [
          control(`ROLLBACK TO SAVEPOINT ${DRY_RUN_SAVEPOINT}`),
          control(`RELEASE SAVEPOINT ${DRY_RUN_SAVEPOINT}`),
        ],
      };
  }
}

/** After a failed flight: what puts the connection back where it was before the call. */
function recoveryFor(frame: WriteFrame): string | undefined {
  switch (frame) {
    case 'atomic':
    case 'dry_run':
      return ['ROLLBACK', ...SESSION_CLEANUP].join('; ');
    case 'alone':
      // The statement's implicit transaction ended with it.
      return SESSION_CLEANUP.join('; ');
    case 'dry_run_in_tx':
      return `ROLLBACK TO SAVEPOINT ${DRY_RUN_SAVEPOINT}; RELEASE SAVEPOINT ${DRY_RUN_SAVEPOINT}`;
    default:
      // `in_tx`: the pg_tx transaction is aborted; the registry marks it so and tells the caller what to do. Its
      // connection is closed when the transaction ends.
      return undefined;
  }
}

/** Rows counted in a command tag: `INSERT 0 3` → 3, `UPDATE 2` → 2, `CREATE TABLE` → null. */
export function rowsFromTag(tag: string | undefined): number | null {
  const m = tag === undefined ? null : /^[A-Z][A-Z ]*?(?: (\d+))?(?: (\d+))?$/.exec(tag);
  if (!m) return null;
  const n = m[2] ?? m[1];
  return n === undefined ? null : Number(n);
}

async function shape(
  result: StepResult,
  typeCache: pg.Pool,
  client: pg.ClientBase,
  config: Config,
): Promise<StatementOutcome> {
  const out: StatementOutcome = { rowsAffected: rowsFromTag(result.tag), notices: result.notices };
  if (result.tag !== undefined) out.tag = result.tag;
  if (result.fields.length === 0) return out;
  const types = await lookupTypes(typeCache, client as pg.PoolClient, result.fields);
  const keys = uniqueNames(result.fields.map((f) => f.name));
  let cutCells = 0;
  out.rows = result.rows.map((raw) => {
    const row: Record<string, JsonValue> = {};
    raw.forEach((text, i) => {
      const f = result.fields[i];
      if (!f) return;
      const capped = capCell(convertValue(f.dataTypeID, text, types.arrays), config.limits.cellBytes);
      if (capped.cut) cutCells++;
      row[keys[i] as string] = capped.value;
    });
    return row;
  });
  out.columns = result.fields.map((f, i) => ({
    name: keys[i] as string,
    type: types.name(f.dataTypeID, f.dataTypeModifier),
  }));
  out.rowsReturned = result.returned;
  const truncatedBy = result.cutByBytes ? 'bytes' : result.cutByLimit ? 'limit' : undefined;
  out.truncated = truncatedBy !== undefined;
  if (truncatedBy) out.truncatedBy = truncatedBy;
  out.cutCells = cutCells;
  return out;
}

/**
 * Runs `job` on `client`. Throws WriteFailure for an error of a step (after recovery, when the frame has one) and
 * rethrows errors of the recovery itself (the connection is then in an unknown state).
 */
async function runOn(client: pg.ClientBase, typeCache: pg.Pool, config: Config, job: WriteJob): Promise<WriteRun> {
  // In a pg_tx transaction (`in_tx` frames) the settings came with its BEGIN.
  const { steps, after } = stepsFor(job, settingsAfterBegin(client));
  let outcome: FlightOutcome;
  try {
    outcome = await fly(client, new WriteFlight({ steps, limit: job.limit, maxBytes: config.limits.resultBytes }));
  } catch (err) {
    if (!(err instanceof FlightError)) throw err;
    const recover = recoveryFor(job.frame);
    if (recover !== undefined) await client.query(recover);
    const completed: StatementOutcome[] = err.outcome.results.map((r) => ({
      ...(r.tag !== undefined ? { tag: r.tag } : {}),
      rowsAffected: rowsFromTag(r.tag),
      notices: r.notices,
    }));
    const step = err.step;
    const notices = [...err.outcome.controlNotices];
    throw new WriteFailure(
      err.pgError,
      step?.kind === 'statement' ? step.index : undefined,
      step?.text,
      completed,
      notices,
    );
  }
  let statements: StatementOutcome[];
  try {
    statements = [];
    for (const r of outcome.results) statements.push(await shape(r, typeCache, client, config));
  } finally {
    if (after.length > 0) {
      const rest = await fly(client, new WriteFlight({ steps: after, limit: 0, maxBytes: 0 }));
      outcome.controlNotices.push(...rest.controlNotices);
    }
  }
  return { statements, notices: outcome.controlNotices };
}

/**
 * Runs a job in the `atomic`, `alone` or `dry_run` frame on a pooled connection of `database` as `role`. Aborting
 * `signal` cancels the running statement on the server (the call then fails and nothing is kept).
 */
export async function runWriteOnPool(
  pools: PoolManager,
  config: Config,
  database: string,
  role: PoolRole,
  job: WriteJob,
  signal?: AbortSignal,
): Promise<WriteRun> {
  const pool = pools.get(database, role);
  const client = await connect(pool, database);
  const cancel = () => cancelActive(pool.options, client);
  signal?.addEventListener('abort', cancel, { once: true });
  // Through a pooler an `alone` statement runs without the server-side statement timeout (see the top of this file):
  // pgmcp cancels it itself when that time is up.
  const limitMs = config.limits.statementTimeoutMs;
  let timedOut = false;
  const timer =
    job.frame === 'alone' && limitMs > 0 && settingsAfterBegin(client) !== undefined
      ? setTimeout(() => {
          timedOut = true;
          cancel();
        }, limitMs)
      : undefined;
  // Destroyed unless it is known to be clean.
  let clean = false;
  try {
    const run = await runOn(client, pool, config, job);
    clean = true;
    return run;
  } catch (err) {
    if (timedOut && err instanceof WriteFailure) err.cancelledAfterMs = limitMs;
    // A statement failed and the recovery worked: the connection is as it was, unless the failure was its own.
    if (err instanceof WriteFailure) clean = isPgServerError(err.error);
    else if (!isPgServerError(err)) throw connectionFailure(err, database);
    throw err;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', cancel);
    const idle = client.getTransactionStatus() === 'I';
    client.release(clean && idle && !job.discardConnection ? undefined : true);
  }
}

/**
 * Runs a job in the `in_tx` or `dry_run_in_tx` frame on a pg_tx transaction's connection (what
 * TransactionRegistry.use() hands over; cancellation is the registry's). `typeCache` is a pool of the same database,
 * whose type-name cache is shared.
 */
export function runWriteInTransaction(
  client: pg.Client,
  typeCache: pg.Pool,
  config: Config,
  job: WriteJob,
): Promise<WriteRun> {
  return runOn(client, typeCache, config, job);
}

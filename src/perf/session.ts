/**
 * One pg_perf call's connection. Catalog and statistics queries and plain EXPLAINs run in a READ ONLY transaction that
 * is rolled back. What can leave state in the backend is tracked, and such a connection is destroyed instead of going
 * back to the pool:
 * - hypopg's hypothetical indexes live in backend memory and survive ROLLBACK (hypopg_reset() is called as well);
 * - PREPARE (generic plans before PostgreSQL 16) survives ROLLBACK;
 * - EXPLAIN ANALYZE executes the caller's statement (functions it calls may leave settings, locks, …).
 * Aborting the call's signal cancels the running statement on the server.
 */
import type pg from 'pg';
import { cancelActive } from '../db/cancel.js';
import { connectionFailure } from '../db/connect-error.js';
import { type ParamValue, toParamText } from '../db/params.js';
import type { PoolManager } from '../db/pools.js';
import { connect } from '../db/read-query.js';
import { beginText } from '../db/settings-client.js';
import { parseSql } from '../sql/parser.js';
import { fromPgError, isPgServerError, ToolError } from '../tools/errors.js';

/** The name of the prepared statement used for generic plans before PostgreSQL 16. */
const GENERIC_NAME = 'pgmcp_generic_plan';

export type PlanJson = Record<string, unknown>;

/** How a plan was made for a statement with $n parameters and no values. */
export type GenericMethod = 'generic_plan_option' | 'prepare_force_generic';

export interface ExplainRequest {
  /** One statement's text (already checked). */
  text: string;
  /** EXPLAIN options besides FORMAT JSON, e.g. `VERBOSE, SETTINGS`. */
  options?: string;
  /** Values for $1…; bound server-side. */
  params?: readonly ParamValue[];
  /** Highest $n in the statement: with no params, a generic plan is made. */
  paramCount: number;
}

export interface ExplainResult {
  /** The first element of EXPLAIN (FORMAT JSON)'s array: `{ Plan, Planning Time, … }`. */
  root: PlanJson;
  generic?: GenericMethod;
}

/** A statement of this session failed on the server. */
export class StatementFailure extends Error {
  constructor(
    readonly pgError: Error,
    /** Characters pgmcp put before the caller's statement (`EXPLAIN (…) `): error positions are shifted back. */
    readonly offset = 0,
  ) {
    super(pgError.message);
    this.name = 'StatementFailure';
  }
}

export class PerfSession {
  /** server_version_num, e.g. 150004. */
  version = 0;
  /** The connection must not go back to the pool. */
  private destroy = false;
  /** The statement that resets hypopg's state, once hypopg was used. */
  private hypopgReset: string | undefined;
  private closed = false;
  private forcedGeneric = false;
  private readWrite = false;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly client: pg.PoolClient,
    readonly database: string,
    private readonly signal: AbortSignal | undefined,
  ) {}

  /** Checks out a connection of `database` and begins a transaction (READ ONLY unless `readWrite`). */
  static async open(
    pools: PoolManager,
    database: string,
    opts: { signal?: AbortSignal; readWrite?: boolean } = {},
  ): Promise<PerfSession> {
    const pool = pools.get(database);
    const client = await connect(pool, database);
    const session = new PerfSession(pool, client, database, opts.signal);
    try {
      session.readWrite = opts.readWrite === true;
      await session.begin();
      const r = await session.query<{ v: string }>("select current_setting('server_version_num') as v");
      session.version = Number(r.rows[0]?.v ?? 0);
      return session;
    } catch (err) {
      await session.close();
      throw toToolError(err, database);
    }
  }

  get serverMajor(): number {
    return Math.floor(this.version / 10000);
  }

  /** Marks the connection to be destroyed when the session closes. */
  discard(): void {
    this.destroy = true;
  }

  /** hypopg (in the quoted `schema`) is in use: its state is reset and the connection destroyed at close. */
  usedHypopg(schema: string): void {
    this.hypopgReset = `SELECT ${schema}.hypopg_reset()`;
    this.destroy = true;
  }

  /**
   * Begins the transaction. For a superuser, pg_stat_statements stops tracking inside it (SET LOCAL, gone at the
   * rollback): pgmcp's EXPLAINs, PREPAREs and catalog queries stay out of the statistics the workload is read from.
   * `before` is sent in the same text: a pooler in transaction mode (PgBouncer) then keeps the same server
   * connection, where the hypothetical indexes are. Through a pooler pgmcp's settings follow BEGIN in the same text.
   */
  private async begin(before = ''): Promise<void> {
    await this.raw(
      `${before}${beginText(this.client, this.readWrite ? 'BEGIN' : 'BEGIN TRANSACTION READ ONLY')}; ` +
        "SELECT pg_catalog.set_config('pg_stat_statements.track', 'none', true) WHERE current_setting('is_superuser') = 'on'",
    );
    this.forcedGeneric = false;
  }

  /** Ends the transaction (always a rollback) and begins a new one of the same kind, e.g. after a statement failed. */
  async restart(): Promise<void> {
    await this.begin('ROLLBACK; ');
  }

  /** True when the transaction failed and only ROLLBACK is accepted. */
  get aborted(): boolean {
    return (this.client as unknown as { getTransactionStatus?: () => string }).getTransactionStatus?.() === 'E';
  }

  /** One statement over the extended protocol (exactly one statement, parameters bound server-side). */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values: readonly ParamValue[] = [],
  ): Promise<pg.QueryResult<R>> {
    return this.run<pg.QueryResult<R>>({
      text,
      values: values.map(toParamText),
      queryMode: 'extended',
    } as pg.QueryConfig);
  }

  /** pgmcp's own fixed text over the simple protocol (several statements allowed: only for texts checked here). */
  private raw(text: string): Promise<unknown> {
    return this.run({ text } as pg.QueryConfig);
  }

  private async run<T>(config: pg.QueryConfig): Promise<T> {
    if (this.signal?.aborted) throw cancelled();
    const onAbort = () => cancelActive(this.pool.options, this.client);
    this.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return (await this.client.query(config)) as T;
    } catch (err) {
      if (isPgServerError(err)) {
        if (this.signal?.aborted) throw cancelled();
        throw new StatementFailure(err);
      }
      this.destroy = true;
      throw err;
    } finally {
      this.signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * EXPLAIN (FORMAT JSON, …) of one statement. With $n parameters and no values, a generic plan: EXPLAIN
   * (GENERIC_PLAN) on PostgreSQL 16+, before that PREPARE + EXPLAIN EXECUTE with NULL arguments under
   * plan_cache_mode = force_generic_plan (the arguments only fill the call: a generic plan is made without looking
   * at them), then DEALLOCATE. Each time a new PREPARE, so that the plan sees the hypothetical indexes of the moment.
   */
  async explain(req: ExplainRequest): Promise<ExplainResult> {
    const options = req.options ? `FORMAT JSON, ${req.options}` : 'FORMAT JSON';
    const generic = req.paramCount > 0 && (req.params === undefined || req.params.length === 0);
    const shifted = async <T>(prefix: string, run: (text: string) => Promise<T>): Promise<T> => {
      try {
        return await run(`${prefix}${req.text}`);
      } catch (err) {
        throw err instanceof StatementFailure ? new StatementFailure(err.pgError, prefix.length) : err;
      }
    };
    if (!generic) {
      const r = await shifted(`EXPLAIN (${options}) `, (text) =>
        this.query<{ 'QUERY PLAN': unknown }>(text, req.params ?? []),
      );
      return { root: planRoot(r.rows[0]?.['QUERY PLAN']) };
    }
    if (this.version >= 160000) {
      // Over the extended protocol the server would expect values for $n at Bind: sent as simple-protocol text,
      // checked to be exactly this one EXPLAIN first.
      const r = await shifted(`EXPLAIN (${options}, GENERIC_PLAN) `, (text) => {
        checkBatch(text, ['ExplainStmt']);
        return this.run<pg.QueryResult<{ 'QUERY PLAN': unknown }>>({ text } as pg.QueryConfig);
      });
      return { root: planRoot(r.rows[0]?.['QUERY PLAN']), generic: 'generic_plan_option' };
    }
    if (!this.forcedGeneric) {
      await this.raw('SET LOCAL plan_cache_mode = force_generic_plan');
      this.forcedGeneric = true;
    }
    // PREPARE survives ROLLBACK: this connection is not given back to the pool.
    this.destroy = true;
    const nulls = Array.from({ length: req.paramCount }, () => 'NULL').join(', ');
    const prefix = `PREPARE ${GENERIC_NAME} AS\n`;
    const batch = `${prefix}${req.text}\n;\nEXPLAIN (${options}) EXECUTE ${GENERIC_NAME}(${nulls});\nDEALLOCATE ${GENERIC_NAME}`;
    checkBatch(batch, ['PrepareStmt', 'ExplainStmt', 'DeallocateStmt']);
    let results: pg.QueryResult[];
    try {
      const r = await this.run<pg.QueryResult | pg.QueryResult[]>({ text: batch } as pg.QueryConfig);
      results = Array.isArray(r) ? r : [r];
    } catch (err) {
      // The batch stopped at the failing statement: the prepared statement may exist.
      if (err instanceof StatementFailure) {
        await this.begin('ROLLBACK; DEALLOCATE ALL; ');
        throw new StatementFailure(err.pgError, prefix.length);
      }
      throw err;
    }
    const explained = results[1]?.rows[0] as { 'QUERY PLAN'?: unknown } | undefined;
    return { root: planRoot(explained?.['QUERY PLAN']), generic: 'prepare_force_generic' };
  }

  /**
   * Closes the session: hypopg state reset, transaction rolled back, connection released (destroyed when anything
   * may have been left in it). Never throws.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    let broken = this.destroy;
    const status = () => (this.client as unknown as { getTransactionStatus?: () => string }).getTransactionStatus?.();
    try {
      // Reset where the hypothetical indexes are: inside the transaction, or in the same text as its ROLLBACK.
      if (this.hypopgReset)
        await this.client.query(status() === 'E' ? `ROLLBACK; ${this.hypopgReset}` : this.hypopgReset);
      if (status() !== 'I') await this.client.query('ROLLBACK');
    } catch {
      broken = true;
    }
    this.client.release(broken ? true : undefined);
  }
}

/** Runs `fn` in a session and always closes it; server errors become tool errors. */
export async function withPerfSession<T>(
  pools: PoolManager,
  database: string,
  opts: { signal?: AbortSignal; readWrite?: boolean },
  fn: (session: PerfSession) => Promise<T>,
): Promise<T> {
  const session = await PerfSession.open(pools, database, opts);
  try {
    return await fn(session);
  } catch (err) {
    throw toToolError(err, database);
  } finally {
    await session.close();
  }
}

function cancelled(): ToolError {
  return new ToolError('the call was cancelled; the running statement was cancelled on the server', {
    code: 'cancelled',
  });
}

/** A server or connection error as a tool error. */
export function toToolError(err: unknown, database: string, statement?: string): unknown {
  if (err instanceof ToolError) return err;
  if (err instanceof StatementFailure) {
    const e = err.pgError;
    if (!isPgServerError(e)) return e;
    const out = fromPgError(e, statement);
    const pg = out.info.pg;
    if (pg?.position !== undefined && err.offset > 0) {
      // A position inside pgmcp's own prefix points at nothing the caller wrote.
      if (pg.position > err.offset) pg.position -= err.offset;
      else delete pg.position;
    }
    return out;
  }
  if (isPgServerError(err)) return fromPgError(err, statement);
  return connectionFailure(err, database);
}

function planRoot(value: unknown): PlanJson {
  const parsed = typeof value === 'string' ? (JSON.parse(value) as unknown) : value;
  const first = Array.isArray(parsed) ? parsed[0] : undefined;
  if (typeof first !== 'object' || first === null || typeof (first as PlanJson).Plan !== 'object') {
    throw new Error('EXPLAIN (FORMAT JSON) returned no plan');
  }
  return first as PlanJson;
}

/**
 * Generic-plan texts go over the simple protocol: they must be exactly the statements expected as PostgreSQL's grammar
 * reads them (the caller's statement inside was checked to be one statement on its own).
 */
function checkBatch(text: string, expected: readonly string[]): void {
  const types = parseSql(text).map((s) => s.type);
  if (types.length !== expected.length || types.some((t, i) => t !== expected[i])) {
    throw new ToolError('the statement cannot be planned generically in a safe way', { code: 'not_explainable' });
  }
}

/**
 * The connection pg_admin's work runs on: a dedicated connection of the admin login (never a pooled one, so nothing a
 * statement leaves in the session outlives the call), with pgmcp's connection settings; long maintenance runs without
 * the statement timeout (the lock timeout stays). Through a pooler the settings go with each statement that can run in
 * a transaction (inSettingsTransaction). Aborting the call cancels the running statement on the server.
 */
import type pg from 'pg';
import { backendPid, cancelActive } from '../../db/cancel.js';
import { connectionFailure } from '../../db/connect-error.js';
import { beginText, type SettingsClient, settingsAfterBegin } from '../../db/settings-client.js';
import { initParser, parseSql } from '../../sql/parser.js';
import { nonTransactionalReason } from '../../sql/write-guard.js';
import type { ToolContext } from '../context.js';
import { fromPgError, isPgServerError, ToolError } from '../errors.js';
import type { Step } from './output.js';

/** What a NOTICE/INFO/WARNING message carries (node-postgres' notice event). */
interface NoticeLike {
  severity?: string;
  message?: string;
  detail?: string;
}

/** Messages kept per step, and their total length. */
const MAX_MESSAGES = 200;
const MAX_MESSAGE_CHARS = 32_000;

export interface RunOptions {
  params?: unknown[];
  /** What the plan and the steps show instead of `sql` (a password masked); never the real text then. */
  shown?: string;
  /** The step's result from the query result (default: the command tag). */
  result?: (r: pg.QueryResult) => string | undefined;
}

/** A statement failed; what ran before it is in `steps`. */
export class StepFailure extends Error {
  constructor(
    readonly error: unknown,
    readonly shown: string,
  ) {
    super(error instanceof Error ? error.message : String(error));
    this.name = 'StepFailure';
  }
}

export class AdminSession {
  readonly steps: Step[] = [];
  #current: string[] | undefined;
  #chars = 0;
  #closed = false;

  private constructor(
    private readonly client: pg.Client,
    private readonly ctx: ToolContext,
    readonly database: string,
    private readonly options: pg.ClientConfig,
    /**
     * The backend process id of this connection (its progress is looked up by it); undefined through a pooler, where
     * the statement's server process is not known in advance.
     */
    readonly pid: number | undefined,
  ) {}

  /** Whether the connection reaches PostgreSQL itself (not through a pooler): session settings stay on it. */
  get direct(): boolean {
    return this.pid !== undefined;
  }

  /**
   * Opens the connection. `unlimited` lifts the statement timeout (maintenance, creating a database); `waitForLocks`
   * lifts the lock timeout too, for work whose lock blocks no reads or writes while it waits (plain VACUUM, ANALYZE,
   * REINDEX CONCURRENTLY, which would otherwise fail halfway and leave an invalid index behind).
   */
  static async open(
    ctx: ToolContext,
    database: string,
    opts: { unlimited?: boolean; waitForLocks?: boolean } = {},
  ): Promise<AdminSession> {
    if (ctx.signal.aborted) throw cancelled();
    const options = ctx.pools.clientOptions(database, 'admin');
    if (opts.unlimited) options.statement_timeout = 0;
    if (opts.waitForLocks) options.lock_timeout = 0;
    let client: SettingsClient;
    try {
      // A connection lost while idle must not crash the process.
      client = await ctx.pools.connectDedicated(options, (c) =>
        c.on('error', (err) => ctx.log.warn({ database, err: err.message }, 'pg_admin connection error')),
      );
    } catch (err) {
      throw connectionFailure(err, database);
    }
    const session = new AdminSession(client, ctx, database, options, backendPid(client));
    client.on('notice', (n: NoticeLike) => session.#notice(n));
    return session;
  }

  #notice(n: NoticeLike): void {
    const list = this.#current;
    if (!list) return;
    const text = `${n.severity ?? 'NOTICE'}: ${n.message ?? ''}${n.detail ? ` (${n.detail.replace(/\n/g, '; ')})` : ''}`;
    if (list.length >= MAX_MESSAGES || this.#chars + text.length > MAX_MESSAGE_CHARS) {
      if (list.at(-1) !== '…') list.push('…');
      return;
    }
    this.#chars += text.length;
    list.push(text);
  }

  /** Runs one statement as a step (timed, messages kept); a failure is a StepFailure. */
  async run(sql: string, opts: RunOptions = {}): Promise<pg.QueryResult> {
    if (this.ctx.signal.aborted) throw cancelled();
    const shown = opts.shown ?? sql;
    const messages: string[] = [];
    this.#current = messages;
    const started = performance.now();
    const cancel = () => void this.cancel();
    this.ctx.signal.addEventListener('abort', cancel, { once: true });
    const params = opts.params ?? [];
    const wrapped = params.length === 0 ? await inSettingsTransaction(this.client, sql) : undefined;
    try {
      const r = wrapped ? await this.runWrapped(wrapped) : await this.client.query(sql, params);
      const step: Step = { sql: shown, durationMs: ms(started) };
      const result = opts.result ? opts.result(r) : r.command ? tagOf(r) : undefined;
      if (result !== undefined) step.result = result;
      if (messages.length) step.messages = messages;
      this.steps.push(step);
      return r;
    } catch (err) {
      const step: Step = { sql: shown, durationMs: ms(started), result: 'failed' };
      if (messages.length) step.messages = messages;
      this.steps.push(step);
      if (this.ctx.signal.aborted) throw cancelled();
      throw new StepFailure(err, shown);
    } finally {
      this.ctx.signal.removeEventListener('abort', cancel);
      this.#current = undefined;
    }
  }

  /** Runs a text of inSettingsTransaction; after a failure the transaction is rolled back. */
  private async runWrapped(wrapped: Wrapped): Promise<pg.QueryResult> {
    try {
      const results = (await this.client.query(wrapped.text)) as unknown as pg.QueryResult[];
      return results[wrapped.result] as pg.QueryResult;
    } catch (err) {
      if (this.client.getTransactionStatus() !== 'I') await this.client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  /** A query that is not a step (checks before and after); errors become ToolErrors. */
  async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    try {
      return (await this.client.query(sql, params)).rows as T[];
    } catch (err) {
      throw isPgServerError(err) ? fromPgError(err) : connectionFailure(err, this.database);
    }
  }

  /** Cancels what this connection runs (PostgreSQL's cancel request, which also finds its way through a pooler). */
  async cancel(): Promise<void> {
    try {
      cancelActive(this.options, this.client);
    } catch (err) {
      this.ctx.log.warn({ err: String(err) }, 'pg_admin: could not cancel');
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.client.end().catch(() => undefined);
  }
}

/**
 * Through a pooler (settings mode `transaction`) a statement on this connection would run without pgmcp's timeouts: a
 * statement that may run inside a transaction block is sent as `BEGIN; settings; statement; COMMIT`, one text, one
 * round trip. Left as they are, with the server's defaults: statements PostgreSQL refuses
 * in a transaction block (VACUUM, CREATE DATABASE, ALTER SYSTEM, … as pg_execute knows them) and function calls
 * (some refuse it too, e.g. Citus'). Undefined: send `sql` as it is.
 */
async function inSettingsTransaction(client: pg.ClientBase, sql: string): Promise<Wrapped | undefined> {
  const settings = settingsAfterBegin(client);
  if (settings === undefined) return undefined;
  await initParser();
  let stmts: ReturnType<typeof parseSql>;
  try {
    stmts = parseSql(sql);
  } catch {
    return undefined;
  }
  const [stmt] = stmts;
  if (stmts.length !== 1 || !stmt || NOT_WRAPPED.has(stmt.type) || nonTransactionalReason(stmt) !== undefined) {
    return undefined;
  }
  // A newline ends a trailing line comment before COMMIT.
  return { text: `${beginText(client, 'BEGIN')}; ${sql}\n; COMMIT`, result: 1 + settings.length };
}

/** A statement wrapped with the settings: the text to send, and which of its results is the statement's. */
interface Wrapped {
  text: string;
  result: number;
}

/** Statements that may call functions which refuse to run inside a transaction block. */
const NOT_WRAPPED = new Set(['SelectStmt', 'CallStmt', 'DoStmt', 'ExecuteStmt']);

function tagOf(r: pg.QueryResult): string {
  return r.rowCount !== null && /^(INSERT|UPDATE|DELETE|SELECT|MOVE|FETCH|COPY|MERGE)$/.test(r.command)
    ? `${r.command} ${r.rowCount}`
    : r.command;
}

export function ms(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100;
}

export function cancelled(): ToolError {
  return new ToolError('the call was cancelled: the running statement was cancelled on the server', {
    code: 'cancelled',
  });
}

/** The ToolError for a failed step: everything PostgreSQL said, which step, and what ran before it. */
export function stepError(failure: StepFailure, steps: readonly Step[], database: string, hint?: string): ToolError {
  const err = failure.error;
  const done = steps.filter((s) => s.result !== 'failed');
  const before = done.length
    ? `before it, these ran and stay done: ${done.map((s) => s.sql).join('; ')}`
    : 'nothing ran before it';
  const hints = [hint, before].filter((h): h is string => !!h).join('; ');
  if (err instanceof ToolError) return err;
  if (isPgServerError(err)) {
    // The statement is attached (for the caret) only when it is the real text, never a masked one.
    const e = fromPgError(err);
    const message = `${failure.shown}: ${e.message}`;
    return new ToolError(message, { ...e.info, pg: { ...(e.info.pg ?? { message }), message }, hint: hints });
  }
  const c = connectionFailure(err, database);
  return new ToolError(`${failure.shown}: ${c.message}`, {
    ...c.info,
    hint: `the connection failed while it ran: check what happened before trying again; ${hints}`,
  });
}

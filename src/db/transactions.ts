/**
 * Transactions that outlive one tool call (pg_tx): each on its own dedicated connection, owned by the MCP session and
 * caller that began it, capped, rolled back when idle too long and when the session ends.
 *
 * Lifecycle of a handle: begin → (use / savepoint / release / rollback_to)* → commit | rollback | idle expiry |
 * session end | connection lost. A finished handle is remembered for a while (bounded) so that its next use says what
 * happened to it instead of "unknown".
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { Config } from '../config/settings.js';
import type { Logger } from '../log.js';
import type { Caller } from '../tools/context.js';
import { fromPgError, isPgServerError, ToolError } from '../tools/errors.js';
import { backendPid, cancelActive } from './cancel.js';
import { connectionFailure } from './connect-error.js';
import type { PoolManager, PoolRole } from './pools.js';
import { beginText, type SettingsClient } from './settings-client.js';

export const ISOLATION_LEVELS = ['read committed', 'repeatable read', 'serializable'] as const;
export type Isolation = (typeof ISOLATION_LEVELS)[number];

/**
 * `idle`: open, waiting for the next call. `busy`: a call is running in it. `aborted`: a statement failed, so
 * PostgreSQL ignores everything until ROLLBACK or ROLLBACK TO SAVEPOINT. `committed` / `rolled_back`: ended (only in
 * what commit() and rollback() return).
 */
export type TxState = 'idle' | 'busy' | 'aborted' | 'committed' | 'rolled_back';

/** What a transaction is, as tools show it. Times are ISO 8601 strings. */
export interface TxInfo {
  /** `tx_` + 16 random base32 characters (80 bits): unguessable, valid only for the session and caller that began it. */
  handle: string;
  database: string;
  role: PoolRole;
  isolation: Isolation;
  readOnly: boolean;
  deferrable: boolean;
  state: TxState;
  startedAt: string;
  /** When the last call in it ended (or began, while one is running). */
  lastUsedAt: string;
  /** When it will be rolled back if no call comes before (the clock restarts after every call). */
  idleExpiresAt: string;
  /** Open savepoints, oldest first. */
  savepoints: string[];
  /** Calls run in it so far (use, savepoint, release, rollback_to). */
  calls: number;
  /** When aborted: the error that aborted it. */
  abortedBy?: string;
}

export interface BeginOptions {
  database: string;
  /** Default `read committed`. */
  isolation?: Isolation;
  readOnly: boolean;
  /** Only has an effect with `serializable` and `readOnly` (a snapshot that can never fail serialization). */
  deferrable?: boolean;
  /** The login: `admin` uses PGMCP_ADMIN_URL when it is set. Default `main`. */
  role?: PoolRole;
}

export interface UseOptions {
  /** Aborting (the MCP client cancelled the call) cancels the running statement on the server. */
  signal?: AbortSignal;
}

/** Transaction counts, for health and metrics. */
export interface TxStats {
  open: number;
  /** Begins still connecting (they hold a slot). */
  starting: number;
  limitTotal: number;
  limitPerSession: number;
  perSession: Record<string, number>;
}

/** Why a handle is no longer open (remembered for a while after it ended). */
type EndReason = 'committed' | 'rolled_back' | 'expired' | 'lost' | 'commit_failed';

interface Ended {
  owner: Caller;
  reason: EndReason;
  at: number;
  /** For expiry: since when it was idle. */
  idleSince?: number;
  detail?: string;
}

interface Tx {
  handle: string;
  owner: Caller;
  database: string;
  role: PoolRole;
  isolation: Isolation;
  readOnly: boolean;
  deferrable: boolean;
  client: pg.Client;
  options: pg.ClientConfig;
  startedAt: number;
  lastUsed: number;
  savepoints: string[];
  calls: number;
  /** Set while a call runs in it: since when, what, and a promise settled when it ends. */
  busy?: { since: number; what: string; ended: Promise<void> };
  aborted?: string;
  timer?: NodeJS.Timeout;
  /** Detached from the registry (ended, expired, lost or closing); nothing may run in it any more. */
  closed: boolean;
}

/** Server-side backstop margin: PostgreSQL's idle_in_transaction_session_timeout = idle limit + this. */
const BACKSTOP_MARGIN_MS = 5_000;
/** Ended handles are remembered this long, and at most this many. */
const ENDED_TTL_MS = 60 * 60_000;
const ENDED_MAX = 2_000;
/** How long closing a transaction waits for the server before dropping the connection. */
const CLOSE_WAIT_MS = 800;

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const HANDLE_RE = /^tx_[a-z2-7]{16}$/;
/** Savepoint names: plain identifiers, always sent double-quoted. `pgmcp_` names are reserved for pgmcp's own. */
const SAVEPOINT_RE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
export const INTERNAL_SAVEPOINT_PREFIX = 'pgmcp_';

function newHandle(): string {
  const bytes = randomBytes(10);
  let bits = 0;
  let value = 0;
  let out = 'tx_';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}

/** `5 min`, `12 s`, `300 ms`: how long `ms` is, for messages. */
export function describeDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  const rest = s % 60;
  if (m < 60) return rest === 0 ? `${m} min` : `${m} min ${rest} s`;
  const h = Math.floor(m / 60);
  return m % 60 === 0 ? `${h} h` : `${h} h ${m % 60} min`;
}

const iso = (ms: number) => new Date(ms).toISOString();
const sameCaller = (a: Caller, b: Caller) => a.sessionId === b.sessionId && a.identity === b.identity;
const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** Resolves to true when `p` settled within `ms`, false otherwise (`p` is never left unhandled). */
async function settledWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      p.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The registry of open pg_tx transactions of one pgmcp process.
 *
 * Every transaction has its own `pg.Client`, not one from the pools, so that open transactions never starve reads
 * (their number is capped by `limits.txTotal`). The connection is made with the same settings as pooled ones
 * (`pools.clientOptions`) except `idle_in_transaction_session_timeout`, which is the idle limit plus a margin: a
 * server-side backstop for when pgmcp itself dies. The connection is closed when the transaction ends, so nothing a
 * transaction leaves in the session (advisory locks, prepared statements, settings) outlives it.
 *
 * Errors are ToolErrors with these codes: `tx_unknown` (no such handle for this caller: also for a handle of another
 * session or caller, with the same message, so that nothing is revealed), `tx_expired` (rolled back after idling),
 * `tx_closed` (committed, rolled back or lost earlier), `tx_aborted` (a statement failed: only rollback or
 * rollback_to are possible), `tx_busy` (another call is running in it), `tx_limit` (caps), `tx_savepoint` (bad or
 * unknown savepoint name), `tx_read_only_level` (a read-write transaction at access level read), `tx_unavailable`
 * (shutting down).
 */
export class TransactionRegistry {
  private readonly open = new Map<string, Tx>();
  private readonly ended = new Map<string, Ended>();
  /** Begins in progress, per session: they count against the caps. */
  private readonly starting = new Map<string, number>();
  private startingTotal = 0;
  private closing = false;
  /** Sessions that ended (bounded): a begin still connecting when its session ended is rolled back at once. */
  private readonly endedSessions = new Set<string>();

  constructor(
    private readonly pools: PoolManager,
    private readonly config: Config,
    private readonly log: Logger,
  ) {}

  private get idleMs(): number {
    return this.config.limits.txIdleTimeoutMs;
  }

  /**
   * Begins a transaction on a new dedicated connection and returns its info; `info.handle` is what later calls pass.
   * For `repeatable read` and `serializable` the snapshot is taken at once, so every read in the transaction sees
   * the database as it was at begin. Refused with `tx_limit` beyond `limits.txPerSession` open transactions in the
   * caller's session or `limits.txTotal` in the process (the message lists the caller's own and says to end one),
   * and with `tx_read_only_level` for a read-write transaction when the server runs at access level read.
   */
  async begin(caller: Caller, opts: BeginOptions): Promise<TxInfo> {
    if (this.closing) {
      throw new ToolError('pgmcp is shutting down: no new transactions', { code: 'tx_unavailable' });
    }
    if (!opts.readOnly && this.config.access === 'read') {
      throw new ToolError(
        'this server runs at access level read: only read-only transactions can be begun (read_only: true)',
        { code: 'tx_read_only_level', hint: 'begin with read_only true (the default at this level)' },
      );
    }
    this.checkCaps(caller);
    const session = caller.sessionId;
    this.starting.set(session, (this.starting.get(session) ?? 0) + 1);
    this.startingTotal++;
    const isolation = opts.isolation ?? 'read committed';
    const role = opts.role ?? 'main';
    const options = this.pools.clientOptions(opts.database, role, this.idleMs + BACKSTOP_MARGIN_MS);
    let tx: Tx | undefined;
    let client: SettingsClient | undefined;
    try {
      try {
        // Until the transaction is registered an error only fails the connect or BEGIN below; afterwards it ends it.
        client = await this.pools.connectDedicated(options, (c) =>
          c.on('error', (err) => {
            if (tx) this.lost(tx, err);
          }),
        );
      } catch (err) {
        throw connectionFailure(err, opts.database);
      }
      const mode = [
        `ISOLATION LEVEL ${isolation.toUpperCase()}`,
        opts.readOnly ? 'READ ONLY' : 'READ WRITE',
        ...(opts.deferrable ? ['DEFERRABLE'] : []),
      ].join(' ');
      try {
        // A snapshot isolation level takes its snapshot at the first statement: take it now, at begin. Through a
        // pooler the settings follow BEGIN in the same text (SET LOCAL: they hold for this transaction, its idle
        // timeout included).
        await client.query(
          `${beginText(client, `BEGIN ${mode}`)}${isolation === 'read committed' ? '' : '; SELECT 1'}`,
        );
      } catch (err) {
        throw isPgServerError(err) ? fromPgError(err) : connectionFailure(err, opts.database);
      }
    } catch (err) {
      void client?.end().catch(() => undefined);
      throw err;
    } finally {
      const left = (this.starting.get(session) ?? 1) - 1;
      if (left > 0) this.starting.set(session, left);
      else this.starting.delete(session);
      this.startingTotal--;
    }
    const now = Date.now();
    tx = {
      handle: newHandle(),
      owner: { sessionId: caller.sessionId, identity: caller.identity },
      database: opts.database,
      role,
      isolation,
      readOnly: opts.readOnly,
      deferrable: opts.deferrable ?? false,
      client,
      options,
      startedAt: now,
      lastUsed: now,
      savepoints: [],
      calls: 0,
      closed: false,
    };
    const registered = tx;
    client.on('end', () => this.lost(registered, new Error('the connection was closed')));
    if (this.closing || this.endedSessions.has(caller.sessionId)) {
      // Shutdown began, or the session ended, while connecting.
      await this.terminate(registered, true);
      throw new ToolError(
        this.closing ? 'pgmcp is shutting down: no new transactions' : 'the MCP session ended during begin',
        { code: 'tx_unavailable' },
      );
    }
    this.open.set(tx.handle, tx);
    this.armTimer(tx);
    this.log.debug(
      { session: caller.sessionId, database: opts.database, isolation, readOnly: opts.readOnly },
      'tx begin',
    );
    return this.infoOf(tx);
  }

  /**
   * Runs `fn` with the transaction's connection, exclusively: while one call runs in a transaction, another call with
   * the same handle is refused at once (`tx_busy`) rather than queued, because two statements sent at the same time
   * have no defined order; the caller waits for the first call's answer and sends the next. The idle clock stops
   * while `fn` runs and restarts when it ends. Do not wait for the user (elicitation) inside `fn`: PostgreSQL's
   * backstop ends a transaction idle longer than the idle limit plus a few seconds.
   *
   * `fn` must not end the transaction (no COMMIT/ROLLBACK: use commit()/rollback()). When `fn` throws, the
   * connection's transaction status is read: if PostgreSQL has aborted the transaction it is marked `aborted`, and
   * the error is rethrown as a ToolError (a PostgreSQL error keeps all its fields; a ToolError keeps its own) whose
   * hint says that the transaction is aborted and what to do next. Throw errors from `fn` as they are. Every later
   * use() is then refused with `tx_aborted` until rollback() or rollbackTo().
   *
   * Refused: `tx_unknown` (unknown handle, or one of another session or caller: the same message), `tx_expired`,
   * `tx_closed`, `tx_aborted`, `tx_busy`.
   */
  async use<T>(
    caller: Caller,
    handle: string,
    fn: (client: pg.Client, info: TxInfo) => Promise<T>,
    options: UseOptions = {},
  ): Promise<T> {
    const tx = this.claim(caller, handle, 'use', false);
    return this.runClaimed(tx, 'use', () => fn(tx.client, this.infoOf(tx)), options.signal);
  }

  /**
   * Commits and closes the transaction; returns its final info (state `committed`). Refused while aborted (nothing
   * can be committed: roll back or roll back to a savepoint) and while a call runs in it. When COMMIT itself fails
   * (a deferred constraint, a serialization failure) PostgreSQL has rolled everything back: the error says so.
   */
  async commit(caller: Caller, handle: string): Promise<TxInfo> {
    const tx = this.claim(caller, handle, 'commit', false);
    tx.busy = { since: Date.now(), what: 'commit', ended: Promise.resolve() };
    clearTimeout(tx.timer);
    try {
      await tx.client.query('COMMIT');
    } catch (err) {
      tx.busy = undefined;
      this.detach(tx, 'commit_failed', { detail: err instanceof Error ? err.message : String(err) });
      await this.terminate(tx, false);
      const next =
        'nothing was committed: PostgreSQL rolled the whole transaction back; begin a new transaction and redo the work';
      if (isPgServerError(err)) {
        const e = fromPgError(err);
        throw new ToolError(`COMMIT failed: ${e.message}`, {
          ...e.info,
          hint:
            err.code === '40001' || err.code === '40P01'
              ? `${next} (a serialization failure or deadlock: retrying usually succeeds)`
              : next,
        });
      }
      throw new ToolError(`COMMIT failed: ${err instanceof Error ? err.message : String(err)}`, {
        code: 'tx_lost',
        hint: `the connection to PostgreSQL was lost during COMMIT, so whether it committed is unknown: check the data before redoing the work`,
      });
    }
    tx.busy = undefined;
    this.detach(tx, 'committed');
    const info = { ...this.infoOf(tx), state: 'committed' as const };
    await this.terminate(tx, false);
    return info;
  }

  /**
   * Rolls back and closes the transaction; returns its final info (state `rolled_back`). Works in any state: when a
   * call is running in it, that statement is cancelled first.
   */
  async rollback(caller: Caller, handle: string): Promise<TxInfo> {
    const tx = this.lookup(caller, handle);
    const info = { ...this.infoOf(tx), state: 'rolled_back' as const };
    this.detach(tx, 'rolled_back');
    await this.terminate(tx, true);
    return info;
  }

  /** SAVEPOINT name. Names are identifiers (letters, digits, _; not starting with `pgmcp_`), sent quoted. */
  async savepoint(caller: Caller, handle: string, name: string): Promise<TxInfo> {
    checkSavepointName(name);
    const tx = this.claim(caller, handle, 'savepoint', false);
    await this.runClaimed(tx, 'savepoint', async () => {
      await tx.client.query(`SAVEPOINT ${quoteIdent(name)}`);
      tx.savepoints.push(name);
    });
    return this.infoOf(tx);
  }

  /** RELEASE SAVEPOINT name: keeps its work, forgets it and every savepoint set after it. */
  async release(caller: Caller, handle: string, name: string): Promise<TxInfo> {
    checkSavepointName(name);
    const tx = this.claim(caller, handle, 'release', false);
    const at = this.savepointIndex(tx, name);
    await this.runClaimed(tx, 'release', async () => {
      await tx.client.query(`RELEASE SAVEPOINT ${quoteIdent(name)}`);
      tx.savepoints.splice(at);
    });
    return this.infoOf(tx);
  }

  /**
   * ROLLBACK TO SAVEPOINT name: undoes what was done after it (the savepoint stays, later ones are gone). Works on an
   * aborted transaction and makes it usable again.
   */
  async rollbackTo(caller: Caller, handle: string, name: string): Promise<TxInfo> {
    checkSavepointName(name);
    const tx = this.claim(caller, handle, 'rollback_to', true);
    const at = this.savepointIndex(tx, name);
    await this.runClaimed(tx, 'rollback_to', async () => {
      await tx.client.query(`ROLLBACK TO SAVEPOINT ${quoteIdent(name)}`);
      tx.savepoints.splice(at + 1);
      delete tx.aborted;
    });
    return this.infoOf(tx);
  }

  /** The caller's open transactions (its session and identity), oldest first. */
  list(caller: Caller): TxInfo[] {
    return [...this.open.values()].filter((tx) => sameCaller(tx.owner, caller)).map((tx) => this.infoOf(tx));
  }

  /**
   * Rolls back and closes every transaction of the session (the session ended). A running statement is cancelled;
   * resolves when PostgreSQL has rolled back (locks are gone) or, at worst, after a second.
   */
  async closeSession(sessionId: string): Promise<void> {
    this.endedSessions.add(sessionId);
    if (this.endedSessions.size > ENDED_MAX) {
      const oldest = this.endedSessions.values().next().value;
      if (oldest !== undefined) this.endedSessions.delete(oldest);
    }
    const mine = [...this.open.values()].filter((tx) => tx.owner.sessionId === sessionId);
    for (const tx of mine) this.detach(tx, 'rolled_back', { detail: 'the MCP session ended' });
    await Promise.allSettled(mine.map((tx) => this.terminate(tx, true)));
    if (mine.length > 0) this.log.info({ session: sessionId, transactions: mine.length }, 'session ended: rolled back');
  }

  /** Rolls back and closes every transaction (shutdown); later begins are refused. Call before closing the pools. */
  async closeAll(): Promise<void> {
    this.closing = true;
    const all = [...this.open.values()];
    for (const tx of all) this.detach(tx, 'rolled_back', { detail: 'pgmcp shut down' });
    await Promise.allSettled(all.map((tx) => this.terminate(tx, true)));
    if (all.length > 0) this.log.info({ transactions: all.length }, 'shutdown: rolled back open transactions');
  }

  /** Open transactions in total and per session. */
  stats(): TxStats {
    const perSession: Record<string, number> = {};
    for (const tx of this.open.values()) perSession[tx.owner.sessionId] = (perSession[tx.owner.sessionId] ?? 0) + 1;
    return {
      open: this.open.size,
      starting: this.startingTotal,
      limitTotal: this.config.limits.txTotal,
      limitPerSession: this.config.limits.txPerSession,
      perSession,
    };
  }

  // -------------------------------------------------------------------------------------------------------------

  private infoOf(tx: Tx): TxInfo {
    const state: TxState = tx.busy ? 'busy' : tx.aborted !== undefined ? 'aborted' : 'idle';
    const clock = tx.busy ? Date.now() : tx.lastUsed;
    return {
      handle: tx.handle,
      database: tx.database,
      role: tx.role,
      isolation: tx.isolation,
      readOnly: tx.readOnly,
      deferrable: tx.deferrable,
      state,
      startedAt: iso(tx.startedAt),
      lastUsedAt: iso(clock),
      idleExpiresAt: iso(clock + this.idleMs),
      savepoints: [...tx.savepoints],
      calls: tx.calls,
      ...(tx.aborted !== undefined ? { abortedBy: tx.aborted } : {}),
    };
  }

  /** One line per transaction for messages: `tx_… (db, read only, repeatable read, idle 12 s)`. */
  private describe(tx: Tx): string {
    const idle = tx.busy ? 'running a call' : `idle ${describeDuration(Date.now() - tx.lastUsed)}`;
    const aborted = tx.aborted !== undefined ? ', aborted' : '';
    return `${tx.handle} (${tx.database}, ${tx.readOnly ? 'read only' : 'read write'}, ${tx.isolation}, ${idle}${aborted})`;
  }

  private checkCaps(caller: Caller): void {
    const { txPerSession, txTotal } = this.config.limits;
    const session = caller.sessionId;
    const mine = [...this.open.values()].filter((tx) => tx.owner.sessionId === session);
    const myStarting = this.starting.get(session) ?? 0;
    const mineListed = mine.filter((tx) => sameCaller(tx.owner, caller)).map((tx) => this.describe(tx));
    const listing = mineListed.length > 0 ? `: ${mineListed.join('; ')}` : '';
    if (mine.length + myStarting >= txPerSession) {
      throw new ToolError(
        `this session already has ${mine.length + myStarting} open transaction(s), the most one session may have (limit ${txPerSession}, PGMCP_TX_PER_SESSION)${listing}`,
        {
          code: 'tx_limit',
          hint: 'commit or roll back one of them with pg_tx (action commit or rollback with its tx handle), then begin again',
        },
      );
    }
    const total = this.open.size + this.startingTotal;
    if (total >= txTotal) {
      throw new ToolError(
        `pgmcp already has ${total} open transaction(s) across all sessions, its limit (${txTotal}, PGMCP_TX_TOTAL); this session holds ${mine.length}${listing}`,
        {
          code: 'tx_limit',
          hint:
            mine.length > 0
              ? 'commit or roll back one of yours with pg_tx, then begin again; pg_query without tx keeps working meanwhile'
              : `wait for other sessions to end theirs (idle ones are rolled back after ${describeDuration(this.idleMs)}); pg_query without tx keeps working meanwhile`,
        },
      );
    }
  }

  /**
   * The caller's open transaction for `handle`, or the ToolError that says why there is none. The same `tx_unknown`
   * message for a handle that never existed and for one of another session or caller.
   */
  private lookup(caller: Caller, handle: string): Tx {
    const tx = HANDLE_RE.test(handle) ? this.open.get(handle) : undefined;
    if (tx && sameCaller(tx.owner, caller)) return tx;
    const gone = tx ? undefined : this.endedFor(caller, handle);
    if (gone) throw this.endedError(handle, gone);
    throw new ToolError(`there is no open transaction ${JSON.stringify(handle)} in this session`, {
      code: 'tx_unknown',
      hint: 'a handle works only in the MCP session that began it; pg_tx action list shows the open transactions of this session, action begin starts a new one',
    });
  }

  private endedFor(caller: Caller, handle: string): Ended | undefined {
    this.pruneEnded();
    const e = this.ended.get(handle);
    return e && sameCaller(e.owner, caller) ? e : undefined;
  }

  private endedError(handle: string, e: Ended): ToolError {
    const at = iso(e.at);
    switch (e.reason) {
      case 'expired':
        return new ToolError(
          `transaction ${handle} was rolled back at ${at} because it was idle too long (idle since ${iso(e.idleSince ?? e.at)}; the limit is ${describeDuration(this.idleMs)}, PGMCP_TX_IDLE_TIMEOUT)`,
          {
            code: 'tx_expired',
            hint: 'its work is lost: begin a new transaction with pg_tx and redo it; send calls within the idle limit and commit when done',
          },
        );
      case 'committed':
        return new ToolError(`transaction ${handle} was committed at ${at}; it is closed`, {
          code: 'tx_closed',
          hint: 'begin a new transaction with pg_tx, or leave tx out to run without one',
        });
      case 'commit_failed':
        return new ToolError(
          `transaction ${handle} ended at ${at}: its COMMIT failed (${e.detail ?? 'error'}) and PostgreSQL rolled it back`,
          { code: 'tx_closed', hint: 'begin a new transaction with pg_tx and redo the work' },
        );
      case 'rolled_back':
        return new ToolError(
          `transaction ${handle} was rolled back at ${at}${e.detail ? ` (${e.detail})` : ''}; it is closed`,
          { code: 'tx_closed', hint: 'begin a new transaction with pg_tx' },
        );
      case 'lost':
        return new ToolError(
          `transaction ${handle} was lost at ${at}: its connection to PostgreSQL ended (${e.detail ?? 'closed'}), so the server rolled it back`,
          { code: 'tx_closed', hint: 'its work is lost: begin a new transaction with pg_tx and redo it' },
        );
    }
  }

  private pruneEnded(): void {
    const cutoff = Date.now() - ENDED_TTL_MS;
    for (const [handle, e] of this.ended) {
      if (this.ended.size <= ENDED_MAX && e.at >= cutoff) break;
      this.ended.delete(handle);
    }
  }

  /** Looks up and checks that a call of `what` may run now. */
  private claim(caller: Caller, handle: string, what: string, allowAborted: boolean): Tx {
    const tx = this.lookup(caller, handle);
    if (tx.busy) {
      throw new ToolError(
        `transaction ${handle} is running another call (${tx.busy.what}, started ${describeDuration(Date.now() - tx.busy.since)} ago); calls in one transaction run one at a time`,
        {
          code: 'tx_busy',
          hint: 'wait for that call to answer, then send this one again (pg_tx rollback ends the transaction at once, cancelling it)',
        },
      );
    }
    if (tx.aborted !== undefined && !allowAborted) {
      const verb = what === 'commit' ? 'it cannot be committed' : `${what} is not possible`;
      throw new ToolError(
        `transaction ${handle} is aborted: an earlier statement failed (${tx.aborted}), so PostgreSQL ignores everything until it is rolled back; ${verb}`,
        { code: 'tx_aborted', hint: abortedNext(tx) },
      );
    }
    return tx;
  }

  private savepointIndex(tx: Tx, name: string): number {
    const at = tx.savepoints.lastIndexOf(name);
    if (at === -1) {
      throw new ToolError(
        `transaction ${tx.handle} has no savepoint ${JSON.stringify(name)}; ${tx.savepoints.length > 0 ? `its savepoints: ${tx.savepoints.join(', ')}` : 'it has no savepoints'}`,
        { code: 'tx_savepoint', hint: 'set one with pg_tx action savepoint and a name' },
      );
    }
    return at;
  }

  /** Runs `work` on a claimed transaction: busy while it runs, aborted state tracked, idle clock restarted after. */
  private async runClaimed<T>(tx: Tx, what: string, work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    let done!: () => void;
    tx.busy = { since: Date.now(), what, ended: new Promise<void>((resolve) => (done = resolve)) };
    clearTimeout(tx.timer);
    tx.calls++;
    const cancel = () => cancelActive(tx.options, tx.client);
    signal?.addEventListener('abort', cancel, { once: true });
    try {
      const result = await work();
      if (!tx.closed && tx.client.getTransactionStatus() === 'I') {
        // Something ended the transaction behind the registry's back: do not let later calls run outside one.
        this.detach(tx, 'lost', { detail: 'the transaction ended unexpectedly' });
        void this.terminate(tx, false);
      }
      return result;
    } catch (err) {
      throw await this.afterError(tx, err);
    } finally {
      signal?.removeEventListener('abort', cancel);
      tx.busy = undefined;
      tx.lastUsed = Date.now();
      if (!tx.closed) this.armTimer(tx);
      done();
    }
  }

  /** After a failed call: works out whether the transaction is aborted or gone, and says so in the error. */
  private async afterError(tx: Tx, err: unknown): Promise<unknown> {
    const message = err instanceof Error ? err.message : String(err);
    if (tx.closed) {
      const e = this.ended.get(tx.handle);
      return new ToolError(
        e ? this.endedError(tx.handle, e).message : `transaction ${tx.handle} ended while this call ran`,
        { code: 'tx_closed', hint: 'begin a new transaction with pg_tx' },
      );
    }
    let status: string | null;
    try {
      // An error settles the call before PostgreSQL's ReadyForQuery (which carries the status) arrives; an empty
      // query is accepted even in an aborted transaction and brings the current status.
      await tx.client.query('');
      status = tx.client.getTransactionStatus();
    } catch (syncErr) {
      this.lost(tx, syncErr as Error);
      return new ToolError(
        `${message} — and the connection of transaction ${tx.handle} was lost, so it was rolled back`,
        {
          code: 'tx_closed',
          hint: 'its work is lost: begin a new transaction with pg_tx and redo it',
        },
      );
    }
    if (status === 'E') {
      const sqlstate = isPgServerError(err) ? err.code : err instanceof ToolError ? err.info.pg?.code : undefined;
      tx.aborted = sqlstate ? `ERROR ${sqlstate}: ${message}` : message;
      const next = `transaction ${tx.handle} is now aborted: PostgreSQL ignores further statements in it until it is rolled back; ${abortedNext(tx)}`;
      if (err instanceof ToolError) {
        return new ToolError(err.message, { ...err.info, hint: err.info.hint ? `${err.info.hint}; ${next}` : next });
      }
      if (isPgServerError(err)) {
        const e = fromPgError(err);
        return new ToolError(e.message, { ...e.info, hint: next });
      }
      return new ToolError(message, { code: 'tx_aborted', hint: next });
    }
    if (status === 'I') {
      this.detach(tx, 'lost', { detail: 'the transaction ended unexpectedly' });
      void this.terminate(tx, false);
    }
    return err;
  }

  private armTimer(tx: Tx): void {
    clearTimeout(tx.timer);
    tx.timer = setTimeout(() => this.expire(tx), this.idleMs);
    tx.timer.unref();
  }

  private expire(tx: Tx): void {
    if (tx.closed || tx.busy) return;
    const idleSince = tx.lastUsed;
    this.detach(tx, 'expired', { idleSince });
    this.log.warn(
      {
        session: tx.owner.sessionId,
        who: tx.owner.identity,
        database: tx.database,
        idleMs: Date.now() - idleSince,
        limitMs: this.idleMs,
      },
      'transaction idle too long: rolled back',
    );
    void this.terminate(tx, true);
  }

  /** The connection failed or ended on its own (server restart, backstop timeout, terminated backend). */
  private lost(tx: Tx, err: Error): void {
    if (tx.closed) return;
    this.detach(tx, 'lost', { detail: err.message });
    this.log.warn(
      { session: tx.owner.sessionId, database: tx.database, err: err.message },
      'transaction connection lost',
    );
    void this.terminate(tx, false);
  }

  /** Removes the transaction from the open ones (synchronously: nothing can claim it after) and remembers why. */
  private detach(tx: Tx, reason: EndReason, extra: Pick<Ended, 'idleSince' | 'detail'> = {}): void {
    if (tx.closed) return;
    tx.closed = true;
    clearTimeout(tx.timer);
    this.open.delete(tx.handle);
    this.ended.set(tx.handle, { owner: tx.owner, reason, at: Date.now(), ...extra });
    this.pruneEnded();
  }

  /**
   * Ends the connection of a detached transaction: cancels a running statement, rolls back (so that its locks are
   * gone when this resolves) and closes. When the server does not answer within CLOSE_WAIT_MS the socket is dropped
   * and the backend terminated through the pool.
   */
  private async terminate(tx: Tx, rollback: boolean): Promise<void> {
    const client = tx.client;
    if (tx.busy) {
      cancelActive(tx.options, client);
      await settledWithin(tx.busy.ended, CLOSE_WAIT_MS);
    }
    let answered = true;
    if (rollback && !tx.busy) answered = await settledWithin(client.query('ROLLBACK'), CLOSE_WAIT_MS);
    if (answered && (await settledWithin(client.end(), CLOSE_WAIT_MS))) return;
    const pid = backendPid(client);
    (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    if (pid) {
      await this.pools
        .get(tx.database, tx.role)
        .query('SELECT pg_catalog.pg_terminate_backend($1)', [pid])
        .catch((err: Error) => this.log.warn({ pid, err: err.message }, 'could not terminate a transaction backend'));
    }
  }
}

/** What to do with an aborted transaction. */
function abortedNext(tx: Tx): string {
  const last = tx.savepoints.at(-1);
  const back = last
    ? ` or pg_tx action rollback_to with name ${JSON.stringify(last)} to undo back to that savepoint and go on`
    : '';
  return `call pg_tx action rollback with tx ${JSON.stringify(tx.handle)} to end it (its work is lost)${back}`;
}

function checkSavepointName(name: string): void {
  if (!SAVEPOINT_RE.test(name)) {
    throw new ToolError(
      `savepoint name ${JSON.stringify(name)} is not a plain identifier (letters, digits and _, not starting with a digit, at most 63)`,
      { code: 'tx_savepoint', hint: 'use a name like sp1 or before_update' },
    );
  }
  if (name.toLowerCase().startsWith(INTERNAL_SAVEPOINT_PREFIX)) {
    throw new ToolError(`savepoint names starting with ${INTERNAL_SAVEPOINT_PREFIX} are reserved for pgmcp`, {
      code: 'tx_savepoint',
      hint: 'choose another name',
    });
  }
}

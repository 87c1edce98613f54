/**
 * pgmcp's server-side safety settings and the two ways they reach a session.
 *
 * - `startup`: in the connection's startup packet (statement_timeout, lock_timeout,
 *   idle_in_transaction_session_timeout and `options` for standard_conforming_strings): set once per connection,
 *   nothing per call. Right for a direct PostgreSQL.
 * - `transaction`: a pooler sits in between (PgBouncer refuses unknown startup parameters, or accepts them with
 *   ignore_startup_parameters and drops them; in transaction pooling a session setting would land on whichever server
 *   connection runs the next transaction). Every transaction pgmcp opens sets them itself, transaction-locally, in the
 *   same round trip as its BEGIN (transactionSettingsStatements). Statements that cannot run in a transaction block run with
 *   the server's defaults then.
 *
 * client_encoding needs nothing in either mode: node-postgres always sends client_encoding=UTF8 as a startup parameter
 * of its own, which PgBouncer accepts and keeps on every server connection it hands over (it is one of the parameters
 * PgBouncer tracks).
 *
 * A timeout of 0 is not set at all, in both modes (node-postgres leaves a 0 out of the startup packet): the server's
 * default stands.
 */
import type pg from 'pg';

export type SettingsMode = 'startup' | 'transaction';

export interface SessionSettings {
  statementTimeoutMs: number;
  lockTimeoutMs: number;
  idleInTransactionMs: number;
}

/**
 * The literal syntax the SQL checks assume: with standard_conforming_strings off, '\' … ' would hide a call inside
 * what the parser sees as a string (the parser refuses such literals as well).
 */
const STARTUP_OPTIONS = '-c standard_conforming_strings=on -c client_encoding=UTF8';

/** The startup-packet fields (node-postgres ClientConfig) that carry `s`. */
export function startupSettings(s: SessionSettings): Required<
  Pick<pg.ClientConfig, 'statement_timeout' | 'lock_timeout' | 'idle_in_transaction_session_timeout'>
> & {
  options: string;
} {
  return {
    statement_timeout: s.statementTimeoutMs,
    lock_timeout: s.lockTimeoutMs,
    idle_in_transaction_session_timeout: s.idleInTransactionMs,
    options: STARTUP_OPTIONS,
  };
}

/** The startup-packet keys startupSettings fills: a client in `transaction` mode leaves them out. */
export const STARTUP_SETTING_KEYS = [
  'statement_timeout',
  'lock_timeout',
  'idle_in_transaction_session_timeout',
  'options',
] as const;

/** The settings of a node-postgres config (what startupSettings put there, possibly changed since). */
export function settingsOf(config: pg.ClientConfig): SessionSettings {
  const ms = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.trunc(v) : 0);
  return {
    statementTimeoutMs: ms(config.statement_timeout),
    lockTimeoutMs: ms(config.lock_timeout),
    idleInTransactionMs: ms(config.idle_in_transaction_session_timeout),
  };
}

/** Server setting name → the value pg_settings.setting shows when `s` took effect (timeouts of 0 are not set). */
export function expectedSettings(s: SessionSettings): [string, string][] {
  const out: [string, string][] = [['standard_conforming_strings', 'on']];
  const timeouts: [string, number][] = [
    ['statement_timeout', s.statementTimeoutMs],
    ['lock_timeout', s.lockTimeoutMs],
    ['idle_in_transaction_session_timeout', s.idleInTransactionMs],
  ];
  for (const [name, ms] of timeouts) if (ms > 0) out.push([name, String(ms)]);
  return out;
}

/**
 * The statements that set `s` for the current transaction only (SET LOCAL), sent right after BEGIN in the same batch.
 * standard_conforming_strings comes first: the server applies it before it parses the next statement of the batch.
 * The values are pgmcp's own integers, never caller text. (One SET LOCAL per setting measured a little cheaper than a
 * single SELECT of set_config(…, true) calls.)
 */
export function transactionSettingsStatements(s: SessionSettings): string[] {
  return expectedSettings(s).map(([name, value]) => `SET LOCAL ${name} = ${value}`);
}

/** Reads, on a new connection, whether the startup settings took effect (rows: name, setting). */
export const SETTINGS_CHECK_SQL =
  'SELECT name, setting FROM pg_catalog.pg_settings WHERE name IN ' +
  "('standard_conforming_strings', 'statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout')";

/** The settings that did not take effect, as `name=seen (wanted value)`; empty when all did. */
export function settingsNotApplied(s: SessionSettings, rows: readonly { name: string; setting: string }[]): string[] {
  const seen = new Map(rows.map((r) => [r.name, r.setting]));
  return expectedSettings(s)
    .filter(([name, value]) => seen.get(name) !== value)
    .map(([name, value]) => `${name}=${seen.get(name) ?? 'missing'} (wanted ${value})`);
}

/**
 * A pooler refusing the startup settings: PgBouncer answers `unsupported startup parameter: statement_timeout` (or
 * `unsupported options startup parameter: …`) with SQLSTATE 08P01 before authentication. PostgreSQL itself never
 * refuses them this way.
 */
export function isStartupParameterRefusal(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  return code === '08P01' && /startup parameter/i.test(err.message);
}

/**
 * PgBouncer admin console (the virtual database `pgbouncer`): SHOW commands and the admin commands (PAUSE, RESUME,
 * RELOAD, RECONNECT, KILL, WAIT_CLOSE; they need a login in admin_users) over the simple query protocol (node-pg uses it
 * for a query without parameters). Rows are normalised: numeric strings become numbers where safe.
 */
import pg from 'pg';

export const PGBOUNCER_SHOWS = ['pools', 'stats', 'clients', 'servers', 'databases', 'config'] as const;
export type PgbouncerShow = (typeof PGBOUNCER_SHOWS)[number];

export type ConsoleValue = string | number | boolean | null;
export type ConsoleRow = Record<string, ConsoleValue>;

/** Normalises one console row: integers that fit a double exactly become numbers, everything else stays. */
export function normaliseRow(row: Record<string, unknown>): ConsoleRow {
  const out: ConsoleRow = {};
  for (const [k, v] of Object.entries(row)) {
    if (v === null || v === undefined) out[k] = null;
    else if (typeof v === 'number' || typeof v === 'boolean') out[k] = v;
    else if (typeof v === 'string' && /^-?\d{1,15}$/.test(v)) out[k] = Number(v);
    else out[k] = String(v);
  }
  return out;
}

export interface PgbouncerOptions {
  url: string;
  timeoutMs?: number;
}

/** Database names the console is given: a bare word (the console has no quoting). */
export const PGBOUNCER_DATABASE = /^[A-Za-z0-9_][A-Za-z0-9_.$-]{0,62}$/;

export const ADMIN_COMMANDS = ['PAUSE', 'RESUME', 'RELOAD', 'RECONNECT', 'KILL', 'WAIT_CLOSE'] as const;
export type AdminCommand = (typeof ADMIN_COMMANDS)[number];

/** What a console run may be given besides the commands. */
export interface RunOptions {
  /** How long each command may take (PAUSE and WAIT_CLOSE wait for server connections to be released). */
  timeoutMs?: number;
  /** Aborting closes the console connection: a command still waiting fails. */
  signal?: AbortSignal;
}

/** The text of an admin command; RELOAD takes no database, KILL needs one. */
export function adminCommandText(command: AdminCommand, database?: string): string {
  if (command === 'RELOAD' && database !== undefined) throw new Error('RELOAD takes no database');
  if (command === 'KILL' && database === undefined) throw new Error('KILL needs a database');
  if (database === undefined) return command;
  if (!PGBOUNCER_DATABASE.test(database)) throw new Error(`not a PgBouncer database name: ${JSON.stringify(database)}`);
  return `${command} ${database}`;
}

export class PgbouncerClient {
  constructor(private readonly opts: PgbouncerOptions) {}

  /** Runs admin console commands on one connection. */
  async run(commands: readonly string[], options: RunOptions = {}): Promise<ConsoleRow[][]> {
    const client = new pg.Client({
      connectionString: this.opts.url,
      connectionTimeoutMillis: this.opts.timeoutMs ?? 3000,
      query_timeout: options.timeoutMs ?? this.opts.timeoutMs ?? 3000,
    });
    client.on('error', () => {});
    const abort = () => void client.end().catch(() => {});
    options.signal?.addEventListener('abort', abort, { once: true });
    try {
      await client.connect();
    } catch (err) {
      options.signal?.removeEventListener('abort', abort);
      throw err;
    }
    try {
      const out: ConsoleRow[][] = [];
      for (const c of commands) {
        const r = await client.query(c);
        out.push(r.rows.map(normaliseRow));
      }
      return out;
    } finally {
      options.signal?.removeEventListener('abort', abort);
      await client.end().catch(() => {});
    }
  }

  async show(what: PgbouncerShow): Promise<ConsoleRow[]> {
    const [rows] = await this.run([`SHOW ${what.toUpperCase()}`]);
    return rows ?? [];
  }

  /** One admin command, for one database or all (see adminCommandText). */
  async admin(command: AdminCommand, database?: string, options?: RunOptions): Promise<void> {
    await this.run([adminCommandText(command, database)], options);
  }
}

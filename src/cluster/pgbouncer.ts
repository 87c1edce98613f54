/**
 * PgBouncer admin console (the virtual database `pgbouncer`): SHOW commands over the simple query protocol (node-pg
 * uses it for a query without parameters). Rows are normalised: numeric strings become numbers where safe.
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

export class PgbouncerClient {
  constructor(private readonly opts: PgbouncerOptions) {}

  /** Runs admin console commands on one connection. */
  async run(commands: readonly string[]): Promise<ConsoleRow[][]> {
    const client = new pg.Client({
      connectionString: this.opts.url,
      connectionTimeoutMillis: this.opts.timeoutMs ?? 3000,
      query_timeout: this.opts.timeoutMs ?? 3000,
    });
    client.on('error', () => {});
    await client.connect();
    try {
      const out: ConsoleRow[][] = [];
      for (const c of commands) {
        const r = await client.query(c);
        out.push(r.rows.map(normaliseRow));
      }
      return out;
    } finally {
      await client.end().catch(() => {});
    }
  }

  async show(what: PgbouncerShow): Promise<ConsoleRow[]> {
    const [rows] = await this.run([`SHOW ${what.toUpperCase()}`]);
    return rows ?? [];
  }
}

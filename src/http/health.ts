/**
 * GET /health: is the gateway useful right now? One short query on the default database's pool (connection,
 * version, Citus), plus what the process holds. 200 when PostgreSQL answers, 503 otherwise (and while shutting down).
 */
import type { App } from '../app.js';
import { connectionFailure } from '../db/connect-error.js';
import { CITUS_EXTENSION_SQL } from '../tools/citus-detection.js';
import { formatToolError } from '../tools/errors.js';
import { VERSION } from '../version.js';

/** The health answer's shape (JSON). */
export interface Health {
  status: 'ok' | 'degraded' | 'shutting_down';
  version: string;
  postgres_connection: 'ok' | 'failed';
  /** Citus installed in the default database; null when PostgreSQL could not be asked. */
  citus_extension: boolean | null;
  uptime_seconds: number;
  components: {
    postgres: {
      status: 'ok' | 'failed';
      database: string;
      latency_ms?: number;
      server_version?: string;
      error?: string;
    };
    citus: { status: 'installed' | 'absent' | 'unknown'; version?: string };
    patroni: { configured: boolean; members?: number };
    haproxy: { configured: boolean };
    pgbouncer: { configured: boolean };
    pools: ReturnType<App['pools']['stats']>;
    transactions: { open: number; starting: number; limit: number };
    sessions: { open: number; max: number };
  };
}

const CHECK_TIMEOUT_MS = 3000;

export async function checkHealth(
  app: App,
  sessions: { open: number; max: number },
  shuttingDown: boolean,
): Promise<Health> {
  const database = app.pools.defaultDatabase;
  const started = performance.now();
  let postgres: Health['components']['postgres'];
  let citus: Health['components']['citus'] = { status: 'unknown' };
  try {
    const pool = app.pools.get();
    const query = pool.query<{ version: string; citus: string | null }>(
      `SELECT current_setting('server_version') AS version, (${CITUS_EXTENSION_SQL}) AS citus`,
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
    });
    const result = await Promise.race([query, timeout]).finally(() => clearTimeout(timer));
    const row = result.rows[0];
    postgres = {
      status: 'ok',
      database,
      latency_ms: Math.round((performance.now() - started) * 100) / 100,
      ...(row ? { server_version: row.version } : {}),
    };
    citus = row?.citus ? { status: 'installed', version: row.citus } : { status: 'absent' };
    // The same answer as start-up detection: a database that was unreachable then registers the Citus tools now.
    app.citus.record(row?.citus ?? null);
  } catch (err) {
    postgres = {
      status: 'failed',
      database,
      error: app.redact(formatToolError(connectionFailure(err, database)).split('\n')[0] ?? 'failed'),
    };
  }
  const tx = app.transactions.stats();
  const { cluster } = app.config;
  const ok = postgres.status === 'ok';
  return {
    status: shuttingDown ? 'shutting_down' : ok ? 'ok' : 'degraded',
    version: VERSION,
    postgres_connection: ok ? 'ok' : 'failed',
    citus_extension: citus.status === 'unknown' ? null : citus.status === 'installed',
    uptime_seconds: Math.round((Date.now() - app.startedAt) / 1000),
    components: {
      postgres,
      citus,
      patroni: {
        configured: cluster.patroniUrls.length > 0,
        ...(cluster.patroniUrls.length > 0 ? { members: cluster.patroniUrls.length } : {}),
      },
      haproxy: { configured: cluster.haproxy !== undefined },
      pgbouncer: { configured: cluster.pgbouncerUrl !== undefined },
      pools: app.pools.stats(),
      transactions: { open: tx.open, starting: tx.starting, limit: tx.limitTotal },
      sessions,
    },
  };
}

import pg from 'pg';

/**
 * Sends PostgreSQL's cancel request for `query`, or for whatever `client` is running now: a separate short connection
 * carrying the connection's cancel key, as libpq does. It works through PgBouncer too, which maps its own key to the
 * server connection in use, where `pg_cancel_backend(pid)` would not (a pooler's key is not a backend pid). Does
 * nothing when the client runs nothing.
 */
export function cancelActive(options: pg.ClientConfig, client: pg.ClientBase, query?: unknown): void {
  const active = query ?? (client as unknown as { _getActiveQuery?: () => unknown })._getActiveQuery?.();
  if (!active) return;
  const canceller = new pg.Client(options) as pg.Client & { cancel(client: pg.ClientBase, query: unknown): void };
  canceller.cancel(client, active);
}

/**
 * The server process behind `client` when it talks to PostgreSQL itself (its startup settings reached the server:
 * settings mode `startup`), else undefined: through a pooler the process id the client was given is the pooler's
 * cancel key, and using it with pg_terminate_backend or a progress view could hit another session.
 */
export function backendPid(client: pg.ClientBase): number | undefined {
  const c = client as unknown as { settingsMode?: string; processID?: number };
  return c.settingsMode === 'startup' && c.processID ? c.processID : undefined;
}

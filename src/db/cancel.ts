import pg from 'pg';

/** What cancelling needs of a node-postgres client beyond its typed API. */
interface ClientInternals {
  _getActiveQuery?: () => unknown;
  _queryQueue?: unknown[];
  processID?: number | null;
  secretKey?: number | null;
}

/** Where a client built from these options connects: its resolved host (or socket directory) and port. */
interface Endpoint {
  host: string;
  port: number;
  connection: pg.Connection & {
    connect(portOrSocket: number | string, host?: string): void;
    cancel(processID: number, secretKey: number): void;
  };
}

/**
 * Sends PostgreSQL's cancel request for `query`, or for whatever `client` is running now: a separate short connection
 * carrying the connection's cancel key, as libpq does. It works through PgBouncer too, which maps its own key to the
 * server connection in use, where `pg_cancel_backend(pid)` would not (a pooler's key is not a backend pid). Does
 * nothing when the client runs nothing; a `query` still waiting in the client's queue is taken out of it instead.
 *
 * node-postgres has `Client.cancel` for this, but it reads the client's deprecated `activeQuery` (a warning on
 * stderr at the first cancel, and gone in pg 9): this is the same request without it.
 */
export function cancelActive(options: pg.ClientConfig, client: pg.ClientBase, query?: unknown): void {
  const c = client as unknown as ClientInternals;
  const active = c._getActiveQuery?.();
  if (query !== undefined && active !== query) {
    const queued = c._queryQueue?.indexOf(query) ?? -1;
    if (queued !== -1) c._queryQueue?.splice(queued, 1);
    return;
  }
  if (!active || !c.processID || !c.secretKey) return;
  const { processID, secretKey } = c;
  // A client built from the same options resolves them (connection string, PG* variables) exactly as the pool did.
  const target = new pg.Client(options) as unknown as Endpoint;
  const con = target.connection;
  // The request needs no answer: the server reads it and closes the connection. A failure to reach it is the
  // caller's timeout to handle (the statement then runs on); it must not become an unhandled error event.
  con.on('error', () => undefined);
  con.on('connect', () => con.cancel(processID, secretKey));
  if (target.host.startsWith('/')) con.connect(`${target.host}/.s.PGSQL.${target.port}`);
  else con.connect(target.port, target.host);
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

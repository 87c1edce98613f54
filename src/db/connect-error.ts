import { fromPgError, isConnectionError, isPgServerError, ToolError } from '../tools/errors.js';

/** A failure to reach or log in to the server, as a tool error (credentials are never part of it). */
export function connectionFailure(err: unknown, database: string): ToolError {
  if (err instanceof ToolError) return err;
  if (isPgServerError(err)) return fromPgError(err);
  const message = err instanceof Error ? err.message : String(err);
  return new ToolError(`cannot reach PostgreSQL (database ${database}): ${message}`, {
    code: isConnectionError(err) ? 'connection_failed' : 'connection_error',
    hint: 'check that the server is running and PGHOST/PGPORT/PGUSER (or DATABASE_URL) point at it; `pgmcp doctor` checks the configuration',
  });
}

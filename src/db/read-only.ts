import type pg from 'pg';
import { fromPgError, isPgServerError, ToolError } from '../tools/errors.js';
import { connectionFailure } from './connect-error.js';
import type { PoolManager } from './pools.js';
import { connect } from './read-query.js';
import { beginText } from './settings-client.js';

/**
 * Runs the tool's own catalog and statistics queries inside a READ ONLY transaction that is rolled back, on a pooled
 * connection (statement and lock timeouts come with the connection, or right after BEGIN through a pooler). Server
 * errors become tool errors.
 */
export async function withReadOnly<T>(
  pools: PoolManager,
  database: string | undefined,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const db = database ?? pools.defaultDatabase;
  const client = await connect(pools.get(db), db);
  let broken: Error | undefined;
  try {
    await client.query(beginText(client, 'BEGIN TRANSACTION READ ONLY'));
    return await fn(client);
  } catch (err) {
    if (err instanceof ToolError) throw err;
    if (isPgServerError(err)) throw fromPgError(err);
    broken = err as Error;
    throw connectionFailure(err, db);
  } finally {
    if (!broken) {
      try {
        await client.query('ROLLBACK');
      } catch (err) {
        broken = err as Error;
      }
    }
    client.release(broken);
  }
}

import pg from 'pg';
import type { Config } from '../config/settings.js';
import { fromPgError, isPgServerError, ToolError } from '../tools/errors.js';
import { capCell } from './cells.js';
import { uniqueNames } from './column-names.js';
import { connectionFailure } from './connect-error.js';
import type { ParamValue } from './params.js';
import type { PoolManager } from './pools.js';
import { ReadFlight } from './read-flight.js';
import { lookupTypes } from './type-names.js';
import { convertValue, type JsonValue } from './values.js';

export interface Column {
  name: string;
  type: string;
}

export interface ReadPage {
  columns: Column[];
  rows: Record<string, JsonValue>[];
  rowCount: number;
  offset: number;
  limit: number;
  truncated: boolean;
  truncatedBy?: 'limit' | 'bytes';
  nextOffset?: number;
  cutCells: number;
  command?: string;
  durationMs: number;
}

export interface ReadRequest {
  sql: string;
  params?: ParamValue[];
  database?: string;
  offset?: number;
  limit?: number;
  /** Aborting (the MCP client cancelled the call) cancels the statement on the server. */
  signal?: AbortSignal;
}

/** Sends PostgreSQL's cancel request for what `client` is running (a separate short connection, as libpq does). */
function cancelOnServer(pool: pg.Pool, client: pg.PoolClient, query: unknown): void {
  const canceller = new pg.Client(pool.options) as pg.Client & { cancel(client: pg.PoolClient, query: unknown): void };
  canceller.cancel(client, query);
}

/** Checks out a connection, turning failures to reach the server into tool errors. */
export async function connect(pool: pg.Pool, database: string): Promise<pg.PoolClient> {
  try {
    return await pool.connect();
  } catch (err) {
    throw connectionFailure(err, database);
  }
}

/**
 * Runs one statement that the read guard accepted, read-only, and returns one page of its rows as JSON values.
 * The connection goes back to the pool unchanged, or is destroyed when that cannot be made sure of.
 */
export async function runReadQuery(pools: PoolManager, config: Config, req: ReadRequest): Promise<ReadPage> {
  const started = performance.now();
  const database = req.database ?? pools.defaultDatabase;
  const pool = pools.get(database);
  const client = await connect(pool, database);
  const offset = req.offset ?? 0;
  const limit = req.limit ?? config.limits.defaultRows;
  let broken: Error | undefined;
  try {
    const flight = new ReadFlight({
      sql: req.sql,
      params: req.params ?? [],
      offset,
      limit,
      maxBytes: config.limits.resultBytes,
    });
    client.query(flight as unknown as pg.QueryConfig);
    const cancel = () => cancelOnServer(pool, client, flight);
    req.signal?.addEventListener('abort', cancel, { once: true });
    let result: Awaited<ReadFlight['done']>;
    try {
      result = await flight.done;
    } catch (err) {
      try {
        await client.query('ROLLBACK; SELECT pg_catalog.pg_advisory_unlock_all(); DEALLOCATE ALL');
      } catch (cleanup) {
        broken = cleanup as Error;
      }
      if (isPgServerError(err)) throw fromPgError(err, req.sql);
      broken ??= err as Error;
      throw connectionFailure(err, database);
    } finally {
      req.signal?.removeEventListener('abort', cancel);
    }
    const types = await lookupTypes(pool, client, result.fields);
    const keys = uniqueNames(result.fields.map((f) => f.name));
    let cutCells = 0;
    const rows = result.rows.map((raw) => {
      const row: Record<string, JsonValue> = {};
      raw.forEach((text, i) => {
        const f = result.fields[i];
        if (!f) return;
        const capped = capCell(convertValue(f.dataTypeID, text, types.arrays), config.limits.cellBytes);
        if (capped.cut) cutCells++;
        row[keys[i] as string] = capped.value;
      });
      return row;
    });
    const truncatedBy = result.cutByBytes ? 'bytes' : result.more ? 'limit' : undefined;
    const page: ReadPage = {
      columns: result.fields.map((f, i) => ({
        name: keys[i] as string,
        type: types.name(f.dataTypeID, f.dataTypeModifier),
      })),
      rows,
      rowCount: rows.length,
      offset,
      limit,
      truncated: truncatedBy !== undefined,
      cutCells,
      durationMs: Math.round((performance.now() - started) * 100) / 100,
    };
    if (truncatedBy) {
      page.truncatedBy = truncatedBy;
      page.nextOffset = offset + rows.length;
    }
    if (result.command) page.command = result.command;
    return page;
  } catch (err) {
    if (!(err instanceof ToolError)) broken ??= err as Error;
    throw err;
  } finally {
    client.release(broken ?? undefined);
  }
}

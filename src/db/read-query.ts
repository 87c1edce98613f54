import type pg from 'pg';
import type { Config } from '../config/settings.js';
import { fromPgError, isPgServerError, ToolError } from '../tools/errors.js';
import { cancelActive } from './cancel.js';
import { capCell } from './cells.js';
import { uniqueNames } from './column-names.js';
import { connectionFailure } from './connect-error.js';
import type { ParamValue } from './params.js';
import type { PoolManager } from './pools.js';
import { type FlightFrame, type FlightResult, IN_TRANSACTION_READ, pooledRead, ReadFlight } from './read-flight.js';
import { settingsAfterBegin } from './settings-client.js';
import { lookupTypes, type TypeLookup } from './type-names.js';
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

/** Checks out a connection, turning failures to reach the server into tool errors. */
export async function connect(pool: pg.Pool, database: string): Promise<pg.PoolClient> {
  try {
    return await pool.connect();
  } catch (err) {
    throw connectionFailure(err, database);
  }
}

/** What a flight brought back, and when its connection is clean again. */
interface Flown {
  result: FlightResult;
  /**
   * Settles once the rest of the batch is through: undefined when the connection is as it was before the flight, or
   * the error that leaves it in doubt (it must then be closed, not reused).
   */
  clean: Promise<Error | undefined>;
}

/**
 * Runs a read flight on `client` and waits for its answer (with `early`, the rows, before the closing statements are
 * through); after a failure, sends the frame's recovery.
 */
async function fly(
  client: pg.ClientBase,
  frame: FlightFrame,
  config: Config,
  req: ReadRequest & { offset: number; limit: number },
  opts: { cancel?: (flight: ReadFlight) => void; early?: boolean } = {},
): Promise<Flown> {
  const flight = new ReadFlight({
    sql: req.sql,
    params: req.params ?? [],
    offset: req.offset,
    limit: req.limit,
    maxBytes: config.limits.resultBytes,
    frame,
    early: opts.early ?? false,
  });
  client.query(flight as unknown as pg.QueryConfig);
  const { cancel } = opts;
  const onAbort = cancel ? () => cancel(flight) : undefined;
  if (onAbort) req.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const result = await flight.answer;
    return { result, clean: flight.done.then(noError, (err: unknown) => err as Error) };
  } catch (err) {
    let recovery: Error | undefined;
    try {
      await client.query(frame.recover);
    } catch (cleanup) {
      recovery = cleanup as Error;
    }
    throw new FlightError(err, recovery);
  } finally {
    if (onAbort) req.signal?.removeEventListener('abort', onAbort);
  }
}

const noError = (): undefined => undefined;

/** A failed flight: the statement's error, and the error of the recovery when that failed too. */
class FlightError extends Error {
  constructor(
    readonly failure: unknown,
    readonly recovery: Error | undefined,
  ) {
    super(failure instanceof Error ? failure.message : String(failure));
  }
}

/** Turns what one flight brought back into a page of JSON rows. */
function shapePage(
  result: FlightResult,
  types: TypeLookup,
  config: Config,
  offset: number,
  limit: number,
  started: number,
): ReadPage {
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
  // The answer goes out as soon as the rows are in; the connection goes back to the pool once the batch's closing
  // statements are through (or is closed when they failed).
  let clean: Promise<Error | undefined> = Promise.resolve(undefined);
  try {
    let result: FlightResult;
    try {
      const flown = await fly(
        client,
        pooledRead(settingsAfterBegin(client)),
        config,
        { ...req, offset, limit },
        { cancel: (flight) => cancelActive(pool.options, client, flight), early: true },
      );
      ({ result, clean } = flown);
    } catch (err) {
      if (!(err instanceof FlightError)) throw err;
      broken = err.recovery;
      if (isPgServerError(err.failure)) throw fromPgError(err.failure, req.sql);
      broken ??= err.failure as Error;
      throw connectionFailure(err.failure, database);
    }
    const types = await lookupTypes(pool, client, result.fields);
    return shapePage(result, types, config, offset, limit, started);
  } catch (err) {
    if (!(err instanceof ToolError)) broken ??= err as Error;
    throw err;
  } finally {
    void clean.then((late) => client.release(broken ?? late ?? undefined));
  }
}

/**
 * Runs one statement that the read guard accepted inside a pg_tx transaction, on its connection (what
 * TransactionRegistry.use() hands over), under a read-only savepoint that is always rolled back (IN_TRANSACTION_READ):
 * it sees the transaction's own changes and snapshot and changes nothing in it. A failing read leaves the transaction
 * as it was (the error says so); when even the recovery fails the transaction is left to the registry to report.
 * Cancellation is the registry's (use() with a signal). `typeCache` is the pool of the same database, whose type-name
 * cache is shared.
 */
export async function runReadInTransaction(
  client: pg.Client,
  typeCache: pg.Pool,
  config: Config,
  req: ReadRequest,
): Promise<ReadPage> {
  const started = performance.now();
  const offset = req.offset ?? 0;
  const limit = req.limit ?? config.limits.defaultRows;
  let result: FlightResult;
  try {
    // Not early: the transaction's connection is handed back to its owner only when the savepoint is rolled back.
    result = (await fly(client, IN_TRANSACTION_READ, config, { ...req, offset, limit })).result;
  } catch (err) {
    if (!(err instanceof FlightError)) throw err;
    if (err.recovery === undefined && isPgServerError(err.failure)) {
      const e = fromPgError(err.failure, req.sql);
      throw new ToolError(e.message, {
        ...e.info,
        hint: 'only this read failed: it ran under a savepoint that was rolled back, so the transaction is unchanged and still open; fix the statement and call again with the same tx',
      });
    }
    // The transaction may be aborted or gone: the registry works out which and says so.
    throw err.failure;
  }
  const types = await lookupTypes(typeCache, client, result.fields);
  return shapePage(result, types, config, offset, limit, started);
}

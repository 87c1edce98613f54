import type pg from 'pg';
import { serialize } from 'pg-protocol';
import type { ParamValue } from './params.js';
import { toParamText } from './params.js';

/** What one read flight brought back: the window of rows asked for, raw text values. */
export interface FlightResult {
  fields: { name: string; dataTypeID: number; dataTypeModifier: number }[];
  rows: (string | null)[][];
  /** Rows the statement produced up to what was fetched (offset + window + the one that shows more exist). */
  fetched: number;
  /** The statement has more rows than were fetched. */
  more: boolean;
  /** Rows of the window dropped because the byte cap was reached. */
  cutByBytes: boolean;
  command: string | undefined;
}

/**
 * The statements sent in the same batch around the caller's statement, and what to send after an error (the server
 * skips the rest of the batch up to Sync then).
 */
export interface FlightFrame {
  before: readonly string[];
  after: readonly string[];
  /** One simple-protocol text that puts the connection back as it was before the flight after an error. */
  recover: string;
}

/**
 * A pooled connection: the statement in a READ ONLY transaction that is rolled back, then what a called function may
 * have left that a rollback does not undo: session advisory locks (pg_advisory_unlock_all()) and prepared statements
 * (DEALLOCATE ALL).
 */
export const POOLED_READ: FlightFrame = {
  before: ['BEGIN TRANSACTION READ ONLY'],
  after: ['ROLLBACK', 'SELECT pg_catalog.pg_advisory_unlock_all()', 'DEALLOCATE ALL'],
  recover: 'ROLLBACK; SELECT pg_catalog.pg_advisory_unlock_all(); DEALLOCATE ALL',
};

const settingsFrames = new Map<string, FlightFrame>();

/**
 * The frame of a read on a pooled connection: POOLED_READ itself, or — when the connection's settings are set per
 * transaction (`afterBegin`, see session-settings.ts) — POOLED_READ with those statements right after BEGIN, before
 * the caller's statement is parsed.
 */
export function pooledRead(afterBegin: readonly string[] | undefined): FlightFrame {
  if (afterBegin === undefined) return POOLED_READ;
  const key = afterBegin.join(';');
  let frame = settingsFrames.get(key);
  if (!frame) {
    frame = { ...POOLED_READ, before: [...POOLED_READ.before, ...afterBegin] };
    settingsFrames.set(key, frame);
  }
  return frame;
}

/** The savepoint a read inside a pg_tx transaction runs under. */
export const READ_SAVEPOINT = 'pgmcp_read';

/**
 * Inside a pg_tx transaction (its own dedicated connection): the statement under a savepoint made READ ONLY, which is
 * always rolled back to and released. A read that fails leaves the caller's transaction as it was instead of aborted,
 * and nothing a read does stays in it; read-only-ness set inside a subtransaction ends with it (a read-write
 * transaction is read-write again afterwards). The connection is closed when the transaction ends, so nothing is
 * reset here that outlives the transaction.
 */
export const IN_TRANSACTION_READ: FlightFrame = {
  before: [`SAVEPOINT ${READ_SAVEPOINT}`, 'SET TRANSACTION READ ONLY'],
  after: [`ROLLBACK TO SAVEPOINT ${READ_SAVEPOINT}`, `RELEASE SAVEPOINT ${READ_SAVEPOINT}`],
  recover: `ROLLBACK TO SAVEPOINT ${READ_SAVEPOINT}; RELEASE SAVEPOINT ${READ_SAVEPOINT}`,
};

/** A frame's fixed statements as protocol bytes, serialized once: what goes before the caller's statement and after. */
interface FrameWire {
  head: Buffer;
  /** The closing statements and Sync. */
  tail: Buffer;
  /** The same after a Flush: the server sends the statement's rows before running the closing statements. */
  earlyTail: Buffer;
}

const wires = new WeakMap<FlightFrame, FrameWire>();
const DESCRIBE_PORTAL = serialize.describe({ type: 'P', name: '' });

/** Parse, Bind and Execute of a statement without parameters, all rows: how the frame's own statements are sent. */
function plain(text: string): Buffer[] {
  return [serialize.parse({ text }), serialize.bind({}), serialize.execute({ rows: 0 })];
}

function frameWire(frame: FlightFrame): FrameWire {
  let wire = wires.get(frame);
  if (!wire) {
    const closing = frame.after.flatMap(plain);
    wire = {
      head: Buffer.concat(frame.before.flatMap(plain)),
      tail: Buffer.concat([...closing, serialize.sync()]),
      earlyTail: Buffer.concat([serialize.flush(), ...closing, serialize.sync()]),
    };
    wires.set(frame, wire);
  }
  return wire;
}

export interface FlightRequest {
  sql: string;
  params: ParamValue[];
  /** Rows skipped before the window. */
  offset: number;
  /** Rows wanted. */
  limit: number;
  /** Stop keeping rows once this many bytes of values are held. */
  maxBytes: number;
  /** What is sent around the statement; POOLED_READ when absent. */
  frame?: FlightFrame;
  /**
   * Ask the server to send the statement's rows as soon as it has them (a Flush after its Execute) and settle
   * `answer` then, while the frame's closing statements run: the caller can answer before the connection is clean, and
   * must wait for `done` before handing the connection to anyone else.
   */
  early?: boolean;
}

interface PgMessage {
  fields?: unknown[];
  text?: string;
}

/**
 * One statement run read-only in one network round trip. Sent as a single pipelined batch of extended-protocol
 * messages: the frame's statements before; the caller's statement (parsed server-side as exactly one statement,
 * parameters bound, fetched through a portal with a row limit so huge results never leave the server); the frame's
 * statements after; then one Sync. See POOLED_READ and IN_TRANSACTION_READ.
 * On an error the server skips to Sync: the caller then sends the frame's `recover`.
 *
 * It plugs into node-postgres as a "submittable" (the same hook pg-cursor uses).
 */
export class ReadFlight {
  /** Which statement of the batch the next completion belongs to; the caller's is `before.length`. */
  private step = 0;
  private readonly statementStep: number;
  private fieldsSeen: FlightResult['fields'] = [];
  private rows: (string | null)[][] = [];
  private index = 0;
  private bytes = 0;
  private more = false;
  private cutByBytes = false;
  private command: string | undefined;
  private error: Error | undefined;
  private settled = false;
  /** Settles once the whole batch is through (ReadyForQuery): the connection is as it was before. */
  readonly done: Promise<FlightResult>;
  private resolve!: (r: FlightResult) => void;
  private reject!: (e: Error) => void;
  /** Settles with the statement's rows: as soon as they are in with `early`, else with `done`. */
  readonly answer: Promise<FlightResult>;
  private answered = false;
  private resolveAnswer!: (r: FlightResult) => void;
  private rejectAnswer!: (e: Error) => void;

  private readonly frame: FlightFrame;

  constructor(private readonly req: FlightRequest) {
    this.frame = req.frame ?? POOLED_READ;
    this.statementStep = this.frame.before.length;
    this.done = new Promise<FlightResult>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.answer = new Promise<FlightResult>((resolve, reject) => {
      this.resolveAnswer = resolve;
      this.rejectAnswer = reject;
    });
    // Whoever waits on one of the two sees a failure; the other must not turn it into an unhandled rejection.
    this.answer.catch(() => undefined);
    this.done.catch(() => undefined);
  }

  private get inStatement(): boolean {
    return this.step === this.statementStep;
  }

  /**
   * Called by node-postgres when the connection is free: the whole batch goes out in one write. An error returned is
   * handed back to this flight by node-postgres.
   */
  submit(connection: pg.Connection): Error | undefined {
    const { sql, params, offset, limit, early } = this.req;
    const wire = frameWire(this.frame);
    const stream = (connection as unknown as { stream: NodeJS.WritableStream }).stream;
    if (!stream.writable) return new Error('the connection to the server is closed');
    stream.write(
      Buffer.concat([
        wire.head,
        serialize.parse({ text: sql }),
        serialize.bind({ values: params.map(toParamText) }),
        DESCRIBE_PORTAL,
        serialize.execute({ rows: offset + limit + 1 }),
        early ? wire.earlyTail : wire.tail,
      ]),
    );
    return undefined;
  }

  handleRowDescription(msg: { fields: { name: string; dataTypeID: number; dataTypeModifier: number }[] }): void {
    if (!this.inStatement) return;
    this.fieldsSeen = msg.fields.map((f) => ({
      name: f.name,
      dataTypeID: f.dataTypeID,
      dataTypeModifier: f.dataTypeModifier,
    }));
  }

  handleDataRow(msg: PgMessage): void {
    if (!this.inStatement) return;
    const i = this.index++;
    if (i < this.req.offset) return;
    if (i >= this.req.offset + this.req.limit) {
      this.more = true;
      return;
    }
    if (this.cutByBytes) return;
    const values = (msg.fields ?? []) as (string | null)[];
    let size = 0;
    for (const v of values) size += v === null ? 4 : v.length;
    if (this.rows.length > 0 && this.bytes + size > this.req.maxBytes) {
      this.cutByBytes = true;
      return;
    }
    this.bytes += size;
    this.rows.push(values);
  }

  handlePortalSuspended(): void {
    if (this.inStatement) {
      this.more = true;
      this.statementDone();
    }
    this.step++;
  }

  handleCommandComplete(msg: PgMessage): void {
    if (this.inStatement) {
      this.command = msg.text;
      this.statementDone();
    }
    this.step++;
  }

  private statementDone(): void {
    if (!this.req.early || this.answered) return;
    this.answered = true;
    this.resolveAnswer(this.result());
  }

  private result(): FlightResult {
    return {
      fields: this.fieldsSeen,
      rows: this.rows,
      fetched: this.index,
      more: this.more,
      cutByBytes: this.cutByBytes,
      command: this.command,
    };
  }

  handleEmptyQuery(): void {
    this.step++;
  }

  handleError(err: Error): void {
    // node-postgres detaches the active query on an error (its ReadyForQuery goes to the next query): settle now.
    this.error ??= err;
    this.finish();
  }

  handleReadyForQuery(): void {
    this.finish();
  }

  handleCopyInResponse(): void {
    // COPY is never sent on this path (the read guard refuses it); nothing to do.
  }

  handleCopyData(): void {}

  private finish(): void {
    if (this.settled) return;
    this.settled = true;
    if (this.error) {
      this.reject(this.error);
      if (!this.answered) this.rejectAnswer(this.error);
      return;
    }
    const result = this.result();
    this.resolve(result);
    if (!this.answered) this.resolveAnswer(result);
  }
}

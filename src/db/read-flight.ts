import type pg from 'pg';
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

export interface FlightRequest {
  sql: string;
  params: ParamValue[];
  /** Rows skipped before the window. */
  offset: number;
  /** Rows wanted. */
  limit: number;
  /** Stop keeping rows once this many bytes of values are held. */
  maxBytes: number;
}

interface PgMessage {
  fields?: unknown[];
  text?: string;
}

type Phase = 'begin' | 'statement' | 'rollback' | 'unlock' | 'deallocate' | 'done';
const NEXT_PHASE: Record<Phase, Phase> = {
  begin: 'statement',
  statement: 'rollback',
  rollback: 'unlock',
  unlock: 'deallocate',
  deallocate: 'done',
  done: 'done',
};

/**
 * One statement run read-only in one network round trip. Sent as a single pipelined batch of extended-protocol
 * messages: BEGIN READ ONLY; the caller's statement (parsed server-side as exactly one statement, parameters bound,
 * fetched through a portal with a row limit so huge results never leave the server); ROLLBACK; then what a called
 * function may have left that a rollback does not undo: session advisory locks (pg_advisory_unlock_all()) and
 * prepared statements (DEALLOCATE ALL); then one Sync.
 * On an error the server skips to Sync and the connection is left in an aborted transaction: the caller rolls back.
 *
 * It plugs into node-postgres as a "submittable" (the same hook pg-cursor uses).
 */
export class ReadFlight {
  private phase: Phase = 'begin';
  private fieldsSeen: FlightResult['fields'] = [];
  private rows: (string | null)[][] = [];
  private index = 0;
  private bytes = 0;
  private more = false;
  private cutByBytes = false;
  private command: string | undefined;
  private error: Error | undefined;
  private settled = false;
  readonly done: Promise<FlightResult>;
  private resolve!: (r: FlightResult) => void;
  private reject!: (e: Error) => void;

  constructor(private readonly req: FlightRequest) {
    this.done = new Promise<FlightResult>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  /** Called by node-postgres when the connection is free. */
  submit(
    connection: pg.Connection & { stream: NodeJS.WritableStream & { cork?: () => void; uncork?: () => void } },
  ): void {
    const con = connection as unknown as {
      parse(q: { text: string; name?: string }): void;
      bind(c: { values?: (string | null)[] }): void;
      describe(m: { type: 'P'; name: string }): void;
      execute(c: { rows?: number }): void;
      sync(): void;
      stream: { cork?: () => void; uncork?: () => void };
    };
    const { sql, params, offset, limit } = this.req;
    con.stream.cork?.();
    con.parse({ text: 'BEGIN TRANSACTION READ ONLY' });
    con.bind({});
    con.execute({ rows: 0 });
    con.parse({ text: sql });
    con.bind({ values: params.map(toParamText) });
    con.describe({ type: 'P', name: '' });
    con.execute({ rows: offset + limit + 1 });
    con.parse({ text: 'ROLLBACK' });
    con.bind({});
    con.execute({ rows: 0 });
    con.parse({ text: 'SELECT pg_catalog.pg_advisory_unlock_all()' });
    con.bind({});
    con.execute({ rows: 0 });
    con.parse({ text: 'DEALLOCATE ALL' });
    con.bind({});
    con.execute({ rows: 0 });
    con.sync();
    process.nextTick(() => con.stream.uncork?.());
  }

  handleRowDescription(msg: { fields: { name: string; dataTypeID: number; dataTypeModifier: number }[] }): void {
    if (this.phase !== 'statement') return;
    this.fieldsSeen = msg.fields.map((f) => ({
      name: f.name,
      dataTypeID: f.dataTypeID,
      dataTypeModifier: f.dataTypeModifier,
    }));
  }

  handleDataRow(msg: PgMessage): void {
    if (this.phase !== 'statement') return;
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
    if (this.phase === 'statement') this.more = true;
    this.phase = NEXT_PHASE[this.phase];
  }

  handleCommandComplete(msg: PgMessage): void {
    if (this.phase === 'statement') this.command = msg.text;
    this.phase = NEXT_PHASE[this.phase];
  }

  handleEmptyQuery(): void {
    this.phase = NEXT_PHASE[this.phase];
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
      return;
    }
    this.resolve({
      fields: this.fieldsSeen,
      rows: this.rows,
      fetched: this.index,
      more: this.more,
      cutByBytes: this.cutByBytes,
      command: this.command,
    });
  }
}

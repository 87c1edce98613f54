import type pg from 'pg';
import type { ParamValue } from './params.js';
import { toParamText } from './params.js';

/** One step of a write flight: a statement of the caller's, or a statement pgmcp adds (BEGIN, COMMIT, …). */
export type FlightStep =
  | { kind: 'statement'; index: number; text: string; params: readonly ParamValue[] }
  | { kind: 'control'; text: string };

/** A NOTICE, WARNING, INFO, … PostgreSQL sent while a step ran. */
export interface Notice {
  severity: string;
  message: string;
  code?: string;
  detail?: string;
  hint?: string;
  where?: string;
}

export interface FlightField {
  name: string;
  dataTypeID: number;
  dataTypeModifier: number;
}

/** What one statement step brought back: its command tag, the rows kept (raw text) and its notices. */
export interface StepResult {
  index: number;
  /** The command tag, e.g. `INSERT 0 3`, `UPDATE 2`, `CREATE TABLE`. */
  tag: string | undefined;
  fields: FlightField[];
  rows: (string | null)[][];
  /** Rows the statement returned, kept or not. */
  returned: number;
  /** Rows not kept: past the row limit. */
  cutByLimit: boolean;
  /** Rows not kept: the call's byte cap was reached. */
  cutByBytes: boolean;
  notices: Notice[];
}

export interface FlightOutcome {
  /** One per statement step, in order, for the steps that completed. */
  results: StepResult[];
  /** Notices sent while pgmcp's own steps ran (e.g. a WARNING at COMMIT). */
  controlNotices: Notice[];
}

/** A step failed: the server's error, which step, and what completed before it. */
export class FlightError extends Error {
  constructor(
    readonly pgError: Error,
    readonly step: FlightStep | undefined,
    readonly outcome: FlightOutcome,
  ) {
    super(pgError.message);
    this.name = 'FlightError';
  }
}

export interface WriteFlightRequest {
  steps: readonly FlightStep[];
  /** Rows kept per statement. */
  limit: number;
  /** Stop keeping rows (of any statement) once this many bytes of values are held. */
  maxBytes: number;
}

type Connection = {
  parse(q: { text: string }): void;
  bind(c: { values?: (string | null)[] }): void;
  describe(m: { type: 'P'; name: string }): void;
  execute(c: { rows?: number }): void;
  sync(): void;
  sendCopyFail(message: string): void;
  stream: { cork?: () => void; uncork?: () => void };
};

/**
 * Steps sent as one pipelined batch of extended-protocol messages (each statement parsed server-side as exactly one
 * statement, parameters bound server-side, every row of it fetched) and one Sync: one network round trip for the
 * whole call. On an error the server skips the remaining steps up to the Sync (so a COMMIT after a failed statement
 * never runs) and the connection is left in an aborted transaction, or none when no BEGIN was sent: the caller
 * cleans up. Notices are attributed to the step that was running when they arrived; the caller forwards the client's
 * `notice` events to `notice()`.
 *
 * It plugs into node-postgres as a "submittable", like ReadFlight.
 */
export class WriteFlight {
  private stepIndex = 0;
  private current: StepResult | undefined;
  private readonly results: StepResult[] = [];
  private readonly controlNotices: Notice[] = [];
  private bytes = 0;
  private error: Error | undefined;
  private settled = false;
  readonly done: Promise<FlightOutcome>;
  private resolve!: (r: FlightOutcome) => void;
  private reject!: (e: FlightError) => void;

  constructor(private readonly req: WriteFlightRequest) {
    this.done = new Promise<FlightOutcome>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.enter();
  }

  /** Called by node-postgres when the connection is free. */
  submit(connection: unknown): void {
    const con = connection as Connection;
    con.stream.cork?.();
    for (const step of this.req.steps) {
      con.parse({ text: step.text });
      con.bind(step.kind === 'statement' ? { values: step.params.map(toParamText) } : {});
      if (step.kind === 'statement') con.describe({ type: 'P', name: '' });
      con.execute({ rows: 0 });
    }
    con.sync();
    process.nextTick(() => con.stream.uncork?.());
  }

  /** A notice from the server, for the step running now. */
  notice(msg: Notice): void {
    const n: Notice = { severity: msg.severity ?? 'NOTICE', message: msg.message };
    for (const k of ['code', 'detail', 'hint', 'where'] as const) {
      const v = msg[k];
      if (typeof v === 'string' && v !== '') n[k] = v;
    }
    (this.current?.notices ?? this.controlNotices).push(n);
  }

  private get step(): FlightStep | undefined {
    return this.req.steps[this.stepIndex];
  }

  private enter(): void {
    const step = this.step;
    this.current =
      step?.kind === 'statement'
        ? {
            index: step.index,
            tag: undefined,
            fields: [],
            rows: [],
            returned: 0,
            cutByLimit: false,
            cutByBytes: false,
            notices: [],
          }
        : undefined;
  }

  private advance(tag: string | undefined): void {
    if (this.current) {
      this.current.tag = tag;
      this.results.push(this.current);
    }
    this.stepIndex++;
    this.enter();
  }

  handleRowDescription(msg: { fields: FlightField[] }): void {
    if (!this.current) return;
    this.current.fields = msg.fields.map((f) => ({
      name: f.name,
      dataTypeID: f.dataTypeID,
      dataTypeModifier: f.dataTypeModifier,
    }));
  }

  handleDataRow(msg: { fields?: unknown[] }): void {
    const r = this.current;
    if (!r) return;
    r.returned++;
    if (r.rows.length >= this.req.limit) {
      r.cutByLimit = true;
      return;
    }
    if (r.cutByBytes) return;
    const values = (msg.fields ?? []) as (string | null)[];
    let size = 0;
    for (const v of values) size += v === null ? 4 : v.length;
    if (this.bytes + size > this.req.maxBytes && this.bytes > 0) {
      r.cutByBytes = true;
      return;
    }
    this.bytes += size;
    r.rows.push(values);
  }

  handlePortalSuspended(): void {
    this.advance(undefined);
  }

  handleCommandComplete(msg: { text?: string }): void {
    this.advance(msg.text);
  }

  handleEmptyQuery(): void {
    this.advance(undefined);
  }

  handleError(err: Error): void {
    // node-postgres detaches the active query on an error (its ReadyForQuery goes to the next query): settle now.
    this.error ??= err;
    this.finish();
  }

  handleReadyForQuery(): void {
    this.finish();
  }

  /** COPY … FROM STDIN is refused before it gets here; if the server asks for data anyway, refuse to send any. */
  handleCopyInResponse(connection: unknown): void {
    (connection as Connection).sendCopyFail('pgmcp sends no COPY data');
  }

  handleCopyData(): void {}

  private finish(): void {
    if (this.settled) return;
    this.settled = true;
    const outcome = { results: this.results, controlNotices: this.controlNotices };
    if (this.error) this.reject(new FlightError(this.error, this.step, outcome));
    else this.resolve(outcome);
  }
}

/** Runs a flight on `client`, with the client's notices attributed to its steps. */
export async function fly(client: pg.ClientBase, flight: WriteFlight): Promise<FlightOutcome> {
  const onNotice = (msg: unknown) => flight.notice(msg as Notice);
  client.on('notice', onNotice);
  try {
    client.query(flight as unknown as pg.QueryConfig);
    return await flight.done;
  } finally {
    client.off('notice', onNotice);
  }
}

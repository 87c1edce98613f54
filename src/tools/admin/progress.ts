/**
 * MCP progress notifications for long maintenance: while a statement runs, its row in pg_stat_progress_* is read on a
 * second connection every POLL_MS and forwarded (phase, blocks done/total). Progress values only ever increase, as
 * MCP requires: `total` is the number of work items (tables, indexes) and `progress` counts items done plus the
 * fraction of the current one.
 */
import type pg from 'pg';
import type { ToolContext } from '../context.js';

export const POLL_MS = 500;
/** The first look comes sooner: short work should show its phase too. */
const FIRST_POLL_MS = 150;

export type ProgressView = 'vacuum' | 'cluster' | 'analyze' | 'create_index';

/** A row of one of the progress views, reduced to what is reported. */
export interface ProgressRow {
  phase: string;
  /** The table (or index) being worked on. */
  relation: string | null;
  index: string | null;
  done: number | null;
  total: number | null;
  /** What done/total count: blocks, tuples, lockers, … */
  unit: string;
  extra: string | null;
}

const QUERIES: Record<ProgressView, string> = {
  vacuum: `select phase, relid::regclass::text as relation, null::text as index,
                  case when phase = 'vacuuming heap' then heap_blks_vacuumed else heap_blks_scanned end as done,
                  heap_blks_total as total, 'blocks' as unit,
                  case when index_vacuum_count > 0 then index_vacuum_count || ' index vacuum cycles' end as extra
             from pg_catalog.pg_stat_progress_vacuum where pid = $1`,
  cluster: `select phase, relid::regclass::text as relation, null::text as index,
                   case when phase in ('seq scanning heap', 'index scanning heap') then heap_blks_scanned
                        when phase = 'writing new heap' then heap_tuples_written end as done,
                   case when phase in ('seq scanning heap', 'index scanning heap') then heap_blks_total
                        when phase = 'writing new heap' then heap_tuples_scanned end as total,
                   case when phase = 'writing new heap' then 'tuples' else 'blocks' end as unit,
                   case when index_rebuild_count > 0 then index_rebuild_count || ' indexes rebuilt' end as extra
              from pg_catalog.pg_stat_progress_cluster where pid = $1`,
  analyze: `select phase, relid::regclass::text as relation, null::text as index,
                   sample_blks_scanned as done, sample_blks_total as total, 'sample blocks' as unit,
                   case when child_tables_total > 0 then child_tables_done || '/' || child_tables_total || ' child tables' end
                     as extra
              from pg_catalog.pg_stat_progress_analyze where pid = $1`,
  create_index: `select phase, relid::regclass::text as relation,
                        nullif(index_relid, 0)::regclass::text as index,
                        case when phase like 'waiting%' then lockers_done
                             when blocks_total > 0 then blocks_done else tuples_done end as done,
                        case when phase like 'waiting%' then lockers_total
                             when blocks_total > 0 then blocks_total else tuples_total end as total,
                        case when phase like 'waiting%' then 'sessions waited for'
                             when blocks_total > 0 then 'blocks' else 'tuples' end as unit,
                        concat_ws(', ',
                          case when current_locker_pid > 0 then 'waiting for pid ' || current_locker_pid end,
                          case when partitions_total > 0
                               then partitions_done || '/' || partitions_total || ' partitions' end) as extra
                   from pg_catalog.pg_stat_progress_create_index where pid = $1`,
};

/** Phases in the order PostgreSQL goes through them (for the fraction of an item that is done). */
const PHASES: Record<ProgressView, readonly string[]> = {
  vacuum: [
    'initializing',
    'scanning heap',
    'vacuuming indexes',
    'vacuuming heap',
    'cleaning up indexes',
    'truncating heap',
    'performing final cleanup',
  ],
  cluster: [
    'initializing',
    'seq scanning heap',
    'index scanning heap',
    'sorting tuples',
    'writing new heap',
    'swapping relation files',
    'rebuilding index',
    'performing final cleanup',
  ],
  analyze: [
    'initializing',
    'acquiring sample rows',
    'acquiring inherited sample rows',
    'computing statistics',
    'computing extended statistics',
    'finalizing analyze',
  ],
  create_index: [
    'initializing',
    'waiting for writers before build',
    'building index',
    'waiting for writers before validation',
    'index validation: scanning index',
    'index validation: sorting tuples',
    'index validation: scanning table',
    'waiting for old snapshots',
    'waiting for readers before marking dead',
    'waiting for readers before dropping',
  ],
};

/** How far into one item a row is, 0…1. */
export function fractionOf(view: ProgressView, row: ProgressRow): number {
  const phases = PHASES[view];
  let at = phases.findIndex((p) => row.phase === p || row.phase.startsWith(`${p}:`));
  if (at < 0) at = 0;
  const within = row.total && row.total > 0 && row.done !== null ? Math.min(1, row.done / row.total) : 0;
  return Math.min(0.999, (at + within) / phases.length);
}

export function describeRow(row: ProgressRow): string {
  const what = row.index ? `${row.index} on ${row.relation ?? '?'}` : (row.relation ?? '');
  const count =
    row.total !== null && row.total > 0
      ? ` — ${row.done ?? 0}/${row.total} ${row.unit} (${Math.floor((100 * (row.done ?? 0)) / row.total)}%)`
      : '';
  return `${what ? `${what}: ` : ''}${row.phase}${count}${row.extra ? `, ${row.extra}` : ''}`;
}

/** Sends progress notifications that only go up. */
export class ProgressReporter {
  #last = -1;
  #lastMessage: string | undefined;
  /** Notifications sent (for tests and the result). */
  sent = 0;

  constructor(
    private readonly ctx: ToolContext,
    readonly total: number,
  ) {}

  async report(value: number, message: string): Promise<void> {
    let v = Math.min(Math.max(value, 0), this.total);
    if (v <= this.#last) {
      if (message === this.#lastMessage) return;
      // A new message without measurable progress still moves the value up a little.
      v = Math.min(this.#last + 0.001, this.total);
      if (v <= this.#last) return;
    }
    this.#last = v;
    this.#lastMessage = message;
    try {
      await this.ctx.progress(Math.round(v * 1000) / 1000, this.total, message);
      this.sent++;
    } catch (err) {
      this.ctx.log.debug({ err: String(err) }, 'progress notification failed');
    }
  }
}

export interface Watch {
  /** Stops polling and waits for a poll in flight. */
  stop(): Promise<void>;
  /** Distinct relations (or indexes, for create_index) seen so far. */
  seen: Set<string>;
}

/**
 * Polls the progress view for backend `pid` until stopped, calling `onRow` with each row found. Polls use `pool`
 * (a second connection); a failed poll is skipped. Without a pid (through a pooler the server process is not known)
 * nothing is polled: only the per-statement progress the caller reports itself is sent.
 */
export function watchProgress(
  pool: pg.Pool,
  view: ProgressView,
  pid: number | undefined,
  onRow: (row: ProgressRow, seen: Set<string>) => Promise<void>,
  log: ToolContext['log'],
): Watch {
  const seen = new Set<string>();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> = Promise.resolve();
  const poll = async () => {
    try {
      const r = await pool.query(QUERIES[view], [pid]);
      const raw = r.rows[0] as Record<string, unknown> | undefined;
      if (raw && !stopped) {
        const row: ProgressRow = {
          phase: String(raw.phase ?? ''),
          relation: (raw.relation as string | null) ?? null,
          index: (raw.index as string | null) ?? null,
          done: raw.done === null || raw.done === undefined ? null : Number(raw.done),
          total: raw.total === null || raw.total === undefined ? null : Number(raw.total),
          unit: String(raw.unit ?? ''),
          extra: (raw.extra as string | null) || null,
        };
        const key = view === 'create_index' ? (row.index ?? row.relation) : row.relation;
        if (key) seen.add(key);
        await onRow(row, seen);
      }
    } catch (err) {
      log.debug({ err: String(err) }, 'progress poll failed');
    }
  };
  const schedule = (delay: number) => {
    timer = setTimeout(() => {
      inFlight = poll().finally(() => {
        if (!stopped) schedule(POLL_MS);
      });
    }, delay);
  };
  if (pid !== undefined) schedule(FIRST_POLL_MS);
  return {
    seen,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await inFlight;
    },
  };
}

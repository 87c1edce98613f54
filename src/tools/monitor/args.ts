import { z } from 'zod';
import { ToolError } from '../errors.js';
import { databaseArg } from '../shared-args.js';

/** What pg_monitor can do. */
export const MONITOR_ACTIONS = [
  'health',
  'activity',
  'locks',
  'long_running',
  'replication',
  'sizes',
  'vacuum',
  'bloat',
  'settings',
  'extensions',
] as const;
export type MonitorAction = (typeof MONITOR_ACTIONS)[number];

export const SESSION_STATES = [
  'active',
  'idle',
  'idle in transaction',
  'idle in transaction (aborted)',
  'fastpath function call',
  'disabled',
] as const;

const seconds = (what: string, def: number) =>
  z.number().min(0).max(31_536_000).optional().describe(`health, long_running: ${what}, in seconds (default ${def})`);

export const DEFAULT_THRESHOLDS = { query: 60, transaction: 300, idleInTransaction: 60 } as const;

export const monitorInput = z.object({
  action: z
    .enum(MONITOR_ACTIONS)
    .describe(
      'health: version, uptime, role, connections, cache hit ratio, wraparound and more, each check with a verdict; ' +
        'activity: sessions grouped and listed (filters); locks: blocking chains as a tree; long_running: long ' +
        'statements, long transactions, idle in transaction, old prepared transactions; replication: standbys with ' +
        'lag, slots with retained WAL, or the WAL receiver on a standby; sizes: databases, tables (heap/TOAST/indexes), ' +
        'indexes; vacuum: dead rows, last (auto)vacuum/analyze, autovacuum progress, wraparound; bloat: estimated table ' +
        'and B-tree index bloat; settings: non-default settings, pending restart; extensions: installed (upgrades) ' +
        'and available',
    ),
  database: databaseArg.describe(
    'Database to connect to (default: the configured one). activity, locks, long_running: when given, only ' +
      'sessions of that database (default: every database); sizes, vacuum, bloat, extensions: the tables and ' +
      'extensions of this database',
  ),
  user: z.string().min(1).max(63).optional().describe('activity, long_running: only sessions of this role'),
  application: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe('activity, long_running: application_name ILIKE filter; without % it matches anywhere'),
  state: z.enum(SESSION_STATES).optional().describe('activity: only sessions in this state'),
  min_duration_seconds: z
    .number()
    .min(0)
    .optional()
    .describe('activity: only sessions whose transaction (else statement, else state) is at least this old'),
  include_self: z
    .boolean()
    .optional()
    .describe("activity, long_running: include pgmcp's own monitoring session (default false)"),
  include_background: z
    .boolean()
    .optional()
    .describe('activity: include background processes: autovacuum, WAL senders, checkpointer … (default false)'),
  long_query_seconds: seconds('a statement running this long is long', DEFAULT_THRESHOLDS.query),
  long_transaction_seconds: seconds('a transaction open this long is long', DEFAULT_THRESHOLDS.transaction),
  idle_in_transaction_seconds: seconds(
    'a session idle inside a transaction this long is reported',
    DEFAULT_THRESHOLDS.idleInTransaction,
  ),
  query_chars: z
    .number()
    .int()
    .min(20)
    .max(10_000)
    .optional()
    .describe('activity, long_running, locks: statement text is cut at this many characters (default 300)'),
  schema: z
    .string()
    .min(1)
    .max(63)
    .optional()
    .describe('sizes, vacuum, bloat: only tables of this schema (exact name)'),
  pattern: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe(
      'sizes, vacuum, bloat: table name ILIKE filter; settings, extensions: name ILIKE filter (without % it ' +
        'matches anywhere)',
    ),
  category: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe('settings: category ILIKE filter, e.g. `autovacuum`, `Resource Usage`, `replication`'),
  include_defaults: z
    .boolean()
    .optional()
    .describe('settings: also list settings left at their default (default false: non-default and pending only)'),
  limit: z
    .number()
    .int()
    .min(1)
    .max(1000)
    .optional()
    .describe(
      'activity: sessions listed (default 50); sizes, vacuum, bloat: top N per list (default 20); settings: (default 200)',
    ),
});
export type MonitorInput = z.infer<typeof monitorInput>;

type ArgName = Exclude<keyof MonitorInput, 'action' | 'database'>;

const SESSION_FILTERS: readonly ArgName[] = ['user', 'application', 'include_self', 'query_chars'];
const THRESHOLDS: readonly ArgName[] = [
  'long_query_seconds',
  'long_transaction_seconds',
  'idle_in_transaction_seconds',
];
const TABLE_FILTERS: readonly ArgName[] = ['schema', 'pattern', 'limit'];

/** The arguments each action takes besides `action` and `database`. */
const ACCEPTS: Record<MonitorAction, readonly ArgName[]> = {
  health: THRESHOLDS,
  activity: [...SESSION_FILTERS, 'state', 'min_duration_seconds', 'include_background', 'limit'],
  locks: ['query_chars'],
  long_running: [...SESSION_FILTERS, ...THRESHOLDS],
  replication: [],
  sizes: TABLE_FILTERS,
  vacuum: TABLE_FILTERS,
  bloat: TABLE_FILTERS,
  settings: ['pattern', 'category', 'include_defaults', 'limit'],
  extensions: ['pattern'],
};

function hintFor(action: MonitorAction, arg: ArgName): string | undefined {
  if (THRESHOLDS.includes(arg)) return 'thresholds apply to health and long_running';
  if (arg === 'state' || arg === 'min_duration_seconds') return 'activity filters sessions by state and duration';
  if (arg === 'user' || arg === 'application') {
    return action === 'locks'
      ? 'locks shows whole blocking chains; narrow them with `database`'
      : 'user and application filter the sessions of activity and long_running';
  }
  if (arg === 'schema' || (arg === 'pattern' && action !== 'settings' && action !== 'extensions')) {
    return 'sizes, vacuum and bloat filter tables with `schema` and `pattern`; settings and extensions filter names with `pattern`';
  }
  return undefined;
}

/** Checks the arguments of one action: nothing it would silently ignore is given. */
export function checkArgs(args: MonitorInput): void {
  const accepted = ACCEPTS[args.action];
  for (const arg of Object.keys(args) as (keyof MonitorInput)[]) {
    if (arg === 'action' || arg === 'database') continue;
    // A flag left at false changes nothing, so it is no mistake to pass it anywhere.
    if (args[arg] === undefined || args[arg] === false || accepted.includes(arg)) continue;
    const hint = hintFor(args.action, arg);
    const takes = accepted.length > 0 ? accepted.map((a) => `\`${a}\``).join(', ') : 'only `database`';
    throw new ToolError(`${args.action} does not take \`${arg}\`; it takes ${takes}`, {
      code: 'invalid_argument',
      ...(hint ? { hint } : {}),
    });
  }
}

/** The long-running thresholds asked for, with defaults. */
export function thresholdsOf(args: MonitorInput): { query: number; transaction: number; idleInTransaction: number } {
  return {
    query: args.long_query_seconds ?? DEFAULT_THRESHOLDS.query,
    transaction: args.long_transaction_seconds ?? DEFAULT_THRESHOLDS.transaction,
    idleInTransaction: args.idle_in_transaction_seconds ?? DEFAULT_THRESHOLDS.idleInTransaction,
  };
}

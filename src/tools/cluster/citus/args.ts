import { z } from 'zod';
import { SKEW_DEFAULTS } from '../../../cluster/citus-skew.js';
import { ToolError } from '../../errors.js';
import { databaseArg } from '../../shared-args.js';

/** What pg_citus can do. */
export const CITUS_ACTIONS = [
  'nodes',
  'node_health',
  'tables',
  'shard_distribution',
  'skew',
  'rebalance_plan',
  'rebalance_status',
  'activity',
  'locks',
  'stat_statements',
] as const;
export type CitusAction = (typeof CITUS_ACTIONS)[number];

export const DEFAULT_LIMIT = 50;
export const DEFAULT_QUERY_CHARS = 300;

const name = (what: string) => z.string().min(1).max(200).optional().describe(what);
const intArg = (min: number, max: number, what: string) => z.number().int().min(min).max(max).optional().describe(what);

export const citusInput = z.object({
  action: z
    .enum(CITUS_ACTIONS)
    .describe(
      'nodes: pg_dist_node with placements per node and whether the coordinator reaches each; node_health: which ' +
        'node can connect to which (citus_check_cluster_node_health) as a matrix; tables: distributed, reference and ' +
        'local tables with distribution column, colocation, shard count, size; shard_distribution: shards and bytes ' +
        'per node (per table with per_table); skew: per distributed table the largest/smallest/mean shard, the hot ' +
        'node and its imbalance, with verdicts; rebalance_plan: the moves a rebalance would make (nothing moves); ' +
        'rebalance_status: the latest rebalance job; activity: distributed queries across nodes by global pid; ' +
        'locks: who blocks whom across nodes; stat_statements: citus_stat_statements with timings',
    ),
  database: databaseArg.describe('Database with the citus extension (default: the configured one)'),
  table: name(
    'tables, shard_distribution, skew, rebalance_plan: only this table (SQL rules: schema.name, "Quoted" keeps case)',
  ),
  schema: name('tables, shard_distribution, skew: only tables of this schema (exact name)'),
  node: name('nodes, shard_distribution, activity: only this node: host:port, host (when unique) or node id'),
  per_table: z
    .boolean()
    .optional()
    .describe('shard_distribution: also list placements and bytes per table and node (default false)'),
  strategy: name('rebalance_plan: rebalance strategy (pg_dist_rebalance_strategy: by_shard_count, by_disk_size, …)'),
  threshold: z
    .number()
    .min(0)
    .max(1)
    .optional()
    .describe("rebalance_plan: the strategy's threshold (default: the strategy's own)"),
  drain_only: z
    .boolean()
    .optional()
    .describe('rebalance_plan: only the moves off nodes with shouldhaveshards = false (default false)'),
  shard_ratio: z
    .number()
    .min(1)
    .max(1000)
    .optional()
    .describe(
      `skew: a table whose largest shard is this many times the mean shard is skewed (default ${SKEW_DEFAULTS.shardRatio})`,
    ),
  node_imbalance_percent: z
    .number()
    .min(0)
    .max(10_000)
    .optional()
    .describe(
      `skew: a table whose fullest node holds this many percent more than the mean per node is skewed (default ${SKEW_DEFAULTS.nodeImbalancePercent})`,
    ),
  min_table_bytes: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe(`skew: smaller tables are never called skewed (default ${SKEW_DEFAULTS.minTableBytes}, 10 MB)`),
  include_idle: z
    .boolean()
    .optional()
    .describe('activity: include idle backends (default false: only queries in progress or idle in transaction)'),
  query_chars: intArg(
    20,
    10_000,
    `activity, locks, stat_statements: statement text is cut at this many characters (default ${DEFAULT_QUERY_CHARS})`,
  ),
  limit: intArg(
    1,
    1000,
    `tables, shard_distribution (per table), skew, rebalance_plan, activity, stat_statements: rows listed (default ${DEFAULT_LIMIT})`,
  ),
});
export type CitusInput = z.infer<typeof citusInput>;

type ArgName = Exclude<keyof CitusInput, 'action' | 'database'>;

/** The arguments each action takes besides `action` and `database`. */
const ACCEPTS: Record<CitusAction, readonly ArgName[]> = {
  nodes: ['node'],
  node_health: [],
  tables: ['table', 'schema', 'limit'],
  shard_distribution: ['table', 'schema', 'node', 'per_table', 'limit'],
  skew: ['table', 'schema', 'shard_ratio', 'node_imbalance_percent', 'min_table_bytes', 'limit'],
  rebalance_plan: ['table', 'strategy', 'threshold', 'drain_only', 'limit'],
  rebalance_status: [],
  activity: ['node', 'include_idle', 'query_chars', 'limit'],
  locks: ['query_chars'],
  stat_statements: ['query_chars', 'limit'],
};

/** Refuses an argument the action would silently ignore. */
export function checkCitusArgs(args: CitusInput): void {
  const accepted = ACCEPTS[args.action];
  for (const arg of Object.keys(args) as (keyof CitusInput)[]) {
    if (arg === 'action' || arg === 'database') continue;
    if (args[arg] === undefined || args[arg] === false || accepted.includes(arg)) continue;
    const takes = accepted.length > 0 ? accepted.map((a) => `\`${a}\``).join(', ') : 'only `database`';
    throw new ToolError(`${args.action} does not take \`${arg}\`; it takes ${takes}`, { code: 'invalid_argument' });
  }
}

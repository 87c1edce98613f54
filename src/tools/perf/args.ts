import { z } from 'zod';
import { HEALTH_CHECKS } from '../../perf/health.js';
import { TOP_ORDERS } from '../../perf/stat-statements.js';
import { ToolError } from '../errors.js';
import { databaseArg, paramsArg } from '../shared-args.js';

export const PERF_ACTIONS = ['explain', 'top_queries', 'index_advice', 'health_report'] as const;
export type PerfAction = (typeof PERF_ACTIONS)[number];

/** Statements one index_advice call may be given. */
export const MAX_ADVICE_STATEMENTS = 200;

export const perfInput = z.object({
  action: z
    .enum(PERF_ACTIONS)
    .describe(
      'explain: the plan of one statement as a compact tree with the costliest nodes and warnings; ' +
        'top_queries: the heaviest statements from pg_stat_statements; index_advice: indexes that would make a ' +
        'workload cheaper, tried as hypothetical indexes (hypopg), never created; health_report: index, ' +
        'constraint, sequence, wraparound, connection, replication and cache problems, each with the SQL that fixes it',
    ),
  sql: z
    .string()
    .min(1)
    .optional()
    .describe('explain: ONE statement to plan (without EXPLAIN); $1, $2, … with params, or planned generically'),
  params: paramsArg.describe(
    'explain: values for $1, $2, … bound server-side; without them a statement with $n gets a generic plan',
  ),
  analyze: z
    .boolean()
    .optional()
    .describe(
      'explain: EXPLAIN ANALYZE — runs the statement for actual rows and times: reads in a READ ONLY transaction, ' +
        'INSERT/UPDATE/DELETE/MERGE (access level write) in a transaction that is always rolled back',
    ),
  hypothetical_indexes: z
    .array(z.string().min(1))
    .min(1)
    .max(20)
    .optional()
    .describe(
      'explain: CREATE INDEX statements to pretend exist (hypopg; nothing is created): the plan with them and the ' +
        'cost before/after',
    ),
  statements: z
    .array(z.string().min(1))
    .min(1)
    .max(MAX_ADVICE_STATEMENTS)
    .optional()
    .describe(
      'index_advice: the workload, one statement per element (SELECT/INSERT/UPDATE/DELETE; $n allowed); ' +
        'default: the top statements of pg_stat_statements by total time',
    ),
  order_by: z
    .enum(TOP_ORDERS)
    .optional()
    .describe(
      'top_queries: total_time (default), mean_time, calls, rows, shared_read, shared_hit, temp, io_time, wal_bytes',
    ),
  limit: z
    .number()
    .int()
    .min(1)
    .max(200)
    .optional()
    .describe(
      'top_queries: statements shown (default 10, at most 100); index_advice: statements taken from pg_stat_statements (default 50, at most 200)',
    ),
  size_budget_mb: z
    .number()
    .positive()
    .optional()
    .describe('index_advice: total estimated size of the recommended indexes, in MB (default 1024)'),
  time_budget_s: z
    .number()
    .positive()
    .max(600)
    .optional()
    .describe('index_advice: time for the search, in seconds (default 30); the best found so far is reported'),
  max_indexes: z
    .number()
    .int()
    .min(1)
    .max(50)
    .optional()
    .describe('index_advice: most indexes to recommend (default 10)'),
  min_improvement_percent: z
    .number()
    .min(0)
    .max(100)
    .optional()
    .describe('index_advice: an index must lower the workload cost by at least this much (default 1)'),
  checks: z
    .array(z.enum(HEALTH_CHECKS))
    .min(1)
    .optional()
    .describe(`health_report: only these checks (default all): ${HEALTH_CHECKS.join(', ')}`),
  database: databaseArg,
});
export type PerfInput = z.infer<typeof perfInput>;

type ArgName = Exclude<keyof PerfInput, 'action' | 'database'>;

const ACCEPTS: Record<PerfAction, readonly ArgName[]> = {
  explain: ['sql', 'params', 'analyze', 'hypothetical_indexes'],
  top_queries: ['order_by', 'limit'],
  index_advice: ['statements', 'limit', 'size_budget_mb', 'time_budget_s', 'max_indexes', 'min_improvement_percent'],
  health_report: ['checks'],
};

/** Checks the arguments of one action: what it needs is there, and nothing it would silently ignore is given. */
export function checkPerfArgs(args: PerfInput): void {
  const accepted = ACCEPTS[args.action];
  for (const arg of Object.keys(args) as (keyof PerfInput)[]) {
    if (arg === 'action' || arg === 'database') continue;
    if (args[arg] === undefined || args[arg] === false || accepted.includes(arg)) continue;
    throw new ToolError(
      `${args.action} does not take \`${arg}\`; it takes ${accepted.map((a) => `\`${a}\``).join(', ')}`,
      {
        code: 'invalid_argument',
        hint:
          arg === 'sql' && args.action === 'index_advice'
            ? 'index_advice takes its workload as `statements`: ["…", "…"]'
            : arg === 'statements' && args.action === 'explain'
              ? 'explain plans one statement given as `sql`'
              : undefined,
      },
    );
  }
  if (args.action === 'explain' && args.sql === undefined) {
    throw new ToolError('explain needs `sql`: the statement to plan', {
      code: 'invalid_argument',
      hint: 'e.g. {"action": "explain", "sql": "select * from orders where customer_id = $1", "params": [42]}',
    });
  }
  if (args.action === 'top_queries' && args.limit !== undefined && args.limit > 100) {
    throw new ToolError('top_queries shows at most 100 statements', { code: 'invalid_argument' });
  }
}

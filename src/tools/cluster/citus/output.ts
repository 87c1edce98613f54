import { z } from 'zod';
import { CITUS_ACTIONS } from './args.js';

/* The structured result of pg_citus: one object with a part per action (the same data as the text). */

const int = z.number().int();
const text = z.string().nullable();
const seconds = z.number().nullable();

const node = z.object({
  id: int,
  group: int,
  host: z.string(),
  port: int,
  name: z.string().describe('host:port'),
  kind: z.enum(['coordinator', 'worker']),
  role: z.string().describe('pg_dist_node.noderole: primary, secondary, unavailable'),
  cluster: z.string(),
  isActive: z.boolean().describe('pg_dist_node.isactive (a stopped node stays active: see reachable)'),
  shouldHaveShards: z.boolean(),
  hasMetadata: z.boolean(),
  metadataSynced: z.boolean(),
  placements: int,
  shardPlacements: int.describe('placements of distributed tables (what a drain moves)'),
  reachable: z.boolean().nullable().describe('the coordinator could connect to it just now'),
});

const nodeHealth = z.object({
  nodes: z.array(z.string()),
  ok: z
    .record(z.string(), z.record(z.string(), z.boolean().nullable()))
    .describe('ok[from][to]: true connected, false failed, null unknown'),
  failures: z.array(z.object({ from: z.string(), to: z.string() })),
  unknown: z.array(z.string()).describe('nodes that could not be asked (every check from them unknown)'),
});

const table = z.object({
  name: z.string(),
  schema: z.string(),
  type: z.enum(['distributed', 'reference', 'local', 'schema']),
  distributionColumn: text,
  colocationId: int,
  shardCount: int,
  bytes: z.number().describe('all placements together (reference tables: every replica)'),
  owner: z.string(),
  accessMethod: text,
});

const nodeShare = z.object({
  node: z.string(),
  placements: int,
  distributedPlacements: int,
  bytes: z.number(),
  distributedBytes: z.number(),
  referenceBytes: z.number(),
  distributedPercent: z.number().nullable(),
});

const tableOnNode = z.object({
  table: z.string(),
  type: z.string(),
  node: z.string(),
  placements: int,
  bytes: z.number(),
});

const thresholds = z.object({ shardRatio: z.number(), nodeImbalancePercent: z.number(), minTableBytes: z.number() });

const tableSkew = z.object({
  table: z.string(),
  shards: int,
  bytes: z.number(),
  shardBytes: z.object({ max: z.number(), min: z.number(), avg: z.number() }),
  largestShard: z.object({
    shardId: z.number(),
    bytes: z.number(),
    node: z.string(),
    percentOfTable: z.number().nullable(),
  }),
  shardRatio: z.number().nullable().describe('largest shard / mean shard'),
  nodes: z.array(z.object({ node: z.string(), shards: int, bytes: z.number() })),
  hotNode: text,
  nodeImbalancePercent: z.number().nullable().describe("fullest node's excess over the mean per node"),
  unmeasured: int,
  skewed: z.boolean(),
  reasons: z.array(z.string()),
  advice: text,
});

const move = z.object({ table: z.string(), shardId: z.number(), bytes: z.number(), from: z.string(), to: z.string() });

const strategy = z.object({
  name: z.string(),
  isDefault: z.boolean(),
  defaultThreshold: z.number(),
  minimumThreshold: z.number(),
  improvementThreshold: z.number().nullable(),
});

const plan = z.object({
  strategy: z.string().describe('the strategy used (the default one when none was given)'),
  strategies: z.array(strategy),
  moves: z.array(move),
  summary: z.object({
    moves: int,
    bytes: z.number(),
    paths: z.array(z.object({ from: z.string(), to: z.string(), moves: int, bytes: z.number() })),
    net: z.array(z.object({ node: z.string(), bytes: z.number() })),
  }),
});

const job = z.object({
  jobId: z.number(),
  state: z.string(),
  type: z.string(),
  description: text,
  startedAt: text,
  finishedAt: text,
  tasks: z.record(z.string(), z.number()).describe('task counts by state'),
  running: z.array(z.record(z.string(), z.unknown())).describe('running tasks as Citus describes them'),
});

const backend = z.object({
  node: z.string(),
  pid: int,
  workerQuery: z.boolean(),
  state: text,
  wait: text,
  query: text,
});

const distributedQuery = z.object({
  globalPid: z.string(),
  node: text,
  user: text,
  database: text,
  application: text,
  state: text,
  transactionSeconds: seconds,
  querySeconds: seconds,
  query: text,
  backends: z.array(backend),
});

const locks = z.object({
  waits: z.array(
    z.object({
      waitingGlobalPid: z.string(),
      blockingGlobalPid: z.string(),
      waitingNode: text,
      blockingNode: text,
      blockedStatement: text,
      blockingStatement: text,
    }),
  ),
  waiting: z.array(
    z.object({
      globalPid: z.string(),
      node: text,
      pid: int,
      locktype: z.string(),
      relation: text,
      mode: z.string(),
      waitSeconds: seconds,
    }),
  ),
});

const statement = z.object({
  queryId: z.string(),
  query: text,
  executors: text,
  calls: z.number(),
  partitionKeys: int,
  topPartitionKeys: z.array(z.string()),
  totalMs: z.number().nullable(),
  meanMs: z.number().nullable(),
});

export const citusOutput = z.object({
  action: z.enum(CITUS_ACTIONS),
  database: z.string(),
  citusVersion: z.string().describe('citus extension version'),
  scope: z.string(),
  nodes: z.array(node).optional(),
  nodeHealth: nodeHealth.optional(),
  tables: z.array(table).optional(),
  distribution: z
    .object({ nodes: z.array(nodeShare), tables: z.array(tableOnNode).optional() })
    .optional()
    .describe('shard_distribution'),
  skew: z.object({ thresholds, tables: z.array(tableSkew) }).optional(),
  rebalancePlan: plan.optional(),
  rebalanceStatus: job.nullable().optional().describe('null: no rebalance job ever ran'),
  activity: z.object({ queries: z.array(distributedQuery), total: int }).optional(),
  locks: locks.optional(),
  statements: z.array(statement).optional(),
  truncated: z.boolean().describe('more rows than `limit`'),
  notes: z.array(z.string()),
});
export type CitusOutput = z.infer<typeof citusOutput>;

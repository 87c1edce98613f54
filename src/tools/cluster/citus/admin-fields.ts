/** The input fields of pg_cluster_admin's Citus actions, and the type of such an action. */
import { z } from 'zod';
import { TRANSFER_MODES } from '../../../cluster/citus-calls.js';
import type { ActionDefinition } from '../admin/action.js';

const name = (what: string) => z.string().min(1).max(300).optional().describe(what);

export const citusFields = {
  node: name(
    'drain_node, remove_node, activate_node, disable_node: the Citus node as host:port, a host only one node has, or its node id; add_node: host:port of the new worker',
  ),
  strategy: name(
    'rebalance_start, drain_node: rebalance strategy (pg_dist_rebalance_strategy; default: the default one)',
  ),
  shard_transfer_mode: z
    .enum(TRANSFER_MODES)
    .optional()
    .describe(
      'rebalance_start, drain_node, move_shard: auto or force_logical copy shards by logical replication (needs ' +
        'wal_level = logical; writes go on), block_writes makes writes to each shard wait while it is copied; default: ' +
        'auto when wal_level is logical, else block_writes',
    ),
  table: name(
    'distribute_table, undistribute_table, alter_distributed_table: the table (schema.name; "Quoted" keeps case)',
  ),
  distribution_column: name(
    'distribute_table (unless reference), alter_distributed_table: the distribution column (exact name)',
  ),
  colocate_with: name(
    'distribute_table, alter_distributed_table: a distributed table to colocate with, or none (a colocation group of its own)',
  ),
  shard_count: z
    .number()
    .int()
    .min(1)
    .max(64_000)
    .optional()
    .describe('distribute_table, alter_distributed_table: number of shards (default: citus.shard_count)'),
  reference: z
    .boolean()
    .optional()
    .describe('distribute_table: true makes it a reference table (a full copy on every node) instead'),
  cascade_to_colocated: z
    .boolean()
    .optional()
    .describe('alter_distributed_table: change the tables colocated with it too (shard_count, colocation)'),
  shard_id: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe('move_shard: the shard (pg_citus shard_distribution per_table)'),
  source_node: name('move_shard: the node the shard is on (default: its only placement)'),
  target_node: name('move_shard: the node it moves to'),
};

export type CitusArgs = { [K in keyof typeof citusFields]?: z.infer<(typeof citusFields)[K]> };
export type CitusAction = ActionDefinition<CitusArgs>;

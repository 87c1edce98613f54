/**
 * Citus actions of pg_cluster_admin, on the coordinator (the default database) with the admin login: rebalance
 * start/stop and move a shard (src/tools/cluster/citus/admin-shards.ts), drain/add/remove/activate/disable a node
 * (admin-nodes.ts), distribute (or make a reference table), undistribute or alter a table (admin-tables.ts).
 * Pre-checks read the Citus catalog and refuse what cannot work; the dry run shows the exact SQL; long calls send
 * progress (placements left, job tasks done) and the outcome is read back from the catalog.
 */
import { citusEnabled } from '../../components.js';
import { citusFields } from '../citus/admin-fields.js';
import { nodeActions } from '../citus/admin-nodes.js';
import { shardActions } from '../citus/admin-shards.js';
import { tableActions } from '../citus/admin-tables.js';
import { defineComponent } from './action.js';

export const citusActions = defineComponent({
  component: 'citus',
  fields: citusFields,
  unavailable: (ctx) =>
    citusEnabled(ctx.config, ctx.components ?? { citus: false })
      ? undefined
      : 'Citus is not detected in the default database: connect pgmcp to the Citus coordinator (or set PGMCP_CITUS_TOOLS=on)',
  actions: { ...shardActions, ...nodeActions, ...tableActions },
});

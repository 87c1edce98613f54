/** Citus node actions of pg_cluster_admin: drain, add, remove, activate, disable a node. */
import { citusCalls } from '../../../cluster/citus-calls.js';
import { leftovers } from '../../../cluster/citus-checks.js';
import { eligibleNodes } from '../citus.js';
import type { CitusAction } from './admin-fields.js';
import {
  chooseMode,
  count,
  nodePlan,
  nodesView,
  placementsLeft,
  readBackNode,
  refuse,
  state,
  steps,
  worker,
} from './admin-plan.js';
import { runCall, withAdmin } from './admin-run.js';
import { pickNode } from './nodes.js';

export const nodeActions: Record<string, CitusAction> = {
  drain_node: {
    description:
      'moves every shard off `node` (it keeps shouldhaveshards = false); verifies it holds none, with progress',
    required: ['node'],
    optional: ['strategy', 'shard_transfer_mode'],
    async plan({ args, ctx }) {
      const s = await state(ctx, true);
      const n = worker(s, args.node as string, 'drain_node');
      if (n.reachable === false)
        refuse(`the coordinator cannot connect to ${n.name}: its shards cannot be copied`, 'node_unreachable');
      const others = eligibleNodes(s.nodes).filter((x) => x !== n.name);
      if (others.length === 0)
        refuse(`no other node may take the shards of ${n.name}`, 'invalid_arguments', 'add_node a worker first');
      const { mode, why } = chooseMode(args.shard_transfer_mode, s.walLevel);
      const call = citusCalls.drainNode(n.host, n.port, mode, args.strategy);
      return {
        target: `node ${n.name}`,
        summary: `drain ${n.name}: move its ${count(n.shardPlacements, 'shard placement')} to ${others.join(', ')} (${mode})`,
        reasons: [
          `moves ${count(n.shardPlacements, 'shard placement')} off ${n.name}`,
          mode === 'block_writes'
            ? 'writes to each shard wait while it is copied (block_writes)'
            : 'writes go on while shards are copied',
          `${n.name} is marked shouldhaveshards = false: no new shards go to it until that is set back`,
        ],
        steps: steps(
          [
            `${n.name} is an active worker the coordinator reaches`,
            `other nodes may take shards: ${others.join(', ')}`,
            `shard_transfer_mode ${mode}: ${why}`,
          ],
          call,
          [`no shard placement of a distributed table is left on ${n.name}`, `${n.name} has shouldhaveshards = false`],
        ),
        before: { nodes: nodesView(s.nodes) },
        bind: { node: n.name, shards: n.shardPlacements },
        notes: [
          `to use ${n.name} for shards again: select citus_set_node_property('${n.host}', ${n.port}, 'shouldhaveshards', true); then rebalance_start`,
        ],
        async run(runner) {
          await runCall(runner, ctx, call, { poll: placementsLeft(ctx, n.name) });
          const after = await readBackNode(
            runner,
            ctx,
            `no shard placement left on ${n.name}`,
            n.name,
            (x) => x?.shardPlacements === 0,
          );
          const drained = after.find((x) => x.name === n.name);
          runner.check(`${n.name} has shouldhaveshards = false`, drained?.shouldHaveShards === false, undefined, true);
          return { after: { nodes: nodesView(after) } };
        },
      };
    },
  },
  add_node: {
    description: 'adds the worker at `node` (host:port, citus installed there); it gets shards at the next rebalance',
    required: ['node'],
    async plan({ args, ctx }) {
      const spec = (args.node as string).trim();
      const m = /^(.+):(\d{1,5})$/.exec(spec);
      const host = m?.[1]?.replace(/^\[(.*)\]$/, '$1');
      const port = Number(m?.[2]);
      if (!host || !(port > 0 && port < 65536))
        return refuse(`add_node needs node as host:port, got ${spec}`, 'invalid_arguments');
      const s = await state(ctx);
      if (s.nodes.some((n) => n.host === host && n.port === port))
        return refuse(`${host}:${port} is already a Citus node`);
      const reachable = await withAdmin(
        ctx,
        async (c) =>
          (await c.query('select pg_catalog.citus_check_connection_to_node($1, $2) as ok', [host, port])).rows[0]
            ?.ok === true,
      );
      if (!reachable) {
        refuse(
          `the coordinator cannot connect to ${host}:${port}`,
          'node_unreachable',
          'start PostgreSQL with citus there and let the coordinator in (pg_hba.conf, authentication)',
        );
      }
      const call = citusCalls.addNode(host, port);
      const label = `${host}:${port}`;
      return {
        target: `node ${label}`,
        summary: `add worker ${label}`,
        reasons: [`${label} joins the cluster: the metadata and the reference tables are copied to it`],
        steps: steps([`${label} is not a Citus node yet`, `the coordinator connects to ${label}`], call, [
          `${label} is an active node of pg_dist_node`,
        ]),
        before: { nodes: nodesView(s.nodes) },
        bind: { node: label },
        notes: ['it holds no shards of existing tables yet: rebalance_start moves some to it'],
        async run(runner) {
          await runCall(runner, ctx, call);
          const after = await readBackNode(
            runner,
            ctx,
            `${label} is an active node`,
            label,
            (x) => x?.isActive === true,
          );
          return { after: { nodes: nodesView(after) } };
        },
      };
    },
  },
  remove_node: {
    description: 'removes worker `node` from the cluster; refused while it holds shards (drain_node first)',
    required: ['node'],
    async plan({ args, ctx }) {
      const s = await state(ctx);
      const n = worker(s, args.node as string, 'remove_node');
      if (n.shardPlacements > 0) {
        refuse(
          `${n.name} holds ${count(n.shardPlacements, 'shard placement')} of distributed tables`,
          'node_not_empty',
          `drain_node ${n.name} first`,
        );
      }
      // Shards an earlier move left behind on it are dropped first: once the node is gone Citus cannot drop them,
      // and after add_node they would block every move of those shards back to it.
      const left = await withAdmin(ctx, (c) => leftovers(c, n.group));
      return nodePlan(ctx, n, s, {
        summary: `remove ${n.name} from the cluster`,
        reasons: [`${n.name} leaves the cluster metadata; its copies of reference tables are no longer used`],
        checks: [
          `${n.name} is a worker holding no shards of distributed tables`,
          left.length
            ? `${count(left.length, 'leftover')} of earlier shard moves wait to be dropped on it: ${left.join(', ')}`
            : 'nothing of earlier shard moves waits to be dropped on it',
        ],
        ...(left.length ? { first: citusCalls.cleanupOrphaned() } : {}),
        call: citusCalls.removeNode(n.host, n.port),
        verify: `${n.name} is no longer in pg_dist_node`,
        holds: (x) => x === undefined,
        notes: [`add_node ${n.name} brings it back (with a new node id)`],
      });
    },
  },
  activate_node: {
    description: 'activates the disabled (or inactive) `node` again; it must accept connections',
    required: ['node'],
    async plan({ args, ctx }) {
      const s = await state(ctx, true);
      const n = pickNode(s.nodes, args.node as string);
      if (n.isActive) refuse(`${n.name} is already active`);
      if (n.reachable === false)
        refuse(`the coordinator cannot connect to ${n.name}`, 'node_unreachable', 'start it first');
      return nodePlan(ctx, n, s, {
        summary: `activate ${n.name}`,
        reasons: [`${n.name} gets queries again; metadata and reference tables are synced to it`],
        checks: [`${n.name} is inactive and the coordinator reaches it`],
        call: citusCalls.activateNode(n.host, n.port),
        verify: `${n.name} is active`,
        holds: (x) => x?.isActive === true,
      });
    },
  },
  disable_node: {
    description:
      'disables worker `node` (no queries go to it); refused while it holds the only copies of shards (drain_node first)',
    required: ['node'],
    async plan({ args, ctx }) {
      const s = await state(ctx);
      const n = worker(s, args.node as string, 'disable_node');
      if (!n.isActive) refuse(`${n.name} is already disabled`);
      if (n.shardPlacements > 0) {
        refuse(
          `${n.name} holds ${count(n.shardPlacements, 'shard placement')} of distributed tables: disabling it would make them unavailable, and Citus refuses`,
          'node_not_empty',
          `drain_node ${n.name} first`,
        );
      }
      return nodePlan(ctx, n, s, {
        summary: `disable ${n.name}`,
        reasons: [`no queries go to ${n.name} until activate_node; writes to reference tables skip it`],
        checks: [`${n.name} is an active worker holding no shards of distributed tables`],
        call: citusCalls.disableNode(n.host, n.port),
        verify: `${n.name} is inactive`,
        holds: (x) => x?.isActive === false,
      });
    },
  },
};

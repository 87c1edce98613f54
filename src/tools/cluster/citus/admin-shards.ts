/** Citus shard actions of pg_cluster_admin: start and stop a rebalance, move a shard. */
import type { CitusNode } from '../../../cluster/citus.js';
import { RUNNING_JOB_STATES, readRebalancePlan, readRebalanceStatus, readStrategies } from '../../../cluster/citus.js';
import { citusCalls } from '../../../cluster/citus-calls.js';
import { shardFacts, shardNodes } from '../../../cluster/citus-checks.js';
import { bytesText } from '../clients.js';
import type { CitusAction } from './admin-fields.js';
import { chooseMode, count, refuse, shardList, spread, state, steps } from './admin-plan.js';
import { runCall, taskText, waitForJob, withAdmin } from './admin-run.js';
import { pickNode } from './nodes.js';

export const shardActions: Record<string, CitusAction> = {
  rebalance_start: {
    description:
      'moves shards in the background until the nodes are balanced (strategy); verifies the planned moves and ' +
      'compares the spread before and after',
    optional: ['strategy', 'shard_transfer_mode'],
    async plan({ args, ctx }) {
      const s = await state(ctx);
      const { strategies, job, moves, strategy } = await withAdmin(ctx, async (client) => {
        const strategies = await readStrategies(client);
        const strategy = args.strategy ?? strategies.find((x) => x.isDefault)?.name ?? 'by_disk_size';
        if (!strategies.some((x) => x.name === strategy)) {
          refuse(
            `no rebalance strategy named ${strategy}`,
            'invalid_arguments',
            `strategies: ${strategies.map((x) => x.name).join(', ')}`,
          );
        }
        const job = await readRebalanceStatus(client);
        const moves = await readRebalancePlan(client, {
          tableOid: null,
          strategy,
          threshold: null,
          drainOnly: false,
        });
        return { strategies, job, moves, strategy };
      });
      if (job && RUNNING_JOB_STATES.has(job.state)) {
        refuse(
          `rebalance job ${job.jobId} is already ${job.state} (${taskText(job)})`,
          'already_running',
          'pg_citus rebalance_status follows it; rebalance_stop stops it',
        );
      }
      if (moves.length === 0) refuse(`nothing to move with strategy ${strategy}: the cluster is balanced for it`);
      const { mode, why } = chooseMode(args.shard_transfer_mode, s.walLevel);
      const call = citusCalls.rebalanceStart(args.strategy, mode);
      const bytes = moves.reduce((n, m) => n + m.bytes, 0);
      const before = await spread(ctx);
      return {
        target: 'the cluster',
        summary: `rebalance with ${strategy}: ${count(moves.length, 'shard move')} (${bytesText(bytes)}), ${mode}`,
        reasons: [
          `moves ${count(moves.length, 'shard')} (${bytesText(bytes)}) between nodes in the background`,
          mode === 'block_writes'
            ? 'writes to each shard wait while it is copied (block_writes)'
            : 'shards are copied by logical replication: writes go on, each shard blocks briefly at the switch',
          'rebalance_stop cancels the moves not yet done',
        ],
        steps: steps(
          [
            `shard_transfer_mode ${mode}: ${why}`,
            'no rebalance is running',
            `get_rebalance_table_shards_plan: ${count(moves.length, 'move')}`,
          ],
          call,
          [
            'the job finishes (citus_rebalance_status, progress every second)',
            'every planned shard is on its target node (citus_shards)',
            'shards and bytes per node after, against before',
          ],
        ),
        before: {
          strategy,
          strategies: strategies.map((x) => x.name).join(', '),
          shard_transfer_mode: mode,
          planned: Object.fromEntries(
            moves.map((m) => [
              `shard ${m.shardId}`,
              { table: m.table, from: m.from, to: m.to, size: bytesText(m.bytes) },
            ]),
          ),
          perNode: before.perNode,
          imbalancePercent: before.imbalancePercent,
        },
        bind: { moves: moves.map((m) => `${m.shardId}:${m.to}`).join(','), walLevel: s.walLevel },
        notes: [`shard_transfer_mode ${mode}: ${why}`],
        async run(runner) {
          const r = await runCall(runner, ctx, call);
          const jobId = Number(Object.values(r.rows[0] ?? {})[0]);
          const { job: end, over } = await waitForJob(runner, ctx, jobId);
          const notes: string[] = [];
          if (over && end?.state === 'finished') {
            const where = await withAdmin(ctx, (c) =>
              shardNodes(
                c,
                moves.map((m) => m.shardId),
              ),
            );
            const wrong = moves.filter((m) => !(where.get(m.shardId) ?? []).includes(m.to));
            runner.check(
              `every planned shard (${moves.length}) is on its target node`,
              wrong.length === 0,
              wrong.length ? `not moved: ${wrong.map((m) => m.shardId).join(', ')}` : undefined,
            );
          } else if (!over) notes.push(`job ${jobId} goes on in the background: pg_citus rebalance_status follows it`);
          const after = await spread(ctx);
          runner.check(
            `imbalance of the fullest node: ${before.imbalancePercent ?? '?'}% before, ${after.imbalancePercent ?? '?'}% after`,
            true,
            undefined,
            true,
          );
          return {
            after: { job: end ? { id: end.jobId, state: end.state, tasks: taskText(end) } : null, ...after },
            notes,
          };
        },
      };
    },
  },
  rebalance_stop: {
    description: 'cancels the running rebalance job (moves already done stay done)',
    async plan({ ctx }) {
      const job = await withAdmin(ctx, readRebalanceStatus);
      if (!job || !RUNNING_JOB_STATES.has(job.state)) {
        return refuse(`no rebalance is running${job ? ` (job ${job.jobId} is ${job.state})` : ''}`);
      }
      const call = citusCalls.rebalanceStop();
      return {
        target: `rebalance job ${job.jobId}`,
        summary: `stop rebalance job ${job.jobId} (${taskText(job)})`,
        reasons: ['the moves not yet done are cancelled; the cluster stays as unbalanced as it is then'],
        steps: steps([`job ${job.jobId} is ${job.state}: ${taskText(job)}`], call, [`job ${job.jobId} is cancelled`]),
        before: { job: job.jobId, state: job.state, tasks: taskText(job) },
        bind: { job: job.jobId },
        async run(runner) {
          await runCall(runner, ctx, call);
          const { job: end } = await waitForJob(runner, ctx, job.jobId, ['cancelled']);
          return { after: end ? { job: end.jobId, state: end.state, tasks: taskText(end) } : {} };
        },
      };
    },
  },
  move_shard: {
    description: 'moves shard `shard_id` (and the shards colocated with it) from source_node to target_node',
    required: ['shard_id', 'target_node'],
    optional: ['source_node', 'shard_transfer_mode'],
    async plan({ args, ctx }) {
      const s = await state(ctx, true);
      const shard = await withAdmin(ctx, (c) => shardFacts(c, args.shard_id as number));
      if (!shard)
        return refuse(
          `no shard ${args.shard_id}`,
          'object_not_found',
          'pg_citus shard_distribution per_table lists the shards',
        );
      let from: CitusNode;
      if (args.source_node !== undefined) {
        from = pickNode(s.nodes, args.source_node);
        if (!shard.nodes.includes(from.name))
          refuse(
            `shard ${shard.shardId} has no placement on ${from.name} (it is on ${shard.nodes.join(', ')})`,
            'invalid_arguments',
          );
      } else {
        if (shard.nodes.length !== 1)
          refuse(`shard ${shard.shardId} is on ${shard.nodes.join(', ')}: name source_node`, 'invalid_arguments');
        from = pickNode(s.nodes, shard.nodes[0] as string);
      }
      const to = pickNode(s.nodes, args.target_node as string);
      if (to.name === from.name) refuse(`shard ${shard.shardId} is already on ${to.name}`);
      if (shard.nodes.includes(to.name)) refuse(`${to.name} already holds a placement of shard ${shard.shardId}`);
      if (!to.isActive || to.role !== 'primary')
        refuse(`${to.name} is not an active primary node`, 'invalid_arguments');
      if (to.reachable === false || from.reachable === false)
        refuse('the coordinator cannot reach both nodes', 'node_unreachable');
      const { mode, why } = chooseMode(args.shard_transfer_mode, s.walLevel);
      const call = citusCalls.moveShard(shard.shardId, from, to, mode);
      const ids = shard.colocated.map((c) => c.shardId);
      return {
        target: `shard ${shard.shardId}`,
        summary: `move shard ${shard.shardId} of ${shard.table}${ids.length > 1 ? ` with ${ids.length - 1} colocated shards` : ''} from ${from.name} to ${to.name} (${mode})`,
        reasons: [
          `copies ${bytesText(shard.bytes)} of ${shard.table}${ids.length > 1 ? ` and its colocated shards (${shard.colocated.map((c) => `${c.table} ${c.shardId}`).join(', ')})` : ''} to ${to.name}, then drops them on ${from.name}`,
          mode === 'block_writes'
            ? 'writes to these shards wait while they are copied (block_writes)'
            : 'writes go on while they are copied',
        ],
        steps: steps(
          [
            `shard ${shard.shardId} of ${shard.table} is on ${from.name}`,
            `${to.name} is an active node without it`,
            `shard_transfer_mode ${mode}: ${why}`,
          ],
          call,
          [`${shardList(ids)} on ${to.name} and no longer on ${from.name}`],
        ),
        before: {
          shard: {
            id: shard.shardId,
            table: shard.table,
            nodes: shard.nodes.join(', '),
            size: bytesText(shard.bytes),
          },
          colocated: ids.join(', '),
        },
        bind: { shard: shard.shardId, from: from.name, to: to.name },
        notes: [`shard_transfer_mode ${mode}: ${why}`],
        async run(runner) {
          await runCall(runner, ctx, call);
          let where = new Map<number, string[]>();
          await runner.waitFor(
            `${shardList(ids)} on ${to.name}, not on ${from.name}`,
            async () => {
              where = await withAdmin(ctx, (c) => shardNodes(c, ids));
              return ids.every(
                (id) => (where.get(id) ?? []).includes(to.name) && !(where.get(id) ?? []).includes(from.name),
              )
                ? true
                : undefined;
            },
            () => ids.map((id) => `${id}: ${(where.get(id) ?? []).join(', ')}`).join('; '),
            { timeoutMs: 10_000, intervalMs: 500 },
          );
          return {
            after: { shards: Object.fromEntries(ids.map((id) => [String(id), (where.get(id) ?? []).join(', ')])) },
          };
        },
      };
    },
  },
};

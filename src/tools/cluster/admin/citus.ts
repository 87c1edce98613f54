/**
 * Citus actions of pg_cluster_admin, on the coordinator (the default database) with the admin login: rebalance
 * start/stop, drain/add/remove/activate/disable a node, distribute (or make a reference table), undistribute or alter
 * a table, move a shard. Pre-checks read the Citus catalog and refuse what cannot work; the dry run shows the exact
 * SQL; long calls send progress (placements left, job tasks done) and the outcome is read back from the catalog.
 */
import { z } from 'zod';
import {
  type CitusNode,
  citusInfo,
  RUNNING_JOB_STATES,
  readNodes,
  readPlacements,
  readRebalancePlan,
  readRebalanceStatus,
  readStrategies,
} from '../../../cluster/citus.js';
import {
  citusCalls,
  type SqlCall,
  TRANSFER_MODES,
  type TransferMode,
  transferMode,
} from '../../../cluster/citus-calls.js';
import {
  COUNT_LIMIT,
  columnFacts,
  columnNames,
  leftovers,
  placementsByNode,
  rowCount,
  shardFacts,
  shardNodes,
  type TableFacts,
  tableFacts,
} from '../../../cluster/citus-checks.js';
import { distributionByNode } from '../../../cluster/citus-skew.js';
import { Catalog } from '../../admin/sql.js';
import { citusEnabled } from '../../components.js';
import type { ToolContext } from '../../context.js';
import { ToolError } from '../../errors.js';
import { runCall, taskText, waitForJob, withAdmin } from '../citus/admin-run.js';
import { pickNode } from '../citus/nodes.js';
import { eligibleNodes } from '../citus.js';
import { bytesText } from '../clients.js';
import { type ActionPlan, defineComponent, type PlanStep } from './action.js';
import type { ActionRunner } from './runner.js';

const WHERE = 'Citus coordinator';
const name = (what: string) => z.string().min(1).max(300).optional().describe(what);

const fields = {
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

interface State {
  walLevel: string;
  nodes: CitusNode[];
}

async function state(ctx: ToolContext, probe = false): Promise<State> {
  return withAdmin(ctx, async (client) => {
    const info = await citusInfo(client);
    if (!info.version) {
      throw new ToolError('the citus extension is not installed in the default database', {
        code: 'citus_not_installed',
      });
    }
    return { walLevel: info.walLevel, nodes: await readNodes(client, probe) };
  });
}

/** Nodes as the before/after state shows them (a table: one row per node). */
function nodesView(nodes: readonly CitusNode[], shards?: Record<string, number>): Record<string, unknown> {
  return Object.fromEntries(
    nodes.map((n) => [
      n.name,
      {
        id: n.id,
        kind: n.kind,
        active: n.isActive,
        shouldhaveshards: n.shouldHaveShards,
        shards: shards?.[n.name] ?? n.shardPlacements,
        ...(n.reachable === null ? {} : { reachable: n.reachable }),
      },
    ]),
  );
}

function chooseMode(asked: TransferMode | undefined, walLevel: string): { mode: TransferMode; why: string } {
  const chosen = transferMode(asked, walLevel);
  if ('error' in chosen) throw new ToolError(chosen.error, { code: 'invalid_arguments' });
  return chosen;
}

/** `1 shard`, `3 shards`. */
const count = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;
const shardList = (ids: readonly number[]) =>
  ids.length === 1 ? `shard ${ids[0]} is` : `shards ${ids.join(', ')} are`;

const refuse = (message: string, code = 'nothing_to_do', hint?: string): never => {
  throw new ToolError(message, { code, ...(hint ? { hint } : {}) });
};

function steps(checks: string[], calls: SqlCall | readonly SqlCall[], verify: string[]): PlanStep[] {
  return [
    ...checks.map((what) => ({ phase: 'check' as const, what, where: WHERE })),
    ...[calls].flat().map((c) => ({ phase: 'act' as const, what: c.shown, where: WHERE })),
    ...verify.map((what) => ({ phase: 'verify' as const, what, where: WHERE })),
  ];
}

/** Shards and bytes per node, and how far the fullest node is over the mean (distributed tables only). */
async function spread(
  ctx: ToolContext,
): Promise<{ perNode: Record<string, unknown>; imbalancePercent: number | null }> {
  return withAdmin(ctx, async (client) => {
    const nodes = await readNodes(client, false);
    const shares = distributionByNode(
      await readPlacements(client, { schema: null, tableOid: null }),
      eligibleNodes(nodes),
    ).filter((s) => s.distributedPlacements > 0 || eligibleNodes(nodes).includes(s.node));
    const total = shares.reduce((n, s) => n + s.distributedBytes, 0);
    const mean = shares.length ? total / shares.length : 0;
    const max = Math.max(0, ...shares.map((s) => s.distributedBytes));
    return {
      perNode: Object.fromEntries(
        shares.map((s) => [s.node, { shards: s.distributedPlacements, size: bytesText(s.distributedBytes) }]),
      ),
      imbalancePercent: mean > 0 ? Math.round((1000 * (max - mean)) / mean) / 10 : null,
    };
  });
}

/** A node action's plan: the node found, the call, one read-back. */
function nodePlan(
  ctx: ToolContext,
  target: CitusNode,
  s: State,
  change: {
    summary: string;
    reasons: string[];
    checks: string[];
    /** A call made before `call`. */
    first?: SqlCall;
    call: SqlCall;
    verify: string;
    holds: (n: CitusNode | undefined) => boolean;
    notes?: string[];
  },
): ActionPlan {
  return {
    target: `node ${target.name}`,
    summary: change.summary,
    reasons: change.reasons,
    steps: steps(change.checks, change.first ? [change.first, change.call] : change.call, [change.verify]),
    before: { nodes: nodesView(s.nodes) },
    bind: { node: target.name, active: target.isActive, shards: target.shardPlacements },
    notes: change.notes ?? [],
    async run(runner) {
      if (change.first) await runCall(runner, ctx, change.first);
      await runCall(runner, ctx, change.call);
      const after = await readBackNode(runner, ctx, change.verify, target.name, change.holds);
      return { after: { nodes: nodesView(after) } };
    },
  };
}

async function readBackNode(
  runner: ActionRunner,
  ctx: ToolContext,
  check: string,
  node: string,
  holds: (n: CitusNode | undefined) => boolean,
): Promise<CitusNode[]> {
  let nodes: CitusNode[] = [];
  await runner.waitFor(
    check,
    async () => {
      nodes = (await state(ctx, true)).nodes;
      return holds(nodes.find((n) => n.name === node)) ? nodes : undefined;
    },
    () => {
      const n = nodes.find((x) => x.name === node);
      return n ? `active ${n.isActive}, shouldhaveshards ${n.shouldHaveShards}, ${n.shardPlacements} shards` : 'absent';
    },
    { timeoutMs: 20_000, intervalMs: 500 },
  );
  return nodes;
}

function worker(s: State, spec: string, action: string): CitusNode {
  const n = pickNode(s.nodes, spec);
  if (n.kind === 'coordinator') refuse(`${action} acts on workers; ${n.name} is the coordinator`, 'invalid_arguments');
  return n;
}

/** A table by name (SQL rules), with its Citus metadata. */
async function findTable(ctx: ToolContext, raw: string, action: string): Promise<TableFacts> {
  const [rel] = await new Catalog(ctx, ctx.pools.defaultDatabase).relations([raw], 'rp', action);
  const facts = rel ? await withAdmin(ctx, (c) => tableFacts(c, rel.qualified)) : null;
  if (!facts) return refuse(`no table named ${raw}`, 'object_not_found');
  return facts;
}

/** The row count when the table is small enough to count (by the planner's estimate), else null. */
async function countIfSmall(ctx: ToolContext, t: TableFacts): Promise<number | null> {
  return t.estimatedRows <= COUNT_LIMIT ? withAdmin(ctx, (c) => rowCount(c, t.qualified)) : null;
}

/** Checks a distribution column: it exists and its type can be hashed. Returns the pre-check line. */
async function checkColumn(ctx: ToolContext, t: TableFacts, column: string): Promise<string> {
  const col = await withAdmin(ctx, (c) => columnFacts(c, t.oid, column));
  if (!col) {
    const names = await withAdmin(ctx, (c) => columnNames(c, t.oid));
    refuse(
      `${t.qualified} has no column ${JSON.stringify(column)}`,
      'invalid_arguments',
      `its columns: ${names.join(', ')}`,
    );
  }
  const found = col as NonNullable<typeof col>;
  if (!found.hashable) {
    refuse(
      `column ${found.name} of ${t.qualified} is of type ${found.type}, which has no default hash operator class: Citus cannot distribute by it`,
      'invalid_arguments',
      'choose a column of a hashable type (integer, bigint, text, uuid, …)',
    );
  }
  return `column ${found.name} (${found.type}) exists and its type can be hashed`;
}

/** Checks colocate_with: none/default, or a hash-distributed table. Returns the pre-check line. */
async function checkColocate(ctx: ToolContext, raw: string, action: string): Promise<{ line: string; value: string }> {
  if (raw === 'none' || raw === 'default') return { line: `colocate_with ${raw}`, value: raw };
  const other = await findTable(ctx, raw, action);
  if (other.citus?.type !== 'distributed' || other.citus.method !== 'h') {
    refuse(`colocate_with: ${other.qualified} is not a hash-distributed table`, 'invalid_arguments');
  }
  return {
    line: `${other.qualified} is distributed by ${other.citus?.distributionColumn} (colocation ${other.citus?.colocationId})`,
    value: other.qualified,
  };
}

/** Reads the table's Citus metadata (and rows) back after a change. */
async function tableAfter(
  runner: ActionRunner,
  ctx: ToolContext,
  t: TableFacts,
  check: string,
  holds: (after: TableFacts) => boolean,
  rowsBefore: number | null,
): Promise<Record<string, unknown>> {
  let after: TableFacts | null = null;
  await runner.waitFor(
    check,
    async () => {
      after = await withAdmin(ctx, (c) => tableFacts(c, t.qualified));
      return after && holds(after) ? after : undefined;
    },
    () => JSON.stringify((after as TableFacts | null)?.citus ?? null),
    { timeoutMs: 10_000, intervalMs: 500 },
  );
  const out: Record<string, unknown> = { table: t.qualified, citus: (after as TableFacts | null)?.citus ?? null };
  if (rowsBefore !== null) {
    const rows = await withAdmin(ctx, (c) => rowCount(c, t.qualified));
    runner.check(`${t.qualified} has the same ${rowsBefore} rows`, rows === rowsBefore, `${rows} rows after`);
    out.rows = rows;
  }
  return out;
}

function tableView(t: TableFacts, rows: number | null): Record<string, unknown> {
  return {
    table: t.qualified,
    rows: rows ?? `about ${Math.max(0, Math.round(t.estimatedRows))} (estimate)`,
    citus: t.citus,
  };
}

/** Polls the placements left on a node, as progress text. */
const placementsLeft = (ctx: ToolContext, node: string) => async () => {
  const shards = await withAdmin(ctx, placementsByNode);
  return `${shards[node] ?? 0} shard placements left on ${node}`;
};

export const citusActions = defineComponent({
  component: 'citus',
  fields,
  unavailable: (ctx) =>
    citusEnabled(ctx.config, ctx.components ?? { citus: false })
      ? undefined
      : 'Citus is not detected in the default database: connect pgmcp to the Citus coordinator (or set PGMCP_CITUS_TOOLS=on)',
  actions: {
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
            planned: moves.map((m) => `${m.table} shard ${m.shardId}: ${m.from} → ${m.to}`),
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
            } else if (!over)
              notes.push(`job ${jobId} goes on in the background: pg_citus rebalance_status follows it`);
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
            [
              `no shard placement of a distributed table is left on ${n.name}`,
              `${n.name} has shouldhaveshards = false`,
            ],
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
            runner.check(
              `${n.name} has shouldhaveshards = false`,
              drained?.shouldHaveShards === false,
              undefined,
              true,
            );
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

    distribute_table: {
      description:
        'distributes `table` by `distribution_column` (colocate_with, shard_count) or, with reference: true, makes it a reference table',
      required: ['table'],
      optional: ['distribution_column', 'colocate_with', 'shard_count', 'reference'],
      async plan({ args, ctx }) {
        const t = await findTable(ctx, args.table as string, 'distribute_table');
        if (t.citus && t.citus.type !== 'local') {
          refuse(
            `${t.qualified} is already a ${t.citus.type} table`,
            'already_distributed',
            'alter_distributed_table changes it; undistribute_table makes it local',
          );
        }
        const checks = [`${t.qualified} exists and is not distributed`];
        let call: SqlCall;
        if (args.reference) {
          if (args.distribution_column || args.colocate_with || args.shard_count) {
            refuse('a reference table takes no distribution_column, colocate_with or shard_count', 'invalid_arguments');
          }
          call = citusCalls.referenceTable(t.qualified);
        } else {
          if (!args.distribution_column)
            return refuse('distribute_table needs distribution_column (or reference: true)', 'invalid_arguments');
          checks.push(await checkColumn(ctx, t, args.distribution_column));
          let colocate: string | undefined;
          if (args.colocate_with !== undefined) {
            if (args.shard_count !== undefined && !['none', 'default'].includes(args.colocate_with)) {
              refuse(
                'shard_count and colocate_with a table do not go together: the shards follow that table',
                'invalid_arguments',
              );
            }
            const c = await checkColocate(ctx, args.colocate_with, 'distribute_table');
            checks.push(c.line);
            colocate = c.value;
          }
          call = citusCalls.distributeTable(t.qualified, args.distribution_column, {
            colocateWith: colocate,
            shardCount: args.shard_count,
          });
        }
        const rows = await countIfSmall(ctx, t);
        const kind = args.reference ? 'reference' : 'distributed';
        return {
          target: t.qualified,
          summary: args.reference
            ? `make ${t.qualified} a reference table`
            : `distribute ${t.qualified} by ${args.distribution_column}`,
          reasons: [
            `copies its ${rows ?? `about ${Math.round(t.estimatedRows)}`} rows into ${args.reference ? 'a copy on every node' : 'shards on the workers'}; writes to it wait until the copy is done`,
          ],
          steps: steps(checks, call, [
            `${t.qualified} is a ${kind} table${args.shard_count ? ` with ${args.shard_count} shards` : ''} (pg_dist_partition)`,
            ...(rows !== null ? [`it has the same ${rows} rows`] : []),
          ]),
          before: tableView(t, rows),
          bind: { table: t.qualified, citus: t.citus?.type ?? null },
          async run(runner) {
            await runCall(runner, ctx, call);
            const after = await tableAfter(
              runner,
              ctx,
              t,
              `${t.qualified} is a ${kind} table`,
              (a) =>
                a.citus?.type === kind &&
                (args.reference || a.citus.distributionColumn === args.distribution_column) &&
                (args.shard_count === undefined || a.citus.shardCount === args.shard_count),
              rows,
            );
            return { after };
          },
        };
      },
    },

    undistribute_table: {
      description: 'turns distributed or reference `table` back into a plain table on the coordinator',
      required: ['table'],
      async plan({ args, ctx }) {
        const t = await findTable(ctx, args.table as string, 'undistribute_table');
        if (!t.citus) return refuse(`${t.qualified} is not a Citus table`);
        const rows = await countIfSmall(ctx, t);
        const call = citusCalls.undistributeTable(t.qualified);
        return {
          target: t.qualified,
          summary: `undistribute ${t.qualified} (${t.citus.type}, ${t.citus.shardCount} shards)`,
          reasons: [
            `copies its ${rows ?? `about ${Math.round(t.estimatedRows)}`} rows back into one table on the coordinator; writes wait meanwhile`,
          ],
          steps: steps([`${t.qualified} is a ${t.citus.type} table`], call, [
            `${t.qualified} is no Citus table any more (pg_dist_partition)`,
            ...(rows !== null ? [`it has the same ${rows} rows`] : []),
          ]),
          before: tableView(t, rows),
          bind: { table: t.qualified, citus: t.citus.type },
          async run(runner) {
            await runCall(runner, ctx, call);
            return {
              after: await tableAfter(
                runner,
                ctx,
                t,
                `${t.qualified} is no Citus table`,
                (a) => a.citus === null,
                rows,
              ),
            };
          },
        };
      },
    },

    alter_distributed_table: {
      description:
        'changes the distribution column, shard_count or colocation of distributed `table` (cascade_to_colocated)',
      required: ['table'],
      optional: ['distribution_column', 'shard_count', 'colocate_with', 'cascade_to_colocated'],
      async plan({ args, ctx }) {
        const t = await findTable(ctx, args.table as string, 'alter_distributed_table');
        const d = t.citus;
        if (d?.type !== 'distributed' || d.method !== 'h') {
          return refuse(
            `${t.qualified} is not a hash-distributed table`,
            'invalid_arguments',
            'distribute_table distributes it',
          );
        }
        const column =
          args.distribution_column !== undefined && args.distribution_column !== d.distributionColumn
            ? args.distribution_column
            : undefined;
        const shardCount =
          args.shard_count !== undefined && args.shard_count !== d.shardCount ? args.shard_count : undefined;
        if (column === undefined && shardCount === undefined && args.colocate_with === undefined) {
          refuse(`${t.qualified} is already distributed by ${d.distributionColumn} with ${d.shardCount} shards`);
        }
        const checks = [
          `${t.qualified} is distributed by ${d.distributionColumn} with ${d.shardCount} shards (colocation ${d.colocationId})`,
        ];
        if (column !== undefined) checks.push(await checkColumn(ctx, t, column));
        let colocate: string | undefined;
        if (args.colocate_with !== undefined) {
          const c = await checkColocate(ctx, args.colocate_with, 'alter_distributed_table');
          checks.push(c.line);
          colocate = c.value;
        }
        const call = citusCalls.alterDistributedTable(t.qualified, {
          column,
          shardCount,
          colocateWith: colocate,
          cascade: args.cascade_to_colocated,
        });
        const rows = await countIfSmall(ctx, t);
        const changes = [
          column && `distribution column ${d.distributionColumn} → ${column}`,
          shardCount && `shards ${d.shardCount} → ${shardCount}`,
          colocate && `colocate with ${colocate}`,
        ].filter(Boolean);
        return {
          target: t.qualified,
          summary: `alter ${t.qualified}: ${changes.join(', ')}`,
          reasons: [
            `rewrites the table into new shards (${rows ?? `about ${Math.round(t.estimatedRows)}`} rows); writes wait meanwhile`,
          ],
          steps: steps(checks, call, [
            `${t.qualified}: ${changes.join(', ')} (pg_dist_partition)`,
            ...(rows !== null ? [`it has the same ${rows} rows`] : []),
          ]),
          before: tableView(t, rows),
          bind: { table: t.qualified, column: d.distributionColumn, shards: d.shardCount, colocation: d.colocationId },
          async run(runner) {
            await runCall(runner, ctx, call);
            const after = await tableAfter(
              runner,
              ctx,
              t,
              `${t.qualified}: ${changes.join(', ')}`,
              (a) =>
                (column === undefined || a.citus?.distributionColumn === column) &&
                (shardCount === undefined || a.citus?.shardCount === shardCount) &&
                (colocate === undefined || a.citus?.colocationId !== d.colocationId || colocate === 'default'),
              rows,
            );
            return { after };
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
  },
});

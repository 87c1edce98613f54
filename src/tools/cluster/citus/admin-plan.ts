/** What pg_cluster_admin's Citus actions share: the cluster state they start from, plan steps, refusals, read-backs. */
import { type CitusNode, citusInfo, readNodes, readPlacements } from '../../../cluster/citus.js';
import { type SqlCall, type TransferMode, transferMode } from '../../../cluster/citus-calls.js';
import { placementsByNode } from '../../../cluster/citus-checks.js';
import { distributionByNode } from '../../../cluster/citus-skew.js';
import type { ToolContext } from '../../context.js';
import { ToolError } from '../../errors.js';
import type { ActionPlan, PlanStep } from '../admin/action.js';
import type { ActionRunner } from '../admin/runner.js';
import { eligibleNodes } from '../citus.js';
import { bytesText } from '../clients.js';
import { runCall, withAdmin } from './admin-run.js';
import { pickNode } from './nodes.js';

const WHERE = 'Citus coordinator';

export interface State {
  walLevel: string;
  nodes: CitusNode[];
}

export async function state(ctx: ToolContext, probe = false): Promise<State> {
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
export function nodesView(nodes: readonly CitusNode[], shards?: Record<string, number>): Record<string, unknown> {
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

export function chooseMode(asked: TransferMode | undefined, walLevel: string): { mode: TransferMode; why: string } {
  const chosen = transferMode(asked, walLevel);
  if ('error' in chosen) throw new ToolError(chosen.error, { code: 'invalid_arguments' });
  return chosen;
}

/** `1 shard`, `3 shards`. */
export const count = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;
export const shardList = (ids: readonly number[]) =>
  ids.length === 1 ? `shard ${ids[0]} is` : `shards ${ids.join(', ')} are`;

export const refuse = (message: string, code = 'nothing_to_do', hint?: string): never => {
  throw new ToolError(message, { code, ...(hint ? { hint } : {}) });
};

export function steps(checks: string[], calls: SqlCall | readonly SqlCall[], verify: string[]): PlanStep[] {
  return [
    ...checks.map((what) => ({ phase: 'check' as const, what, where: WHERE })),
    ...[calls].flat().map((c) => ({ phase: 'act' as const, what: c.shown, where: WHERE })),
    ...verify.map((what) => ({ phase: 'verify' as const, what, where: WHERE })),
  ];
}

/** Shards and bytes per node, and how far the fullest node is over the mean (distributed tables only). */
export async function spread(
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
export function nodePlan(
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

export async function readBackNode(
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

export function worker(s: State, spec: string, action: string): CitusNode {
  const n = pickNode(s.nodes, spec);
  if (n.kind === 'coordinator') refuse(`${action} acts on workers; ${n.name} is the coordinator`, 'invalid_arguments');
  return n;
}

/** Polls the placements left on a node, as progress text. */
export const placementsLeft = (ctx: ToolContext, node: string) => async () => {
  const shards = await withAdmin(ctx, placementsByNode);
  return `${shards[node] ?? 0} shard placements left on ${node}`;
};

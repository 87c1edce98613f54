/**
 * Pure arithmetic over what the Citus catalog reports (unit-tested with captured rows): shards and bytes per node,
 * skew per distributed table, the node health matrix and a summary of a rebalance plan.
 *
 * Skew, per distributed table with at least two shards and at least `minTableBytes` in all:
 * - shard ratio = largest shard / mean shard size. At or above `shardRatio` one shard holds far more than its share:
 *   one distribution key value (a hot tenant) or an uneven key. Moving shards cannot split a shard.
 * - node imbalance = (bytes on the fullest node − mean bytes per node) / mean, in percent, over the nodes that hold
 *   its shards or may hold them (active workers with shouldhaveshards). At or above `nodeImbalancePercent` the fullest
 *   node is "hot"; a rebalance by disk size evens it out (as far as whole shards allow).
 */
import type { CitusTableType, HealthEdge, PlannedMove, ShardPlacement } from './citus.js';

export interface SkewThresholds {
  /** Largest shard / mean shard at or above which a table is skewed. */
  shardRatio: number;
  /** Fullest node's excess over the mean, in percent, at or above which a table is skewed. */
  nodeImbalancePercent: number;
  /** Tables smaller than this (all shards together) are never called skewed: their skew does not matter. */
  minTableBytes: number;
}

export const SKEW_DEFAULTS: SkewThresholds = {
  shardRatio: 2,
  nodeImbalancePercent: 20,
  minTableBytes: 10 * 1024 * 1024,
};

const round = (n: number, digits = 2): number => Math.round(n * 10 ** digits) / 10 ** digits;

export interface NodeShare {
  node: string;
  /** Placements on the node (reference replicas included). */
  placements: number;
  /** Placements of distributed (and schema) tables. */
  distributedPlacements: number;
  bytes: number;
  distributedBytes: number;
  referenceBytes: number;
  /** This node's share of all distributed bytes, in percent. */
  distributedPercent: number | null;
}

const DISTRIBUTED: ReadonlySet<CitusTableType> = new Set(['distributed', 'schema']);

/** Shards and bytes per node; `nodes` lists nodes to show even when they hold nothing. */
export function distributionByNode(placements: readonly ShardPlacement[], nodes: readonly string[]): NodeShare[] {
  const out = new Map<string, NodeShare>();
  const of = (node: string): NodeShare => {
    let s = out.get(node);
    if (!s) {
      s = {
        node,
        placements: 0,
        distributedPlacements: 0,
        bytes: 0,
        distributedBytes: 0,
        referenceBytes: 0,
        distributedPercent: null,
      };
      out.set(node, s);
    }
    return s;
  };
  for (const n of nodes) of(n);
  for (const p of placements) {
    const s = of(p.node);
    const bytes = p.bytes ?? 0;
    s.placements++;
    s.bytes += bytes;
    if (DISTRIBUTED.has(p.type)) {
      s.distributedPlacements++;
      s.distributedBytes += bytes;
    } else if (p.type === 'reference') s.referenceBytes += bytes;
  }
  const total = [...out.values()].reduce((n, s) => n + s.distributedBytes, 0);
  for (const s of out.values()) s.distributedPercent = total > 0 ? round((100 * s.distributedBytes) / total, 1) : null;
  return [...out.values()];
}

export interface TableOnNode {
  table: string;
  type: CitusTableType;
  node: string;
  placements: number;
  bytes: number;
}

/** Placements and bytes per table and node. */
export function distributionByTable(placements: readonly ShardPlacement[]): TableOnNode[] {
  const out = new Map<string, TableOnNode>();
  for (const p of placements) {
    const key = `${p.table}\u0000${p.node}`;
    const row = out.get(key) ?? { table: p.table, type: p.type, node: p.node, placements: 0, bytes: 0 };
    row.placements++;
    row.bytes += p.bytes ?? 0;
    out.set(key, row);
  }
  return [...out.values()];
}

export interface TableSkew {
  table: string;
  shards: number;
  bytes: number;
  shardBytes: { max: number; min: number; avg: number };
  largestShard: { shardId: number; bytes: number; node: string; percentOfTable: number | null };
  /** Largest shard / mean shard; null for an empty table. */
  shardRatio: number | null;
  /** Bytes and shards per node, fullest first. */
  nodes: { node: string; shards: number; bytes: number }[];
  hotNode: string | null;
  /** The fullest node's excess over the mean per node, in percent; null for an empty table. */
  nodeImbalancePercent: number | null;
  /** Shards whose size Citus could not measure (their node did not answer); counted as 0 bytes. */
  unmeasured: number;
  skewed: boolean;
  /** Why it counts as skewed (empty when it does not). */
  reasons: string[];
  /** What to do about it, when skewed. */
  advice: string | null;
}

/**
 * Skew of each distributed table in `placements` (reference and local tables left out). `eligible` are the nodes
 * that may hold shards (active workers with shouldhaveshards): an empty one pulls the mean down, as it should.
 */
export function skewOf(
  placements: readonly ShardPlacement[],
  eligible: readonly string[],
  thresholds: SkewThresholds = SKEW_DEFAULTS,
): TableSkew[] {
  const byTable = new Map<string, ShardPlacement[]>();
  for (const p of placements) {
    if (p.type !== 'distributed') continue;
    byTable.set(p.table, [...(byTable.get(p.table) ?? []), p]);
  }
  const out: TableSkew[] = [];
  for (const [table, rows] of byTable) {
    const shardIds = new Set(rows.map((r) => r.shardId));
    if (shardIds.size < 2) continue;
    const sizes = rows.map((r) => r.bytes ?? 0);
    const bytes = sizes.reduce((a, b) => a + b, 0);
    const largest = rows.reduce((a, b) => ((b.bytes ?? 0) > (a.bytes ?? 0) ? b : a));
    const max = Math.max(...sizes);
    const min = Math.min(...sizes);
    const avg = bytes / rows.length;
    const perNode = new Map<string, { node: string; shards: number; bytes: number }>();
    for (const n of eligible) perNode.set(n, { node: n, shards: 0, bytes: 0 });
    for (const r of rows) {
      const n = perNode.get(r.node) ?? { node: r.node, shards: 0, bytes: 0 };
      n.shards++;
      n.bytes += r.bytes ?? 0;
      perNode.set(r.node, n);
    }
    const nodes = [...perNode.values()].sort((a, b) => b.bytes - a.bytes || a.node.localeCompare(b.node));
    const meanNode = bytes / nodes.length;
    const hot = nodes[0];
    const shardRatio = avg > 0 ? round(max / avg) : null;
    const imbalance = meanNode > 0 && hot ? round((100 * (hot.bytes - meanNode)) / meanNode, 1) : null;
    const reasons: string[] = [];
    const advice: string[] = [];
    const big = bytes >= thresholds.minTableBytes;
    const percent = bytes > 0 ? round((100 * (largest.bytes ?? 0)) / bytes, 1) : null;
    if (big && shardRatio !== null && shardRatio >= thresholds.shardRatio) {
      reasons.push(
        `shard ${largest.shardId} on ${largest.node} holds ${percent}% of the table: ${shardRatio}× the mean shard (threshold ${thresholds.shardRatio}×)`,
      );
      advice.push(
        'one distribution key value (a hot tenant) or an uneven key fills that shard; moving shards cannot split it: ' +
          'isolate the tenant (isolate_tenant_to_new_shard) or choose a distribution column with more even values',
      );
    }
    if (big && hot && imbalance !== null && imbalance >= thresholds.nodeImbalancePercent) {
      reasons.push(
        `${hot.node} holds ${imbalance}% more of it than the mean per node (threshold ${thresholds.nodeImbalancePercent}%)`,
      );
      advice.push(
        (largest.bytes ?? 0) >= meanNode
          ? `moving shards cannot even the nodes out while shard ${largest.shardId} alone is more than a node's share`
          : 'see the moves with pg_citus rebalance_plan (strategy by_disk_size), then run them with pg_cluster_admin rebalance_start',
      );
    }
    out.push({
      table,
      shards: shardIds.size,
      bytes,
      shardBytes: { max, min, avg: Math.round(avg) },
      largestShard: {
        shardId: largest.shardId,
        bytes: largest.bytes ?? 0,
        node: largest.node,
        percentOfTable: percent,
      },
      shardRatio,
      nodes,
      hotNode: imbalance !== null && imbalance > 0 && hot ? hot.node : null,
      nodeImbalancePercent: imbalance,
      unmeasured: rows.filter((r) => r.bytes === null).length,
      skewed: reasons.length > 0,
      reasons,
      advice: advice.length ? advice.join('; ') : null,
    });
  }
  return out.sort((a, b) => Number(b.skewed) - Number(a.skewed) || b.bytes - a.bytes || a.table.localeCompare(b.table));
}

export interface HealthMatrix {
  /** Every node seen, in order. */
  nodes: string[];
  /** ok[from][to]: true connected, false failed, null unknown. */
  ok: Record<string, Record<string, boolean | null>>;
  /** Connections that failed. */
  failures: { from: string; to: string }[];
  /** Nodes that could not be asked at all (every check from them is unknown). */
  unknown: string[];
}

/** citus_check_cluster_node_health() rows as a from × to matrix. */
export function healthMatrix(edges: readonly HealthEdge[]): HealthMatrix {
  const nodes: string[] = [];
  const see = (n: string) => {
    if (!nodes.includes(n)) nodes.push(n);
  };
  const ok: HealthMatrix['ok'] = {};
  for (const e of edges) {
    see(e.from);
    see(e.to);
    ok[e.from] = { ...(ok[e.from] ?? {}), [e.to]: e.ok };
  }
  const failures = edges.filter((e) => e.ok === false).map((e) => ({ from: e.from, to: e.to }));
  const unknown = nodes.filter((n) => {
    const row = Object.values(ok[n] ?? {});
    return row.length > 0 && row.every((v) => v === null);
  });
  return { nodes, ok, failures, unknown };
}

export interface PlanSummary {
  moves: number;
  bytes: number;
  /** Per source → target pair. */
  paths: { from: string; to: string; moves: number; bytes: number }[];
  /** Per node: bytes it would gain (positive) or give away (negative). */
  net: { node: string; bytes: number }[];
}

export function planSummary(moves: readonly PlannedMove[]): PlanSummary {
  const paths = new Map<string, PlanSummary['paths'][number]>();
  const net = new Map<string, number>();
  for (const m of moves) {
    const key = `${m.from}\u0000${m.to}`;
    const p = paths.get(key) ?? { from: m.from, to: m.to, moves: 0, bytes: 0 };
    p.moves++;
    p.bytes += m.bytes;
    paths.set(key, p);
    net.set(m.from, (net.get(m.from) ?? 0) - m.bytes);
    net.set(m.to, (net.get(m.to) ?? 0) + m.bytes);
  }
  return {
    moves: moves.length,
    bytes: moves.reduce((n, m) => n + m.bytes, 0),
    paths: [...paths.values()],
    net: [...net.entries()].map(([node, bytes]) => ({ node, bytes })).sort((a, b) => a.bytes - b.bytes),
  };
}

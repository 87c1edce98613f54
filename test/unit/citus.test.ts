/**
 * The pure parts of pg_citus and pg_cluster's Citus section, on rows captured from a Citus 13.2 coordinator with two
 * workers (test/fixtures/citus): row mapping, shards per node, skew, the node health matrix, plan summaries, node
 * names, and the problems pg_cluster finds.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  type CitusNode,
  edgeFromRow,
  jobFromRow,
  nodeFromRow,
  type PlannedMove,
  placementFromRow,
} from '../../src/cluster/citus.js';
import {
  distributionByNode,
  distributionByTable,
  healthMatrix,
  planSummary,
  skewOf,
} from '../../src/cluster/citus-skew.js';
import { assessCitus, type CitusFacts } from '../../src/tools/cluster/citus/assess.js';
import { pickNode } from '../../src/tools/cluster/citus/nodes.js';
import { eligibleNodes } from '../../src/tools/cluster/citus.js';
import { assess, verdictOf } from '../../src/tools/cluster/overview.js';
import { ToolError } from '../../src/tools/errors.js';

const rows = (name: string) =>
  JSON.parse(readFileSync(new URL(`../fixtures/citus/${name}.json`, import.meta.url), 'utf8')) as Record<
    string,
    unknown
  >[];

const nodes = rows('nodes').map(nodeFromRow);
const placements = rows('shards-skewed').map(placementFromRow);
const W1 = '127.0.0.1:9701';
const W2 = '127.0.0.1:9702';
const COORD = '127.0.0.1:9700';

describe('Citus rows', () => {
  it('maps pg_dist_node: the coordinator is group 0, counts are numbers', () => {
    expect(nodes.map((n) => [n.name, n.kind, n.shouldHaveShards, n.placements, n.shardPlacements])).toEqual([
      [COORD, 'coordinator', false, 1, 0],
      [W1, 'worker', true, 5, 4],
      [W2, 'worker', true, 5, 4],
    ]);
    expect(eligibleNodes(nodes)).toEqual([W1, W2]);
    const stopped = rows('nodes-worker-stopped').map(nodeFromRow);
    expect(stopped.map((n) => n.reachable)).toEqual([true, true, false]);
    expect(stopped.every((n) => n.isActive)).toBe(true);
  });

  it('maps citus_shards: bigint sizes become numbers, one row per placement', () => {
    expect(placements).toHaveLength(11);
    expect(placements.filter((p) => p.type === 'reference').map((p) => p.node)).toEqual([COORD, W1, W2]);
    expect(placements.find((p) => p.shardId === 102008)).toMatchObject({ node: W1, bytes: 12419072 });
  });

  it('maps citus_rebalance_status: task counts from the details', () => {
    const scheduled = jobFromRow(rows('rebalance-status-scheduled')[0] as Record<string, unknown>);
    expect(scheduled).toMatchObject({ jobId: 1, state: 'scheduled', tasks: { blocked: 3, runnable: 1 }, running: [] });
    const finished = jobFromRow(rows('rebalance-status-finished')[0] as Record<string, unknown>);
    expect(finished).toMatchObject({ state: 'finished', tasks: { done: 4 }, finishedAt: '2026-11-21T12:04:02.846Z' });
  });
});

describe('shards per node', () => {
  it('counts placements and bytes, distributed and reference apart; shares add up to 100%', () => {
    const byNode = distributionByNode(placements, [COORD, W1, W2]);
    expect(byNode.map((n) => [n.node, n.placements, n.distributedPlacements, n.referenceBytes])).toEqual([
      [COORD, 1, 0, 32768],
      [W1, 5, 4, 32768],
      [W2, 5, 4, 32768],
    ]);
    const w1 = byNode.find((n) => n.node === W1);
    expect(w1?.distributedBytes).toBe(12419072 + 81920 + 65536 + 90112);
    expect(byNode.reduce((a, n) => a + (n.distributedPercent ?? 0), 0)).toBeCloseTo(100, 0);
  });

  it('shows a node that holds nothing', () => {
    expect(distributionByNode([], ['x:1'])).toEqual([
      {
        node: 'x:1',
        placements: 0,
        distributedPlacements: 0,
        bytes: 0,
        distributedBytes: 0,
        referenceBytes: 0,
        distributedPercent: null,
      },
    ]);
  });

  it('per table and node', () => {
    const t = distributionByTable(placements).filter((r) => r.table === 'explore.events');
    expect(t.map((r) => [r.node, r.placements])).toEqual([
      [W1, 4],
      [W2, 4],
    ]);
  });
});

describe('skew', () => {
  it('finds the hot tenant: one shard holds most of the table, its node far over the mean', () => {
    const [events, ...rest] = skewOf(placements, [W1, W2]);
    expect(rest).toEqual([]); // the reference table is not measured for skew
    expect(events?.table).toBe('explore.events');
    expect(events?.skewed).toBe(true);
    expect(events?.shards).toBe(8);
    expect(events?.largestShard).toMatchObject({ shardId: 102008, node: W1 });
    expect(events?.largestShard.percentOfTable).toBeGreaterThan(90);
    expect(events?.shardRatio).toBeGreaterThan(7);
    expect(events?.hotNode).toBe(W1);
    expect(events?.nodeImbalancePercent).toBeGreaterThan(90);
    expect(events?.reasons).toHaveLength(2);
    expect(events?.advice).toContain('isolate_tenant_to_new_shard');
    // one shard bigger than a node's share: moving shards cannot fix it, and the advice says so
    expect(events?.advice).toContain('cannot even the nodes out');
  });

  it('thresholds decide: a table under the minimum size is never skewed, high thresholds pass it', () => {
    expect(
      skewOf(placements, [W1, W2], { shardRatio: 2, nodeImbalancePercent: 20, minTableBytes: 1e9 })[0]?.skewed,
    ).toBe(false);
    const lax = skewOf(placements, [W1, W2], { shardRatio: 100, nodeImbalancePercent: 1000, minTableBytes: 0 })[0];
    expect(lax?.skewed).toBe(false);
    expect(lax?.reasons).toEqual([]);
  });

  it('an empty eligible worker pulls the mean down; uneven shard counts call for a rebalance', () => {
    const even = [1, 2, 3, 4].map((i) => ({
      table: 't',
      shardId: i,
      type: 'distributed' as const,
      colocationId: 1,
      node: W1,
      bytes: 4_000_000,
    }));
    const [t] = skewOf(even, [W1, W2]);
    expect(t?.shardRatio).toBe(1);
    expect(t?.nodes).toEqual([
      { node: W1, shards: 4, bytes: 16_000_000 },
      { node: W2, shards: 0, bytes: 0 },
    ]);
    expect(t?.nodeImbalancePercent).toBe(100);
    expect(t?.reasons).toHaveLength(1);
    expect(t?.advice).toContain('rebalance_plan');
  });

  it('counts unmeasured shards', () => {
    const p = placements.map((x) => (x.shardId === 102009 ? { ...x, bytes: null } : x));
    expect(skewOf(p, [W1, W2])[0]?.unmeasured).toBe(1);
  });
});

describe('node health matrix', () => {
  it('all good', () => {
    const m = healthMatrix(rows('node-health').map(edgeFromRow));
    expect(m.nodes).toEqual([COORD, W1, W2]);
    expect(m.failures).toEqual([]);
    expect(m.unknown).toEqual([]);
    expect(m.ok[COORD]?.[W2]).toBe(true);
  });

  it('a stopped worker: nobody reaches it and it cannot be asked', () => {
    const m = healthMatrix(rows('node-health-worker-stopped').map(edgeFromRow));
    expect(m.failures).toEqual([
      { from: COORD, to: W2 },
      { from: W1, to: W2 },
    ]);
    expect(m.unknown).toEqual([W2]);
    expect(m.ok[W2]?.[COORD]).toBeNull();
  });
});

describe('rebalance plan summary', () => {
  it('moves per path and what each node gains or gives', () => {
    const moves: PlannedMove[] = [
      { table: 't', shardId: 1, bytes: 100, from: W1, to: W2 },
      { table: 't', shardId: 2, bytes: 50, from: W1, to: W2 },
      { table: 'u', shardId: 3, bytes: 10, from: W2, to: COORD },
    ];
    expect(planSummary(moves)).toEqual({
      moves: 3,
      bytes: 160,
      paths: [
        { from: W1, to: W2, moves: 2, bytes: 150 },
        { from: W2, to: COORD, moves: 1, bytes: 10 },
      ],
      net: [
        { node: W1, bytes: -150 },
        { node: COORD, bytes: 10 },
        { node: W2, bytes: 140 },
      ],
    });
    expect(planSummary([])).toEqual({ moves: 0, bytes: 0, paths: [], net: [] });
  });
});

describe('naming a node', () => {
  it('by host:port, by id, by a host only one node has', () => {
    expect(pickNode(nodes, W2).id).toBe(3);
    expect(pickNode(nodes, '2').name).toBe(W1);
    const other: CitusNode = { ...(nodes[1] as CitusNode), id: 9, host: 'db9', name: 'db9:5432', port: 5432 };
    expect(pickNode([...nodes, other], 'db9').id).toBe(9);
  });

  it('refuses an ambiguous host and an unknown node, listing the nodes', () => {
    expect(() => pickNode(nodes, '127.0.0.1')).toThrow(/3 nodes run on host 127.0.0.1/);
    try {
      pickNode(nodes, 'nowhere:1');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ToolError);
      expect((err as ToolError).info).toMatchObject({ code: 'node_not_found' });
      expect((err as ToolError).info.hint).toContain('127.0.0.1:9702 (id 3)');
    }
  });
});

describe("pg_cluster's Citus section", () => {
  const healthy: CitusFacts = {
    version: '13.2-1',
    nodes,
    health: healthMatrix(rows('node-health').map(edgeFromRow)),
    skew: [],
    rebalance: null,
  };

  it('a healthy cluster has no problems; no Citus, no section', () => {
    expect(assessCitus(healthy)).toEqual([]);
    expect(assessCitus(null)).toEqual([]);
  });

  it('a worker the coordinator cannot reach is critical (once), and the verdict is critical', () => {
    const facts: CitusFacts = {
      ...healthy,
      nodes: rows('nodes-worker-stopped').map(nodeFromRow),
      health: healthMatrix(rows('node-health-worker-stopped').map(edgeFromRow)),
    };
    const problems = assessCitus(facts);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ severity: 'critical', component: 'citus', subject: W2 });
    expect(problems[0]?.problem).toContain('4 shard placements');
    const { problems: all } = assess(null, null, null, facts);
    expect(verdictOf(all)).toBe('critical');
  });

  it('a failure between two workers is a warning', () => {
    const facts: CitusFacts = {
      ...healthy,
      health: healthMatrix(
        rows('node-health').map((r) =>
          edgeFromRow(r.from_nodeport === 9701 && r.to_nodeport === 9702 ? { ...r, result: false } : r),
        ),
      ),
    };
    expect(assessCitus(facts)).toEqual([expect.objectContaining({ severity: 'warning', subject: `${W1} → ${W2}` })]);
  });

  it('a disabled node and shards on a node that should hold none are warnings', () => {
    const facts: CitusFacts = {
      ...healthy,
      nodes: nodes.map((n) =>
        n.name === W1 ? { ...n, isActive: false } : n.name === W2 ? { ...n, shouldHaveShards: false } : n,
      ),
    };
    const problems = assessCitus(facts);
    expect(problems.map((p) => [p.severity, p.subject])).toEqual([
      ['warning', W1],
      ['warning', W2],
    ]);
    expect(problems[0]?.action).toContain('activate_node');
    expect(problems[1]?.action).toContain('drain_node');
  });

  it('skew is a warning with what to do; a running rebalance is info, a failed one a warning', () => {
    const skewed: CitusFacts = { ...healthy, skew: skewOf(placements, [W1, W2]) };
    expect(assessCitus(skewed)).toEqual([expect.objectContaining({ severity: 'warning', subject: 'explore.events' })]);
    const scheduled = jobFromRow(rows('rebalance-status-scheduled')[0] as Record<string, unknown>);
    const [running] = assessCitus({ ...healthy, rebalance: scheduled });
    expect(running).toMatchObject({ severity: 'info', subject: 'rebalance job 1' });
    expect(running?.problem).toContain('0 of 4 tasks done');
    const finished = jobFromRow(rows('rebalance-status-finished')[0] as Record<string, unknown>);
    expect(assessCitus({ ...healthy, rebalance: finished })).toEqual([]);
    expect(assessCitus({ ...healthy, rebalance: { ...finished, state: 'failed' } })[0]?.severity).toBe('warning');
    expect(verdictOf(assess(null, null, null, { ...healthy, rebalance: scheduled }).problems)).toBe('healthy');
  });

  it('an unreadable catalog is critical', () => {
    expect(assessCitus(new Error('connection refused'))).toEqual([
      expect.objectContaining({ severity: 'critical', component: 'citus', subject: 'coordinator' }),
    ]);
  });
});

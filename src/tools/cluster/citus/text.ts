/** The compact markdown pg_citus answers with, per action (the same data as the structured result). */
import type { CitusNode, CitusTable, PlannedMove, RebalanceJob } from '../../../cluster/citus.js';
import type { CitusStatement, DistributedQuery, LockWait, WaitingLock } from '../../../cluster/citus-sessions.js';
import type {
  HealthMatrix,
  NodeShare,
  PlanSummary,
  SkewThresholds,
  TableOnNode,
  TableSkew,
} from '../../../cluster/citus-skew.js';
import { markdownTable } from '../../../format/markdown.js';
import { durationText } from '../../monitor/format.js';
import { bytesText } from '../clients.js';

const yes = (v: boolean | null) => (v === null ? '?' : v ? 'yes' : 'NO');
const secs = (s: number | null) => (s === null ? '' : durationText(s));

export function nodesText(nodes: readonly CitusNode[]): string[] {
  return [
    markdownTable(
      [
        'id',
        'group',
        'node',
        'kind',
        'role',
        'isactive',
        'shouldhaveshards',
        'metadata synced',
        'placements',
        'distributed shards',
        'reachable',
      ],
      nodes.map((n) => [
        n.id,
        n.group,
        n.name,
        n.kind,
        n.role,
        yes(n.isActive),
        yes(n.shouldHaveShards),
        yes(n.metadataSynced),
        n.placements,
        n.shardPlacements,
        yes(n.reachable),
      ]),
    ),
  ];
}

export function healthText(m: HealthMatrix): string[] {
  const cell = (v: boolean | null | undefined) => (v === true ? 'ok' : v === false ? 'FAIL' : '?');
  const lines = [
    markdownTable(
      ['from ↓ to →', ...m.nodes],
      m.nodes.map((from) => [from, ...m.nodes.map((to) => cell(m.ok[from]?.[to]))]),
    ),
  ];
  if (m.failures.length === 0 && m.unknown.length === 0) lines.push('every node reaches every node');
  for (const f of m.failures) lines.push(`${f.from} cannot connect to ${f.to}`);
  for (const n of m.unknown) lines.push(`${n} could not be asked: it is down or unreachable from the coordinator`);
  return lines;
}

export function tablesText(tables: readonly CitusTable[]): string[] {
  if (tables.length === 0) return ['no Citus tables'];
  return [
    markdownTable(
      ['table', 'type', 'distribution column', 'colocation', 'shards', 'size', 'owner', 'access method'],
      tables.map((t) => [
        t.name,
        t.type,
        t.distributionColumn,
        t.colocationId,
        t.shardCount,
        bytesText(t.bytes),
        t.owner,
        t.accessMethod,
      ]),
    ),
  ];
}

export function distributionText(nodes: readonly NodeShare[], tables?: readonly TableOnNode[]): string[] {
  const lines = [
    markdownTable(
      ['node', 'placements', 'distributed shards', 'distributed size', 'share', 'reference size', 'total size'],
      nodes.map((n) => [
        n.node,
        n.placements,
        n.distributedPlacements,
        bytesText(n.distributedBytes),
        n.distributedPercent === null ? '' : `${n.distributedPercent}%`,
        bytesText(n.referenceBytes),
        bytesText(n.bytes),
      ]),
    ),
  ];
  if (tables) {
    lines.push(
      tables.length === 0
        ? 'no placements'
        : markdownTable(
            ['table', 'type', 'node', 'placements', 'size'],
            tables.map((t) => [t.table, t.type, t.node, t.placements, bytesText(t.bytes)]),
          ),
    );
  }
  return lines;
}

export function skewText(tables: readonly TableSkew[], t: SkewThresholds): string[] {
  const lines = [
    `thresholds: largest shard ≥ ${t.shardRatio}× the mean shard, or fullest node ≥ ${t.nodeImbalancePercent}% over the mean per node; tables under ${bytesText(t.minTableBytes)} never count`,
  ];
  if (tables.length === 0) return [...lines, 'no distributed tables with two or more shards'];
  lines.push(
    markdownTable(
      ['table', 'shards', 'size', 'max shard', 'min shard', 'mean shard', 'ratio', 'hot node', 'imbalance', 'verdict'],
      tables.map((s) => [
        s.table,
        s.shards,
        bytesText(s.bytes),
        bytesText(s.shardBytes.max),
        bytesText(s.shardBytes.min),
        bytesText(s.shardBytes.avg),
        s.shardRatio === null ? '' : `${s.shardRatio}×`,
        s.hotNode ?? '',
        s.nodeImbalancePercent === null ? '' : `${s.nodeImbalancePercent}%`,
        s.skewed ? 'SKEWED' : 'ok',
      ]),
    ),
  );
  for (const s of tables.filter((x) => x.skewed)) {
    lines.push(`${s.table}: ${s.reasons.join('; ')} → ${s.advice}`);
    lines.push(`  per node: ${s.nodes.map((n) => `${n.node} ${bytesText(n.bytes)} (${n.shards} shards)`).join(', ')}`);
  }
  return lines;
}

export function planText(strategy: string, moves: readonly PlannedMove[], summary: PlanSummary): string[] {
  if (summary.moves === 0) return [`strategy ${strategy}: nothing to move, the cluster is balanced for it`];
  return [
    `strategy ${strategy}: ${summary.moves} shard move${summary.moves === 1 ? '' : 's'}, ${bytesText(summary.bytes)} to copy`,
    markdownTable(
      ['from', 'to', 'moves', 'size'],
      summary.paths.map((p) => [p.from, p.to, p.moves, bytesText(p.bytes)]),
    ),
    markdownTable(
      ['table', 'shard', 'size', 'from', 'to'],
      moves.map((m) => [m.table, m.shardId, bytesText(m.bytes), m.from, m.to]),
    ),
    'nothing moved: pg_cluster_admin rebalance_start runs it',
  ];
}

export function jobText(job: RebalanceJob | null): string[] {
  if (!job) return ['no rebalance job has run on this cluster'];
  const tasks = Object.entries(job.tasks)
    .map(([k, v]) => `${v} ${k}`)
    .join(', ');
  const lines = [
    `job ${job.jobId} (${job.type}): ${job.state}; started ${job.startedAt ?? 'not yet'}${job.finishedAt ? `, finished ${job.finishedAt}` : ''}`,
    `tasks: ${tasks || 'none'}`,
  ];
  if (job.description) lines.push(`description: ${job.description}`);
  for (const t of job.running) lines.push(`running: ${JSON.stringify(t)}`);
  return lines;
}

export function activityText(queries: readonly DistributedQuery[], total: number): string[] {
  if (queries.length === 0) return ['no distributed queries in progress'];
  const lines = [
    `${total} global pid(s)${total > queries.length ? `, ${queries.length} shown` : ''}`,
    markdownTable(
      ['global pid', 'from', 'user', 'state', 'transaction', 'query time', 'backends', 'query'],
      queries.map((q) => [
        q.globalPid,
        q.node ?? '?',
        q.user,
        q.state,
        secs(q.transactionSeconds),
        secs(q.querySeconds),
        q.backends.length,
        q.query,
      ]),
    ),
  ];
  for (const q of queries) {
    const fragments = q.backends.filter((b) => b.workerQuery);
    if (fragments.length === 0) continue;
    lines.push(
      `${q.globalPid} fragments: ${fragments.map((b) => `${b.node} pid ${b.pid} ${b.state ?? ''}${b.wait ? ` (waits ${b.wait})` : ''}`).join('; ')}`,
    );
  }
  return lines;
}

export function locksText(waits: readonly LockWait[], waiting: readonly WaitingLock[]): string[] {
  if (waits.length === 0 && waiting.length === 0) return ['nobody waits for a lock on any node'];
  const lines: string[] = [];
  if (waits.length) {
    lines.push(
      markdownTable(
        ['waiting gpid', 'on node', 'blocked by gpid', 'on node', 'blocked statement', 'blocking statement'],
        waits.map((w) => [
          w.waitingGlobalPid,
          w.waitingNode,
          w.blockingGlobalPid,
          w.blockingNode,
          w.blockedStatement,
          w.blockingStatement,
        ]),
      ),
    );
  }
  if (waiting.length) {
    lines.push(
      'locks not granted:',
      markdownTable(
        ['gpid', 'node', 'pid', 'lock', 'relation', 'mode', 'waiting'],
        waiting.map((l) => [l.globalPid, l.node, l.pid, l.locktype, l.relation, l.mode, secs(l.waitSeconds)]),
      ),
    );
  }
  const roots = [...new Set(waits.map((w) => w.blockingGlobalPid))].filter(
    (b) => !waits.some((w) => w.waitingGlobalPid === b),
  );
  if (roots.length) {
    lines.push(
      `at the head of the chains: ${roots.map(gpidText).join(', ')}; pg_citus activity shows what they run, pg_admin terminate_backend (on that node) ends one`,
    );
  }
  return lines;
}

/** A global pid is the node id × 10¹⁰ + the backend's pid on that node. */
function gpidText(gpid: string): string {
  const n = BigInt(gpid);
  return `${gpid} (node id ${n / 10_000_000_000n}, pid ${n % 10_000_000_000n})`;
}

export function statementsText(rows: readonly CitusStatement[]): string[] {
  if (rows.length === 0) return ['no statements recorded'];
  return [
    markdownTable(
      ['query id', 'calls', 'total ms', 'mean ms', 'executor', 'keys', 'top keys', 'query'],
      rows.map((s) => [
        s.queryId,
        s.calls,
        s.totalMs === null ? null : Math.round(s.totalMs * 10) / 10,
        s.meanMs === null ? null : Math.round(s.meanMs * 100) / 100,
        s.executors,
        s.partitionKeys,
        s.topPartitionKeys.join(', '),
        s.query,
      ]),
    ),
  ];
}

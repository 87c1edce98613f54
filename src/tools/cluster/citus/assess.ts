/**
 * pg_cluster's Citus section: the facts read from the coordinator and the problems found in them (pure, unit-tested
 * with captured rows). A worker the coordinator cannot reach is critical; a disabled node, a connection failing
 * between other nodes, a node that should hold no shards but does, a skewed table or a failed rebalance are warnings;
 * a rebalance in progress is information.
 */
import {
  type CitusNode,
  type RebalanceJob,
  RUNNING_JOB_STATES,
  readNodeHealth,
  readNodes,
  readPlacements,
  readRebalanceStatus,
} from '../../../cluster/citus.js';
import { type HealthMatrix, healthMatrix, skewOf, type TableSkew } from '../../../cluster/citus-skew.js';
import { withReadOnly } from '../../../db/read-only.js';
import type { ToolContext } from '../../context.js';
import { eligibleNodes, requireCitus } from '../citus.js';
import type { Problem } from '../overview.js';

export interface CitusFacts {
  version: string;
  nodes: CitusNode[];
  health: HealthMatrix;
  skew: TableSkew[];
  rebalance: RebalanceJob | null;
}

/** Reads what pg_cluster needs from the coordinator (the default database), in one read-only transaction. */
export async function citusFacts(ctx: ToolContext): Promise<CitusFacts> {
  const database = ctx.pools.defaultDatabase;
  return withReadOnly(ctx.pools, database, async (client) => {
    const info = await requireCitus(client, database);
    await client.query(`select pg_catalog.set_config('citus.node_connection_timeout', '5000', true)`);
    const nodes = await readNodes(client, false);
    const health = healthMatrix(await readNodeHealth(client));
    const placements = await readPlacements(client, { schema: null, tableOid: null });
    const rebalance = await readRebalanceStatus(client);
    return {
      version: info.version ?? '',
      nodes,
      health,
      skew: skewOf(placements, eligibleNodes(nodes)),
      rebalance,
    };
  });
}

const citus = (p: Omit<Problem, 'component'>): Problem => ({ component: 'citus', ...p });

/** The problems in what the Citus catalog reported. */
export function assessCitus(facts: CitusFacts | Error | null): Problem[] {
  if (facts === null) return [];
  if (facts instanceof Error) {
    return [
      citus({
        severity: 'critical',
        subject: 'coordinator',
        problem: `the Citus catalog could not be read: ${facts.message}`,
        action: 'check the connection to the coordinator and the citus extension; pg_citus nodes',
      }),
    ];
  }
  const problems: Problem[] = [];
  const coordinator = facts.nodes.find((n) => n.kind === 'coordinator');
  const unreachable = new Set(
    coordinator ? facts.health.failures.filter((f) => f.from === coordinator.name).map((f) => f.to) : [],
  );
  for (const n of facts.nodes) {
    if (n.kind === 'worker' && n.isActive && (unreachable.has(n.name) || facts.health.unknown.includes(n.name))) {
      unreachable.add(n.name);
      problems.push(
        citus({
          severity: 'critical',
          subject: n.name,
          problem: `worker ${n.name} does not accept connections from the coordinator: queries that touch its ${n.shardPlacements} shard placements fail`,
          action: `bring ${n.name} back; if it stays down, pg_cluster_admin disable_node lets the other queries run`,
        }),
      );
    }
    if (!n.isActive) {
      problems.push(
        citus({
          severity: 'warning',
          subject: n.name,
          problem: `node ${n.name} is disabled (isactive = false): it gets no queries and its ${n.shardPlacements} shard placements are unavailable`,
          action: `pg_cluster_admin activate_node ${n.name} once it is back`,
        }),
      );
    }
    if (!n.shouldHaveShards && n.shardPlacements > 0 && n.isActive) {
      problems.push(
        citus({
          severity: 'warning',
          subject: n.name,
          problem: `node ${n.name} should have no shards (shouldhaveshards = false) but holds ${n.shardPlacements} shard placements`,
          action: `move them off: pg_cluster_admin drain_node ${n.name} (or rebalance_start)`,
        }),
      );
    }
  }
  for (const f of facts.health.failures) {
    if (unreachable.has(f.to) || (coordinator && f.from === coordinator.name)) continue;
    problems.push(
      citus({
        severity: 'warning',
        subject: `${f.from} → ${f.to}`,
        problem: `${f.from} cannot connect to ${f.to}: queries that run from ${f.from} and need ${f.to} fail`,
        action: `check the network, pg_hba.conf and authentication between them (pg_citus node_health)`,
      }),
    );
  }
  for (const t of facts.skew.filter((s) => s.skewed)) {
    problems.push(
      citus({
        severity: 'warning',
        subject: t.table,
        problem: `table ${t.table} is skewed: ${t.reasons.join('; ')}`,
        action: t.advice ?? 'pg_citus skew',
      }),
    );
  }
  const job = facts.rebalance;
  if (job && RUNNING_JOB_STATES.has(job.state)) {
    const done = job.tasks.done ?? 0;
    const total = Object.values(job.tasks).reduce((a, b) => a + b, 0);
    problems.push(
      citus({
        severity: 'info',
        subject: `rebalance job ${job.jobId}`,
        problem: `a rebalance is ${job.state}: ${done} of ${total} tasks done`,
        action: 'follow it with pg_citus rebalance_status; pg_cluster_admin rebalance_stop stops it',
      }),
    );
  } else if (job && job.state === 'failed') {
    problems.push(
      citus({
        severity: 'warning',
        subject: `rebalance job ${job.jobId}`,
        problem: `the latest rebalance (job ${job.jobId}) failed`,
        action:
          'pg_citus rebalance_status shows which task failed; start it again with pg_cluster_admin rebalance_start',
      }),
    );
  }
  return problems;
}

/** The pg_cluster summary line for Citus. */
export function citusDetail(facts: CitusFacts): string {
  const workers = facts.nodes.filter((n) => n.kind === 'worker');
  const active = workers.filter((n) => n.isActive).length;
  const skewed = facts.skew.filter((s) => s.skewed).length;
  const job = facts.rebalance;
  return [
    `Citus ${facts.version}: ${active}/${workers.length} workers active`,
    `${facts.health.failures.length} failed connections in the node health matrix`,
    `${skewed} skewed table${skewed === 1 ? '' : 's'}`,
    job && RUNNING_JOB_STATES.has(job.state) ? `rebalance job ${job.jobId} ${job.state}` : 'no rebalance running',
  ].join('; ');
}

/** What pg_cluster's structured result shows of Citus. */
export function citusData(facts: CitusFacts): Record<string, unknown> {
  return {
    version: facts.version,
    nodes: facts.nodes.map((n) => ({
      name: n.name,
      kind: n.kind,
      isActive: n.isActive,
      shouldHaveShards: n.shouldHaveShards,
      shardPlacements: n.shardPlacements,
    })),
    failedConnections: facts.health.failures,
    skewedTables: facts.skew.filter((s) => s.skewed).map((s) => ({ table: s.table, reasons: s.reasons })),
    rebalance: facts.rebalance ? { jobId: facts.rebalance.jobId, state: facts.rebalance.state } : null,
  };
}

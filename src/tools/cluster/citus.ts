import type pg from 'pg';
import {
  type CitusInfo,
  type CitusNode,
  citusInfo,
  readNodeHealth,
  readNodes,
  readPlacements,
  readRebalancePlan,
  readRebalanceStatus,
  readStrategies,
  readTables,
  resolveTable,
  type TableFilter,
} from '../../cluster/citus.js';
import { readActivity, readLocks, readStatements, statementsAvailability } from '../../cluster/citus-sessions.js';
import {
  distributionByNode,
  distributionByTable,
  healthMatrix,
  planSummary,
  SKEW_DEFAULTS,
  type SkewThresholds,
  skewOf,
} from '../../cluster/citus-skew.js';
import { withReadOnly } from '../../db/read-only.js';
import { defineTool } from '../define.js';
import { ToolError } from '../errors.js';
import { resolveDatabase } from '../shared-args.js';
import { type CitusInput, checkCitusArgs, citusInput, DEFAULT_LIMIT, DEFAULT_QUERY_CHARS } from './citus/args.js';
import { pickNode } from './citus/nodes.js';
import { type CitusOutput, citusOutput } from './citus/output.js';
import {
  activityText,
  distributionText,
  healthText,
  jobText,
  locksText,
  nodesText,
  planText,
  skewText,
  statementsText,
  tablesText,
} from './citus/text.js';

/** How long Citus waits for a connection to another node during one pg_citus call (ms). */
const NODE_CONNECT_TIMEOUT_MS = 5000;

type Part = Omit<CitusOutput, 'action' | 'database' | 'citusVersion' | 'notes' | 'truncated' | 'scope'>;

interface Result {
  scope: string;
  lines: string[];
  part: Part;
  notes: string[];
  truncated?: boolean;
}

/** The citus extension in this database, or a tool error saying it is missing. */
export async function requireCitus(client: pg.ClientBase, database: string): Promise<CitusInfo> {
  const info = await citusInfo(client);
  if (!info.version) {
    throw new ToolError(`the citus extension is not installed in database ${database}`, {
      code: 'citus_not_installed',
      hint: 'connect pgmcp to the Citus coordinator and the database where CREATE EXTENSION citus ran',
    });
  }
  return info;
}

/** The nodes that may hold shards: active primaries with shouldhaveshards. */
export function eligibleNodes(nodes: readonly CitusNode[]): string[] {
  return nodes.filter((n) => n.isActive && n.shouldHaveShards && n.role === 'primary').map((n) => n.name);
}

export function skewThresholds(args: {
  shard_ratio?: number | undefined;
  node_imbalance_percent?: number | undefined;
  min_table_bytes?: number | undefined;
}): SkewThresholds {
  return {
    shardRatio: args.shard_ratio ?? SKEW_DEFAULTS.shardRatio,
    nodeImbalancePercent: args.node_imbalance_percent ?? SKEW_DEFAULTS.nodeImbalancePercent,
    minTableBytes: args.min_table_bytes ?? SKEW_DEFAULTS.minTableBytes,
  };
}

async function tableFilter(client: pg.ClientBase, args: CitusInput): Promise<TableFilter & { scope: string }> {
  const parts: string[] = [];
  let tableOid: number | null = null;
  if (args.table !== undefined) {
    const t = await resolveTable(client, args.table);
    if (!t) {
      throw new ToolError(`no table named ${args.table}`, {
        code: 'object_not_found',
        hint: 'names follow SQL rules: schema.name, "Quoted" keeps case; pg_citus tables lists the Citus tables',
      });
    }
    tableOid = t.oid;
    parts.push(`table ${t.name}`);
  }
  if (args.schema !== undefined) parts.push(`schema ${args.schema}`);
  return { schema: args.schema ?? null, tableOid, scope: parts.join(', ') || 'all tables' };
}

function capped<T>(rows: readonly T[], limit: number): { rows: T[]; truncated: boolean } {
  return { rows: rows.slice(0, limit), truncated: rows.length > limit };
}

async function run(args: CitusInput, client: pg.ClientBase, info: CitusInfo): Promise<Result> {
  const limit = args.limit ?? DEFAULT_LIMIT;
  const queryChars = args.query_chars ?? DEFAULT_QUERY_CHARS;
  switch (args.action) {
    case 'nodes': {
      let nodes = await readNodes(client, true);
      if (args.node !== undefined) nodes = [pickNode(nodes, args.node)];
      const down = nodes.filter((n) => n.reachable === false);
      return {
        scope: args.node !== undefined ? `node ${nodes[0]?.name}` : 'all nodes',
        lines: nodesText(nodes),
        part: { nodes },
        notes: down.length
          ? [
              `${down.map((n) => n.name).join(', ')} did not accept a connection from the coordinator although pg_dist_node still lists ${down.length === 1 ? 'it' : 'them'} as active`,
            ]
          : [],
      };
    }
    case 'node_health': {
      const matrix = healthMatrix(await readNodeHealth(client));
      return { scope: 'every node to every node', lines: healthText(matrix), part: { nodeHealth: matrix }, notes: [] };
    }
    case 'tables': {
      const f = await tableFilter(client, args);
      const { rows, truncated } = capped(await readTables(client, info.tablesView, f), limit);
      return { scope: f.scope, lines: tablesText(rows), part: { tables: rows }, notes: [], truncated };
    }
    case 'shard_distribution': {
      const f = await tableFilter(client, args);
      const nodes = await readNodes(client, false);
      let placements = await readPlacements(client, f);
      let names = nodes.map((n) => n.name);
      let scope = f.scope;
      if (args.node !== undefined) {
        const node = pickNode(nodes, args.node);
        placements = placements.filter((p) => p.node === node.name);
        names = [node.name];
        scope += `, node ${node.name}`;
      }
      const byNode = distributionByNode(placements, names);
      const perTable = args.per_table ? capped(distributionByTable(placements), limit) : undefined;
      return {
        scope,
        lines: distributionText(byNode, perTable?.rows),
        part: { distribution: { nodes: byNode, ...(perTable ? { tables: perTable.rows } : {}) } },
        notes: placements.some((p) => p.bytes === null)
          ? ['some shard sizes are unknown (their node did not answer): counted as 0']
          : [],
        truncated: perTable?.truncated ?? false,
      };
    }
    case 'skew': {
      const f = await tableFilter(client, args);
      const thresholds = skewThresholds(args);
      const [nodes, placements] = [await readNodes(client, false), await readPlacements(client, f)];
      const { rows, truncated } = capped(skewOf(placements, eligibleNodes(nodes), thresholds), limit);
      return {
        scope: f.scope,
        lines: skewText(rows, thresholds),
        part: { skew: { thresholds, tables: rows } },
        notes: rows.some((r) => r.unmeasured > 0)
          ? ['some shard sizes are unknown (their node did not answer): counted as 0']
          : [],
        truncated,
      };
    }
    case 'rebalance_plan': {
      const f = await tableFilter(client, args);
      const strategies = await readStrategies(client);
      const strategy = args.strategy ?? strategies.find((s) => s.isDefault)?.name ?? 'by_disk_size';
      if (!strategies.some((s) => s.name === strategy)) {
        throw new ToolError(`no rebalance strategy named ${strategy}`, {
          code: 'invalid_argument',
          hint: `strategies: ${strategies.map((s) => s.name).join(', ')}`,
        });
      }
      const moves = await readRebalancePlan(client, {
        tableOid: f.tableOid,
        strategy,
        threshold: args.threshold ?? null,
        drainOnly: args.drain_only ?? false,
      });
      const summary = planSummary(moves);
      const { rows, truncated } = capped(moves, limit);
      return {
        scope: `${f.scope}, strategy ${strategy}${args.drain_only ? ', drain only' : ''}`,
        lines: planText(strategy, rows, summary),
        part: { rebalancePlan: { strategy, strategies, moves: rows, summary } },
        notes: [],
        truncated,
      };
    }
    case 'rebalance_status': {
      const job = await readRebalanceStatus(client);
      return { scope: 'the latest rebalance job', lines: jobText(job), part: { rebalanceStatus: job }, notes: [] };
    }
    case 'activity': {
      const node = args.node !== undefined ? pickNode(await readNodes(client, false), args.node).name : null;
      const activity = await readActivity(client, {
        includeIdle: args.include_idle ?? false,
        node,
        limit,
        queryChars,
      });
      return {
        scope: `${node ? `queries touching ${node}` : 'all nodes'}${args.include_idle ? ', idle included' : ''}`,
        lines: activityText(activity.queries, activity.total),
        part: { activity },
        notes: ["pgmcp's own query is left out"],
        truncated: activity.total > activity.queries.length,
      };
    }
    case 'locks': {
      const locks = await readLocks(client, queryChars);
      return { scope: 'all nodes', lines: locksText(locks.waits, locks.waiting), part: { locks }, notes: [] };
    }
    case 'stat_statements': {
      const a = await statementsAvailability(client);
      const notes: string[] = [];
      if (!a.view) notes.push('this Citus has no citus_stat_statements view');
      else if (!a.pgStatStatementsSchema) {
        notes.push(
          'citus_stat_statements needs pg_stat_statements: add it to shared_preload_libraries and CREATE EXTENSION pg_stat_statements in this database',
        );
      }
      if (a.track === 'none') {
        notes.push(
          "citus.stat_statements_track is 'none': Citus records nothing until it is set to 'all' (ALTER SYSTEM, reload)",
        );
      }
      const statements =
        a.view && a.pgStatStatementsSchema
          ? await readStatements(client, a.pgStatStatementsSchema, limit + 1, queryChars)
          : [];
      const { rows, truncated } = capped(statements, limit);
      return {
        scope: 'this database, by total execution time',
        lines: a.view && a.pgStatStatementsSchema ? statementsText(rows) : [],
        part: { statements: rows },
        notes,
        truncated,
      };
    }
  }
}

export const pgCitus = defineTool({
  name: 'pg_citus',
  title: 'Citus distributed cluster',
  description:
    'Read the Citus cluster from its coordinator; read-only. nodes: every node with group, role, isactive, ' +
    'shouldhaveshards, placements and whether the coordinator reaches it now (a stopped node stays isactive). ' +
    'node_health: which node can connect to which, as a matrix. tables: distributed, reference and local tables with ' +
    'distribution column, colocation id, shard count, size, owner, access method. shard_distribution: shards and ' +
    'bytes per node (per_table: per table and node). skew: per distributed table the largest, smallest and mean ' +
    'shard, the hot node and how far it is over the mean, with a verdict and what to do. rebalance_plan: the moves ' +
    'a rebalance would make (strategy, threshold, drain_only; nothing moves). rebalance_status: the latest rebalance ' +
    'job and its tasks. activity: distributed queries across nodes by global pid, with their fragments on workers. ' +
    'locks: who blocks whom across nodes. stat_statements: citus_stat_statements with timings and the hottest ' +
    'distribution keys. Filters: table, schema, node; limit. Changes go through pg_cluster_admin.',
  toolset: 'citus',
  readOnly: true,
  component: 'citus',
  input: citusInput,
  output: citusOutput,
  async handler(args, ctx) {
    checkCitusArgs(args);
    const database = resolveDatabase(args.database, ctx);
    const { info, result } = await withReadOnly(ctx.pools, database, async (client) => {
      const info = await requireCitus(client, database);
      await client.query(`select pg_catalog.set_config('citus.node_connection_timeout', $1, true)`, [
        String(NODE_CONNECT_TIMEOUT_MS),
      ]);
      return { info, result: await run(args, client, info) };
    });
    const notes = [...result.notes];
    if (!info.coordinator) {
      notes.push(
        'this node is not the Citus coordinator: the rebalancer and some views answer only there; point pgmcp at the coordinator',
      );
    }
    const truncated = result.truncated ?? false;
    const lines = [`pg_citus ${args.action} — database ${database}, ${result.scope} (Citus ${info.version})`];
    lines.push(...result.lines);
    if (truncated) lines.push(`more rows than limit ${args.limit ?? DEFAULT_LIMIT}: raise limit or narrow the filters`);
    lines.push(...notes.map((n) => `note: ${n}`));
    const data: CitusOutput = {
      action: args.action,
      database,
      citusVersion: info.version ?? '',
      scope: result.scope,
      ...result.part,
      truncated,
      notes,
    };
    return { text: lines.join('\n'), data };
  },
});

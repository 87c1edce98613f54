/** reset_stats: pg_stat_reset, pg_stat_reset_single_table_counters, pg_stat_statements_reset, pg_stat_reset_shared. */
import { ToolError } from '../errors.js';
import type { Change } from './output.js';
import type { AdminPlan, PlanInput, RunOutcome } from './plan.js';
import type { AdminSession } from './session.js';
import { type Catalog, quoteLiteral, type Relation } from './sql.js';

const SHARED: Record<string, string> = {
  bgwriter: 'pg_catalog.pg_stat_bgwriter',
  archiver: 'pg_catalog.pg_stat_archiver',
  wal: 'pg_catalog.pg_stat_wal',
  recovery_prefetch: 'pg_catalog.pg_stat_recovery_prefetch',
};

/** A cheap before/after look at what a reset clears. */
interface Probe {
  object: string;
  items: Record<string, string>;
  /** Returns one row of text columns named like items' keys. */
  sql: string;
  params: unknown[];
}

async function probe(catalog: Catalog, probes: Probe[]): Promise<Record<string, string | null>[]> {
  const out: Record<string, string | null>[] = [];
  for (const p of probes) out.push((await catalog.one<Record<string, string | null>>(p.sql, p.params)) ?? {});
  return out;
}

export async function planResetStats(input: PlanInput): Promise<AdminPlan> {
  const { args, catalog } = input;
  const target = args.target as string;
  const sql: string[] = [];
  const probes: Probe[] = [];
  const reasons: string[] = [];
  let tables: Relation[] = [];
  if (target !== 'table' && args.tables) {
    throw new ToolError('tables go with target table only', { code: 'invalid_arguments' });
  }
  switch (target) {
    case 'database':
      sql.push('SELECT pg_stat_reset()');
      probes.push({
        object: `database ${catalog.database}`,
        items: { stats_reset: 'stats reset at', xact_commit: 'commits counted' },
        sql: `select stats_reset::text as stats_reset, xact_commit::text as xact_commit
                from pg_catalog.pg_stat_database where datname = pg_catalog.current_database()`,
        params: [],
      });
      reasons.push(
        `sets every statistics counter of database ${catalog.database} to zero (tables, indexes, functions): autovacuum decides from these counters (dead tuples, rows changed since analyze), so it runs late until they build up again; monitoring loses their history`,
      );
      break;
    case 'table': {
      if (!args.tables) {
        throw new ToolError('reset_stats target table needs tables', { code: 'invalid_arguments' });
      }
      tables = await catalog.relations(args.tables, 'rpmf', 'reset_stats');
      for (const t of tables) {
        sql.push(`SELECT pg_stat_reset_single_table_counters(${quoteLiteral(t.qualified)}::regclass)`);
        probes.push({
          object: t.qualified,
          items: { seq_scan: 'sequential scans', inserted: 'rows inserted', dead: 'dead tuples' },
          sql: `select t.seq_scan::text as seq_scan, t.n_tup_ins::text as inserted, t.n_dead_tup::text as dead
                  from pg_catalog.pg_stat_all_tables t where t.relid = $1::oid`,
          params: [t.oid],
        });
      }
      reasons.push(
        `sets the statistics counters of ${tables.map((t) => t.qualified).join(', ')} to zero: autovacuum decides from them (dead tuples, rows changed since analyze), so it may run late on ${tables.length === 1 ? 'it' : 'them'}`,
      );
      break;
    }
    case 'statements': {
      const ext = await catalog.one<{ schema: string }>(
        `select quote_ident(n.nspname) as schema from pg_catalog.pg_extension e
           join pg_catalog.pg_namespace n on n.oid = e.extnamespace where e.extname = 'pg_stat_statements'`,
      );
      if (!ext) {
        throw new ToolError(`pg_stat_statements is not installed in database ${catalog.database}`, {
          code: 'extension_missing',
          hint: 'CREATE EXTENSION pg_stat_statements (with the library in shared_preload_libraries), or call with the database where it is installed',
        });
      }
      sql.push(`SELECT ${ext.schema}.pg_stat_statements_reset()`);
      probes.push({
        object: 'pg_stat_statements',
        items: { entries: 'statements tracked', stats_reset: 'stats reset at' },
        sql: `select (select count(*) from ${ext.schema}.pg_stat_statements)::text as entries,
                     (select stats_reset::text from ${ext.schema}.pg_stat_statements_info) as stats_reset`,
        params: [],
      });
      reasons.push(
        'forgets every statement pg_stat_statements has recorded, in every database: top queries and index advice start from nothing',
      );
      break;
    }
    case 'slru':
      sql.push('SELECT pg_stat_reset_slru(NULL)');
      probes.push({
        object: 'pg_stat_slru',
        items: { stats_reset: 'stats reset at' },
        sql: 'select max(stats_reset)::text as stats_reset from pg_catalog.pg_stat_slru',
        params: [],
      });
      reasons.push('sets the SLRU cache counters of the whole server to zero');
      break;
    default: {
      const view = SHARED[target];
      if (!view) {
        throw new ToolError(
          `reset_stats takes target database, table, statements, bgwriter, archiver, wal, recovery_prefetch or slru`,
          {
            code: 'invalid_arguments',
          },
        );
      }
      sql.push(`SELECT pg_stat_reset_shared(${quoteLiteral(target)})`);
      probes.push({
        object: view.replace('pg_catalog.', ''),
        items: { stats_reset: 'stats reset at' },
        sql: `select stats_reset::text as stats_reset from ${view}`,
        params: [],
      });
      reasons.push(`sets the server-wide ${target} statistics (${view.replace('pg_catalog.', '')}) to zero`);
    }
  }
  return {
    summary: `reset ${target === 'table' ? `the statistics of ${tables.map((t) => t.qualified).join(', ')}` : `${target} statistics`}`,
    sql,
    destructive: true,
    reasons,
    async run(session: AdminSession): Promise<RunOutcome> {
      const before = await probe(catalog, probes);
      for (const s of sql) await session.run(s, { result: () => 'done' });
      const after = await probe(catalog, probes);
      const changes: Change[] = [];
      probes.forEach((p, i) => {
        for (const [key, label] of Object.entries(p.items)) {
          changes.push({
            object: p.object,
            item: label,
            before: before[i]?.[key] ?? null,
            after: after[i]?.[key] ?? null,
          });
        }
      });
      return { changes };
    },
  };
}

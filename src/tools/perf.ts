import { healthReport } from '../perf/health.js';
import { withPerfSession } from '../perf/session.js';
import { openStatStatements, statsInfo, topQueries } from '../perf/stat-statements.js';
import { defineTool } from './define.js';
import { runIndexAdvice } from './perf/advice.js';
import { checkPerfArgs, perfInput } from './perf/args.js';
import { runExplain } from './perf/explain.js';
import { type PerfOutput, perfOutput, type TopQueriesOutput } from './perf/output.js';
import { adviceText, explainText, healthText, topQueriesText } from './perf/text.js';
import { resolveDatabase } from './shared-args.js';

export const pgPerf = defineTool({
  name: 'pg_perf',
  title: 'Analyse query performance',
  description:
    'Performance analysis; read-only (never creates an index or changes a setting). ' +
    'explain: the plan of one statement (`sql`, `params`) as a compact tree with the costliest nodes and warnings ' +
    '(big sequential scans, estimate errors, nested loops over many rows, sorts spilling to disk, join keys without ' +
    'an index); `analyze: true` runs it (reads read-only; writes at access level write, always rolled back); ' +
    '`hypothetical_indexes` shows the plan as if CREATE INDEX statements had run (hypopg). ' +
    'top_queries: pg_stat_statements by total_time, mean_time, calls, rows, I/O or WAL. ' +
    'index_advice: indexes for a workload (`statements`, or the top of pg_stat_statements), found by a cost-based ' +
    'search over hypothetical indexes with a size and a time budget; each with its CREATE INDEX CONCURRENTLY, size ' +
    'and the statements it speeds up. health_report: invalid, duplicate, unused and bloated indexes, foreign keys ' +
    'without an index, sequences near exhaustion, wraparound, NOT VALID constraints, connections, replication, ' +
    'cache hit ratio — each with the SQL that would fix it. Statements with $n and no params get generic plans.',
  toolset: 'perf',
  readOnly: true,
  input: perfInput,
  output: perfOutput,
  async handler(args, ctx) {
    checkPerfArgs(args);
    const database = resolveDatabase(args.database, ctx);
    const base = { action: args.action, database };
    switch (args.action) {
      case 'explain': {
        const { explain, version } = await runExplain(args, ctx, database);
        const data: PerfOutput = { ...base, serverVersion: version, explain };
        return { text: explainText(explain, database), data };
      }
      case 'top_queries': {
        const orderBy = args.order_by ?? 'total_time';
        const limit = args.limit ?? 10;
        return withPerfSession(ctx.pools, database, { signal: ctx.signal }, async (session) => {
          const pss = await openStatStatements(session);
          const queries = await topQueries(session, pss, orderBy, limit);
          const info = await statsInfo(session, pss);
          const top: TopQueriesOutput = { orderBy, extensionVersion: pss.version, queries };
          if (info.since) top.statsSince = info.since;
          if (info.dealloc) top.evicted = info.dealloc;
          const data: PerfOutput = { ...base, serverVersion: session.version, topQueries: top };
          return { text: topQueriesText(top, database), data };
        });
      }
      case 'index_advice': {
        const { advice, version } = await runIndexAdvice(args, ctx, database);
        const data: PerfOutput = { ...base, serverVersion: version, advice };
        return { text: adviceText(advice, database), data };
      }
      case 'health_report': {
        return withPerfSession(ctx.pools, database, { signal: ctx.signal }, async (session) => {
          const health = await healthReport(session, args.checks ?? [], (done, total, name) =>
            ctx.progress(done, total, `checked ${name}`),
          );
          const data: PerfOutput = { ...base, serverVersion: session.version, health };
          return { text: healthText(health, database), data };
        });
      }
    }
  },
});

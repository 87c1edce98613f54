import { z } from 'zod';
import { type ConsoleRow, PGBOUNCER_SHOWS } from '../../cluster/pgbouncer.js';
import { markdownTable } from '../../format/markdown.js';
import { defineTool } from '../define.js';
import { ToolError } from '../errors.js';
import { pgbouncerClient, reach } from './clients.js';

/** The columns shown in text per SHOW (structured output keeps every column). */
const COLUMNS: Record<(typeof PGBOUNCER_SHOWS)[number], string[]> = {
  pools: ['database', 'user', 'cl_active', 'cl_waiting', 'sv_active', 'sv_idle', 'sv_used', 'maxwait', 'pool_mode'],
  stats: ['database', 'total_xact_count', 'total_query_count', 'avg_xact_time', 'avg_query_time', 'avg_wait_time'],
  clients: ['user', 'database', 'state', 'addr', 'port', 'connect_time', 'wait', 'application_name'],
  servers: ['user', 'database', 'state', 'addr', 'port', 'connect_time', 'application_name'],
  databases: [
    'name',
    'host',
    'port',
    'database',
    'pool_size',
    'pool_mode',
    'current_connections',
    'paused',
    'disabled',
  ],
  config: ['key', 'value', 'default', 'changeable'],
};

const input = z.object({
  action: z
    .enum(PGBOUNCER_SHOWS)
    .default('pools')
    .describe(
      'pools: clients active/waiting and servers per pool; stats: traffic and timings per database; clients; ' +
        'servers; databases: configured databases (paused, disabled); config: settings (non-default first)',
    ),
  database: z.string().min(1).max(200).optional().describe('only rows of this database'),
});

const output = z.object({
  action: z.enum(PGBOUNCER_SHOWS),
  rows: z.array(z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]))),
});

export const pgPgbouncer = defineTool({
  name: 'pg_pgbouncer',
  title: 'PgBouncer connection pooler',
  description:
    "Read PgBouncer's admin console: pools (active and waiting clients, server connections, max wait), stats, " +
    'clients, servers, databases, config. Filter with `database`. Changes go through pg_cluster_admin.',
  toolset: 'proxy',
  readOnly: true,
  component: 'pgbouncer',
  input,
  output,
  async handler(args, ctx) {
    const client = pgbouncerClient(ctx.config);
    if (!client) throw new ToolError('PgBouncer is not configured', { hint: 'set PGMCP_PGBOUNCER_URL' });
    let rows: ConsoleRow[] = await reach('pgbouncer', ctx, () => client.show(args.action));
    if (args.database !== undefined) {
      const key = args.action === 'databases' ? 'name' : 'database';
      rows = rows.filter((r) => r[key] === args.database);
    }
    if (args.action === 'config') {
      rows = [...rows].sort(
        (a, b) =>
          Number(a.value === a.default) - Number(b.value === b.default) || String(a.key).localeCompare(String(b.key)),
      );
    }
    const cols = COLUMNS[args.action];
    const lines = [`PgBouncer ${args.action}: ${rows.length}`];
    if (rows.length)
      lines.push(
        markdownTable(
          cols,
          rows.map((r) => cols.map((c) => r[c] ?? null)),
        ),
      );
    if (args.action === 'pools') {
      const waiting = rows.filter((r) => Number(r.cl_waiting) > 0);
      if (waiting.length)
        lines.push(`clients waiting in: ${waiting.map((r) => `${r.database}/${r.user} (${r.cl_waiting})`).join(', ')}`);
    }
    return { text: lines.join('\n'), data: { action: args.action, rows } };
  },
});

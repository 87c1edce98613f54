import { capCell } from '../db/cells.js';
import { withReadOnly } from '../db/read-only.js';
import type { ToolContext } from './context.js';
import { defineTool, type ToolOutput } from './define.js';
import { ToolError } from './errors.js';
import { checkArgs, type ListAction, pageOf, type SchemaInput, schemaInput } from './schema/args.js';
import { describeFunctions, functionsText } from './schema/describe-function.js';
import { describeTable } from './schema/describe-table.js';
import type { ListFilters } from './schema/filters.js';
import { listDatabases, listExtensions, listRoles, listSchemas } from './schema/list-catalog.js';
import { listMaterializedViews, listSequences, listTables, listViews } from './schema/list-relations.js';
import { listFunctions, listTypes } from './schema/list-routines.js';
import { ilikePattern, objectRef } from './schema/names.js';
import { type SchemaOutput, schemaOutput } from './schema/output.js';
import { type ListSpec, runList } from './schema/paging.js';
import { requireSchema, resolveFunctions, resolveRelation } from './schema/resolve.js';
import { tableText } from './schema/table-text.js';
import { compactTable } from './schema/text.js';
import { resolveDatabase } from './shared-args.js';

const LISTS: Record<ListAction, (f: ListFilters) => ListSpec> = {
  list_databases: listDatabases,
  list_schemas: listSchemas,
  list_tables: listTables,
  list_views: listViews,
  list_materialized_views: listMaterializedViews,
  list_sequences: listSequences,
  list_functions: listFunctions,
  list_types: listTypes,
  list_extensions: listExtensions,
  list_roles: listRoles,
};

function filtersText(args: SchemaInput): string {
  const parts: string[] = [];
  if (args.schema !== undefined) parts.push(`schema ${args.schema}`);
  if (args.pattern !== undefined) parts.push(`name ILIKE '${ilikePattern(args.pattern)}'`);
  if (args.include_system) parts.push('system objects included');
  return parts.length ? ` (${parts.join(', ')})` : '';
}

async function runListAction(
  args: SchemaInput & { action: ListAction },
  ctx: ToolContext,
  database: string,
): Promise<ToolOutput<SchemaOutput>> {
  const { limit, offset, capped } = pageOf(args, ctx.config.limits.defaultRows, ctx.config.limits.maxRows);
  const spec = LISTS[args.action]({
    includeSystem: args.include_system ?? false,
    pattern: ilikePattern(args.pattern),
    schema: args.schema ?? null,
    includePartitions: args.include_partitions ?? false,
    allowedDatabases: ctx.caller.databases ? [...ctx.caller.databases] : null,
  });
  const page = await withReadOnly(ctx.pools, database, async (client) => {
    if (args.schema !== undefined) await requireSchema(client, args.schema);
    return runList(client, spec, limit, offset);
  });
  const lines: string[] = [];
  const shown =
    page.items.length === 0
      ? `none${offset > 0 && page.total > 0 ? ` at offset ${offset}` : ''}`
      : page.items.length === page.total
        ? `${page.total}`
        : `${offset + 1}–${offset + page.items.length} of ${page.total}`;
  const where = spec.scope === 'server' ? 'on this server' : `in database ${database}`;
  lines.push(`${spec.noun} ${where}${filtersText(args)}: ${shown}`);
  if (page.items.length > 0) {
    lines.push(
      compactTable(
        spec.columns.map(([h]) => h),
        page.items.map((item) => spec.columns.map(([, cell]) => cell(item))),
      ),
    );
  }
  if (page.truncated) lines.push(`more ${spec.noun}: call again with offset ${page.nextOffset}`);
  if (capped) lines.push(`limit lowered to this server's cap of ${limit}`);
  if (spec.note) lines.push(spec.note);
  return {
    text: lines.join('\n'),
    data: {
      action: args.action,
      database,
      items: page.items,
      total: page.total,
      offset,
      limit,
      truncated: page.truncated,
      ...(page.nextOffset !== undefined ? { nextOffset: page.nextOffset } : {}),
    },
  };
}

export const pgSchema = defineTool({
  name: 'pg_schema',
  title: 'Explore the database schema',
  description:
    'Find your way in a PostgreSQL database before writing SQL. ' +
    'list_databases, list_schemas, list_tables, list_views, list_materialized_views, list_sequences, list_functions, ' +
    'list_types (enums with labels, domains, composites, ranges), list_extensions (installed and available), list_roles: ' +
    'filter with `schema` and `pattern` (ILIKE), page with `limit`/`offset` (`nextOffset` when `truncated`). ' +
    'describe_table (tables, views, materialized views, partitioned and foreign tables): columns with types, ' +
    'defaults, nullability and comments; primary key, constraints, indexes, foreign keys both ways, triggers, ' +
    'partitions, sizes and row estimate. describe_function: signature, result, language, volatility, and the source ' +
    'with include_source. System schemas and extension-owned objects are hidden unless include_system.',
  toolset: 'core',
  readOnly: true,
  input: schemaInput,
  output: schemaOutput,
  async handler(args, ctx) {
    checkArgs(args);
    const database = resolveDatabase(args.database, ctx);
    switch (args.action) {
      case 'describe_table': {
        const ref = objectRef(args.name as string, args.schema, false);
        const { limit, offset } = pageOf(args, ctx.config.limits.defaultRows, ctx.config.limits.maxRows);
        const table = await withReadOnly(ctx.pools, database, async (client) => {
          const rel = await resolveRelation(client, ref);
          return describeTable(client, Number(rel.oid), { limit, offset });
        });
        return { text: tableText(table), data: { action: args.action, database, table } };
      }
      case 'describe_function': {
        const ref = objectRef(args.name as string, args.schema, true);
        if (args.signature !== undefined) {
          if (ref.signature !== undefined && ref.signature !== args.signature) {
            throw new ToolError('`name` carries an argument list and `signature` another one: give one of them', {
              code: 'invalid_argument',
            });
          }
          ref.signature = args.signature;
        }
        const includeSource = args.include_source ?? false;
        const functions = await withReadOnly(ctx.pools, database, async (client) => {
          const found = await resolveFunctions(client, ref);
          return describeFunctions(
            client,
            found.map((f) => Number(f.oid)),
            includeSource,
          );
        });
        for (const f of functions) {
          if (f.source !== undefined) f.source = String(capCell(f.source, ctx.config.limits.resultBytes).value);
        }
        return {
          text: functionsText(functions, includeSource),
          data: { action: args.action, database, functions },
        };
      }
      default:
        return runListAction(args as SchemaInput & { action: ListAction }, ctx, database);
    }
  },
});

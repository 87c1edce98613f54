import { z } from 'zod';
import { ToolError } from '../errors.js';
import { databaseArg } from '../shared-args.js';

/** What pg_schema can do. */
export const SCHEMA_ACTIONS = [
  'list_databases',
  'list_schemas',
  'list_tables',
  'list_views',
  'list_materialized_views',
  'list_sequences',
  'list_functions',
  'list_types',
  'list_extensions',
  'list_roles',
  'describe_table',
  'describe_function',
] as const;
export type SchemaAction = (typeof SCHEMA_ACTIONS)[number];
export type ListAction = Exclude<SchemaAction, 'describe_table' | 'describe_function'>;

export const schemaInput = z.object({
  action: z
    .enum(SCHEMA_ACTIONS)
    .describe(
      'What to do. list_* actions list objects (paged); describe_table describes one table, view, materialized view, ' +
        'partitioned or foreign table (columns, keys, constraints, indexes, foreign keys both ways, triggers, partitions, ' +
        'sizes); describe_function describes a function, procedure or aggregate (every overload unless `signature` picks one)',
    ),
  schema: z
    .string()
    .min(1)
    .max(63)
    .optional()
    .describe(
      'Exact schema name. For list_tables/views/materialized_views/sequences/functions/types: only that schema. ' +
        'For describe_*: where the object lives (default: the search_path, else the one schema that has it)',
    ),
  name: z
    .string()
    .min(1)
    .max(300)
    .optional()
    .describe(
      'describe_table / describe_function: the object name, optionally schema-qualified (`sales.orders`, ' +
        '`"My Schema"."My Table"`); a function may carry its argument types (`add_item(integer, text)`)',
    ),
  signature: z
    .string()
    .max(1000)
    .optional()
    .describe(
      'describe_function only: argument types picking one overload, e.g. `integer, text` (types only, no names); ' +
        'omit to describe every overload',
    ),
  pattern: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe(
      'list_* only: case-insensitive SQL ILIKE filter on the object name (`%` any run, `_` any one character). ' +
        'Without a `%` it matches anywhere in the name: `order` finds `customer_orders`',
    ),
  include_system: z
    .boolean()
    .optional()
    .describe(
      'Also list system objects: the pg_catalog, information_schema, pg_toast and pg_temp_* schemas, objects that ' +
        'belong to extensions, template databases and pg_* roles (default false; naming a system schema in `schema` ' +
        'lists it anyway)',
    ),
  include_partitions: z
    .boolean()
    .optional()
    .describe(
      'list_tables only: also list the partitions of partitioned tables (default false: a partitioned table is one ' +
        'row with its partition count; describe_table on it lists its partitions)',
    ),
  include_source: z
    .boolean()
    .optional()
    .describe('describe_function only: include the full CREATE statement with the body (default false)'),
  limit: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe(
      'list_*: items per page (default 100, capped by the server); describe_table: partitions shown of a ' +
        'partitioned table',
    ),
  offset: z.number().int().min(0).optional().describe('Items to skip: pass the `nextOffset` of the previous page'),
  database: databaseArg.describe(
    'Database to use (default: the configured one); list_databases shows the ones on this server',
  ),
});
export type SchemaInput = z.infer<typeof schemaInput>;

type ArgName = Exclude<keyof SchemaInput, 'action' | 'database' | 'include_system'>;

const SCOPED_LIST: readonly ArgName[] = ['schema', 'pattern', 'limit', 'offset'];
const UNSCOPED_LIST: readonly ArgName[] = ['pattern', 'limit', 'offset'];

/** The arguments each action accepts besides `action`, `database` and `include_system`. */
const ACCEPTS: Record<SchemaAction, readonly ArgName[]> = {
  list_databases: UNSCOPED_LIST,
  list_schemas: UNSCOPED_LIST,
  list_tables: [...SCOPED_LIST, 'include_partitions'],
  list_views: SCOPED_LIST,
  list_materialized_views: SCOPED_LIST,
  list_sequences: SCOPED_LIST,
  list_functions: SCOPED_LIST,
  list_types: SCOPED_LIST,
  list_extensions: UNSCOPED_LIST,
  list_roles: UNSCOPED_LIST,
  describe_table: ['schema', 'name', 'limit', 'offset'],
  describe_function: ['schema', 'name', 'signature', 'include_source'],
};

function hintFor(action: SchemaAction, arg: ArgName): string | undefined {
  if (arg === 'name' && action.startsWith('list_')) {
    return 'list actions filter with `pattern`; describe_table or describe_function describe one object by `name`';
  }
  if (arg === 'pattern' && action.startsWith('describe_')) {
    return 'describe actions take an exact `name`; list_tables or list_functions with `pattern` finds names';
  }
  if (arg === 'schema') return 'this list is not per schema: leave `schema` out';
  return undefined;
}

/** Checks the arguments of one action: what it needs is there, and nothing it would silently ignore is given. */
export function checkArgs(args: SchemaInput): void {
  const accepted = ACCEPTS[args.action];
  for (const arg of Object.keys(args) as (keyof SchemaInput)[]) {
    if (arg === 'action' || arg === 'database' || arg === 'include_system') continue;
    // A flag left at false changes nothing, so it is no mistake to pass it anywhere.
    if (args[arg] === undefined || args[arg] === false || accepted.includes(arg)) continue;
    const hint = hintFor(args.action, arg);
    throw new ToolError(
      `${args.action} does not take \`${arg}\`; it takes ${accepted.map((a) => `\`${a}\``).join(', ')}`,
      { code: 'invalid_argument', ...(hint ? { hint } : {}) },
    );
  }
  if ((args.action === 'describe_table' || args.action === 'describe_function') && args.name === undefined) {
    throw new ToolError(`${args.action} needs \`name\` (the object to describe, e.g. \`public.orders\`)`, {
      code: 'invalid_argument',
      hint:
        args.action === 'describe_table'
          ? 'list_tables or list_views shows the names'
          : 'list_functions shows the names',
    });
  }
}

/** The page asked for: limit defaults to the server's default and is capped at its maximum. */
export function pageOf(
  args: SchemaInput,
  defaultRows: number,
  maxRows: number,
): { limit: number; offset: number; capped: boolean } {
  const asked = args.limit ?? defaultRows;
  return { limit: Math.min(asked, maxRows), offset: args.offset ?? 0, capped: asked > maxRows };
}

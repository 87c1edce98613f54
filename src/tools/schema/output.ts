import { z } from 'zod';
import { SCHEMA_ACTIONS } from './args.js';

const size = z.object({ bytes: z.number().describe('bytes'), pretty: z.string().describe('e.g. 16 kB') });
const bigint = z.union([z.number(), z.string()]).describe('a number, or text when beyond 2^53');
const rowEstimate = z
  .number()
  .nullable()
  .describe('estimated rows from pg_class.reltuples; null = never analysed or vacuumed');

const column = z.object({
  position: z.number().int(),
  name: z.string(),
  type: z.string(),
  nullable: z.boolean(),
  default: z.string().nullable(),
  identity: z.enum(['always', 'by default']).optional().describe('GENERATED … AS IDENTITY'),
  generated: z
    .object({ kind: z.enum(['stored', 'virtual']), expression: z.string() })
    .optional()
    .describe('GENERATED ALWAYS AS (expression)'),
  collation: z.string().optional().describe('only when not the type default'),
  comment: z.string().nullable(),
});

const constraint = z.object({
  name: z.string(),
  type: z.enum(['primary key', 'unique', 'check', 'exclusion']),
  columns: z.array(z.string()),
  definition: z.string(),
  validated: z.boolean(),
  deferrable: z.boolean(),
  inherited: z.boolean().describe('comes from a parent table'),
});

const index = z.object({
  name: z.string(),
  definition: z.string(),
  method: z.string(),
  columns: z.array(z.string()).describe('key columns or expressions'),
  include: z.array(z.string()).describe('INCLUDE columns'),
  unique: z.boolean(),
  primary: z.boolean(),
  valid: z.boolean(),
  predicate: z.string().nullable().describe('WHERE of a partial index'),
  constraint: z.string().nullable().describe('the constraint this index enforces'),
  size: size.nullable(),
  scans: z.number().nullable().describe('index scans since statistics were reset'),
});

const fkAction = z.enum(['no action', 'restrict', 'cascade', 'set null', 'set default']);

const foreignKey = z.object({
  name: z.string(),
  columns: z.array(z.string()),
  references: z.object({ schema: z.string(), table: z.string(), columns: z.array(z.string()) }),
  onUpdate: fkAction,
  onDelete: fkAction,
  definition: z.string(),
  validated: z.boolean(),
  inherited: z.boolean(),
});

const referencedBy = z.object({
  name: z.string(),
  schema: z.string(),
  table: z.string(),
  columns: z.array(z.string()).describe('referencing columns'),
  referencedColumns: z.array(z.string()).describe('columns of this table'),
  onUpdate: fkAction,
  onDelete: fkAction,
  definition: z.string(),
});

const trigger = z.object({
  name: z.string(),
  timing: z.enum(['before', 'after', 'instead of']),
  events: z.array(z.string()),
  level: z.enum(['row', 'statement']),
  function: z.string(),
  enabled: z.enum(['enabled', 'disabled', 'replica only', 'always']),
  definition: z.string(),
  inherited: z.boolean(),
});

const partition = z.object({
  schema: z.string(),
  name: z.string(),
  kind: z.string(),
  bound: z.string().nullable(),
  rowEstimate,
  size: size.nullable(),
});

const policy = z.object({
  name: z.string(),
  command: z.string(),
  permissive: z.boolean(),
  roles: z.array(z.string()),
  using: z.string().nullable(),
  withCheck: z.string().nullable(),
});

export const tableOutput = z.object({
  schema: z.string(),
  name: z.string(),
  kind: z.enum(['table', 'partitioned table', 'foreign table', 'view', 'materialized view']),
  owner: z.string(),
  comment: z.string().nullable(),
  persistence: z.enum(['permanent', 'unlogged', 'temporary']),
  rowEstimate,
  sizes: z
    .object({ table: size, toast: size, indexes: size, total: size })
    .nullable()
    .describe('heap + toast + indexes = total; summed over partitions; null for views and foreign tables'),
  rowLevelSecurity: z.object({ enabled: z.boolean(), forced: z.boolean() }),
  columns: z.array(column),
  primaryKey: constraint.nullable(),
  constraints: z.array(constraint).describe('unique, check and exclusion constraints'),
  indexes: z.array(index),
  foreignKeys: z.array(foreignKey).describe('outgoing: this table references others'),
  referencedBy: z.array(referencedBy).describe('incoming: other tables reference this one'),
  triggers: z.array(trigger),
  policies: z.array(policy),
  partitionKey: z.string().optional(),
  partitions: z
    .object({
      items: z.array(partition),
      total: z.number().int(),
      truncated: z.boolean(),
      nextOffset: z.number().int().optional(),
    })
    .optional(),
  partitionOf: z.object({ schema: z.string(), name: z.string(), bound: z.string().nullable() }).optional(),
  inherits: z.array(z.string()).optional(),
  viewDefinition: z.string().optional(),
  populated: z.boolean().optional().describe('materialized views: false until REFRESH'),
  foreignServer: z.object({ server: z.string(), options: z.array(z.string()) }).optional(),
  options: z.array(z.string()).optional().describe('storage parameters (reloptions)'),
  tablespace: z.string().optional(),
  maintenance: z
    .object({
      liveRows: bigint.nullable(),
      deadRows: bigint.nullable(),
      lastVacuum: z.string().nullable(),
      lastAutovacuum: z.string().nullable(),
      lastAnalyze: z.string().nullable(),
      lastAutoanalyze: z.string().nullable(),
    })
    .optional(),
});
export type TableOutput = z.infer<typeof tableOutput>;

export const functionOutput = z.object({
  schema: z.string(),
  name: z.string(),
  kind: z.enum(['function', 'procedure', 'aggregate', 'window']),
  arguments: z.string().describe('with names, modes and defaults'),
  identityArguments: z.string().describe('what identifies this overload (for `signature`)'),
  result: z.string().nullable(),
  returnsSet: z.boolean(),
  language: z.string(),
  volatility: z.enum(['immutable', 'stable', 'volatile']),
  strict: z.boolean(),
  securityDefiner: z.boolean(),
  leakproof: z.boolean(),
  parallel: z.enum(['safe', 'restricted', 'unsafe']),
  cost: z.number(),
  rows: z.number().nullable().describe('estimated rows of a set-returning function'),
  owner: z.string(),
  comment: z.string().nullable(),
  config: z.array(z.string()).describe('SET clauses'),
  source: z.string().optional().describe('CREATE statement with the body (include_source)'),
});
export type FunctionOutput = z.infer<typeof functionOutput>;

export const schemaOutput = z.object({
  action: z.enum(SCHEMA_ACTIONS),
  database: z.string(),
  items: z.array(z.record(z.string(), z.unknown())).optional().describe('list_*: one object per item'),
  total: z.number().int().optional().describe('list_*: items matching the filters'),
  offset: z.number().int().optional(),
  limit: z.number().int().optional(),
  truncated: z.boolean().optional().describe('list_*: more items follow this page'),
  nextOffset: z.number().int().optional().describe('offset of the next page'),
  table: tableOutput.optional().describe('describe_table'),
  functions: z.array(functionOutput).optional().describe('describe_function: one per overload'),
});
export type SchemaOutput = z.infer<typeof schemaOutput>;

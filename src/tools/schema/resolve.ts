import type pg from 'pg';
import { ToolError } from '../errors.js';
import { type ObjectRef, qualified } from './names.js';
import { DESCRIBABLE_RELKINDS, RELKIND_NAMES, userSchema } from './sql.js';
import { type Candidate, suggest } from './suggest.js';

interface Match {
  oid: number;
  schema: string;
  name: string;
  visible: boolean;
  system: boolean;
}

/**
 * Picks the object a reference means among catalog rows whose names match ignoring case: the exact spelling first,
 * then a unique case-insensitive match; without a schema, the one on the search_path, else the only one, else a
 * user schema's over a system schema's. Several equally good → `ambiguous`; none → undefined.
 */
function pick<M extends Match>(ref: ObjectRef, rows: M[], what: string): M[] | undefined {
  const exact = rows.filter((r) => r.name === ref.name && (ref.schema === undefined || r.schema === ref.schema));
  const pool = exact.length > 0 ? exact : rows;
  if (pool.length === 0) return undefined;
  const key = (r: M) => `${r.schema}\u0000${r.name}`;
  const oneObject = (ms: M[]) => ms.length > 0 && new Set(ms.map(key)).size === 1;
  for (const narrowed of [pool, pool.filter((r) => r.visible), pool.filter((r) => !r.system)]) {
    if (oneObject(narrowed)) return pool.filter((r) => key(r) === key(narrowed[0] as M));
  }
  const names = [...new Set(pool.map((r) => qualified(r.schema, r.name)))].sort();
  throw new ToolError(`${what} "${ref.name}" is ambiguous: ${names.join(', ')}`, {
    code: 'ambiguous',
    hint: 'pass `schema` (or a qualified `name`, double-quoted where the case matters) to pick one',
  });
}

function notFound(
  what: string,
  ref: ObjectRef,
  near: Candidate[],
  listAction: string,
  schemaExists: boolean,
): ToolError {
  const label = ref.schema !== undefined ? `${ref.schema}.${ref.name}` : ref.name;
  const shown = near.map((c) => qualified(c.schema, c.name));
  const missingSchema = ref.schema !== undefined && !schemaExists ? ` (there is no schema "${ref.schema}")` : '';
  const message = `${what} "${label}" not found${missingSchema}${shown.length ? `; did you mean ${shown.join(', ')}?` : ''}`;
  return new ToolError(message, {
    code: 'not_found',
    hint: `${listAction} with \`pattern\` lists the names${ref.schema !== undefined ? '; leave out `schema` to search every schema' : ''}`,
  });
}

async function schemaExists(client: pg.PoolClient, schema: string | undefined): Promise<boolean> {
  if (schema === undefined) return true;
  const r = await client.query('select 1 from pg_catalog.pg_namespace where nspname = $1', [schema]);
  return (r.rowCount ?? 0) > 0;
}

export interface RelationMatch extends Match {
  relkind: string;
}

const LOOKUP_KINDS = [...DESCRIBABLE_RELKINDS, 'S', 'i', 'I', 'c'];

/** The table, view, materialized view, partitioned or foreign table a reference names. */
export async function resolveRelation(client: pg.PoolClient, ref: ObjectRef): Promise<RelationMatch> {
  const result = await client.query(
    `select c.oid, n.nspname as schema, c.relname as name, c.relkind::text as relkind,
        pg_catalog.pg_table_is_visible(c.oid) as visible, not ${userSchema()} as system
      from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where lower(c.relname) = lower($1::text) and ($2::text is null or lower(n.nspname) = lower($2::text))
        and c.relkind::text = any($3::text[])`,
    [ref.name, ref.schema ?? null, LOOKUP_KINDS],
  );
  const picked = pick(ref, result.rows as RelationMatch[], 'relation');
  if (picked === undefined) {
    const candidates = await client.query(
      `select n.nspname as schema, c.relname as name
        from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p', 'f', 'v', 'm') and ${userSchema()} limit 20000`,
    );
    const near = suggest(ref, candidates.rows as Candidate[]);
    throw notFound('table or view', ref, near, 'list_tables (or list_views)', await schemaExists(client, ref.schema));
  }
  const rel = picked[0] as RelationMatch;
  if (!(DESCRIBABLE_RELKINDS as readonly string[]).includes(rel.relkind)) {
    throw await wrongKind(client, rel);
  }
  return rel;
}

async function wrongKind(client: pg.PoolClient, rel: RelationMatch): Promise<ToolError> {
  const label = qualified(rel.schema, rel.name);
  const kind = RELKIND_NAMES[rel.relkind] ?? rel.relkind;
  if (rel.relkind === 'i' || rel.relkind === 'I') {
    const t = await client.query(
      `select n.nspname as schema, c.relname as name from pg_catalog.pg_index i
        join pg_catalog.pg_class c on c.oid = i.indrelid join pg_catalog.pg_namespace n on n.oid = c.relnamespace
        where i.indexrelid = $1`,
      [rel.oid],
    );
    const table = t.rows[0] as Candidate | undefined;
    return new ToolError(
      `${label} is an index${table ? ` on ${qualified(table.schema, table.name)}` : ''}, not a table or view`,
      {
        code: 'wrong_kind',
        hint: table ? `describe_table with name ${qualified(table.schema, table.name)} shows its indexes` : undefined,
      },
    );
  }
  const hint =
    rel.relkind === 'S'
      ? 'list_sequences shows sequences'
      : rel.relkind === 'c'
        ? 'list_types shows composite types'
        : undefined;
  return new ToolError(`${label} is a ${kind}, not a table or view`, { code: 'wrong_kind', ...(hint ? { hint } : {}) });
}

export interface FunctionMatch extends Match {
  kind: string;
  identity: string;
}

/**
 * The functions a reference names: every overload in the chosen schema, or the one `signature` (argument types)
 * picks.
 */
export async function resolveFunctions(client: pg.PoolClient, ref: ObjectRef): Promise<FunctionMatch[]> {
  const result = await client.query(
    `select p.oid, n.nspname as schema, p.proname as name, p.prokind::text as kind,
        pg_catalog.pg_get_function_identity_arguments(p.oid) as identity,
        pg_catalog.pg_function_is_visible(p.oid) as visible, not ${userSchema()} as system
      from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
      where lower(p.proname) = lower($1::text) and ($2::text is null or lower(n.nspname) = lower($2::text))
      order by n.nspname, p.proname, identity`,
    [ref.name, ref.schema ?? null],
  );
  const rows = result.rows as FunctionMatch[];
  // pick narrows to one schema and one spelling, keeping every overload.
  const picked = pick(ref, rows, 'function');
  if (picked === undefined) {
    const candidates = await client.query(
      `select distinct n.nspname as schema, p.proname as name
        from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
        where ${userSchema()} limit 20000`,
    );
    const near = suggest(ref, candidates.rows as Candidate[]);
    throw notFound('function', ref, near, 'list_functions', await schemaExists(client, ref.schema));
  }
  const first = picked[0] as FunctionMatch;
  const overloads = picked;
  if (ref.signature === undefined) return overloads;
  const oid = await regprocedure(client, first.schema, first.name, ref.signature);
  const chosen = overloads.filter((o) => Number(o.oid) === oid);
  if (chosen.length === 0) {
    throw new ToolError(
      `${qualified(first.schema, first.name)}(${ref.signature}) not found; its overloads: ${overloads
        .map((o) => `${o.name}(${o.identity})`)
        .join(', ')}`,
      {
        code: 'not_found',
        hint: 'give the argument types of one overload as `signature`, or leave it out to see them all',
      },
    );
  }
  return chosen;
}

/** The function with these argument types, resolved by the server's own type-name parser (null when none). */
async function regprocedure(
  client: pg.PoolClient,
  schema: string,
  name: string,
  signature: string,
): Promise<number | null> {
  await client.query('savepoint pgmcp_signature');
  try {
    const r = await client.query(
      `select pg_catalog.to_regprocedure(pg_catalog.format('%I.%I(%s)', $1::text, $2::text, $3::text))::oid as oid`,
      [schema, name, signature],
    );
    await client.query('release savepoint pgmcp_signature');
    const oid = (r.rows[0] as { oid: number | null } | undefined)?.oid;
    return oid === null || oid === undefined ? null : Number(oid);
  } catch (err) {
    await client.query('rollback to savepoint pgmcp_signature');
    throw new ToolError(`\`signature\` "${signature}" is not a list of argument types: ${(err as Error).message}`, {
      code: 'invalid_argument',
      hint: 'write the types only, comma separated, e.g. `integer, text`',
    });
  }
}

/** Throws `not_found`, with the closest schema names, when `schema` does not exist. */
export async function requireSchema(client: pg.PoolClient, schema: string): Promise<void> {
  const r = await client.query('select nspname as name from pg_catalog.pg_namespace');
  const names = (r.rows as { name: string }[]).map((row) => row.name);
  if (names.includes(schema)) return;
  const near = suggest(
    { name: schema },
    names.map((name) => ({ schema: '', name })),
  ).map((c) => c.name);
  throw new ToolError(`schema "${schema}" not found${near.length ? `; did you mean ${near.join(', ')}?` : ''}`, {
    code: 'not_found',
    hint: 'list_schemas shows the schemas',
  });
}

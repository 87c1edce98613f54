/**
 * What index advice needs to know about the tables a workload names: columns (with server-side quoting and
 * statistics), existing indexes (key columns or expressions, INCLUDE columns, method, partial, valid) and sizes.
 */
import type { PerfSession } from './session.js';

export interface ColumnInfo {
  name: string;
  /** quote_ident(name), as the server quotes it. */
  quoted: string;
  type: string;
  /** Distinct values estimated from pg_stats (negative n_distinct resolved against reltuples); null when unknown. */
  distinct: number | null;
}

export interface ExistingIndex {
  name: string;
  method: string;
  /** Key columns by name, or `expr:<normalised expression>`. */
  keys: string[];
  include: string[];
  unique: boolean;
  primary: boolean;
  valid: boolean;
  partial: boolean;
  definition: string;
}

export interface TableInfo {
  oid: number;
  schema: string;
  name: string;
  /** `schema.name`, quoted as needed. */
  qualified: string;
  /** r (table), m (materialized view), p (partitioned), v (view), f (foreign), … */
  kind: string;
  rows: number;
  bytes: number;
  columns: Map<string, ColumnInfo>;
  indexes: ExistingIndex[];
}

/** A relation name as written: `name` or `schema.name` (parser-normalised case). */
export interface RelationRef {
  schema?: string;
  name: string;
}

export function refKey(ref: RelationRef): string {
  return ref.schema === undefined ? ref.name : `${ref.schema}.${ref.name}`;
}

function quoted(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The same expression however it was spaced, quoted or parenthesised. */
export function normaliseExpression(text: string): string {
  let t = text.toLowerCase().replace(/"/g, '').replace(/\s+/g, '');
  while (t.startsWith('(') && t.endsWith(')') && balanced(t.slice(1, -1))) t = t.slice(1, -1);
  return t;
}

function balanced(t: string): boolean {
  let depth = 0;
  for (const ch of t) {
    if (ch === '(') depth++;
    else if (ch === ')' && --depth < 0) return false;
  }
  return depth === 0;
}

/**
 * Resolves relation names as the connection's search_path does and loads the tables (other relation kinds are
 * returned with their kind and no columns). Unknown names map to null.
 */
export async function loadTables(
  session: PerfSession,
  refs: readonly RelationRef[],
): Promise<Map<string, TableInfo | null>> {
  const out = new Map<string, TableInfo | null>();
  const unique = [...new Map(refs.map((r) => [refKey(r), r])).values()];
  if (unique.length === 0) return out;
  const names = unique.map((r) => (r.schema === undefined ? quoted(r.name) : `${quoted(r.schema)}.${quoted(r.name)}`));
  const resolved = await session.query<{ i: number; oid: string | null }>(
    'select i::int as i, to_regclass(n)::oid::int8 as oid from unnest($1::text[]) with ordinality as t(n, i)',
    [names],
  );
  const oidOf = new Map<number, number>();
  for (const r of resolved.rows) if (r.oid !== null) oidOf.set(r.i - 1, Number(r.oid));
  const oids = [...new Set(oidOf.values())];
  const tables = await loadByOid(session, oids);
  unique.forEach((ref, i) => {
    const oid = oidOf.get(i);
    out.set(refKey(ref), oid === undefined ? null : (tables.get(oid) ?? null));
  });
  return out;
}

async function loadByOid(session: PerfSession, oids: number[]): Promise<Map<number, TableInfo>> {
  const out = new Map<number, TableInfo>();
  if (oids.length === 0) return out;
  const rels = await session.query<{
    oid: string;
    schema: string;
    name: string;
    qualified: string;
    kind: string;
    rows: number;
    bytes: string;
  }>(
    `select c.oid::int8 as oid, n.nspname as schema, c.relname as name,
            quote_ident(n.nspname) || '.' || quote_ident(c.relname) as qualified, c.relkind::text as kind,
            c.reltuples::float8 as rows,
            case when c.relkind in ('r', 'm', 't') then pg_catalog.pg_relation_size(c.oid) else 0 end::int8 as bytes
       from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where c.oid = any($1::oid[])`,
    [oids],
  );
  for (const r of rels.rows) {
    out.set(Number(r.oid), {
      oid: Number(r.oid),
      schema: r.schema,
      name: r.name,
      qualified: r.qualified,
      kind: r.kind,
      rows: Math.max(0, r.rows),
      bytes: Number(r.bytes),
      columns: new Map(),
      indexes: [],
    });
  }
  const cols = await session.query<{
    rel: string;
    name: string;
    quoted: string;
    type: string;
    n_distinct: number | null;
  }>(
    `select a.attrelid::int8 as rel, a.attname as name, quote_ident(a.attname) as quoted,
            pg_catalog.format_type(a.atttypid, a.atttypmod) as type, s.n_distinct::float8 as n_distinct
       from pg_catalog.pg_attribute a
       join pg_catalog.pg_class c on c.oid = a.attrelid
       join pg_catalog.pg_namespace n on n.oid = c.relnamespace
       left join pg_catalog.pg_stats s
              on s.schemaname = n.nspname and s.tablename = c.relname and s.attname = a.attname and not s.inherited
      where a.attrelid = any($1::oid[]) and a.attnum > 0 and not a.attisdropped`,
    [oids],
  );
  for (const c of cols.rows) {
    const t = out.get(Number(c.rel));
    if (!t) continue;
    const nd = c.n_distinct;
    const distinct = nd === null ? null : nd >= 0 ? nd : -nd * t.rows;
    t.columns.set(c.name, { name: c.name, quoted: c.quoted, type: c.type, distinct });
  }
  const idx = await session.query<{
    rel: string;
    name: string;
    method: string;
    unique: boolean;
    primary: boolean;
    valid: boolean;
    partial: boolean;
    nkey: number;
    cols: (string | null)[];
    definition: string;
  }>(
    `select i.indrelid::int8 as rel, ic.relname as name, am.amname as method, i.indisunique as unique,
            i.indisprimary as primary, i.indisvalid and i.indisready as valid, i.indpred is not null as partial,
            i.indnkeyatts as nkey,
            array(select case when k.attnum > 0 then a.attname::text
                              else 'expr:' || pg_catalog.pg_get_indexdef(i.indexrelid, k.ord::int, true) end
                    from unnest(i.indkey::int2[]) with ordinality as k(attnum, ord)
                    left join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
                   order by k.ord) as cols,
            pg_catalog.pg_get_indexdef(i.indexrelid) as definition
       from pg_catalog.pg_index i
       join pg_catalog.pg_class ic on ic.oid = i.indexrelid
       join pg_catalog.pg_am am on am.oid = ic.relam
      where i.indrelid = any($1::oid[])`,
    [oids],
  );
  for (const r of idx.rows) {
    const t = out.get(Number(r.rel));
    if (!t) continue;
    const all = (r.cols ?? []).map((c) =>
      c === null ? '?' : c.startsWith('expr:') ? `expr:${normaliseExpression(c.slice(5))}` : c,
    );
    t.indexes.push({
      name: r.name,
      method: r.method,
      keys: all.slice(0, r.nkey),
      include: all.slice(r.nkey),
      unique: r.unique,
      primary: r.primary,
      valid: r.valid,
      partial: r.partial,
      definition: r.definition,
    });
  }
  return out;
}

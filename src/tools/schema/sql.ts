/**
 * SQL fragments the catalog queries share. They only ever reference table aliases; every value a caller gives is
 * a bound parameter.
 */

/** True for a schema (alias `n` of pg_namespace by default) that is not a system schema. */
export function userSchema(n = 'n'): string {
  return `(${n}.nspname not in ('pg_catalog', 'information_schema') and ${n}.nspname !~ '^pg_(toast|temp_)')`;
}

/** True for an object that does not belong to an extension (`catalog` is its system catalog, e.g. pg_class). */
export function notExtensionMember(catalog: string, oid: string): string {
  return `not exists (select 1 from pg_catalog.pg_depend dep where dep.classid = '${catalog}'::regclass and dep.objid = ${oid} and dep.deptype = 'e')`;
}

/** True for an object PostgreSQL did not create on its own for another one (e.g. the constructors of a range type). */
export function notInternal(catalog: string, oid: string): string {
  return `not exists (select 1 from pg_catalog.pg_depend dep where dep.classid = '${catalog}'::regclass and dep.objid = ${oid} and dep.deptype = 'i')`;
}

/** Column names of an attribute-number array (conkey, confkey) of relation `rel`, in array order, as text[]. */
export function attnames(keys: string, rel: string): string {
  return `array(select a.attname::text from unnest(${keys}) with ordinality k(num, ord) join pg_catalog.pg_attribute a on a.attrelid = ${rel} and a.attnum = k.num order by k.ord)`;
}

/**
 * The row estimate of relation `c` (reltuples as float8): the sum over the leaves of a partitioned table, -1 when
 * nothing was ever analysed.
 */
export function rowEstimateOf(c = 'c'): string {
  return `case when ${c}.relkind = 'p' then (select case when count(*) = 0 then 0 when bool_and(lc.reltuples < 0) then -1 else sum(greatest(lc.reltuples, 0)) end from pg_catalog.pg_partition_tree(${c}.oid) pt join pg_catalog.pg_class lc on lc.oid = pt.relid where pt.isleaf)::float8 else ${c}.reltuples::float8 end`;
}

/** Total on-disk size of relation `c` with indexes and TOAST, summed over a partitioned table's tree. */
export function totalBytesOf(c = 'c'): string {
  return `case when ${c}.relkind = 'p' then (select sum(pg_catalog.pg_total_relation_size(pt.relid)) from pg_catalog.pg_partition_tree(${c}.oid) pt) when ${c}.relkind in ('r', 'm', 't') then pg_catalog.pg_total_relation_size(${c}.oid) end`;
}

/** The relkinds describe_table describes. */
export const DESCRIBABLE_RELKINDS = ['r', 'p', 'f', 'v', 'm'] as const;

export const RELKIND_NAMES: Record<string, string> = {
  r: 'table',
  p: 'partitioned table',
  f: 'foreign table',
  v: 'view',
  m: 'materialized view',
  S: 'sequence',
  i: 'index',
  I: 'partitioned index',
  c: 'composite type',
  t: 'TOAST table',
};

import type pg from 'pg';
import { userSchema } from '../schema/sql.js';
import { compactTable } from '../schema/text.js';
import { rowEstimate } from '../schema/values.js';
import { sizeOf, sizeOr0, toNumber, toStr } from './format.js';
import type { SizesPart } from './output.js';

export interface TableFilter {
  /** Exact schema name, or null for every user schema. */
  schema: string | null;
  /** ILIKE pattern on the table name, or null. */
  pattern: string | null;
  limit: number;
}

/** Tables in scope: user schemas (or the schema asked for), name pattern; binds $1 schema, $2 pattern. */
export const TABLE_SCOPE = `(case when $1::text is null then ${userSchema()} else n.nspname = $1::text end)
  and ($2::text is null or c.relname ilike $2::text)`;

type Row = Record<string, unknown>;

/**
 * `locked`: relations of this database locked ACCESS EXCLUSIVE, or waited for in that mode. The size functions take
 * an ACCESS SHARE lock on what they measure, so they would wait behind those (until lock_timeout).
 */
export const LOCKED_CTE = `locked as (select coalesce(array_agg(l.relation), '{}'::oid[]) as oids from pg_catalog.pg_locks l
    where l.locktype = 'relation' and l.mode = 'AccessExclusiveLock'
      and l.database = (select d.oid from pg_catalog.pg_database d where d.datname = pg_catalog.current_database()))`;

export const BLOCK_SIZE = "current_setting('block_size')::int8";

export async function sizes(
  client: pg.ClientBase,
  allowed: readonly string[] | null,
  f: TableFilter,
): Promise<SizesPart> {
  const dbs = (
    await client.query(
      `select d.datname::text as name,
          case when d.datallowconn and pg_catalog.has_database_privilege(d.oid, 'CONNECT')
            then pg_catalog.pg_database_size(d.oid) end as bytes
        from pg_catalog.pg_database d
        where not d.datistemplate and ($1::text[] is null or d.datname = any($1::text[]))
        order by bytes desc nulls last, name`,
      [allowed],
    )
  ).rows as Row[];

  // heap = main + FSM + VM forks (pg_table_size minus TOAST); toast = the TOAST table and its index. A partitioned
  // table sums its leaves. The size functions lock what they measure: a relation locked ACCESS EXCLUSIVE (or waited
  // for) is not measured but estimated from pg_class.relpages, rather than making this call wait.
  const tableSql = `with ${LOCKED_CTE}, t as (
      select n.nspname::text as schema, c.relname::text as name, c.relkind,
        case when c.relispartition then (select pn.nspname || '.' || pc.relname from pg_catalog.pg_inherits i
          join pg_catalog.pg_class pc on pc.oid = i.inhparent join pg_catalog.pg_namespace pn on pn.oid = pc.relnamespace
          where i.inhrelid = c.oid limit 1) end as partition_of,
        c.reltuples::float8 as reltuples, s.heap, s.toast, s.indexes, s.estimated
      from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      cross join lateral (
        select sum(x.heap) as heap, sum(x.toast) as toast, sum(x.indexes) as indexes,
          coalesce(bool_or(x.estimated), false) as estimated
        from (select lc.oid, lc.relpages, lc.reltoastrelid from pg_catalog.pg_class lc where lc.oid = c.oid and c.relkind <> 'p'
              union all
              select lc.oid, lc.relpages, lc.reltoastrelid from pg_catalog.pg_partition_tree(c.oid) pt
                join pg_catalog.pg_class lc on lc.oid = pt.relid where c.relkind = 'p' and pt.isleaf) leaf
        cross join lateral (select leaf.oid = any(l.oids) or leaf.reltoastrelid = any(l.oids)
            or exists (select 1 from pg_catalog.pg_index i where i.indrelid = leaf.oid and i.indexrelid = any(l.oids)) as locked
          from locked l) k
        cross join lateral (select
            case when k.locked then leaf.relpages::int8 * ${BLOCK_SIZE}
              else pg_catalog.pg_table_size(leaf.oid) - coalesce(pg_catalog.pg_total_relation_size(nullif(leaf.reltoastrelid, 0)), 0) end as heap,
            case when k.locked then coalesce((select tc.relpages from pg_catalog.pg_class tc where tc.oid = leaf.reltoastrelid), 0)::int8 * ${BLOCK_SIZE}
              else coalesce(pg_catalog.pg_total_relation_size(nullif(leaf.reltoastrelid, 0)), 0) end as toast,
            case when k.locked then coalesce((select sum(ic.relpages) from pg_catalog.pg_index i
                join pg_catalog.pg_class ic on ic.oid = i.indexrelid where i.indrelid = leaf.oid), 0)::int8 * ${BLOCK_SIZE}
              else pg_catalog.pg_indexes_size(leaf.oid) end as indexes,
            k.locked as estimated) x
      ) s
      where c.relkind in ('r', 'p', 'm') and ${TABLE_SCOPE})
    select *, heap + toast + indexes as total, count(*) over () as matched from t
    order by total desc nulls last, schema, name limit $3`;
  const tables = (await client.query(tableSql, [f.schema, f.pattern, f.limit])).rows as Row[];

  const indexSql = `with ${LOCKED_CTE}
      select n.nspname::text as schema, c.relname::text as table_name, ic.relname::text as name,
        case when ic.oid = any(l.oids) then ic.relpages::int8 * ${BLOCK_SIZE} else pg_catalog.pg_relation_size(ic.oid) end as bytes,
        ic.oid = any(l.oids) as estimated,
        s.idx_scan::float8 as scans, x.indisunique as is_unique,
        x.indisprimary as is_primary, x.indisvalid as is_valid, count(*) over () as matched
      from pg_catalog.pg_index x
      join pg_catalog.pg_class ic on ic.oid = x.indexrelid
      join pg_catalog.pg_class c on c.oid = x.indrelid
      join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      cross join locked l
      left join pg_catalog.pg_stat_all_indexes s on s.indexrelid = x.indexrelid
      where ic.relkind = 'i' and ${TABLE_SCOPE}
      order by bytes desc, schema, name limit $3`;
  const indexes = (await client.query(indexSql, [f.schema, f.pattern, f.limit])).rows as Row[];
  const here = (await client.query('select pg_catalog.pg_database_size(pg_catalog.current_database()) as bytes'))
    .rows[0] as Row;

  const kind = (k: unknown) =>
    (k === 'p' ? 'partitioned table' : k === 'm' ? 'materialized view' : 'table') as
      | 'table'
      | 'partitioned table'
      | 'materialized view';
  return {
    databases: dbs.map((d) => ({ name: String(d.name), size: sizeOf(d.bytes) })),
    tables: tables.map((t) => ({
      schema: String(t.schema),
      name: String(t.name),
      kind: kind(t.relkind),
      partitionOf: toStr(t.partition_of),
      rows: t.relkind === 'p' ? null : rowEstimate(t.reltuples),
      heap: sizeOr0(t.heap),
      toast: sizeOr0(t.toast),
      indexes: sizeOr0(t.indexes),
      total: sizeOr0(t.total),
      estimated: t.estimated === true,
    })),
    tablesTotal: Number(tables[0]?.matched ?? 0),
    indexes: indexes.map((i) => ({
      schema: String(i.schema),
      table: String(i.table_name),
      name: String(i.name),
      size: sizeOr0(i.bytes),
      scans: toNumber(i.scans),
      unique: i.is_unique === true,
      primary: i.is_primary === true,
      valid: i.is_valid === true,
      estimated: i.estimated === true,
    })),
    indexesTotal: Number(indexes[0]?.matched ?? 0),
    databaseSize: sizeOf(here.bytes),
  };
}

export function sizesText(part: SizesPart, database: string): string[] {
  const lines: string[] = [];
  lines.push(
    `databases: ${part.databases.map((d) => `${d.name} ${d.size?.pretty ?? '(no CONNECT privilege)'}`).join(', ')}`,
  );
  const partitioned = part.tables.some((t) => t.kind === 'partitioned table');
  lines.push(
    `largest tables in ${database} (${part.tables.length} of ${part.tablesTotal}${partitioned ? '; a partitioned table sums its partitions, which are listed too' : ''}):`,
  );
  if (part.tables.length > 0) {
    lines.push(
      compactTable(
        ['table', 'kind', 'rows', 'heap', 'toast', 'indexes', 'total'],
        part.tables.map((t) => [
          `${t.schema}.${t.name}`,
          t.partitionOf ? `partition of ${t.partitionOf}` : t.kind,
          t.rows === null ? (t.kind === 'partitioned table' ? '' : 'not analysed') : t.rows,
          t.heap.pretty,
          t.toast.pretty,
          t.indexes.pretty,
          `${t.total.pretty}${t.estimated ? ' (estimated: locked)' : ''}`,
        ]),
      ),
    );
  }
  lines.push(`largest indexes (${part.indexes.length} of ${part.indexesTotal}):`);
  if (part.indexes.length > 0) {
    lines.push(
      compactTable(
        ['index', 'table', 'size', 'scans', 'kind'],
        part.indexes.map((i) => [
          `${i.schema}.${i.name}`,
          i.table,
          `${i.size.pretty}${i.estimated ? ' (estimated: locked)' : ''}`,
          i.scans,
          [i.primary ? 'primary key' : i.unique ? 'unique' : '', i.valid ? '' : 'INVALID'].filter(Boolean).join(', '),
        ]),
      ),
    );
  }
  return lines;
}

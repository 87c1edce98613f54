import type pg from 'pg';
import type { TableOutput } from './output.js';
import type { Row } from './paging.js';
import { RELKIND_NAMES, rowEstimateOf } from './sql.js';
import { readConstraints, readIndexes, readPolicies, readReferencedBy, readTriggers } from './table-parts.js';
import { big, bool, rowEstimate, type Size, size, str, strings, time } from './values.js';

const PERSISTENCE: Record<string, TableOutput['persistence']> = { p: 'permanent', u: 'unlogged', t: 'temporary' };

/** Sizes of the heap, TOAST and indexes of `c`, summed over the partition tree (one row for a plain table). */
const SIZES = `left join lateral (
    select sum(pg_catalog.pg_table_size(r.oid) - coalesce(pg_catalog.pg_total_relation_size(nullif(r.reltoastrelid, 0)), 0)) as table_bytes,
      sum(coalesce(pg_catalog.pg_total_relation_size(nullif(r.reltoastrelid, 0)), 0)) as toast_bytes,
      sum(pg_catalog.pg_indexes_size(r.oid)) as index_bytes,
      sum(pg_catalog.pg_total_relation_size(r.oid)) as total_bytes
    from pg_catalog.pg_class r
    where r.oid in (select pt.relid from pg_catalog.pg_partition_tree(c.oid) pt union select c.oid)
      and r.relkind in ('r', 'm', 'p')
  ) sz on c.relkind in ('r', 'm', 'p')`;

async function readRelation(client: pg.PoolClient, oid: number): Promise<Row> {
  const r = await client.query(
    `select n.nspname as schema, c.relname as name, c.relkind::text as relkind,
        pg_catalog.pg_get_userbyid(c.relowner) as owner, pg_catalog.obj_description(c.oid, 'pg_class') as comment,
        ${rowEstimateOf()} as row_estimate, c.relpersistence::text as persistence,
        c.relrowsecurity as rls, c.relforcerowsecurity as rls_forced, c.relispopulated as populated,
        case when c.relkind = 'p' then pg_catalog.pg_get_partkeydef(c.oid) end as partition_key,
        case when c.relispartition then pg_catalog.pg_get_expr(c.relpartbound, c.oid) end as partition_bound,
        par.parent_schema, par.parent_name,
        array(select pg_catalog.quote_ident(pn.nspname) || '.' || pg_catalog.quote_ident(pc.relname) from pg_catalog.pg_inherits i
              join pg_catalog.pg_class pc on pc.oid = i.inhparent join pg_catalog.pg_namespace pn on pn.oid = pc.relnamespace
              where i.inhrelid = c.oid and not c.relispartition order by i.inhseqno) as inherits,
        case when c.relkind in ('v', 'm') then pg_catalog.pg_get_viewdef(c.oid, true) end as view_definition,
        c.reloptions::text[] as options, ts.spcname as tablespace,
        fs.srvname as foreign_server, ft.ftoptions::text[] as foreign_options,
        sz.table_bytes, sz.toast_bytes, sz.index_bytes, sz.total_bytes,
        st.relid is not null as has_stats, st.n_live_tup as live_rows, st.n_dead_tup as dead_rows,
        st.last_vacuum::text as last_vacuum, st.last_autovacuum::text as last_autovacuum,
        st.last_analyze::text as last_analyze, st.last_autoanalyze::text as last_autoanalyze
      from pg_catalog.pg_class c
      join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      left join pg_catalog.pg_tablespace ts on ts.oid = c.reltablespace
      left join pg_catalog.pg_stat_all_tables st on st.relid = c.oid
      left join pg_catalog.pg_foreign_table ft on ft.ftrelid = c.oid
      left join pg_catalog.pg_foreign_server fs on fs.oid = ft.ftserver
      left join lateral (
        select pn.nspname as parent_schema, pc.relname as parent_name
        from pg_catalog.pg_inherits i join pg_catalog.pg_class pc on pc.oid = i.inhparent
        join pg_catalog.pg_namespace pn on pn.oid = pc.relnamespace
        where i.inhrelid = c.oid and c.relispartition) par on true
      ${SIZES}
      where c.oid = $1`,
    [oid],
  );
  return r.rows[0] as Row;
}

async function readColumns(client: pg.PoolClient, oid: number): Promise<TableOutput['columns']> {
  const r = await client.query(
    `select a.attnum as position, a.attname as name, pg_catalog.format_type(a.atttypid, a.atttypmod) as type,
        not a.attnotnull as nullable, pg_catalog.pg_get_expr(d.adbin, d.adrelid, true) as expr,
        a.attidentity::text as identity, a.attgenerated::text as generated, co.collname as collation,
        pg_catalog.col_description(a.attrelid, a.attnum) as comment
      from pg_catalog.pg_attribute a
      join pg_catalog.pg_type t on t.oid = a.atttypid
      left join pg_catalog.pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      left join pg_catalog.pg_collation co on co.oid = a.attcollation and a.attcollation <> t.typcollation
      where a.attrelid = $1 and a.attnum > 0 and not a.attisdropped
      order by a.attnum`,
    [oid],
  );
  return (r.rows as Row[]).map((row) => {
    const generated = String(row.generated ?? '');
    const identity = String(row.identity ?? '');
    const col: TableOutput['columns'][number] = {
      position: Number(row.position),
      name: String(row.name),
      type: String(row.type),
      nullable: bool(row.nullable),
      default: generated === '' ? str(row.expr) : null,
      comment: str(row.comment),
    };
    if (identity === 'a') col.identity = 'always';
    if (identity === 'd') col.identity = 'by default';
    if (generated !== '')
      col.generated = { kind: generated === 'v' ? 'virtual' : 'stored', expression: String(row.expr) };
    if (row.collation !== null) col.collation = String(row.collation);
    return col;
  });
}

async function readPartitions(
  client: pg.PoolClient,
  oid: number,
  limit: number,
  offset: number,
): Promise<NonNullable<TableOutput['partitions']>> {
  const r = await client.query(
    `select n.nspname as schema, c.relname as name, c.relkind::text as relkind,
        pg_catalog.pg_get_expr(c.relpartbound, c.oid) as bound, ${rowEstimateOf()} as row_estimate,
        (select sum(pg_catalog.pg_total_relation_size(pt.relid)) from pg_catalog.pg_partition_tree(c.oid) pt) as total_bytes,
        count(*) over () as total
      from pg_catalog.pg_inherits i
      join pg_catalog.pg_class c on c.oid = i.inhrelid
      join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where i.inhparent = $1
      order by n.nspname, c.relname
      limit $2 offset $3`,
    [oid, limit, offset],
  );
  const rows = r.rows as Row[];
  let total = rows.length > 0 ? Number(rows[0]?.total) : 0;
  if (rows.length === 0 && offset > 0) {
    const counted = await client.query('select count(*) as n from pg_catalog.pg_inherits where inhparent = $1', [oid]);
    total = Number((counted.rows[0] as Row).n);
  }
  const items = rows.map((row) => ({
    schema: String(row.schema),
    name: String(row.name),
    kind: RELKIND_NAMES[String(row.relkind)] ?? String(row.relkind),
    bound: str(row.bound),
    rowEstimate: rowEstimate(row.row_estimate),
    size: size(row.total_bytes),
  }));
  const truncated = offset + items.length < total;
  return { items, total, truncated, ...(truncated ? { nextOffset: offset + items.length } : {}) };
}

/** Everything describe_table says about one relation (already resolved to its oid). */
export async function describeTable(
  client: pg.PoolClient,
  oid: number,
  page: { limit: number; offset: number },
): Promise<TableOutput> {
  const rel = await readRelation(client, oid);
  const relkind = String(rel.relkind);
  const isView = relkind === 'v' || relkind === 'm';
  // One connection: the queries run one after the other.
  const columns = await readColumns(client, oid);
  const constraints = await readConstraints(client, oid);
  const indexes = await readIndexes(client, oid);
  const referencedBy = await readReferencedBy(client, oid);
  const triggers = await readTriggers(client, oid);
  const policies = await readPolicies(client, oid);
  const hasSizes = rel.total_bytes !== null && rel.total_bytes !== undefined;
  const table: TableOutput = {
    schema: String(rel.schema),
    name: String(rel.name),
    kind: RELKIND_NAMES[relkind] as TableOutput['kind'],
    owner: String(rel.owner),
    comment: str(rel.comment),
    persistence: PERSISTENCE[String(rel.persistence)] ?? 'permanent',
    rowEstimate: relkind === 'v' || relkind === 'f' ? null : rowEstimate(rel.row_estimate),
    sizes: hasSizes
      ? {
          table: size(rel.table_bytes ?? 0) as Size,
          toast: size(rel.toast_bytes ?? 0) as Size,
          indexes: size(rel.index_bytes ?? 0) as Size,
          total: size(rel.total_bytes) as Size,
        }
      : null,
    rowLevelSecurity: { enabled: bool(rel.rls), forced: bool(rel.rls_forced) },
    columns,
    primaryKey: constraints.primaryKey,
    constraints: constraints.others,
    indexes,
    foreignKeys: constraints.foreignKeys,
    referencedBy,
    triggers,
    policies,
  };
  if (rel.partition_key !== null) table.partitionKey = String(rel.partition_key);
  if (relkind === 'p') table.partitions = await readPartitions(client, oid, page.limit, page.offset);
  if (rel.parent_name !== null) {
    table.partitionOf = {
      schema: String(rel.parent_schema),
      name: String(rel.parent_name),
      bound: str(rel.partition_bound),
    };
  }
  const inherits = strings(rel.inherits);
  if (inherits.length > 0) table.inherits = inherits;
  if (isView && rel.view_definition !== null) table.viewDefinition = String(rel.view_definition).trim();
  if (relkind === 'm') table.populated = bool(rel.populated);
  if (rel.foreign_server !== null) {
    table.foreignServer = { server: String(rel.foreign_server), options: strings(rel.foreign_options) };
  }
  const options = strings(rel.options);
  if (options.length > 0) table.options = options;
  if (rel.tablespace !== null) table.tablespace = String(rel.tablespace);
  if (bool(rel.has_stats) && relkind !== 'v') {
    table.maintenance = {
      liveRows: big(rel.live_rows),
      deadRows: big(rel.dead_rows),
      lastVacuum: time(rel.last_vacuum),
      lastAutovacuum: time(rel.last_autovacuum),
      lastAnalyze: time(rel.last_analyze),
      lastAutoanalyze: time(rel.last_autoanalyze),
    };
  }
  return table;
}

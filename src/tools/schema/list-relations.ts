import { type ListFilters, SCHEMA_SHOWN, scopedParams, scopedWhere } from './filters.js';
import { qualified } from './names.js';
import type { Item, ListSpec, Row } from './paging.js';
import { notExtensionMember, rowEstimateOf, totalBytesOf } from './sql.js';
import { big, bool, count, num, prettyBytes, rowEstimate, str } from './values.js';

const RELATION_HIDDEN = `${SCHEMA_SHOWN} and ${notExtensionMember('pg_class', 'c.oid')}`;

const FROM_RELATIONS = 'from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace';

const TABLE_KINDS: Record<string, string> = { r: 'table', p: 'partitioned', f: 'foreign' };

function sizeCell(item: Item): string | null {
  return typeof item.totalBytes === 'number' ? prettyBytes(item.totalBytes) : null;
}

function rowsCell(item: Item): string {
  if (item.kind === 'foreign') return '';
  return item.rowEstimate === null ? 'not analysed' : count(item.rowEstimate as number);
}

export function listTables(f: ListFilters): ListSpec {
  return {
    noun: 'tables',
    sql: `select n.nspname as schema, c.relname as name, c.relkind::text as relkind,
        ${rowEstimateOf()} as row_estimate, ${totalBytesOf()} as total_bytes,
        pg_catalog.obj_description(c.oid, 'pg_class') as comment,
        case when c.relkind = 'p' then (select count(*) from pg_catalog.pg_inherits i where i.inhparent = c.oid) end as partitions,
        par.parent_schema, par.parent_name
      ${FROM_RELATIONS}
      left join lateral (
        select pn.nspname as parent_schema, pc.relname as parent_name
        from pg_catalog.pg_inherits i join pg_catalog.pg_class pc on pc.oid = i.inhparent
        join pg_catalog.pg_namespace pn on pn.oid = pc.relnamespace
        where i.inhrelid = c.oid and c.relispartition) par on true
      where c.relkind in ('r', 'p', 'f') and ${scopedWhere('c.relname', RELATION_HIDDEN, '($4::boolean or not c.relispartition)')}`,
    params: [...scopedParams(f), f.includePartitions],
    orderBy: 'schema, name',
    toItem(r: Row): Item {
      const totalBytes = num(r.total_bytes);
      const item: Item = {
        schema: String(r.schema),
        name: String(r.name),
        kind: TABLE_KINDS[String(r.relkind)] ?? String(r.relkind),
        rowEstimate: r.relkind === 'f' ? null : rowEstimate(r.row_estimate),
        totalBytes,
        totalSize: totalBytes === null ? null : prettyBytes(totalBytes),
        comment: str(r.comment),
      };
      if (r.partitions !== null) item.partitions = num(r.partitions);
      if (r.parent_name !== null) item.partitionOf = qualified(String(r.parent_schema), String(r.parent_name));
      return item;
    },
    columns: [
      ['schema', (i) => i.schema as string],
      ['name', (i) => i.name as string],
      [
        'kind',
        (i) =>
          i.partitionOf
            ? `partition of ${i.partitionOf}`
            : i.kind === 'partitioned'
              ? `partitioned (${i.partitions} partitions)`
              : (i.kind as string),
      ],
      ['rows (est.)', rowsCell],
      ['total size', sizeCell],
      ['comment', (i) => i.comment as string | null],
    ],
    note: f.includePartitions ? undefined : 'partitions are not listed: include_partitions: true lists them',
  };
}

export function listViews(f: ListFilters): ListSpec {
  return {
    noun: 'views',
    sql: `select n.nspname as schema, c.relname as name, pg_catalog.pg_get_userbyid(c.relowner) as owner,
        pg_catalog.obj_description(c.oid, 'pg_class') as comment
      ${FROM_RELATIONS}
      where c.relkind = 'v' and ${scopedWhere('c.relname', RELATION_HIDDEN)}`,
    params: scopedParams(f),
    orderBy: 'schema, name',
    toItem: (r: Row): Item => ({
      schema: String(r.schema),
      name: String(r.name),
      owner: str(r.owner),
      comment: str(r.comment),
    }),
    columns: [
      ['schema', (i) => i.schema as string],
      ['name', (i) => i.name as string],
      ['owner', (i) => i.owner as string | null],
      ['comment', (i) => i.comment as string | null],
    ],
  };
}

export function listMaterializedViews(f: ListFilters): ListSpec {
  return {
    noun: 'materialized views',
    sql: `select n.nspname as schema, c.relname as name, c.relispopulated as populated,
        ${rowEstimateOf()} as row_estimate, ${totalBytesOf()} as total_bytes,
        pg_catalog.obj_description(c.oid, 'pg_class') as comment
      ${FROM_RELATIONS}
      where c.relkind = 'm' and ${scopedWhere('c.relname', RELATION_HIDDEN)}`,
    params: scopedParams(f),
    orderBy: 'schema, name',
    toItem(r: Row): Item {
      const totalBytes = num(r.total_bytes);
      return {
        schema: String(r.schema),
        name: String(r.name),
        populated: bool(r.populated),
        rowEstimate: rowEstimate(r.row_estimate),
        totalBytes,
        totalSize: totalBytes === null ? null : prettyBytes(totalBytes),
        comment: str(r.comment),
      };
    },
    columns: [
      ['schema', (i) => i.schema as string],
      ['name', (i) => i.name as string],
      ['populated', (i) => (i.populated ? 'yes' : 'no (REFRESH needed)')],
      ['rows (est.)', rowsCell],
      ['total size', sizeCell],
      ['comment', (i) => i.comment as string | null],
    ],
  };
}

export function listSequences(f: ListFilters): ListSpec {
  return {
    noun: 'sequences',
    sql: `select n.nspname as schema, c.relname as name, pg_catalog.format_type(s.seqtypid, null) as type,
        s.seqstart as start, s.seqincrement as increment, s.seqmin as min, s.seqmax as max, s.seqcache as cache,
        s.seqcycle as cycle, ps.last_value,
        pg_catalog.has_sequence_privilege(c.oid, 'SELECT,USAGE') as readable, own.owner_schema, own.owner_table, own.owner_column, own.identity,
        pg_catalog.obj_description(c.oid, 'pg_class') as comment
      ${FROM_RELATIONS}
      join pg_catalog.pg_sequence s on s.seqrelid = c.oid
      left join pg_catalog.pg_sequences ps on ps.schemaname = n.nspname and ps.sequencename = c.relname
      left join lateral (
        select tn.nspname as owner_schema, t.relname as owner_table, a.attname as owner_column, d.deptype = 'i' as identity
        from pg_catalog.pg_depend d
        join pg_catalog.pg_class t on t.oid = d.refobjid
        join pg_catalog.pg_namespace tn on tn.oid = t.relnamespace
        join pg_catalog.pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
        where d.classid = 'pg_catalog.pg_class'::regclass and d.objid = c.oid
          and d.refclassid = 'pg_catalog.pg_class'::regclass and d.refobjsubid > 0 and d.deptype in ('a', 'i')
        limit 1) own on true
      where c.relkind = 'S' and ${scopedWhere('c.relname', RELATION_HIDDEN)}`,
    params: scopedParams(f),
    orderBy: 'schema, name',
    toItem(r: Row): Item {
      const item: Item = {
        schema: String(r.schema),
        name: String(r.name),
        type: String(r.type),
        start: big(r.start),
        increment: big(r.increment),
        min: big(r.min),
        max: big(r.max),
        cache: big(r.cache),
        cycle: bool(r.cycle),
        lastValue: big(r.last_value),
        lastValueReadable: bool(r.readable),
        ownedBy:
          r.owner_table === null
            ? null
            : `${qualified(String(r.owner_schema), String(r.owner_table))}.${String(r.owner_column)}`,
        identity: bool(r.identity),
        comment: str(r.comment),
      };
      return item;
    },
    columns: [
      ['schema', (i) => i.schema as string],
      ['name', (i) => i.name as string],
      ['type', (i) => i.type as string],
      ['last value', (i) => i.lastValue ?? (i.lastValueReadable ? 'unused' : 'no privilege')],
      ['increment', (i) => i.increment as number | string],
      ['range', (i) => `${i.min}..${i.max}${i.cycle ? ' cycle' : ''}`],
      ['owned by', (i) => (i.ownedBy ? `${i.ownedBy}${i.identity ? ' (identity)' : ''}` : null)],
      ['comment', (i) => i.comment as string | null],
    ],
  };
}

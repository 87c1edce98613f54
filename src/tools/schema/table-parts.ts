/** The catalog queries behind the sections of describe_table: constraints, indexes, foreign keys, triggers, policies. */
import type pg from 'pg';
import type { TableOutput } from './output.js';
import type { Row } from './paging.js';
import { attnames } from './sql.js';
import { bool, num, size, str, strings } from './values.js';

type FkAction = TableOutput['foreignKeys'][number]['onDelete'];
const FK_ACTIONS: Record<string, FkAction> = {
  a: 'no action',
  r: 'restrict',
  c: 'cascade',
  n: 'set null',
  d: 'set default',
};

function fkAction(code: unknown): FkAction {
  return FK_ACTIONS[String(code)] ?? 'no action';
}

type Constraint = TableOutput['constraints'][number];
const CONSTRAINT_TYPES: Record<string, Constraint['type']> = {
  p: 'primary key',
  u: 'unique',
  c: 'check',
  x: 'exclusion',
};

export interface Constraints {
  primaryKey: Constraint | null;
  others: Constraint[];
  foreignKeys: TableOutput['foreignKeys'];
}

/**
 * The table's own constraints (NOT NULL lives on the columns). Foreign keys a partitioned table keeps once per
 * partition of the table it references are internal copies and left out; those a partition inherits are kept.
 */
export async function readConstraints(client: pg.PoolClient, oid: number): Promise<Constraints> {
  const r = await client.query(
    `select co.conname as name, co.contype::text as type, pg_catalog.pg_get_constraintdef(co.oid, true) as definition,
        co.convalidated as validated, co.condeferrable as deferrable, ${attnames('co.conkey', 'co.conrelid')} as columns,
        fn.nspname as ref_schema, fc.relname as ref_table, ${attnames('co.confkey', 'co.confrelid')} as ref_columns,
        co.confupdtype::text as on_update, co.confdeltype::text as on_delete,
        (co.conparentid <> 0 or not co.conislocal) as inherited
      from pg_catalog.pg_constraint co
      left join pg_catalog.pg_class fc on fc.oid = co.confrelid
      left join pg_catalog.pg_namespace fn on fn.oid = fc.relnamespace
      where co.conrelid = $1 and co.contype in ('p', 'u', 'c', 'x', 'f')
        and not exists (select 1 from pg_catalog.pg_constraint pco where pco.oid = co.conparentid and pco.conrelid = co.conrelid)
      order by co.conname`,
    [oid],
  );
  const out: Constraints = { primaryKey: null, others: [], foreignKeys: [] };
  for (const row of r.rows as Row[]) {
    const type = String(row.type);
    if (type === 'f') {
      out.foreignKeys.push({
        name: String(row.name),
        columns: strings(row.columns),
        references: { schema: String(row.ref_schema), table: String(row.ref_table), columns: strings(row.ref_columns) },
        onUpdate: fkAction(row.on_update),
        onDelete: fkAction(row.on_delete),
        definition: String(row.definition),
        validated: bool(row.validated),
        inherited: bool(row.inherited),
      });
      continue;
    }
    const c: Constraint = {
      name: String(row.name),
      type: CONSTRAINT_TYPES[type] ?? 'check',
      columns: strings(row.columns),
      definition: String(row.definition),
      validated: bool(row.validated),
      deferrable: bool(row.deferrable),
      inherited: bool(row.inherited),
    };
    if (type === 'p') out.primaryKey = c;
    else out.others.push(c);
  }
  return out;
}

/** ` DESC`, ` NULLS FIRST`… of key column `k` of an ordered index (pg_index.indoption bits 1 = DESC, 2 = NULLS FIRST). */
const ORDERING = `case when pg_catalog.pg_indexam_has_property(am.oid, 'can_order')
  then case i.indoption[k - 1] & 3 when 1 then ' DESC NULLS LAST' when 2 then ' NULLS FIRST' when 3 then ' DESC' else '' end
  else '' end`;

/** Indexes with their definitions, sizes and scan counts (summed over the partitions of a partitioned index). */
export async function readIndexes(client: pg.PoolClient, oid: number): Promise<TableOutput['indexes']> {
  const r = await client.query(
    `select ic.relname as name, pg_catalog.pg_get_indexdef(i.indexrelid) as definition, am.amname as method,
        array(select pg_catalog.pg_get_indexdef(i.indexrelid, k, true) || ${ORDERING} from generate_series(1, i.indnkeyatts) k order by k) as key_columns,
        array(select pg_catalog.pg_get_indexdef(i.indexrelid, k, true) from generate_series(i.indnkeyatts + 1, i.indnatts) k order by k) as include_columns,
        i.indisunique as is_unique, i.indisprimary as is_primary, i.indisvalid as is_valid,
        pg_catalog.pg_get_expr(i.indpred, i.indrelid, true) as predicate, co.conname as constraint_name,
        case when ic.relkind = 'I'
          then (select sum(pg_catalog.pg_relation_size(pt.relid)) from pg_catalog.pg_partition_tree(i.indexrelid) pt)
          else pg_catalog.pg_relation_size(i.indexrelid) end as bytes,
        case when ic.relkind = 'I'
          then (select sum(s2.idx_scan) from pg_catalog.pg_partition_tree(i.indexrelid) pt
                join pg_catalog.pg_stat_all_indexes s2 on s2.indexrelid = pt.relid)
          else s.idx_scan end as scans
      from pg_catalog.pg_index i
      join pg_catalog.pg_class ic on ic.oid = i.indexrelid
      join pg_catalog.pg_am am on am.oid = ic.relam
      left join pg_catalog.pg_stat_all_indexes s on s.indexrelid = i.indexrelid
      left join pg_catalog.pg_constraint co
        on co.conindid = i.indexrelid and co.conrelid = i.indrelid and co.contype in ('p', 'u', 'x')
      where i.indrelid = $1
      order by i.indisprimary desc, ic.relname`,
    [oid],
  );
  return (r.rows as Row[]).map((row) => ({
    name: String(row.name),
    definition: String(row.definition),
    method: String(row.method),
    columns: strings(row.key_columns),
    include: strings(row.include_columns),
    unique: bool(row.is_unique),
    primary: bool(row.is_primary),
    valid: bool(row.is_valid),
    predicate: str(row.predicate),
    constraint: str(row.constraint_name),
    size: size(row.bytes),
    scans: num(row.scans),
  }));
}

/** Foreign keys of other tables (or this one) that reference this table; per-partition copies are left out. */
export async function readReferencedBy(client: pg.PoolClient, oid: number): Promise<TableOutput['referencedBy']> {
  const r = await client.query(
    `select co.conname as name, n.nspname as schema, c.relname as table_name,
        ${attnames('co.conkey', 'co.conrelid')} as columns, ${attnames('co.confkey', 'co.confrelid')} as ref_columns,
        co.confupdtype::text as on_update, co.confdeltype::text as on_delete,
        pg_catalog.pg_get_constraintdef(co.oid, true) as definition
      from pg_catalog.pg_constraint co
      join pg_catalog.pg_class c on c.oid = co.conrelid
      join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where co.confrelid = $1 and co.contype = 'f' and co.conparentid = 0
      order by n.nspname, c.relname, co.conname`,
    [oid],
  );
  return (r.rows as Row[]).map((row) => ({
    name: String(row.name),
    schema: String(row.schema),
    table: String(row.table_name),
    columns: strings(row.columns),
    referencedColumns: strings(row.ref_columns),
    onUpdate: fkAction(row.on_update),
    onDelete: fkAction(row.on_delete),
    definition: String(row.definition),
  }));
}

type Trigger = TableOutput['triggers'][number];
const TRIGGER_ENABLED: Record<string, Trigger['enabled']> = {
  O: 'enabled',
  D: 'disabled',
  R: 'replica only',
  A: 'always',
};

/** Decodes pg_trigger.tgtype (TRIGGER_TYPE_* bits of PostgreSQL's trigger.h). */
export function triggerType(tgtype: number): Pick<Trigger, 'timing' | 'events' | 'level'> {
  const events: string[] = [];
  if (tgtype & 4) events.push('insert');
  if (tgtype & 16) events.push('update');
  if (tgtype & 8) events.push('delete');
  if (tgtype & 32) events.push('truncate');
  return {
    timing: tgtype & 64 ? 'instead of' : tgtype & 2 ? 'before' : 'after',
    events,
    level: tgtype & 1 ? 'row' : 'statement',
  };
}

/** User triggers (internal ones that implement foreign keys are left out). */
export async function readTriggers(client: pg.PoolClient, oid: number): Promise<TableOutput['triggers']> {
  const r = await client.query(
    `select t.tgname as name, pg_catalog.pg_get_triggerdef(t.oid, true) as definition, t.tgenabled::text as enabled,
        t.tgtype::int as tgtype, pn.nspname as function_schema, p.proname as function_name,
        t.tgparentid <> 0 as inherited
      from pg_catalog.pg_trigger t
      join pg_catalog.pg_proc p on p.oid = t.tgfoid
      join pg_catalog.pg_namespace pn on pn.oid = p.pronamespace
      where t.tgrelid = $1 and not t.tgisinternal
      order by t.tgname`,
    [oid],
  );
  return (r.rows as Row[]).map((row) => ({
    name: String(row.name),
    ...triggerType(Number(row.tgtype)),
    function: `${String(row.function_schema)}.${String(row.function_name)}`,
    enabled: TRIGGER_ENABLED[String(row.enabled)] ?? 'enabled',
    definition: String(row.definition),
    inherited: bool(row.inherited),
  }));
}

const POLICY_COMMANDS: Record<string, string> = { r: 'select', a: 'insert', w: 'update', d: 'delete', '*': 'all' };

/** Row-level security policies. */
export async function readPolicies(client: pg.PoolClient, oid: number): Promise<TableOutput['policies']> {
  const r = await client.query(
    `select pol.polname as name, pol.polcmd::text as command, pol.polpermissive as permissive,
        case when 0::oid = any(pol.polroles) then array['public']
          else array(select ro.rolname::text from pg_catalog.pg_roles ro where ro.oid = any(pol.polroles) order by 1) end as roles,
        pg_catalog.pg_get_expr(pol.polqual, pol.polrelid, true) as using_expr,
        pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid, true) as check_expr
      from pg_catalog.pg_policy pol
      where pol.polrelid = $1
      order by pol.polname`,
    [oid],
  );
  return (r.rows as Row[]).map((row) => ({
    name: String(row.name),
    command: POLICY_COMMANDS[String(row.command)] ?? String(row.command),
    permissive: bool(row.permissive),
    roles: strings(row.roles),
    using: str(row.using_expr),
    withCheck: str(row.check_expr),
  }));
}

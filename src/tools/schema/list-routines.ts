import type { JsonValue } from '../../db/values.js';
import { type ListFilters, SCHEMA_SHOWN, scopedParams, scopedWhere } from './filters.js';
import type { Item, ListSpec, Row } from './paging.js';
import { notExtensionMember, notInternal } from './sql.js';
import { bool, str, strings } from './values.js';

export const FUNCTION_KINDS: Record<string, string> = { f: 'function', p: 'procedure', a: 'aggregate', w: 'window' };
export const VOLATILITY: Record<string, string> = { i: 'immutable', s: 'stable', v: 'volatile' };

export function listFunctions(f: ListFilters): ListSpec {
  return {
    noun: 'functions',
    sql: `select n.nspname as schema, p.proname as name, pg_catalog.pg_get_function_identity_arguments(p.oid) as arguments,
        pg_catalog.pg_get_function_result(p.oid) as result, p.prokind::text as kind, p.provolatile::text as volatility,
        l.lanname as language, pg_catalog.obj_description(p.oid, 'pg_proc') as comment
      from pg_catalog.pg_proc p
      join pg_catalog.pg_namespace n on n.oid = p.pronamespace
      join pg_catalog.pg_language l on l.oid = p.prolang
      where ${scopedWhere('p.proname', `${SCHEMA_SHOWN} and ${notExtensionMember('pg_proc', 'p.oid')} and ${notInternal('pg_proc', 'p.oid')}`)}`,
    params: scopedParams(f),
    orderBy: 'schema, name, arguments',
    toItem: (r: Row): Item => ({
      schema: String(r.schema),
      name: String(r.name),
      arguments: String(r.arguments ?? ''),
      result: str(r.result),
      kind: FUNCTION_KINDS[String(r.kind)] ?? String(r.kind),
      volatility: VOLATILITY[String(r.volatility)] ?? String(r.volatility),
      language: String(r.language),
      comment: str(r.comment),
    }),
    columns: [
      ['schema', (i) => i.schema as string],
      ['name', (i) => `${i.name}(${i.arguments})`],
      ['returns', (i) => i.result as string | null],
      ['kind', (i) => i.kind as string],
      ['volatility', (i) => i.volatility as string],
      ['language', (i) => i.language as string],
      ['comment', (i) => i.comment as string | null],
    ],
    note: f.includeSystem
      ? undefined
      : 'functions of extensions and the constructors of range types are hidden: include_system: true shows them',
  };
}

const TYPE_KINDS: Record<string, string> = { b: 'base', c: 'composite', d: 'domain', e: 'enum', r: 'range' };

interface NamedText {
  name: string;
  type?: string;
  definition?: string;
}

function typeDetails(i: Item): string {
  switch (i.kind) {
    case 'enum':
      return (i.labels as string[]).join(', ');
    case 'composite':
      return `(${(i.attributes as unknown as NamedText[]).map((a) => `${a.name} ${a.type}`).join(', ')})`;
    case 'domain': {
      const parts = [String(i.baseType)];
      if (i.notNull) parts.push('NOT NULL');
      if (i.default !== null && i.default !== undefined) parts.push(`DEFAULT ${i.default}`);
      for (const c of i.constraints as unknown as NamedText[]) parts.push(String(c.definition));
      return parts.join(' ');
    }
    case 'range':
      return `range of ${i.subtype}`;
    default:
      return '';
  }
}

export function listTypes(f: ListFilters): ListSpec {
  return {
    noun: 'types',
    sql: `select n.nspname as schema, t.typname as name, t.typtype::text as typtype,
        array(select e.enumlabel::text from pg_catalog.pg_enum e where e.enumtypid = t.oid order by e.enumsortorder) as labels,
        (select json_agg(json_build_object('name', a.attname, 'type', pg_catalog.format_type(a.atttypid, a.atttypmod)) order by a.attnum)
         from pg_catalog.pg_attribute a where t.typtype = 'c' and a.attrelid = t.typrelid and a.attnum > 0 and not a.attisdropped) as attributes,
        case when t.typtype = 'd' then pg_catalog.format_type(t.typbasetype, t.typtypmod) end as base_type,
        t.typnotnull as not_null, t.typdefault as default_value,
        (select json_agg(json_build_object('name', co.conname, 'definition', pg_catalog.pg_get_constraintdef(co.oid, true)) order by co.conname)
         from pg_catalog.pg_constraint co where co.contypid = t.oid and co.contype = 'c') as constraints,
        (select pg_catalog.format_type(rg.rngsubtype, null) from pg_catalog.pg_range rg where rg.rngtypid = t.oid) as subtype,
        pg_catalog.obj_description(t.oid, 'pg_type') as comment
      from pg_catalog.pg_type t
      join pg_catalog.pg_namespace n on n.oid = t.typnamespace
      where t.typtype in ('b', 'c', 'd', 'e', 'r')
        and (t.typtype <> 'c' or exists (select 1 from pg_catalog.pg_class tc where tc.oid = t.typrelid and tc.relkind = 'c'))
        and not exists (select 1 from pg_catalog.pg_type el where el.typarray = t.oid)
        and ${scopedWhere('t.typname', `${SCHEMA_SHOWN} and ${notExtensionMember('pg_type', 't.oid')}`)}`,
    params: scopedParams(f),
    orderBy: 'schema, name',
    toItem(r: Row): Item {
      const kind = TYPE_KINDS[String(r.typtype)] ?? String(r.typtype);
      const item: Item = { schema: String(r.schema), name: String(r.name), kind };
      if (kind === 'enum') item.labels = strings(r.labels);
      if (kind === 'composite') item.attributes = (r.attributes ?? []) as JsonValue;
      if (kind === 'domain') {
        item.baseType = str(r.base_type);
        item.notNull = bool(r.not_null);
        item.default = str(r.default_value);
        item.constraints = (r.constraints ?? []) as JsonValue;
      }
      if (kind === 'range') item.subtype = str(r.subtype);
      item.comment = str(r.comment);
      return item;
    },
    columns: [
      ['schema', (i) => i.schema as string],
      ['name', (i) => i.name as string],
      ['kind', (i) => i.kind as string],
      ['definition', typeDetails],
      ['comment', (i) => i.comment as string | null],
    ],
  };
}

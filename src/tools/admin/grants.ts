/** grant and revoke: privileges on objects, and role membership; checked with has_*_privilege before and after. */
import { ToolError } from '../errors.js';
import type { ObjectType, Privilege } from './args.js';
import type { Change } from './output.js';
import type { AdminPlan, PlanInput, RunOutcome } from './plan.js';
import type { AdminSession } from './session.js';
import type { Catalog } from './sql.js';

const TABLE_PRIVILEGES: Privilege[] = ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER'];
const SEQUENCE_PRIVILEGES: Privilege[] = ['USAGE', 'SELECT', 'UPDATE'];
const SCHEMA_PRIVILEGES: Privilege[] = ['USAGE', 'CREATE'];
const FUNCTION_PRIVILEGES: Privilege[] = ['EXECUTE'];
const DATABASE_PRIVILEGES: Privilege[] = ['CONNECT', 'CREATE', 'TEMPORARY'];

type CheckKind = 'table' | 'sequence' | 'schema' | 'function' | 'database' | 'role';

interface TypeInfo {
  /** What goes after ON (nothing for membership). */
  keyword: string;
  privileges: Privilege[];
  check: CheckKind;
}

const TYPES: Record<ObjectType, TypeInfo> = {
  table: { keyword: 'TABLE', privileges: TABLE_PRIVILEGES, check: 'table' },
  all_tables_in_schema: { keyword: 'ALL TABLES IN SCHEMA', privileges: TABLE_PRIVILEGES, check: 'table' },
  sequence: { keyword: 'SEQUENCE', privileges: SEQUENCE_PRIVILEGES, check: 'sequence' },
  all_sequences_in_schema: { keyword: 'ALL SEQUENCES IN SCHEMA', privileges: SEQUENCE_PRIVILEGES, check: 'sequence' },
  schema: { keyword: 'SCHEMA', privileges: SCHEMA_PRIVILEGES, check: 'schema' },
  function: { keyword: 'ROUTINE', privileges: FUNCTION_PRIVILEGES, check: 'function' },
  all_functions_in_schema: { keyword: 'ALL FUNCTIONS IN SCHEMA', privileges: FUNCTION_PRIVILEGES, check: 'function' },
  database: { keyword: 'DATABASE', privileges: DATABASE_PRIVILEGES, check: 'database' },
  role: { keyword: '', privileges: [], check: 'role' },
};

const CHECK_FUNCTION: Record<CheckKind, string> = {
  table: 'pg_catalog.has_table_privilege(t.g, t.o, t.p)',
  sequence: 'pg_catalog.has_sequence_privilege(t.g, t.o, t.p)',
  schema: 'pg_catalog.has_schema_privilege(t.g, t.o, t.p)',
  function: 'pg_catalog.has_function_privilege(t.g, t.o, t.p)',
  database: 'pg_catalog.has_database_privilege(t.g, t.o, t.p)',
  role: "pg_catalog.pg_has_role(t.g, t.o, 'MEMBER')",
};

/** Objects whose privileges are checked before and after (at most). */
const MAX_OBJECTS_CHECKED = 20;
const MAX_CHECKS = 200;

interface Target {
  oid: number;
  /** As the statement names it. */
  sql: string;
  /** As changes name it. */
  label: string;
}

async function resolveFunction(catalog: Catalog, raw: string): Promise<Target> {
  const row = await catalog
    .one<{ oid: number; sql: string }>(
      `select p.oid::int as oid,
              format('%I.%I(%s)', n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)) as sql
         from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
        where p.oid = case when $1 like '%(%' then pg_catalog.to_regprocedure($1)::oid
                           else pg_catalog.to_regproc($1)::oid end`,
      [raw],
    )
    .catch(() => undefined);
  if (!row) {
    throw new ToolError(`no function named ${raw} (or more than one: then give its argument types)`, {
      code: 'object_not_found',
      hint: 'write it as schema.name(argument types), e.g. public.add_item(integer, text); pg_schema list_functions lists them',
    });
  }
  return { oid: row.oid, sql: row.sql, label: `function ${row.sql}` };
}

/** The objects of one schema a schema-wide grant touches, for the checks. */
async function objectsInSchema(catalog: Catalog, schemaOid: number, type: ObjectType): Promise<Target[]> {
  const sql =
    type === 'all_functions_in_schema'
      ? `select p.oid::int as oid, format('%I.%I(%s)', n.nspname, p.proname,
                pg_catalog.pg_get_function_identity_arguments(p.oid)) as sql
           from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
          where p.pronamespace = $1::oid and p.prokind in ('f', 'a', 'w') order by 2 limit ${MAX_OBJECTS_CHECKED}`
      : `select c.oid::int as oid, format('%I.%I', n.nspname, c.relname) as sql
           from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
          where c.relnamespace = $1::oid
            and c.relkind = any(${type === 'all_sequences_in_schema' ? "'{S}'" : "'{r,p,v,m,f}'"}::"char"[])
          order by 2 limit ${MAX_OBJECTS_CHECKED}`;
  const rows = await catalog.rows<{ oid: number; sql: string }>(sql, [schemaOid]);
  const kind =
    type === 'all_functions_in_schema' ? 'function' : type === 'all_sequences_in_schema' ? 'sequence' : 'table';
  return rows.map((r) => ({ oid: r.oid, sql: r.sql, label: `${kind} ${r.sql}` }));
}

async function resolveObjects(catalog: Catalog, type: ObjectType, names: string[]): Promise<Target[]> {
  const out: Target[] = [];
  for (const raw of names) {
    switch (type) {
      case 'table':
      case 'sequence': {
        const [r] = await catalog.relations([raw], type === 'table' ? 'rpvmf' : 'S', `grant on ${type}`);
        if (r) out.push({ oid: r.oid, sql: r.qualified, label: `${type} ${r.qualified}` });
        break;
      }
      case 'schema':
      case 'all_tables_in_schema':
      case 'all_sequences_in_schema':
      case 'all_functions_in_schema': {
        const s = await catalog.schema(raw);
        out.push({ oid: s.oid, sql: s.quoted, label: `schema ${s.quoted}` });
        break;
      }
      case 'function':
        out.push(await resolveFunction(catalog, raw));
        break;
      case 'database': {
        const d = await catalog.databaseRow(raw);
        if (!d) {
          throw new ToolError(`no database named ${JSON.stringify(raw)} (names are exact)`, {
            code: 'object_not_found',
          });
        }
        out.push({ oid: d.oid, sql: d.quoted, label: `database ${d.quoted}` });
        break;
      }
      case 'role': {
        const r = await catalog.existingRole(raw);
        out.push({ oid: r.oid, sql: r.quoted, label: `role ${r.quoted}` });
        break;
      }
    }
  }
  return out;
}

interface Check {
  g: string;
  o: number;
  p: string;
  label: string;
}

async function runChecks(catalog: Catalog, kind: CheckKind, checks: Check[]): Promise<boolean[]> {
  if (checks.length === 0) return [];
  const rows = await catalog.rows<{ ok: boolean }>(
    `select ${CHECK_FUNCTION[kind]} as ok
       from unnest($1::text[], $2::oid[], $3::text[]) with ordinality as t(g, o, p, i) order by t.i`,
    [checks.map((c) => c.g), checks.map((c) => c.o), checks.map((c) => c.p)],
  );
  return rows.map((r) => r.ok);
}

export async function planGrant(input: PlanInput, revoke: boolean): Promise<AdminPlan> {
  const { args, catalog } = input;
  const type = args.object_type as ObjectType;
  const info = TYPES[type];
  const verb = revoke ? 'revoke' : 'grant';
  const privileges = args.privileges ?? [];
  if (type === 'role') {
    if (privileges.length) {
      throw new ToolError(`${verb} on object_type role is membership: it takes no privileges`, {
        code: 'invalid_arguments',
        hint: 'objects are the roles granted, grantees the roles that become (or stop being) their members',
      });
    }
  } else {
    if (!privileges.length) {
      throw new ToolError(`${verb} on ${type} needs privileges`, {
        code: 'invalid_arguments',
        hint: `one or more of ${[...info.privileges, 'ALL'].join(', ')}`,
      });
    }
    const wrong = privileges.filter((p) => p !== 'ALL' && !info.privileges.includes(p));
    if (wrong.length) {
      throw new ToolError(`${wrong.join(', ')} ${wrong.length === 1 ? 'is' : 'are'} not a privilege of ${type}`, {
        code: 'invalid_arguments',
        hint: `${type} has ${[...info.privileges, 'ALL'].join(', ')}`,
      });
    }
  }
  const targets = await resolveObjects(catalog, type, args.objects ?? []);
  const grantees: { sql: string; name: string }[] = [];
  for (const g of args.grantees ?? []) {
    if (g.toUpperCase() === 'PUBLIC') {
      if (type === 'role') throw new ToolError('role membership cannot go to PUBLIC', { code: 'invalid_arguments' });
      grantees.push({ sql: 'PUBLIC', name: 'public' });
    } else {
      const r = await catalog.existingRole(g, 'grantee role');
      grantees.push({ sql: r.quoted, name: r.name });
    }
  }
  const objs = targets.map((t) => t.sql).join(', ');
  const who = grantees.map((g) => g.sql).join(', ');
  const privs = privileges.includes('ALL') ? 'ALL PRIVILEGES' : privileges.join(', ');
  let sql: string;
  if (type === 'role') {
    sql = revoke
      ? `REVOKE ${objs} FROM ${who}${args.cascade ? ' CASCADE' : ''}`
      : `GRANT ${objs} TO ${who}${args.with_grant_option ? ' WITH ADMIN OPTION' : ''}`;
  } else {
    sql = revoke
      ? `REVOKE ${privs} ON ${info.keyword} ${objs} FROM ${who}${args.cascade ? ' CASCADE' : ''}`
      : `GRANT ${privs} ON ${info.keyword} ${objs} TO ${who}${args.with_grant_option ? ' WITH GRANT OPTION' : ''}`;
  }

  // What is checked: each grantee × object × privilege (schema-wide grants: the schema's first objects).
  let checked: Target[] = targets;
  if (type.startsWith('all_')) {
    checked = [];
    for (const t of targets) checked.push(...(await objectsInSchema(catalog, t.oid, type)));
  }
  const each = type === 'role' ? ['MEMBER'] : privileges.includes('ALL') ? info.privileges : privileges;
  const checks: Check[] = [];
  for (const g of grantees)
    for (const t of checked)
      for (const p of each) if (checks.length < MAX_CHECKS) checks.push({ g: g.name, o: t.oid, p, label: t.label });

  const reasons: string[] = [];
  if (revoke) {
    reasons.push(
      `takes ${type === 'role' ? `membership of ${objs}` : `${privs} on ${objs}`} away from ${who}: what they do that relies on it starts failing with "permission denied"`,
    );
    if (args.cascade) reasons.push('CASCADE also revokes what the grantees granted on to others');
  }
  return {
    summary: sql,
    sql: [sql],
    destructive: revoke,
    reasons,
    async run(session: AdminSession): Promise<RunOutcome> {
      const before = await runChecks(catalog, info.check, checks);
      await session.run(sql);
      const after = await runChecks(catalog, info.check, checks);
      const changes: Change[] = checks.map((c, i) => ({
        object: c.label,
        item: `${type === 'role' ? 'member' : c.p} (${c.g})`,
        before: String(before[i]),
        after: String(after[i]),
      }));
      const warnings: string[] = [];
      const kept = changes.filter((c) => (revoke ? c.after === 'true' : c.after === 'false'));
      if (kept.length > 0) {
        warnings.push(
          revoke
            ? `${kept.length} of the checked privileges are still in effect (through PUBLIC, another role, ownership or superuser): ${kept
                .slice(0, 5)
                .map((c) => `${c.item} on ${c.object}`)
                .join('; ')}`
            : `${kept.length} of the checked privileges are still not in effect: ${kept
                .slice(0, 5)
                .map((c) => `${c.item} on ${c.object}`)
                .join('; ')}`,
        );
      }
      if (checks.length === MAX_CHECKS || (type.startsWith('all_') && checked.length >= MAX_OBJECTS_CHECKED)) {
        warnings.push('only some of the objects were checked before and after');
      }
      return { changes, warnings };
    },
  };
}

/** create_role, alter_role, drop_role. A password is hashed by pgmcp and shown as '****' everywhere. */
import { ToolError } from '../errors.js';
import type { AdminArgs } from './args.js';
import type { Change } from './output.js';
import { MASKED, passwordSecret } from './password.js';
import { type AdminPlan, type PlanInput, type RunOutcome, yesNo } from './plan.js';
import type { AdminSession } from './session.js';
import { type Catalog, quoteLiteral, type RoleRow } from './sql.js';

const FLAGS = ['login', 'superuser', 'createdb', 'createrole', 'replication', 'bypassrls', 'inherit'] as const;
type Flag = (typeof FLAGS)[number];

/** Attributes that bypass every permission check or read everything: granting one is confirmed. */
const POWERFUL: Record<string, string> = {
  superuser:
    'SUPERUSER bypasses every permission check: the role can do anything, including reading files and running programs on the server',
  replication: 'REPLICATION lets the role stream all data of the cluster (physical replication, base backups)',
  bypassrls: 'BYPASSRLS makes the role ignore every row-level security policy',
};

interface PasswordState {
  has_password: boolean | null;
  method: string | null;
}

/** Whether the role has a password and of which kind (never the password or its hash). */
async function passwordState(catalog: Catalog, name: string): Promise<PasswordState> {
  try {
    return (
      (await catalog.one<PasswordState>(
        `select rolpassword is not null as has_password,
                case when rolpassword like 'SCRAM-SHA-256$%' then 'scram-sha-256'
                     when rolpassword like 'md5%' then 'md5'
                     when rolpassword is not null then 'other' end as method
           from pg_catalog.pg_authid where rolname = $1`,
        [name],
      )) ?? { has_password: null, method: null }
    );
  } catch {
    // pg_authid is for superusers only.
    return { has_password: null, method: null };
  }
}

function passwordText(p: PasswordState): string | null {
  if (p.has_password === null) return null;
  return p.has_password ? `set${p.method ? ` (${p.method})` : ''}` : 'none';
}

/** Logins pgmcp itself uses (main and admin). */
async function ownLogins(input: PlanInput): Promise<Set<string>> {
  const out = new Set<string>();
  const admin = await input.catalog.one<{ u: string }>('select session_user::text as u');
  if (admin) out.add(admin.u);
  try {
    const r = await input.ctx.pools.get(input.database, 'main').query('select session_user::text as u');
    const u = (r.rows[0] as { u?: string } | undefined)?.u;
    if (u) out.add(u);
  } catch {
    // the main login is checked when it is used
  }
  return out;
}

interface Clauses {
  /** As shown: the password masked. */
  shown: string[];
  /** As run: the password as its hash. */
  real: string[];
  /** Flags set (for before/after). */
  flags: Partial<Record<Flag, boolean>>;
}

/** The role options of the call, as SQL. `secretFor` hashes the password (for the role's final name). */
async function roleClauses(args: AdminArgs, catalog: Catalog, secretFor: string): Promise<Clauses> {
  const shown: string[] = [];
  const real: string[] = [];
  const flags: Partial<Record<Flag, boolean>> = {};
  const both = (s: string) => {
    shown.push(s);
    real.push(s);
  };
  for (const f of FLAGS) {
    const v = args[f];
    if (v === undefined) continue;
    flags[f] = v;
    both(`${v ? '' : 'NO'}${f.toUpperCase()}`);
  }
  if (args.password === null) both('PASSWORD NULL');
  else if (args.password !== undefined) {
    const enc = await catalog.one<{ encryption: string; iterations: string | null }>(
      `select pg_catalog.current_setting('password_encryption') as encryption,
              pg_catalog.current_setting('scram_iterations', true) as iterations`,
    );
    const iterations = Number(enc?.iterations ?? 4096) || 4096;
    const secret = passwordSecret(args.password, secretFor, enc?.encryption ?? 'scram-sha-256', iterations);
    shown.push(`PASSWORD ${MASKED}`);
    real.push(`PASSWORD ${quoteLiteral(secret)}`);
  }
  if (args.connection_limit !== undefined) both(`CONNECTION LIMIT ${args.connection_limit}`);
  if (args.valid_until !== undefined) {
    const ok = await catalog
      .one<{ t: string }>('select $1::timestamptz::text as t', [args.valid_until])
      .catch(() => undefined);
    if (!ok) {
      throw new ToolError(`valid_until ${JSON.stringify(args.valid_until)} is not a timestamp`, {
        code: 'invalid_arguments',
        hint: "e.g. '2030-01-01', '2030-01-01 00:00:00+00' or 'infinity'",
      });
    }
    both(`VALID UNTIL ${quoteLiteral(args.valid_until)}`);
  }
  return { shown, real, flags };
}

function powerReasons(flags: Partial<Record<Flag, boolean>>, role: string, current?: RoleRow): string[] {
  const out: string[] = [];
  for (const [flag, why] of Object.entries(POWERFUL)) {
    if (flags[flag as Flag] === true && !current?.[flag as Flag])
      out.push(`gives ${role} ${flag.toUpperCase()}: ${why}`);
  }
  return out;
}

function roleChanges(name: string, before: RoleRow | undefined, after: RoleRow | undefined): Change[] {
  const out: Change[] = [];
  const keys = [...FLAGS, 'connection_limit', 'valid_until'] as const;
  for (const k of keys) {
    const b = before ? String(before[k] ?? '') || null : null;
    const a = after ? String(after[k] ?? '') || null : null;
    if (b !== a) out.push({ object: `role ${name}`, item: k, before: b, after: a });
  }
  const bm = before?.member_of.join(', ') || null;
  const am = after?.member_of.join(', ') || null;
  if (bm !== am) out.push({ object: `role ${name}`, item: 'member of', before: bm, after: am });
  return out;
}

export async function planCreateRole(input: PlanInput): Promise<AdminPlan> {
  const { args, catalog } = input;
  const name = args.name as string;
  if (await catalog.role(name)) {
    throw new ToolError(`role ${JSON.stringify(name)} already exists`, {
      code: 'duplicate_role',
      hint: 'alter_role changes an existing role',
    });
  }
  const ident = await catalog.ident(name);
  const c = await roleClauses(args, catalog, name);
  const member: string[] = [];
  for (const m of args.member_of ?? []) member.push((await catalog.existingRole(m)).quoted);
  if (member.length) {
    c.shown.push(`IN ROLE ${member.join(', ')}`);
    c.real.push(`IN ROLE ${member.join(', ')}`);
  }
  const head = `CREATE ROLE ${ident}`;
  const shown = c.shown.length ? `${head} WITH ${c.shown.join(' ')}` : head;
  const real = c.real.length ? `${head} WITH ${c.real.join(' ')}` : head;
  const reasons = powerReasons(c.flags, name);
  return {
    summary: `create role ${name}${c.flags.login ? ' (login)' : ''}`,
    sql: [shown],
    destructive: reasons.length > 0,
    reasons,
    async run(session: AdminSession): Promise<RunOutcome> {
      await session.run(real, { shown });
      const after = await catalog.role(name);
      const pw = await passwordState(catalog, name);
      const changes = [
        { object: `role ${name}`, item: 'exists', before: 'false', after: yesNo(after !== undefined) },
        ...roleChanges(name, undefined, after).filter((ch) => {
          const k = ch.item as Flag;
          return !FLAGS.includes(k) || c.flags[k] !== undefined || ch.after === 'true';
        }),
      ];
      if (args.password !== undefined) {
        changes.push({ object: `role ${name}`, item: 'password', before: null, after: passwordText(pw) });
      }
      return { changes, ...(after ? { facts: { role: { ...after, password: passwordText(pw) } } } : {}) };
    },
  };
}

export async function planAlterRole(input: PlanInput): Promise<AdminPlan> {
  const { args, catalog } = input;
  const current = await catalog.existingRole(args.name as string);
  const name = current.name;
  const finalName = args.new_name ?? name;
  const c = await roleClauses(args, catalog, finalName);
  const shown: string[] = [];
  const real: string[] = [];
  const warnings: string[] = [];
  let finalIdent = current.quoted;
  if (args.new_name !== undefined) {
    if (await catalog.role(args.new_name)) {
      throw new ToolError(`role ${JSON.stringify(args.new_name)} already exists`, { code: 'duplicate_role' });
    }
    finalIdent = await catalog.ident(args.new_name);
    const rename = `ALTER ROLE ${current.quoted} RENAME TO ${finalIdent}`;
    shown.push(rename);
    real.push(rename);
    const pw = await passwordState(catalog, name);
    if (pw.method === 'md5' && args.password === undefined) {
      warnings.push(
        `${name} has an md5 password, which includes the role name: renaming clears it (give password to set a new one)`,
      );
    }
  }
  if (c.shown.length) {
    shown.push(`ALTER ROLE ${finalIdent} WITH ${c.shown.join(' ')}`);
    real.push(`ALTER ROLE ${finalIdent} WITH ${c.real.join(' ')}`);
  }
  if (shown.length === 0) {
    throw new ToolError('alter_role: nothing to change', {
      code: 'invalid_arguments',
      hint: 'give at least one of login, password, superuser, createdb, createrole, replication, bypassrls, inherit, connection_limit, valid_until, new_name',
    });
  }
  if ((await ownLogins(input)).has(name)) {
    if (args.password !== undefined || args.login === false || args.valid_until !== undefined || args.new_name)
      warnings.push(
        `pgmcp logs in as ${name}: new connections fail after this unless pgmcp's configuration (PGPASSWORD, DATABASE_URL, PGMCP_ADMIN_URL) changes with it`,
      );
  }
  const reasons = powerReasons(c.flags, name, current);
  const pwBefore = args.password !== undefined ? await passwordState(catalog, name) : undefined;
  return {
    summary: `alter role ${name}${args.new_name ? ` (rename to ${args.new_name})` : ''}`,
    sql: shown,
    destructive: reasons.length > 0,
    reasons,
    warnings,
    facts: { role: current },
    async run(session: AdminSession): Promise<RunOutcome> {
      for (const [i, sql] of real.entries()) await session.run(sql, { shown: shown[i] as string });
      const after = await catalog.role(finalName);
      const changes = roleChanges(finalName, current, after);
      if (args.new_name) changes.unshift({ object: `role ${name}`, item: 'name', before: name, after: finalName });
      if (pwBefore) {
        const pw = await passwordState(catalog, finalName);
        changes.push({
          object: `role ${finalName}`,
          item: 'password',
          before: passwordText(pwBefore),
          after: args.password === null ? 'none' : `${passwordText(pw) ?? 'set'} (new)`,
        });
      }
      return { changes, ...(after ? { facts: { role: after } } : {}) };
    },
  };
}

interface Dependents {
  database: string | null;
  owns: number;
  privileges: number;
}

export async function planDropRole(input: PlanInput): Promise<AdminPlan> {
  const { args, catalog } = input;
  const name = args.name as string;
  const role = await catalog.role(name);
  if (!role && !args.if_exists) await catalog.existingRole(name);
  if ((await ownLogins(input)).has(name)) {
    throw new ToolError(`pgmcp logs in as ${name}: pgmcp refuses to drop its own login`, {
      code: 'own_role',
      hint: 'drop it from another login',
    });
  }
  const ident = role?.quoted ?? (await catalog.ident(name));
  const sql = `DROP ROLE ${args.if_exists ? 'IF EXISTS ' : ''}${ident}`;
  const reasons: string[] = [];
  const warnings: string[] = [];
  let deps: Dependents[] = [];
  let members: string[] = [];
  if (role) {
    deps = await catalog.rows<Dependents>(
      `select d.datname::text as database,
              count(*) filter (where s.deptype = 'o')::int as owns,
              count(*) filter (where s.deptype <> 'o')::int as privileges
         from pg_catalog.pg_shdepend s left join pg_catalog.pg_database d on d.oid = s.dbid
        where s.refclassid = 'pg_catalog.pg_authid'::regclass and s.refobjid = $1::oid
        group by 1 order by 1`,
      [role.oid],
    );
    const owned = await catalog.rows<{ name: string }>(
      'select datname::text as name from pg_catalog.pg_database where datdba = $1::oid order by 1',
      [role.oid],
    );
    members = (
      await catalog.rows<{ name: string }>(
        `select r.rolname::text as name from pg_catalog.pg_auth_members m join pg_catalog.pg_roles r on r.oid = m.member
          where m.roleid = $1::oid order by 1`,
        [role.oid],
      )
    ).map((r) => r.name);
    const kind = [role.login && 'login', role.superuser && 'superuser'].filter(Boolean).join(', ');
    reasons.push(
      `deletes role ${name}${kind ? ` (${kind})` : ''}: its attributes and password are gone for good${members.length ? `; its members (${members.join(', ')}) lose what it gave them` : ''}`,
    );
    const where = deps.filter((d) => d.owns > 0 || d.privileges > 0);
    if (where.length > 0 || owned.length > 0) {
      const list = where.map(
        (d) =>
          `${d.database ?? '(shared objects)'}: ${[d.owns && `owns ${d.owns}`, d.privileges && `${d.privileges} privilege entries`].filter(Boolean).join(', ')}`,
      );
      if (owned.length) list.push(`owns databases ${owned.map((o) => o.name).join(', ')}`);
      warnings.push(
        `DROP ROLE fails while ${name} owns objects or holds privileges — ${list.join('; ')}. First, in each of those databases: REASSIGN OWNED BY ${ident} TO <another role>; DROP OWNED BY ${ident}`,
      );
    }
  } else {
    warnings.push(`role ${name} does not exist: IF EXISTS makes this a no-op`);
  }
  return {
    summary: `drop role ${name}`,
    sql: [sql],
    destructive: role !== undefined,
    reasons,
    warnings,
    ...(role ? { facts: { role, members, dependents: deps } } : {}),
    failureHint: (code) =>
      code === '2BP01'
        ? `objects depend on ${name}: in each database named in the detail, REASSIGN OWNED BY ${ident} TO <another role>; DROP OWNED BY ${ident} (pg_execute), then drop it`
        : undefined,
    async run(session: AdminSession): Promise<RunOutcome> {
      await session.run(sql);
      const after = await catalog.role(name);
      return {
        changes: [{ object: `role ${name}`, item: 'exists', before: yesNo(role !== undefined), after: yesNo(!!after) }],
      };
    },
  };
}

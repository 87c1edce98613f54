import { type ListFilters, unscopedParams, unscopedWhere } from './filters.js';
import type { Item, ListSpec, Row } from './paging.js';
import { userSchema } from './sql.js';
import { bool, num, prettyBytes, str, strings, time } from './values.js';

export function listDatabases(f: ListFilters): ListSpec {
  return {
    noun: 'databases',
    scope: 'server',
    sql: `select d.datname as name, pg_catalog.pg_get_userbyid(d.datdba) as owner,
        pg_catalog.pg_encoding_to_char(d.encoding) as encoding, d.datcollate as collation_name,
        case when d.datconnlimit <> -2 and pg_catalog.has_database_privilege(d.oid, 'CONNECT')
          then pg_catalog.pg_database_size(d.oid) end as bytes,
        d.datconnlimit as connection_limit, d.datallowconn as allow_connections, d.datistemplate as template,
        pg_catalog.shobj_description(d.oid, 'pg_database') as comment,
        d.datname = pg_catalog.current_database() as is_current
      from pg_catalog.pg_database d
      where ${unscopedWhere('d.datname', 'not d.datistemplate')} and ($3::text[] is null or d.datname = any($3::text[]))`,
    params: [...unscopedParams(f), f.allowedDatabases],
    orderBy: 'name',
    toItem(r: Row): Item {
      const bytes = num(r.bytes);
      const limit = num(r.connection_limit);
      return {
        name: String(r.name),
        owner: str(r.owner),
        encoding: str(r.encoding),
        collate: str(r.collation_name),
        sizeBytes: bytes,
        size: bytes === null ? null : prettyBytes(bytes),
        connectionLimit: limit === null || limit < 0 ? null : limit,
        allowConnections: bool(r.allow_connections),
        template: bool(r.template),
        current: bool(r.is_current),
        comment: str(r.comment),
      };
    },
    columns: [
      ['name', (i) => `${i.name}${i.current ? ' (current)' : ''}`],
      ['owner', (i) => i.owner as string | null],
      ['encoding', (i) => i.encoding as string | null],
      ['size', (i) => (i.size as string | null) ?? 'no CONNECT privilege'],
      ['connection limit', (i) => i.connectionLimit ?? 'none'],
      ['connections', (i) => (i.allowConnections ? 'allowed' : 'not allowed')],
      ['comment', (i) => i.comment as string | null],
    ],
    note: f.includeSystem ? undefined : 'template databases are hidden: include_system: true shows them',
  };
}

export function listSchemas(f: ListFilters): ListSpec {
  return {
    noun: 'schemas',
    sql: `select n.nspname as name, pg_catalog.pg_get_userbyid(n.nspowner) as owner,
        pg_catalog.obj_description(n.oid, 'pg_namespace') as comment,
        (select count(*) from pg_catalog.pg_class c where c.relnamespace = n.oid and c.relkind in ('r', 'p', 'f') and not c.relispartition) as tables,
        (select count(*) from pg_catalog.pg_class c where c.relnamespace = n.oid and c.relkind in ('v', 'm')) as views,
        (select count(*) from pg_catalog.pg_proc p where p.pronamespace = n.oid) as functions
      from pg_catalog.pg_namespace n
      where ${unscopedWhere('n.nspname', userSchema())}`,
    params: unscopedParams(f),
    orderBy: 'name',
    toItem: (r: Row): Item => ({
      name: String(r.name),
      owner: str(r.owner),
      tables: num(r.tables),
      views: num(r.views),
      functions: num(r.functions),
      comment: str(r.comment),
    }),
    columns: [
      ['name', (i) => i.name as string],
      ['owner', (i) => i.owner as string | null],
      ['tables', (i) => i.tables as number],
      ['views', (i) => i.views as number],
      ['functions', (i) => i.functions as number],
      ['comment', (i) => i.comment as string | null],
    ],
  };
}

function roleFlags(i: Item): string {
  const flags: string[] = [];
  if (i.superuser) flags.push('superuser');
  if (i.createdb) flags.push('createdb');
  if (i.createrole) flags.push('createrole');
  if (i.replication) flags.push('replication');
  if (i.bypassrls) flags.push('bypassrls');
  return flags.join(', ');
}

export function listRoles(f: ListFilters): ListSpec {
  return {
    noun: 'roles',
    scope: 'server',
    sql: `select r.rolname as name, r.rolcanlogin as login, r.rolsuper as superuser, r.rolcreatedb as createdb,
        r.rolcreaterole as createrole, r.rolreplication as replication, r.rolbypassrls as bypassrls,
        r.rolinherit as inherit, r.rolconnlimit as connection_limit, r.rolvaliduntil::text as valid_until,
        array(select distinct b.rolname::text from pg_catalog.pg_auth_members m join pg_catalog.pg_roles b on b.oid = m.roleid
              where m.member = r.oid order by 1) as member_of,
        pg_catalog.shobj_description(r.oid, 'pg_authid') as comment
      from pg_catalog.pg_roles r
      where ${unscopedWhere('r.rolname', "r.rolname !~ '^pg_'")}`,
    params: unscopedParams(f),
    orderBy: 'name',
    toItem(r: Row): Item {
      const limit = num(r.connection_limit);
      return {
        name: String(r.name),
        login: bool(r.login),
        superuser: bool(r.superuser),
        createdb: bool(r.createdb),
        createrole: bool(r.createrole),
        replication: bool(r.replication),
        bypassrls: bool(r.bypassrls),
        inherit: bool(r.inherit),
        connectionLimit: limit === null || limit < 0 ? null : limit,
        validUntil: time(r.valid_until),
        memberOf: strings(r.member_of),
        comment: str(r.comment),
      };
    },
    columns: [
      ['name', (i) => i.name as string],
      ['login', (i) => (i.login ? 'yes' : 'no')],
      ['attributes', roleFlags],
      ['member of', (i) => (i.memberOf as string[]).join(', ')],
      ['connection limit', (i) => i.connectionLimit ?? 'none'],
      ['comment', (i) => i.comment as string | null],
    ],
    note: f.includeSystem ? undefined : 'predefined pg_* roles are hidden: include_system: true shows them',
  };
}

export function listExtensions(f: ListFilters): ListSpec {
  return {
    noun: 'extensions',
    sql: `select coalesce(e.extname, a.name) as name, e.oid is not null as installed, e.extversion as installed_version,
        a.default_version, en.nspname as schema,
        coalesce(pg_catalog.obj_description(e.oid, 'pg_extension'), a.comment) as comment
      from pg_catalog.pg_available_extensions a
      full join pg_catalog.pg_extension e on e.extname = a.name
      left join pg_catalog.pg_namespace en on en.oid = e.extnamespace
      where $1::text is null or coalesce(e.extname, a.name) ilike $1::text`,
    params: [f.pattern],
    orderBy: 'installed desc, name',
    toItem(r: Row): Item {
      const installedVersion = str(r.installed_version);
      const defaultVersion = str(r.default_version);
      return {
        name: String(r.name),
        installed: bool(r.installed),
        installedVersion,
        defaultVersion,
        updateAvailable: installedVersion !== null && defaultVersion !== null && installedVersion !== defaultVersion,
        schema: str(r.schema),
        comment: str(r.comment),
      };
    },
    columns: [
      ['name', (i) => i.name as string],
      [
        'installed',
        (i) =>
          i.installed ? `${i.installedVersion}${i.updateAvailable ? ` (${i.defaultVersion} available)` : ''}` : 'no',
      ],
      ['default version', (i) => i.defaultVersion as string | null],
      ['schema', (i) => i.schema as string | null],
      ['comment', (i) => i.comment as string | null],
    ],
  };
}

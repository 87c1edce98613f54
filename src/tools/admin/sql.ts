/**
 * SQL text pg_admin builds: identifiers and literals are always quoted here, never concatenated raw. Names of existing
 * objects are resolved in the catalog and quoted by the server (quote_ident / format('%I')); new names are quoted
 * with the same rule client-side. Literals assume standard_conforming_strings = on, which every pgmcp connection sets.
 */
import type pg from 'pg';
import { connectionFailure } from '../../db/connect-error.js';
import type { ToolContext } from '../context.js';
import { fromPgError, isPgServerError, ToolError } from '../errors.js';

/** A SQL string literal: `'it''s'`. */
export function quoteLiteral(value: string): string {
  if (value.includes('\u0000')) {
    throw new ToolError('a value holds a NUL character, which PostgreSQL text cannot hold', {
      code: 'invalid_arguments',
    });
  }
  return `'${value.replace(/'/g, "''")}'`;
}

/** Names that quote_ident leaves bare: lower case letters, digits, underscores, not starting with a digit. */
const PLAIN = /^[a-z_][a-z0-9_]*$/;

/**
 * A SQL identifier, double-quoted unless it is plain and not a keyword (quote_ident's rule). `keywords` holds the
 * server's non-unreserved keywords (see Catalog.keywords); without it every name is quoted.
 */
export function quoteIdent(name: string, keywords?: ReadonlySet<string>): string {
  if (name.includes('\u0000')) {
    throw new ToolError('a name holds a NUL character', { code: 'invalid_arguments' });
  }
  if (keywords && PLAIN.test(name) && !keywords.has(name)) return name;
  return `"${name.replace(/"/g, '""')}"`;
}

/** Bytes as `12 MB (12582912 bytes)`, the way pg_size_pretty rounds. */
export function sizeText(bytes: number | string | null | undefined): string | null {
  if (bytes === null || bytes === undefined) return null;
  const n = Number(bytes);
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 10 * 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  const pretty = `${Math.round(v)} ${units[i]}`;
  return i === 0 ? pretty : `${pretty} (${n} bytes)`;
}

/** A relation found in the catalog. */
export interface Relation {
  oid: number;
  /** `schema.name`, quoted as needed. */
  qualified: string;
  schema: string;
  name: string;
  /** pg_class.relkind */
  kind: string;
  /** In pg_catalog, pg_toast or information_schema. */
  system: boolean;
}

const KIND_WORDS: Record<string, string> = {
  r: 'table',
  p: 'partitioned table',
  m: 'materialized view',
  f: 'foreign table',
  v: 'view',
  S: 'sequence',
  i: 'index',
  I: 'partitioned index',
  t: 'TOAST table',
  c: 'composite type',
};

export function kindWord(kind: string): string {
  return KIND_WORDS[kind] ?? `relation of kind ${kind}`;
}

/** Runs read-only catalog queries on the admin login's pool (a connection is taken per query and given back). */
export class Catalog {
  #keywords: Promise<ReadonlySet<string>> | undefined;

  constructor(
    readonly ctx: ToolContext,
    readonly database: string,
  ) {}

  get pool(): pg.Pool {
    return this.ctx.pools.get(this.database, 'admin');
  }

  async rows<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    try {
      const r = await this.pool.query(sql, params);
      return r.rows as T[];
    } catch (err) {
      throw isPgServerError(err) ? fromPgError(err) : connectionFailure(err, this.database);
    }
  }

  async one<T>(sql: string, params: unknown[] = []): Promise<T | undefined> {
    return (await this.rows<T>(sql, params))[0];
  }

  /** Keywords quote_ident quotes (every category but unreserved), asked once per call. */
  keywords(): Promise<ReadonlySet<string>> {
    this.#keywords ??= this.rows<{ word: string }>(
      `select word from pg_catalog.pg_get_keywords() where catcode <> 'U'`,
    ).then((r) => new Set(r.map((x) => x.word)));
    return this.#keywords;
  }

  async ident(name: string): Promise<string> {
    return quoteIdent(name, await this.keywords());
  }

  /**
   * Relations by name, following SQL rules (`orders`, `sales.orders`, `"Mixed Case"`); when that finds nothing and
   * the name has no quotes, its exact spelling is tried too (`Orders` finds "Orders"). Refuses kinds not in `kinds`.
   */
  async relations(names: readonly string[], kinds: string, purpose: string): Promise<Relation[]> {
    const out: Relation[] = [];
    for (const raw of names) {
      const found = await this.relation(raw);
      if (!found) {
        throw new ToolError(`${purpose}: no table or other relation named ${raw} in database ${this.database}`, {
          code: 'object_not_found',
          hint: 'names follow SQL rules: schema.name, "Quoted" keeps case; pg_schema list_tables lists them',
        });
      }
      if (!kinds.includes(found.kind)) {
        throw new ToolError(`${purpose}: ${found.qualified} is a ${kindWord(found.kind)}`, {
          code: 'wrong_object_type',
          hint: `${purpose} takes ${[...kinds].map(kindWord).join(', ')}`,
        });
      }
      if (!out.some((r) => r.oid === found.oid)) out.push(found);
    }
    return out;
  }

  /** One relation by name (see relations), or undefined. */
  async relation(raw: string): Promise<Relation | undefined> {
    const sql = `select c.oid::int as oid, format('%I.%I', n.nspname, c.relname) as qualified, n.nspname as schema,
                        c.relname as name, c.relkind::text as kind,
                        n.nspname in ('pg_catalog', 'pg_toast', 'information_schema') as system
                   from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
                  where c.oid = pg_catalog.to_regclass($1)`;
    const tries = [raw];
    if (!raw.includes('"'))
      tries.push(
        raw
          .split('.')
          .map((p) => quoteIdent(p.trim()))
          .join('.'),
      );
    for (const t of tries) {
      let r: Relation | undefined;
      try {
        r = await this.one<Relation>(sql, [t]);
      } catch (err) {
        // A malformed name (`a.b.c.d`, unbalanced quotes) is an invalid name, not a failure.
        if (err instanceof ToolError && err.info.code?.startsWith('42')) continue;
        throw err;
      }
      if (r) return r;
    }
    return undefined;
  }

  /** A schema by name (SQL rules, then exact spelling), quoted. */
  async schema(raw: string): Promise<{ oid: number; name: string; quoted: string }> {
    const sql = `select oid::int as oid, nspname as name, quote_ident(nspname) as quoted
                   from pg_catalog.pg_namespace where oid = pg_catalog.to_regnamespace($1)`;
    for (const t of raw.includes('"') ? [raw] : [raw, quoteIdent(raw)]) {
      try {
        const r = await this.one<{ oid: number; name: string; quoted: string }>(sql, [t]);
        if (r) return r;
      } catch (err) {
        if (!(err instanceof ToolError && err.info.code?.startsWith('42'))) throw err;
      }
    }
    throw new ToolError(`no schema named ${raw} in database ${this.database}`, {
      code: 'object_not_found',
      hint: 'pg_schema list_schemas lists them',
    });
  }

  /** A role by its exact name, or undefined. */
  async role(name: string): Promise<RoleRow | undefined> {
    return this.one<RoleRow>(`${ROLE_SELECT} where r.rolname = $1`, [name]);
  }

  /** A role that must exist. */
  async existingRole(name: string, what = 'role'): Promise<RoleRow> {
    const r = await this.role(name);
    if (!r) {
      throw new ToolError(`no ${what} named ${JSON.stringify(name)} (role names are exact, case included)`, {
        code: 'object_not_found',
        hint: 'pg_schema list_roles lists them',
      });
    }
    return r;
  }

  /** A database by its exact name, or undefined. */
  async databaseRow(name: string): Promise<DatabaseRow | undefined> {
    return this.one<DatabaseRow>(
      `select d.oid::int as oid, d.datname as name, quote_ident(d.datname) as quoted, d.datistemplate as is_template,
              d.datallowconn as allow_connections, pg_catalog.pg_get_userbyid(d.datdba) as owner,
              pg_catalog.pg_encoding_to_char(d.encoding) as encoding, d.datcollate as collate, d.datctype as ctype,
              d.datconnlimit as connection_limit,
              case when pg_catalog.has_database_privilege(d.oid, 'CONNECT')
                   then pg_catalog.pg_database_size(d.oid)::text end as size_bytes
         from pg_catalog.pg_database d where d.datname = $1`,
      [name],
    );
  }
}

export interface RoleRow {
  oid: number;
  name: string;
  quoted: string;
  superuser: boolean;
  inherit: boolean;
  createrole: boolean;
  createdb: boolean;
  login: boolean;
  replication: boolean;
  bypassrls: boolean;
  connection_limit: number;
  valid_until: string | null;
  member_of: string[];
}

const ROLE_SELECT = `
  select r.oid::int as oid, r.rolname as name, quote_ident(r.rolname) as quoted, r.rolsuper as superuser,
         r.rolinherit as inherit, r.rolcreaterole as createrole, r.rolcreatedb as createdb, r.rolcanlogin as login,
         r.rolreplication as replication, r.rolbypassrls as bypassrls, r.rolconnlimit as connection_limit,
         r.rolvaliduntil::text as valid_until,
         array(select g.rolname::text from pg_catalog.pg_auth_members m join pg_catalog.pg_roles g on g.oid = m.roleid
                where m.member = r.oid order by 1) as member_of
    from pg_catalog.pg_roles r`;

export interface DatabaseRow {
  oid: number;
  name: string;
  quoted: string;
  is_template: boolean;
  allow_connections: boolean;
  owner: string;
  encoding: string;
  collate: string;
  ctype: string;
  connection_limit: number;
  size_bytes: string | null;
}

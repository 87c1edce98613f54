/**
 * hypopg: hypothetical indexes that only EXPLAIN (without ANALYZE) sees. They live in the backend's memory, survive
 * ROLLBACK and are never written anywhere; a session that used them resets them and destroys its connection
 * (PerfSession.usedHypopg). Functions are called schema-qualified (the extension may live outside the search_path).
 */
import { ToolError } from '../tools/errors.js';
import type { PerfSession } from './session.js';

export interface HypoIndex {
  oid: number;
  /** e.g. `<13556>btree_orders_customer_id`: the name plans show. */
  name: string;
  /** hypopg_relation_size(): the estimated size of the index. */
  bytes: number;
}

export class Hypopg {
  private constructor(
    private readonly session: PerfSession,
    private readonly schema: string,
    readonly version: string,
  ) {}

  /** hypopg of the session's database, or a tool error that says how to install it. */
  static async open(session: PerfSession): Promise<Hypopg> {
    const r = await session.query<{ schema: string | null; version: string | null; available: string | null }>(
      `select (select quote_ident(n.nspname) from pg_catalog.pg_extension e
                 join pg_catalog.pg_namespace n on n.oid = e.extnamespace where e.extname = 'hypopg') as schema,
              (select extversion from pg_catalog.pg_extension where extname = 'hypopg') as version,
              (select default_version from pg_catalog.pg_available_extensions where name = 'hypopg') as available`,
    );
    const row = r.rows[0];
    if (row?.schema && row.version) {
      session.usedHypopg(row.schema);
      return new Hypopg(session, row.schema, row.version);
    }
    const major = session.serverMajor;
    const how = row?.available
      ? `hypopg ${row.available} is available on this server: run CREATE EXTENSION hypopg; in database "${session.database}" (pg_execute at access level write, or psql as a role that may create extensions). It adds functions only: no restart, no shared_preload_libraries.`
      : `hypopg is not installed on this server: install the package (Debian/Ubuntu: apt install postgresql-${major}-hypopg; RHEL/Fedora with PGDG: dnf install hypopg_${major}; or build it from https://github.com/HypoPG/hypopg), then CREATE EXTENSION hypopg; in database "${session.database}". It needs no restart.`;
    throw new ToolError(
      `hypothetical indexes need the hypopg extension, which is not installed in database "${session.database}"`,
      { code: 'hypopg_missing', hint: how },
    );
  }

  /** Creates a hypothetical index from one CREATE INDEX statement (checked by the caller). */
  async create(definition: string): Promise<HypoIndex> {
    const s = this.schema;
    const r = await this.session.query<{ oid: string; name: string; bytes: string }>(
      `select h.indexrelid::int8 as oid, h.indexname as name, ${s}.hypopg_relation_size(h.indexrelid)::int8 as bytes
         from ${s}.hypopg_create_index($1) as h`,
      [definition],
    );
    const row = r.rows[0];
    if (!row) throw new ToolError(`hypopg made no index of: ${definition}`, { code: 'hypopg_failed' });
    return { oid: Number(row.oid), name: row.name, bytes: Number(row.bytes) };
  }

  async drop(oid: number): Promise<void> {
    await this.session.query(`select ${this.schema}.hypopg_drop_index($1::oid)`, [oid]);
  }

  async reset(): Promise<void> {
    await this.session.query(`select ${this.schema}.hypopg_reset()`);
  }
}

/** The oid in a hypothetical index's name (`<13556>btree_…`), or undefined for a real index. */
export function hypoOid(indexName: string): number | undefined {
  const m = /^<(\d+)>/.exec(indexName);
  return m ? Number(m[1]) : undefined;
}

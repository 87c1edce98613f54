import { userSchema } from './sql.js';

/** The filters every list action may take, ready to bind. */
export interface ListFilters {
  includeSystem: boolean;
  /** ILIKE pattern on the object name, or null. */
  pattern: string | null;
  /** Exact schema name, or null. */
  schema: string | null;
  includePartitions: boolean;
  /** Databases the caller may use (list_databases shows only those); null = any. */
  allowedDatabases: readonly string[] | null;
}

/** A user schema, or the schema the caller named: asking for `schema: pg_catalog` is asking for system objects. */
export const SCHEMA_SHOWN = `(${userSchema()} or $3::text is not null)`;

/**
 * The WHERE clause for objects in schema `n` with name column `nameCol`, binding $1 include_system, $2 pattern,
 * $3 schema; `extra` conditions are ANDed in.
 */
export function scopedWhere(nameCol: string, systemHidden: string, ...extra: string[]): string {
  return [
    `($1::boolean or ${systemHidden})`,
    `($2::text is null or ${nameCol} ilike $2::text)`,
    '($3::text is null or n.nspname = $3::text)',
    ...extra,
  ].join(' and ');
}

export function scopedParams(f: ListFilters): unknown[] {
  return [f.includeSystem, f.pattern, f.schema];
}

/** The WHERE clause for server-wide objects (databases, roles, extensions, schemas): $1 include_system, $2 pattern. */
export function unscopedWhere(nameCol: string, systemHidden: string): string {
  return `($1::boolean or ${systemHidden}) and ($2::text is null or ${nameCol} ilike $2::text)`;
}

export function unscopedParams(f: ListFilters): unknown[] {
  return [f.includeSystem, f.pattern];
}

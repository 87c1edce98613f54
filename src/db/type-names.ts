import type pg from 'pg';

/** Type display names (format_type, with typmod) and user array types, cached per pool. */
interface TypeInfo {
  name: string;
  /** For array types: the element type OID. */
  element?: number;
}

const caches = new WeakMap<pg.Pool, Map<string, TypeInfo>>();

const key = (oid: number, typmod: number) => `${oid}:${typmod}`;

export interface TypeLookup {
  name(oid: number, typmod: number): string;
  /** Array type OID → element OID, for types not built in. */
  arrays: ReadonlyMap<number, number>;
}

/** Resolves the names of the given column types, asking the server only for ones not seen before on this pool. */
export async function lookupTypes(
  pool: pg.Pool,
  client: pg.ClientBase,
  fields: readonly { dataTypeID: number; dataTypeModifier: number }[],
): Promise<TypeLookup> {
  let cache = caches.get(pool);
  if (!cache) {
    cache = new Map();
    caches.set(pool, cache);
  }
  const missing = fields.filter((f) => !cache.has(key(f.dataTypeID, f.dataTypeModifier)));
  if (missing.length > 0) {
    const res = await client.query<{ oid: number; typmod: number; name: string; element: number }>(
      `SELECT t.oid::int AS oid, m.typmod, pg_catalog.format_type(t.oid, NULLIF(m.typmod, -1)) AS name,
              CASE WHEN t.typcategory = 'A' THEN t.typelem::int ELSE 0 END AS element
         FROM unnest($1::oid[], $2::int[]) AS m(oid, typmod)
         JOIN pg_catalog.pg_type t ON t.oid = m.oid`,
      [missing.map((f) => f.dataTypeID), missing.map((f) => f.dataTypeModifier)],
    );
    for (const r of res.rows)
      cache.set(key(r.oid, r.typmod), { name: r.name, ...(r.element ? { element: r.element } : {}) });
  }
  const arrays = new Map<number, number>();
  for (const f of fields) {
    const info = cache.get(key(f.dataTypeID, f.dataTypeModifier));
    if (info?.element) arrays.set(f.dataTypeID, info.element);
  }
  return {
    name: (oid, typmod) => cache.get(key(oid, typmod))?.name ?? `oid ${oid}`,
    arrays,
  };
}

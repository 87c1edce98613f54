import type pg from 'pg';
import type { JsonValue } from '../../db/values.js';

export type Item = Record<string, JsonValue>;
export type Row = Record<string, unknown>;

/** A list action: one SELECT over the catalogs, how to turn its rows into items and how to show them. */
export interface ListSpec {
  /** What is listed, plural, e.g. `tables`. */
  noun: string;
  /** `server` for objects shared by every database of the server (databases, roles). */
  scope?: 'server';
  /** One row per item; placeholders $1… refer to `params`. No ORDER BY / LIMIT: paging adds them. */
  sql: string;
  params: unknown[];
  /** ORDER BY over the output columns of `sql`; must give a total order so that pages do not overlap. */
  orderBy: string;
  toItem(row: Row): Item;
  /** The text table: header and cell of each column. */
  columns: readonly (readonly [string, (item: Item) => JsonValue])[];
  /** Said under the table: what the defaults hide and how to see it. */
  note?: string;
}

export interface ListPage {
  items: Item[];
  total: number;
  truncated: boolean;
  nextOffset?: number;
}

/** Runs one page of a list, with the total number of items. */
export async function runList(client: pg.PoolClient, spec: ListSpec, limit: number, offset: number): Promise<ListPage> {
  const n = spec.params.length;
  const result = await client.query(
    `with items as (${spec.sql}) select items.*, count(*) over () as pgmcp_total from items order by ${spec.orderBy} limit $${n + 1} offset $${n + 2}`,
    [...spec.params, limit, offset],
  );
  let total: number;
  const first = result.rows[0] as Row | undefined;
  if (first) {
    total = Number(first.pgmcp_total);
  } else if (offset > 0) {
    const counted = await client.query(`with items as (${spec.sql}) select count(*) as n from items`, spec.params);
    total = Number((counted.rows[0] as Row).n);
  } else {
    total = 0;
  }
  const items = (result.rows as Row[]).map((r) => spec.toItem(r));
  const truncated = offset + items.length < total;
  return { items, total, truncated, ...(truncated ? { nextOffset: offset + items.length } : {}) };
}

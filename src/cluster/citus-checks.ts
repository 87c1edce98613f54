/**
 * What pg_cluster_admin's Citus actions check before they act and read back after: a table's Citus metadata, a
 * column and whether its type can be hashed (Citus hash-distributes by the type's default hash operator class), a
 * shard with its placements and the shards colocated with it, placements per node, row counts.
 */
import type pg from 'pg';
import { nodeName } from './citus.js';

type Client = pg.ClientBase;

const num = (v: unknown): number => Number(v ?? 0);

export interface TableFacts {
  oid: number;
  /** schema.name, quoted as needed (format('%I.%I')). */
  qualified: string;
  /** pg_class.relkind */
  kind: string;
  /** pg_class.reltuples: the planner's estimate of its rows (-1: never analysed). */
  estimatedRows: number;
  /** Its Citus metadata, or null for a plain PostgreSQL table. */
  citus: {
    /** pg_dist_partition.partmethod: h hash, n none (reference, local, single shard). */
    method: string;
    type: 'distributed' | 'reference' | 'local' | 'schema';
    colocationId: number;
    distributionColumn: string | null;
    shardCount: number;
  } | null;
}

/** A table by its qualified name (it may have been rebuilt under the same name: Citus swaps tables). */
export async function tableFacts(client: Client, qualified: string): Promise<TableFacts | null> {
  const r = await client.query(
    `select c.oid::int8 as oid, format('%I.%I', n.nspname, c.relname) as qualified, c.relkind::text as kind,
            c.reltuples::float8 as reltuples, p.partmethod::text as method, p.repmodel::text as repmodel,
            p.colocationid,
            case when p.partkey is not null then column_to_column_name(p.logicalrelid, p.partkey) end as column,
            (select count(*) from pg_catalog.pg_dist_shard s where s.logicalrelid = c.oid) as shards,
            exists (select 1 from pg_catalog.pg_dist_schema d where d.colocationid = p.colocationid) as in_schema
       from pg_catalog.pg_class c
       join pg_catalog.pg_namespace n on n.oid = c.relnamespace
       left join pg_catalog.pg_dist_partition p on p.logicalrelid = c.oid
      where c.oid = pg_catalog.to_regclass($1)`,
    [qualified],
  );
  const x = r.rows[0];
  if (!x) return null;
  const method = x.method as string | null;
  return {
    oid: num(x.oid),
    qualified: String(x.qualified),
    kind: String(x.kind),
    estimatedRows: Number(x.reltuples),
    citus:
      method === null
        ? null
        : {
            method,
            type:
              x.in_schema === true
                ? 'schema'
                : x.column !== null
                  ? 'distributed'
                  : x.repmodel === 't'
                    ? 'reference'
                    : num(x.colocationid) === 0
                      ? 'local'
                      : 'distributed',
            colocationId: num(x.colocationid),
            distributionColumn: (x.column as string | null) ?? null,
            shardCount: num(x.shards),
          },
  };
}

export interface ColumnFacts {
  name: string;
  type: string;
  /** The type (or, for a domain, its base type) has a default hash operator class. */
  hashable: boolean;
}

/** A column by its exact name, with whether Citus can hash-distribute by it; null when the table has none. */
export async function columnFacts(client: Client, oid: number, column: string): Promise<ColumnFacts | null> {
  const r = await client.query(
    `with col as (
       select a.attname::text as name, pg_catalog.format_type(a.atttypid, a.atttypmod) as type,
              coalesce(nullif(t.typbasetype, 0), a.atttypid) as base
         from pg_catalog.pg_attribute a join pg_catalog.pg_type t on t.oid = a.atttypid
        where a.attrelid = $1 and a.attname = $2 and a.attnum > 0 and not a.attisdropped),
     kind as (
       select col.*, b.typtype, b.typcategory from col join pg_catalog.pg_type b on b.oid = col.base)
     select name, type,
            exists (select 1 from pg_catalog.pg_opclass o join pg_catalog.pg_am m on m.oid = o.opcmethod
                     where m.amname = 'hash' and o.opcdefault
                       and o.opcintype in (kind.base,
                                           case when kind.typtype = 'e' then 'anyenum'::regtype
                                                when kind.typtype = 'r' then 'anyrange'::regtype
                                                when kind.typcategory = 'A' then 'anyarray'::regtype end)) as hashable
       from kind`,
    [oid, column],
  );
  const x = r.rows[0];
  return x ? { name: String(x.name), type: String(x.type), hashable: x.hashable === true } : null;
}

/** Column names of a table, for the hint when a column is not found. */
export async function columnNames(client: Client, oid: number): Promise<string[]> {
  const r = await client.query(
    'select attname::text as name from pg_catalog.pg_attribute where attrelid = $1 and attnum > 0 and not attisdropped order by attnum',
    [oid],
  );
  return r.rows.map((x) => String(x.name));
}

export interface ShardFacts {
  shardId: number;
  table: string;
  colocationId: number;
  /** Nodes holding a placement. */
  nodes: string[];
  bytes: number | null;
  /** The shards of colocated tables that move with it (itself included). */
  colocated: { shardId: number; table: string }[];
}

export async function shardFacts(client: Client, shardId: number): Promise<ShardFacts | null> {
  const r = await client.query(
    `select s.shardid, s.table_name::text as table_name, s.colocation_id,
            array_agg(format('%s:%s', s.nodename, s.nodeport) order by s.nodename, s.nodeport) as nodes,
            max(s.shard_size) as bytes
       from pg_catalog.citus_shards s where s.shardid = $1
      group by 1, 2, 3`,
    [shardId],
  );
  const x = r.rows[0];
  if (!x) return null;
  const colocated = await client.query(
    `select d.shardid, d.logicalrelid::regclass::text as table_name
       from pg_catalog.pg_dist_shard d
       join pg_catalog.pg_dist_partition p on p.logicalrelid = d.logicalrelid
       join pg_catalog.pg_dist_shard me on me.shardid = $1
       join pg_catalog.pg_dist_partition mp on mp.logicalrelid = me.logicalrelid
      where p.colocationid = mp.colocationid and d.shardminvalue is not distinct from me.shardminvalue
      order by d.shardid`,
    [shardId],
  );
  return {
    shardId: num(x.shardid),
    table: String(x.table_name),
    colocationId: num(x.colocation_id),
    nodes: (x.nodes as string[]) ?? [],
    bytes: x.bytes === null ? null : Number(x.bytes),
    colocated: colocated.rows.map((c) => ({ shardId: num(c.shardid), table: String(c.table_name) })),
  };
}

/** Placement count of distributed (movable) shards per node, and the nodes of given shards. */
export async function placementsByNode(client: Client): Promise<Record<string, number>> {
  const r = await client.query(
    `select n.nodename, n.nodeport, count(pl.shardid) as shards
       from pg_catalog.pg_dist_node n
       left join pg_catalog.pg_dist_placement pl on pl.groupid = n.groupid
        and exists (select 1 from pg_catalog.pg_dist_shard s join pg_catalog.pg_dist_partition d
                             on d.logicalrelid = s.logicalrelid
                     where s.shardid = pl.shardid and d.repmodel <> 't' and (d.partkey is not null or d.colocationid <> 0))
      group by 1, 2 order by 1, 2`,
  );
  return Object.fromEntries(r.rows.map((x) => [nodeName(String(x.nodename), num(x.nodeport)), num(x.shards)]));
}

/** Where each of `shardIds` has placements now. */
export async function shardNodes(client: Client, shardIds: readonly number[]): Promise<Map<number, string[]>> {
  const r = await client.query(
    `select pl.shardid, array_agg(format('%s:%s', n.nodename, n.nodeport) order by n.nodename, n.nodeport) as nodes
       from pg_catalog.pg_dist_placement pl join pg_catalog.pg_dist_node n on n.groupid = pl.groupid
      where pl.shardid = any($1::int8[])
      group by 1`,
    [shardIds],
  );
  return new Map(r.rows.map((x) => [num(x.shardid), (x.nodes as string[]) ?? []]));
}

/** Tables up to this many rows (by the planner's estimate) are counted before and after a change. */
export const COUNT_LIMIT = 5_000_000;

/** count(*) of a table given by its quoted, qualified name from the catalog (TableFacts.qualified). */
export async function rowCount(client: Client, qualified: string): Promise<number> {
  const r = await client.query(`select count(*) as n from ${qualified}`);
  return num(r.rows[0]?.n);
}

/** Leftovers of earlier shard moves still to be dropped on the node of group `groupId` (pg_dist_cleanup). */
export async function leftovers(client: Client, groupId: number): Promise<string[]> {
  const r = await client.query(
    'select object_name from pg_catalog.pg_dist_cleanup where node_group_id = $1 order by record_id',
    [groupId],
  );
  return r.rows.map((x) => String(x.object_name));
}

import type pg from 'pg';
import { compactTable } from '../schema/text.js';
import { check, countText, percentText, sizeOf, toNumber } from './format.js';
import type { BloatPart, BloatRow, Check, Verdict } from './output.js';
import { BLOCK_SIZE, LOCKED_CTE, TABLE_SCOPE, type TableFilter } from './sizes.js';

/*
 * Bloat is estimated, not measured: the size a relation would have if its rows were packed at its fillfactor,
 * worked out from the row count (pg_class.reltuples) and the average column widths and null fractions ANALYZE
 * keeps in pg_stats, against its size in pages (pg_class.relpages) from the same VACUUM/ANALYZE. This is the
 * statistical method PostgreSQL monitoring tools have long used; here it also pads each column to its type's
 * alignment. Exact figures need the pgstattuple extension (which reads the whole relation).
 */

const MAXALIGN = 8;
/** Page header (PageHeaderData) and line pointer (ItemIdData) sizes. */
const PAGE_HEADER = 24;
const ITEM_ID = 4;
/** Heap tuple header (HeapTupleHeaderData without the null bitmap). */
const HEAP_TUPLE_HEADER = 23;
/** B-tree page special space (BTPageOpaqueData) and index tuple header (IndexTupleData). */
const BTREE_SPECIAL = 16;
const INDEX_TUPLE_HEADER = 8;
const INDEX_NULL_BITMAP = 4;

const WARN_RATIO = 0.3;
const WARN_BYTES = 1024 * 1024;
const CRITICAL_RATIO = 0.5;
const CRITICAL_BYTES = 1024 * 1024 * 1024;
/** Relations with fewer pages are not judged (a few pages of slack are normal). */
const MIN_PAGES = 10;
/** Statistics are stale when the size changed by more than this share since the last VACUUM/ANALYZE. */
const STALE_SHARE = 0.2;
/** At most this many relations (largest first) are estimated per call. */
const CANDIDATES = 5000;

interface Col {
  name: string;
  len: number;
  align: string;
  width: number | null;
  nullfrac: number | null;
}

const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

function alignOf(c: Col, width: number): number {
  // A varlena short enough for a 1-byte header is stored unaligned.
  if (c.len === -1 && width < 127) return 1;
  switch (c.align) {
    case 'd':
      return 8;
    case 'i':
      return 4;
    case 's':
      return 2;
    default:
      return 1;
  }
}

/** Average bytes of the data part of a row: each column padded to its alignment, weighted by how often it is not null. */
function dataWidth(cols: Col[]): { width: number; missing: string[] } {
  let offset = 0;
  const missing: string[] = [];
  for (const c of cols) {
    const width = c.width ?? (c.len > 0 ? c.len : null);
    if (width === null) {
      missing.push(c.name);
      continue;
    }
    const present = 1 - (c.nullfrac ?? 0);
    const padded = alignUp(offset, alignOf(c, width)) - offset + width;
    offset += padded * present;
  }
  return { width: offset, missing };
}

function parseCols(v: unknown): Col[] {
  const list = Array.isArray(v) ? v : [];
  return list.map((c: Record<string, unknown>) => ({
    name: String(c.name),
    len: Number(c.len),
    align: String(c.align),
    width: toNumber(c.width),
    nullfrac: toNumber(c.nullfrac),
  }));
}

function fillfactorOf(options: unknown, def: number): number {
  if (Array.isArray(options)) {
    for (const o of options) {
      const m = /^fillfactor=(\d+)$/.exec(String(o));
      if (m) return Number(m[1]);
    }
  }
  return def;
}

interface Estimate {
  expectedPages: number | null;
  statistics: BloatRow['statistics'];
  missing: string[];
}

function heapEstimate(cols: Col[], reltuples: number, blockSize: number, fillfactor: number): Estimate {
  if (reltuples < 0 || (cols.length > 0 && cols.every((c) => c.width === null))) {
    return { expectedPages: null, statistics: 'missing', missing: cols.map((c) => c.name) };
  }
  const { width, missing } = dataWidth(cols);
  if (missing.length > 0) return { expectedPages: null, statistics: 'incomplete', missing };
  const hasNulls = cols.some((c) => (c.nullfrac ?? 0) > 0);
  const header = alignUp(HEAP_TUPLE_HEADER + (hasNulls ? Math.ceil(cols.length / 8) : 0), MAXALIGN);
  const tuple = alignUp(header + width, MAXALIGN) + ITEM_ID;
  const usable = ((blockSize - PAGE_HEADER) * fillfactor) / 100;
  const maxPerPage = Math.floor((blockSize - PAGE_HEADER) / (alignUp(HEAP_TUPLE_HEADER, MAXALIGN) + ITEM_ID));
  const perPage = Math.max(1, Math.min(maxPerPage, Math.floor(usable / tuple)));
  return { expectedPages: Math.ceil(reltuples / perPage), statistics: 'ok', missing: [] };
}

function btreeEstimate(cols: Col[], reltuples: number, blockSize: number, fillfactor: number): Estimate {
  if (reltuples < 0) return { expectedPages: null, statistics: 'missing', missing: cols.map((c) => c.name) };
  const { width, missing } = dataWidth(cols);
  if (missing.length > 0) {
    return { expectedPages: null, statistics: missing.length === cols.length ? 'missing' : 'incomplete', missing };
  }
  const hasNulls = cols.some((c) => (c.nullfrac ?? 0) > 0);
  const header = alignUp(INDEX_TUPLE_HEADER + (hasNulls ? INDEX_NULL_BITMAP : 0), MAXALIGN);
  const entry = alignUp(header + width, MAXALIGN) + ITEM_ID;
  const usable = ((blockSize - PAGE_HEADER - BTREE_SPECIAL) * fillfactor) / 100;
  const perPage = Math.max(2, Math.floor(usable / entry));
  const leaves = Math.max(1, Math.ceil(reltuples / perPage));
  const internal = leaves > 1 ? Math.ceil(leaves / perPage) : 0;
  // + the metapage
  return { expectedPages: leaves + internal + 1, statistics: 'ok', missing: [] };
}

function verdictOf(bloatBytes: number | null, ratio: number | null, pages: number): Verdict {
  if (bloatBytes === null || ratio === null || pages < MIN_PAGES) return 'ok';
  if (ratio >= CRITICAL_RATIO && bloatBytes >= CRITICAL_BYTES) return 'critical';
  if (ratio >= WARN_RATIO && bloatBytes >= WARN_BYTES) return 'warn';
  return 'ok';
}

function toRow(
  r: Record<string, unknown>,
  estimate: Estimate,
  blockSize: number,
  fillfactor: number,
  table: string | null,
): BloatRow {
  let est = estimate;
  const relpages = Number(r.relpages);
  const currentPages = Math.ceil(Number(r.bytes) / blockSize);
  // relpages and reltuples come from the last VACUUM/ANALYZE; when the relation changed a lot since, they say little.
  if (
    est.statistics === 'ok' &&
    Math.abs(currentPages - relpages) > Math.max(2, STALE_SHARE * Math.max(relpages, currentPages))
  ) {
    est = { expectedPages: null, statistics: 'stale', missing: [] };
  }
  const pages = est.statistics === 'ok' ? relpages : currentPages;
  const bytes = pages * blockSize;
  const expected = est.expectedPages === null ? null : Math.min(pages, est.expectedPages) * blockSize;
  const bloatBytes = expected === null ? null : bytes - expected;
  const ratio = bloatBytes === null || bytes === 0 ? null : bloatBytes / bytes;
  return {
    schema: String(r.schema),
    name: String(r.name),
    table,
    size: sizeOf(bytes) ?? { bytes: 0, pretty: '0 bytes' },
    expected: sizeOf(expected),
    bloat: sizeOf(bloatBytes),
    ratio: ratio === null ? null : Math.round(ratio * 1000) / 1000,
    rows: Number(r.reltuples) < 0 ? null : Math.round(Number(r.reltuples)),
    fillfactor,
    statistics: est.statistics,
    missing: est.missing,
    verdict: verdictOf(bloatBytes, ratio, pages),
  };
}

const byBloat = (a: BloatRow, b: BloatRow) =>
  (b.bloat?.bytes ?? -1) - (a.bloat?.bytes ?? -1) || b.size.bytes - a.size.bytes;

export const BLOAT_METHOD =
  'Estimates, not measurements: for each table and B-tree index the size it would have if its rows were packed at ' +
  'its fillfactor is worked out from pg_class.reltuples and the average width and null fraction of each column in ' +
  'pg_stats (tuple and page headers, line pointers and type alignment included), and compared with pg_class.relpages ' +
  'from the same VACUUM/ANALYZE. Bloat = actual − expected. It counts dead rows not yet vacuumed as well as free ' +
  'space; TOAST is not included; B-tree deduplication (PostgreSQL 13+) can make an index smaller than expected, so ' +
  'index bloat may be under-estimated. Accuracy depends on fresh statistics: ANALYZE first; pgstattuple measures exactly.';

export async function bloat(client: pg.ClientBase, f: TableFilter): Promise<{ part: BloatPart; checks: Check[] }> {
  const bs = Number((await client.query("select current_setting('block_size')::int as bs")).rows[0].bs);
  // The candidates first (largest first), then the column statistics of those only. A relation locked ACCESS
  // EXCLUSIVE is not measured (pg_relation_size would wait for the lock): its relpages stand for its size.
  const tables = (
    await client.query(
      `with ${LOCKED_CTE}, cand as (
          select c.oid, case when c.oid = any(l.oids) then c.relpages::int8 * ${BLOCK_SIZE}
                             else pg_catalog.pg_relation_size(c.oid) end as bytes
          from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace cross join locked l
          where c.relkind in ('r', 'm') and ${TABLE_SCOPE})
        select n.nspname::text as schema, c.relname::text as name, quote_ident(n.nspname) || '.' || quote_ident(c.relname) as qname,
          c.relpages, c.reltuples::float8 as reltuples, c.reloptions, k.bytes,
          (select json_agg(json_build_object('name', a.attname, 'len', t.typlen, 'align', t.typalign,
                  'width', s.avg_width, 'nullfrac', s.null_frac) order by a.attnum)
            from pg_catalog.pg_attribute a join pg_catalog.pg_type t on t.oid = a.atttypid
            left join pg_catalog.pg_stats s on s.schemaname = n.nspname and s.tablename = c.relname
              and s.attname = a.attname and not s.inherited
            where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped) as cols
        from (select * from cand where bytes > 0 order by bytes desc limit ${CANDIDATES}) k
        join pg_catalog.pg_class c on c.oid = k.oid join pg_catalog.pg_namespace n on n.oid = c.relnamespace
        order by k.bytes desc`,
      [f.schema, f.pattern],
    )
  ).rows as Record<string, unknown>[];
  const indexes = (
    await client.query(
      `with ${LOCKED_CTE}, cand as (
          select ic.oid, case when ic.oid = any(l.oids) then ic.relpages::int8 * ${BLOCK_SIZE}
                              else pg_catalog.pg_relation_size(ic.oid) end as bytes
          from pg_catalog.pg_index x
          join pg_catalog.pg_class ic on ic.oid = x.indexrelid
          join pg_catalog.pg_am am on am.oid = ic.relam
          join pg_catalog.pg_class c on c.oid = x.indrelid
          join pg_catalog.pg_namespace n on n.oid = c.relnamespace
          cross join locked l
          where ic.relkind = 'i' and am.amname = 'btree' and x.indisvalid and ${TABLE_SCOPE})
        select n.nspname::text as schema, ic.relname::text as name, c.relname::text as table_name,
          quote_ident(n.nspname) || '.' || quote_ident(ic.relname) as qname,
          quote_ident(n.nspname) || '.' || quote_ident(c.relname) as table_qname,
          ic.relpages, ic.reltuples::float8 as reltuples, ic.reloptions, k.bytes,
          (select json_agg(json_build_object('name', a.attname, 'len', t.typlen, 'align', t.typalign,
                  'width', coalesce(st.avg_width, se.avg_width), 'nullfrac', coalesce(st.null_frac, se.null_frac)) order by a.attnum)
            from pg_catalog.pg_attribute a join pg_catalog.pg_type t on t.oid = a.atttypid
            left join pg_catalog.pg_attribute ta on ta.attrelid = c.oid and ta.attnum = x.indkey[a.attnum - 1] and ta.attnum > 0
            left join pg_catalog.pg_stats st on ta.attname is not null and st.schemaname = n.nspname
              and st.tablename = c.relname and st.attname = ta.attname and not st.inherited
            left join pg_catalog.pg_stats se on ta.attname is null and se.schemaname = n.nspname
              and se.tablename = ic.relname and se.attname = a.attname
            where a.attrelid = ic.oid and a.attnum > 0) as cols
        from (select * from cand where bytes > 0 order by bytes desc limit ${CANDIDATES}) k
        join pg_catalog.pg_class ic on ic.oid = k.oid
        join pg_catalog.pg_index x on x.indexrelid = ic.oid
        join pg_catalog.pg_class c on c.oid = x.indrelid
        join pg_catalog.pg_namespace n on n.oid = c.relnamespace
        order by k.bytes desc`,
      [f.schema, f.pattern],
    )
  ).rows as Record<string, unknown>[];

  const qnames = new Map<BloatRow, string>();
  /** What ANALYZE takes to refresh a relation's statistics: the table itself, or an index's table. */
  const analyzeTarget = new Map<BloatRow, string>();
  const tableRows = tables.map((r) => {
    const ff = fillfactorOf(r.reloptions, 100);
    const row = toRow(r, heapEstimate(parseCols(r.cols), Number(r.reltuples), bs, ff), bs, ff, null);
    qnames.set(row, String(r.qname));
    analyzeTarget.set(row, String(r.qname));
    return row;
  });
  const indexRows = indexes.map((r) => {
    const ff = fillfactorOf(r.reloptions, 90);
    const row = toRow(r, btreeEstimate(parseCols(r.cols), Number(r.reltuples), bs, ff), bs, ff, String(r.table_name));
    qnames.set(row, String(r.qname));
    analyzeTarget.set(row, String(r.table_qname));
    return row;
  });

  const checks: Check[] = [];
  for (const t of [...tableRows].sort(byBloat)) {
    if (t.verdict === 'ok') continue;
    checks.push(
      check(
        'table bloat',
        t.verdict,
        `about ${t.bloat?.pretty} of ${t.size.pretty} (${percentText(t.ratio)}) beyond the ${t.expected?.pretty} its ${countText(t.rows)} rows need at fillfactor ${t.fillfactor} (estimate)`,
        {
          object: `table ${t.schema}.${t.name}`,
          threshold: `warn ≥ ${percentText(WARN_RATIO)} and ≥ 1 MB, critical ≥ ${percentText(CRITICAL_RATIO)} and ≥ 1 GB`,
          fix: `VACUUM (VERBOSE) ${qnames.get(t)}; makes dead rows' space reusable; to give the space back: VACUUM (FULL, VERBOSE) ${qnames.get(t)}; (ACCESS EXCLUSIVE lock, rewrites the table) or pg_repack online; check why autovacuum fell behind (pg_monitor vacuum)`,
        },
      ),
    );
  }
  for (const i of [...indexRows].sort(byBloat)) {
    if (i.verdict === 'ok') continue;
    checks.push(
      check(
        'index bloat',
        i.verdict,
        `about ${i.bloat?.pretty} of ${i.size.pretty} (${percentText(i.ratio)}) beyond the ${i.expected?.pretty} its ${countText(i.rows)} entries need at fillfactor ${i.fillfactor} (estimate)`,
        {
          object: `index ${i.schema}.${i.name} on ${i.table}`,
          threshold: `warn ≥ ${percentText(WARN_RATIO)} and ≥ 1 MB, critical ≥ ${percentText(CRITICAL_RATIO)} and ≥ 1 GB`,
          fix: `REINDEX INDEX CONCURRENTLY ${qnames.get(i)};`,
        },
      ),
    );
  }
  // Tiny relations are not worth an ANALYZE for this.
  const noStats = [...tableRows, ...indexRows].filter((r) => r.statistics !== 'ok' && r.size.bytes >= MIN_PAGES * bs);
  if (noStats.length > 0) {
    const reason = (r: BloatRow) =>
      r.statistics === 'stale'
        ? 'size changed since the last ANALYZE'
        : r.statistics === 'incomplete'
          ? `no statistics for ${r.missing.join(', ')}`
          : 'never analysed';
    const tablesToAnalyze = [
      ...new Set(noStats.map((r) => analyzeTarget.get(r)).filter((t): t is string => t !== undefined)),
    ];
    checks.push(
      check(
        'statistics missing',
        'warn',
        `${noStats.length} relation(s) cannot be estimated: ${noStats
          .slice(0, 10)
          .map((r) => `${r.schema}.${r.name} (${reason(r)})`)
          .join('; ')}${noStats.length > 10 ? '; …' : ''}`,
        {
          threshold: 'analysed since the last big change, with statistics for every column',
          fix: tablesToAnalyze
            .slice(0, 10)
            .map((t) => `ANALYZE ${t};`)
            .join(' '),
        },
      ),
    );
  }
  return {
    part: {
      method: BLOAT_METHOD,
      tables: [...tableRows].sort(byBloat).slice(0, f.limit),
      indexes: [...indexRows].sort(byBloat).slice(0, f.limit),
    },
    checks,
  };
}

function rowsTable(rows: BloatRow[], index: boolean): string {
  return compactTable(
    [
      index ? 'index' : 'table',
      ...(index ? ['on'] : []),
      'size',
      'expected',
      'bloat',
      'bloat %',
      'rows',
      'fillfactor',
      'verdict',
    ],
    rows.map((r) => [
      `${r.schema}.${r.name}`,
      ...(index ? [r.table] : []),
      r.size.pretty,
      r.expected?.pretty ?? (r.statistics === 'ok' ? '' : `statistics ${r.statistics}`),
      r.bloat?.pretty,
      r.ratio === null ? '' : percentText(r.ratio),
      r.rows,
      r.fillfactor,
      r.verdict,
    ]),
  );
}

export function bloatText(part: BloatPart): string[] {
  const lines = [`tables, most bloat first: ${part.tables.length === 0 ? 'none with pages' : ''}`];
  if (part.tables.length > 0) lines.push(rowsTable(part.tables, false));
  lines.push(`B-tree indexes, most bloat first: ${part.indexes.length === 0 ? 'none with pages' : ''}`);
  if (part.indexes.length > 0) lines.push(rowsTable(part.indexes, true));
  return lines;
}

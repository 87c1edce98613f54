/**
 * The health report: checks of the connected database (and, where it is server-wide, the server), each finding with
 * a severity, the object, the evidence and the SQL that would fix it. pgmcp never runs that SQL here. A check that
 * fails (permissions, an old server) is reported as skipped with the reason; the others still run.
 */
import { type PerfSession, StatementFailure } from './session.js';

export const HEALTH_CHECKS = [
  'invalid_indexes',
  'duplicate_indexes',
  'unused_indexes',
  'bloated_indexes',
  'fk_without_index',
  'sequences',
  'wraparound',
  'unvalidated_constraints',
  'connections',
  'replication',
  'cache_hit',
] as const;
export type HealthCheck = (typeof HEALTH_CHECKS)[number];

export type Severity = 'info' | 'warning' | 'critical';

export interface Finding {
  check: HealthCheck;
  severity: Severity;
  /** The object: `public.orders_pkey`, `database app`, `slot s1`, … */
  object: string;
  evidence: string;
  /** The SQL (or step) that would fix it; pgmcp does not run it. */
  fix?: string;
}

export interface CheckResult {
  name: HealthCheck;
  status: 'ok' | Severity | 'skipped';
  summary: string;
}

export interface HealthReport {
  verdict: 'ok' | 'warning' | 'critical';
  checks: CheckResult[];
  findings: Finding[];
}

const USER_SCHEMAS = `n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp\\_%'`;

type Q = PerfSession['query'];

function pretty(bytes: number): string {
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

function pct(x: number): string {
  return `${(x * 100).toFixed(x >= 0.1 ? 0 : 1)}%`;
}

/** `CREATE [UNIQUE] INDEX name ON …` → the same with CONCURRENTLY. */
function concurrently(definition: string): string {
  return definition.replace(/^CREATE (UNIQUE )?INDEX /, 'CREATE $1INDEX CONCURRENTLY ');
}

interface Context {
  q: Q;
  version: number;
  database: string;
  statsSince: string;
}

type Runner = (c: Context) => Promise<{ findings: Omit<Finding, 'check'>[]; summary: string }>;

const invalidIndexes: Runner = async ({ q }) => {
  const r = await q<{
    index: string;
    table: string;
    unique: boolean;
    bytes: string;
    definition: string;
    building: boolean;
  }>(
    `select quote_ident(n.nspname) || '.' || quote_ident(c.relname) as index,
            quote_ident(tn.nspname) || '.' || quote_ident(t.relname) as table, i.indisunique as unique,
            pg_catalog.pg_relation_size(c.oid)::int8 as bytes, pg_catalog.pg_get_indexdef(c.oid) as definition,
            exists (select 1 from pg_catalog.pg_stat_progress_create_index p where p.index_relid = c.oid) as building
       from pg_catalog.pg_index i
       join pg_catalog.pg_class c on c.oid = i.indexrelid
       join pg_catalog.pg_namespace n on n.oid = c.relnamespace
       join pg_catalog.pg_class t on t.oid = i.indrelid
       join pg_catalog.pg_namespace tn on tn.oid = t.relnamespace
      where not i.indisvalid
      order by 1`,
  );
  const findings = r.rows.map((x) => ({
    severity: x.building ? ('info' as const) : ('warning' as const),
    object: x.index,
    evidence: x.building
      ? `being built right now (CREATE INDEX CONCURRENTLY or REINDEX in progress) on ${x.table}`
      : `INVALID index on ${x.table} (${pretty(Number(x.bytes))}): a CREATE INDEX CONCURRENTLY or REINDEX CONCURRENTLY failed or was cancelled; queries never use it, but every write still maintains it${x.unique ? '; it is UNIQUE: if it failed on duplicate keys, remove the duplicates before re-creating it' : ''}`,
    ...(x.building ? {} : { fix: `DROP INDEX CONCURRENTLY ${x.index};\n${concurrently(x.definition)};` }),
  }));
  return { findings, summary: r.rows.length ? `${r.rows.length} invalid` : 'no invalid index' };
};

const duplicateIndexes: Runner = async ({ q }) => {
  const dup = await q<{
    table: string;
    members: {
      name: string;
      bytes: number;
      constraint: string | null;
      primary: boolean;
      unique: boolean;
      definition: string;
    }[];
  }>(
    `select quote_ident(tn.nspname) || '.' || quote_ident(t.relname) as table,
            json_agg(json_build_object('name', quote_ident(n.nspname) || '.' || quote_ident(c.relname),
                                       'bytes', pg_catalog.pg_relation_size(c.oid),
                                       'constraint', quote_ident(con.conname),
                                       'primary', i.indisprimary, 'unique', i.indisunique,
                                       'definition', pg_catalog.pg_get_indexdef(c.oid))
                     order by i.indisprimary desc, (con.oid is not null) desc, i.indisunique desc, c.oid) as members
       from pg_catalog.pg_index i
       join pg_catalog.pg_class c on c.oid = i.indexrelid
       join pg_catalog.pg_namespace n on n.oid = c.relnamespace
       join pg_catalog.pg_class t on t.oid = i.indrelid
       join pg_catalog.pg_namespace tn on tn.oid = t.relnamespace
       left join pg_catalog.pg_constraint con on con.conindid = i.indexrelid and con.contype in ('p', 'u', 'x')
      where i.indisvalid and ${USER_SCHEMAS.replace(/n\.nspname/g, 'tn.nspname')}
      group by tn.nspname, t.relname, i.indrelid, c.relam, i.indkey::text, i.indclass::text, i.indcollation::text,
               i.indoption::text, i.indnkeyatts, coalesce(pg_catalog.pg_get_expr(i.indexprs, i.indrelid), ''),
               coalesce(pg_catalog.pg_get_expr(i.indpred, i.indrelid), '')
     having count(*) > 1
      order by 1`,
  );
  const findings: Omit<Finding, 'check'>[] = [];
  for (const g of dup.rows) {
    const [keep, ...extra] = g.members;
    if (!keep) continue;
    for (const m of extra) {
      findings.push({
        severity: 'warning',
        object: m.name,
        evidence: `duplicate of ${keep.name} on ${g.table} (same columns, operator classes, expressions and predicate): ${m.definition}; it costs ${pretty(m.bytes)} and slows every write`,
        fix: m.constraint
          ? `ALTER TABLE ${g.table} DROP CONSTRAINT ${m.constraint};  -- the index backs this constraint; check that no foreign key depends on it first`
          : `DROP INDEX CONCURRENTLY ${m.name};`,
      });
    }
  }
  // A plain btree index whose key columns lead another btree index is redundant for most queries.
  const prefix = await q<{ table: string; index: string; bytes: string; covered_by: string; definition: string }>(
    `select quote_ident(tn.nspname) || '.' || quote_ident(t.relname) as table,
            quote_ident(n.nspname) || '.' || quote_ident(ac.relname) as index,
            pg_catalog.pg_relation_size(a.indexrelid)::int8 as bytes,
            quote_ident(n.nspname) || '.' || quote_ident(bc.relname) as covered_by,
            pg_catalog.pg_get_indexdef(b.indexrelid) as definition
       from pg_catalog.pg_index a
       join pg_catalog.pg_index b on b.indrelid = a.indrelid and b.indexrelid <> a.indexrelid
       join pg_catalog.pg_class ac on ac.oid = a.indexrelid
       join pg_catalog.pg_class bc on bc.oid = b.indexrelid
       join pg_catalog.pg_am am on am.oid = ac.relam and am.amname = 'btree' and bc.relam = ac.relam
       join pg_catalog.pg_class t on t.oid = a.indrelid
       join pg_catalog.pg_namespace tn on tn.oid = t.relnamespace
       join pg_catalog.pg_namespace n on n.oid = ac.relnamespace
      where a.indisvalid and b.indisvalid and not a.indisunique and not a.indisprimary
        and a.indpred is null and b.indpred is null and a.indexprs is null and b.indexprs is null
        and a.indnatts = a.indnkeyatts and a.indnkeyatts < b.indnkeyatts
        and (b.indkey::text || ' ') like (a.indkey::text || ' %')
        and (b.indclass::text || ' ') like (a.indclass::text || ' %')
        and (b.indoption::text || ' ') like (a.indoption::text || ' %')
        and not exists (select 1 from pg_catalog.pg_constraint con where con.conindid = a.indexrelid)
        and ${USER_SCHEMAS.replace(/n\.nspname/g, 'tn.nspname')}
      order by 1, 2`,
  );
  // The extra members of a duplicate group are reported above already.
  const reported = new Set<string>(findings.map((f) => f.object));
  for (const p of prefix.rows) {
    if (reported.has(p.index)) continue;
    reported.add(p.index);
    findings.push({
      severity: 'info',
      object: p.index,
      evidence: `its key columns lead ${p.covered_by} (${p.definition}), which serves the same lookups; it costs ${pretty(Number(p.bytes))}. Keep it only if measurably faster for its own queries`,
      fix: `DROP INDEX CONCURRENTLY ${p.index};`,
    });
  }
  const dups = findings.filter((f) => f.severity === 'warning').length;
  return {
    findings,
    summary: `${dups} duplicate${dups === 1 ? '' : 's'}, ${findings.length - dups} overlapping (prefix of another)`,
  };
};

const unusedIndexes: Runner = async ({ q, version, statsSince }) => {
  const r = await q<{
    index: string;
    table: string;
    bytes: string;
    definition: string;
    last: Date | null;
    table_scans: string;
  }>(
    `select quote_ident(s.schemaname) || '.' || quote_ident(s.indexrelname) as index,
            quote_ident(s.schemaname) || '.' || quote_ident(s.relname) as table,
            pg_catalog.pg_relation_size(s.indexrelid)::int8 as bytes, pg_catalog.pg_get_indexdef(s.indexrelid) as definition,
            ${version >= 160000 ? 's.last_idx_scan' : 'null::timestamptz'} as last,
            coalesce(t.seq_scan + coalesce(t.idx_scan, 0), 0)::int8 as table_scans
       from pg_catalog.pg_stat_user_indexes s
       join pg_catalog.pg_index i on i.indexrelid = s.indexrelid
       left join pg_catalog.pg_stat_user_tables t on t.relid = s.relid
      where s.idx_scan = 0 and i.indisvalid and not i.indisunique and not i.indisprimary
        and not exists (select 1 from pg_catalog.pg_constraint c where c.conindid = s.indexrelid)
      order by pg_catalog.pg_relation_size(s.indexrelid) desc, 1`,
  );
  const findings = r.rows.map((x) => {
    const bytes = Number(x.bytes);
    return {
      severity: bytes >= 10 * 1048576 ? ('warning' as const) : ('info' as const),
      object: x.index,
      evidence: `0 index scans since ${statsSince} on ${x.table} (table scanned ${x.table_scans} times meanwhile); ${pretty(bytes)}; ${x.definition}. Scans are counted per server: check standbys and rare jobs (month-end reports) before dropping`,
      fix: `DROP INDEX CONCURRENTLY ${x.index};`,
    };
  });
  return { findings, summary: r.rows.length ? `${r.rows.length} never scanned` : 'every index was used' };
};

const bloatedIndexes: Runner = async ({ q }) => {
  const r = await q<{
    index: string;
    table: string;
    pages: number;
    tuples: number;
    width: number | null;
    stats_complete: boolean;
    fillfactor: number;
  }>(
    `select quote_ident(n.nspname) || '.' || quote_ident(ic.relname) as index,
            quote_ident(tn.nspname) || '.' || quote_ident(t.relname) as table,
            ic.relpages::float8 as pages, ic.reltuples::float8 as tuples,
            w.width::float8 as width, w.n = i.indnatts as stats_complete,
            coalesce((select substring(o from 'fillfactor=(\\d+)')::int from unnest(ic.reloptions) o
                       where o like 'fillfactor=%'), 90) as fillfactor
       from pg_catalog.pg_index i
       join pg_catalog.pg_class ic on ic.oid = i.indexrelid
       join pg_catalog.pg_am am on am.oid = ic.relam and am.amname = 'btree'
       join pg_catalog.pg_namespace n on n.oid = ic.relnamespace
       join pg_catalog.pg_class t on t.oid = i.indrelid
       join pg_catalog.pg_namespace tn on tn.oid = t.relnamespace
       cross join lateral (
         select sum(s.avg_width) as width, count(s.attname) as n
           from pg_catalog.pg_attribute a
           join pg_catalog.pg_stats s on s.schemaname = tn.nspname and s.tablename = t.relname
                                     and s.attname = a.attname and not s.inherited
          where a.attrelid = t.oid and a.attnum = any (i.indkey::int2[])) w
      where i.indisvalid and ic.relpages >= 1280 and ic.reltuples > 0 and i.indexprs is null
        and ${USER_SCHEMAS.replace(/n\.nspname/g, 'tn.nspname')}`,
  );
  const findings: Omit<Finding, 'check'>[] = [];
  for (const x of r.rows) {
    if (!x.stats_complete || x.width === null) continue;
    // Leaf tuple: 8-byte header (heap pointer and flags) + data, MAXALIGNed; plus a 4-byte line pointer.
    const tuple = Math.ceil((8 + x.width) / 8) * 8 + 4;
    const usable = (8192 - 24 - 16) * (x.fillfactor / 100);
    const leaf = Math.ceil(x.tuples / Math.max(1, Math.floor(usable / tuple)));
    const expected = leaf + Math.ceil(leaf / 200) + 1;
    const wasted = x.pages - expected;
    const ratio = wasted / x.pages;
    const wastedBytes = wasted * 8192;
    if (ratio < 0.4 || wastedBytes < 10 * 1048576) continue;
    findings.push({
      severity: ratio >= 0.7 || wastedBytes >= 1024 ** 3 ? 'warning' : 'info',
      object: x.index,
      evidence: `~${pct(ratio)} bloat (estimate): ${pretty(x.pages * 8192)} where ~${pretty(expected * 8192)} would hold its ${Math.round(x.tuples)} entries at fillfactor ${x.fillfactor}; on ${x.table}`,
      fix: `REINDEX INDEX CONCURRENTLY ${x.index};`,
    });
  }
  return {
    findings,
    summary: findings.length
      ? `${findings.length} bloated (estimated)`
      : 'no btree index over 10 MB with ≥ 40% estimated bloat',
  };
};

const fkWithoutIndex: Runner = async ({ q }) => {
  const r = await q<{
    table: string;
    name: string;
    columns: string[];
    referenced: string;
    rows: number;
    bytes: string;
  }>(
    `select quote_ident(n.nspname) || '.' || quote_ident(t.relname) as table, quote_ident(c.conname) as name,
            array(select quote_ident(a.attname) from unnest(c.conkey) with ordinality as k(attnum, ord)
                    join pg_catalog.pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum
                   order by k.ord) as columns,
            quote_ident(rn.nspname) || '.' || quote_ident(r.relname) as referenced,
            greatest(t.reltuples, 0)::float8 as rows, pg_catalog.pg_total_relation_size(t.oid)::int8 as bytes
       from pg_catalog.pg_constraint c
       join pg_catalog.pg_class t on t.oid = c.conrelid
       join pg_catalog.pg_namespace n on n.oid = t.relnamespace
       join pg_catalog.pg_class r on r.oid = c.confrelid
       join pg_catalog.pg_namespace rn on rn.oid = r.relnamespace
      where c.contype = 'f' and c.conparentid = 0 and ${USER_SCHEMAS}
        and not exists (
          select 1 from pg_catalog.pg_index i
           where i.indrelid = c.conrelid and i.indisvalid and i.indpred is null
             and (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(c.conkey)] @> c.conkey
             and (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(c.conkey)] <@ c.conkey)
      order by 1, 2`,
  );
  const findings = r.rows.map((x) => ({
    severity: x.rows >= 10_000 ? ('warning' as const) : ('info' as const),
    object: `${x.table} (${x.name})`,
    evidence: `foreign key ${x.name} (${x.columns.join(', ')}) → ${x.referenced} has no index leading with its columns: every DELETE or key UPDATE on ${x.referenced} scans ${x.table} (${x.rows > 0 ? `~${Math.round(x.rows)} rows, ` : ''}${pretty(Number(x.bytes))}), and joins on it cannot use an index`,
    fix: `CREATE INDEX CONCURRENTLY ON ${x.table} (${x.columns.join(', ')});`,
  }));
  return { findings, summary: r.rows.length ? `${r.rows.length} without an index` : 'every foreign key is indexed' };
};

const INT_MAX: Record<string, bigint> = {
  smallint: 32767n,
  integer: 2147483647n,
  bigint: 9223372036854775807n,
};

const sequences: Runner = async ({ q }) => {
  const r = await q<{
    seq: string;
    type: string;
    last: string;
    min: string;
    max: string;
    inc: string;
    cycle: boolean;
    table: string | null;
    column: string | null;
    column_type: string | null;
  }>(
    `select quote_ident(s.schemaname) || '.' || quote_ident(s.sequencename) as seq, s.data_type::text as type,
            s.last_value::text as last, s.min_value::text as min, s.max_value::text as max,
            s.increment_by::text as inc, s.cycle, col.tbl as table, col.col as column, col.typ as column_type
       from pg_catalog.pg_sequences s
       left join lateral (
         select quote_ident(tn.nspname) || '.' || quote_ident(t.relname) as tbl, quote_ident(a.attname) as col,
                pg_catalog.format_type(a.atttypid, null) as typ
           from pg_catalog.pg_depend d
           left join pg_catalog.pg_attrdef ad on d.classid = 'pg_catalog.pg_attrdef'::regclass and ad.oid = d.objid
           join pg_catalog.pg_class t
             on t.oid = case when d.classid = 'pg_catalog.pg_attrdef'::regclass then ad.adrelid else d.refobjid end
           join pg_catalog.pg_namespace tn on tn.oid = t.relnamespace
           join pg_catalog.pg_attribute a
             on a.attrelid = t.oid
            and a.attnum = case when d.classid = 'pg_catalog.pg_attrdef'::regclass then ad.adnum else d.refobjsubid end
          where (d.classid = 'pg_catalog.pg_class'::regclass and d.objid = (quote_ident(s.schemaname) || '.' || quote_ident(s.sequencename))::regclass
                 and d.refclassid = 'pg_catalog.pg_class'::regclass and d.refobjsubid > 0 and d.deptype in ('a', 'i'))
             or (d.classid = 'pg_catalog.pg_attrdef'::regclass and d.refclassid = 'pg_catalog.pg_class'::regclass
                 and d.refobjid = (quote_ident(s.schemaname) || '.' || quote_ident(s.sequencename))::regclass)
          order by pg_catalog.format_type(a.atttypid, null) = 'bigint'
          limit 1) col on true
      where s.last_value is not null
      order by 1`,
  );
  const findings: Omit<Finding, 'check'>[] = [];
  for (const x of r.rows) {
    const last = BigInt(x.last);
    const min = BigInt(x.min);
    const max = BigInt(x.max);
    const ascending = BigInt(x.inc) > 0n;
    const colMax = x.column_type ? INT_MAX[x.column_type] : undefined;
    const seqUsed = ascending ? last - min : max - last;
    const seqRange = max - min;
    let used = Number(seqUsed) / Number(seqRange);
    let limitBy: 'sequence' | 'column' = 'sequence';
    if (ascending && colMax !== undefined && colMax < max) {
      const colUsed = Number(last - min) / Number(colMax - min);
      if (colUsed >= used) {
        used = colUsed;
        limitBy = 'column';
      }
    }
    if (used < 0.75) continue;
    const owner = x.table && x.column ? `${x.table}.${x.column} (${x.column_type})` : undefined;
    const fixes: string[] = [];
    if (limitBy === 'column' && x.table && x.column) {
      fixes.push(
        `ALTER TABLE ${x.table} ALTER COLUMN ${x.column} TYPE bigint;  -- rewrites the table under an ACCESS EXCLUSIVE lock: plan a window, or migrate through a new column`,
      );
    } else if (x.type !== 'bigint') {
      fixes.push(`ALTER SEQUENCE ${x.seq} AS bigint;`);
      if (x.table && x.column && x.column_type !== 'bigint')
        fixes.push(
          `ALTER TABLE ${x.table} ALTER COLUMN ${x.column} TYPE bigint;  -- rewrites the table under an ACCESS EXCLUSIVE lock`,
        );
    } else {
      fixes.push(`ALTER SEQUENCE ${x.seq} ${ascending ? 'NO MAXVALUE' : 'NO MINVALUE'};`);
    }
    findings.push({
      severity: used >= 0.9 ? 'critical' : 'warning',
      object: x.seq,
      evidence: `${pct(used)} of its range used: last value ${x.last} of ${limitBy === 'column' && colMax !== undefined ? `${colMax} (the ${x.column_type} column ${owner} it feeds; the ${x.type} sequence itself goes to ${x.max})` : `${ascending ? x.max : x.min} (${x.type})`}${owner && limitBy === 'sequence' ? `; feeds ${owner}` : ''}${
        limitBy === 'column'
          ? `; inserts fail with "${x.column_type} out of range" once it passes the column's maximum`
          : x.cycle
            ? '; CYCLE: it will wrap around and repeat values'
            : '; nextval() fails once it is exhausted'
      }`,
      fix: fixes.join('\n'),
    });
  }
  return {
    findings,
    summary: findings.length
      ? `${findings.length} at ≥ 75% of their range`
      : `${r.rows.length} sequences, none at 75% of its range`,
  };
};

const XID_LIMIT = 2 ** 31;

const wraparound: Runner = async ({ q, database }) => {
  const dbs = await q<{ datname: string; xid_age: string; mxid_age: string; freeze_max: string }>(
    `select datname, age(datfrozenxid)::int8 as xid_age, mxid_age(datminmxid)::int8 as mxid_age,
            current_setting('autovacuum_freeze_max_age')::int8 as freeze_max
       from pg_catalog.pg_database where datallowconn order by age(datfrozenxid) desc`,
  );
  const tables = await q<{ table: string; age: string }>(
    `select quote_ident(n.nspname) || '.' || quote_ident(c.relname) as table, age(c.relfrozenxid)::int8 as age
       from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'm', 't') order by age(c.relfrozenxid) desc limit 3`,
  );
  const findings: Omit<Finding, 'check'>[] = [];
  let worst = 0;
  for (const d of dbs.rows) {
    const xid = Number(d.xid_age) / XID_LIMIT;
    const mxid = Number(d.mxid_age) / XID_LIMIT;
    const used = Math.max(xid, mxid);
    worst = Math.max(worst, used);
    const lagging = Number(d.xid_age) > Number(d.freeze_max) * 1.5;
    if (used < 0.5 && !lagging) continue;
    const which = xid >= mxid ? `transaction-ID age ${d.xid_age}` : `multixact age ${d.mxid_age}`;
    const here = d.datname === database ? tables.rows : [];
    findings.push({
      severity: used >= 0.75 ? 'critical' : used >= 0.5 ? 'warning' : 'info',
      object: `database ${d.datname}`,
      evidence: `${which} = ${pct(used)} of the ~2.1 billion limit (autovacuum_freeze_max_age ${d.freeze_max}${lagging ? '; anti-wraparound autovacuum is not keeping up' : ''}); at the limit PostgreSQL stops assigning transaction IDs${here.length ? `; oldest tables: ${here.map((t) => `${t.table} (${t.age})`).join(', ')}` : ''}`,
      fix: `${
        here.length > 0
          ? here.map((t) => `VACUUM (FREEZE, VERBOSE) ${t.table};`).join('\n')
          : `-- from a shell: vacuumdb --freeze --dbname=${d.datname}`
      }\n-- also look for long transactions, abandoned replication slots and prepared transactions holding the horizon back`,
    });
  }
  return { findings, summary: `oldest database at ${pct(worst)} of the wraparound limit` };
};

const unvalidatedConstraints: Runner = async ({ q }) => {
  const r = await q<{ owner: string; domain: boolean; name: string; type: string; definition: string }>(
    `select case when c.conrelid <> 0 then quote_ident(n.nspname) || '.' || quote_ident(t.relname)
                 else quote_ident(dn.nspname) || '.' || quote_ident(d.typname) end as owner,
            c.conrelid = 0 as domain, quote_ident(c.conname) as name, c.contype::text as type,
            pg_catalog.pg_get_constraintdef(c.oid) as definition
       from pg_catalog.pg_constraint c
       left join pg_catalog.pg_class t on t.oid = c.conrelid
       left join pg_catalog.pg_namespace n on n.oid = t.relnamespace
       left join pg_catalog.pg_type d on d.oid = c.contypid
       left join pg_catalog.pg_namespace dn on dn.oid = d.typnamespace
      where not c.convalidated
        and coalesce(n.nspname, dn.nspname) not in ('pg_catalog', 'information_schema')
      order by 1, 3`,
  );
  const kinds: Record<string, string> = { f: 'foreign key', c: 'check', n: 'not-null' };
  const findings = r.rows.map((x) => ({
    severity: 'warning' as const,
    object: `${x.owner} (${x.name})`,
    evidence: `${kinds[x.type] ?? 'constraint'} ${x.name} is NOT VALID: ${x.definition}. New rows are checked, existing rows never were, and the planner cannot rely on it`,
    fix: x.domain
      ? `ALTER DOMAIN ${x.owner} VALIDATE CONSTRAINT ${x.name};`
      : `ALTER TABLE ${x.owner} VALIDATE CONSTRAINT ${x.name};  -- SHARE UPDATE EXCLUSIVE lock: reads and writes go on`,
  }));
  return { findings, summary: r.rows.length ? `${r.rows.length} not validated` : 'all validated' };
};

const connections: Runner = async ({ q, version }) => {
  const r = await q<{ total: number; active: number; idle_tx: number; max: number; reserved: number }>(
    `select count(*)::int as total, count(*) filter (where state = 'active')::int as active,
            count(*) filter (where state like 'idle in transaction%')::int as idle_tx,
            current_setting('max_connections')::int as max,
            (current_setting('superuser_reserved_connections')::int
             ${version >= 160000 ? "+ current_setting('reserved_connections')::int" : ''})::int as reserved
       from pg_catalog.pg_stat_activity where backend_type = 'client backend'`,
  );
  const x = r.rows[0];
  if (!x) return { findings: [], summary: 'no data' };
  const usable = Math.max(1, x.max - x.reserved);
  const used = x.total / usable;
  const evidence = `${x.total} client connections of ${usable} available (max_connections ${x.max} − ${x.reserved} reserved): ${x.active} active, ${x.idle_tx} idle in transaction`;
  const findings: Omit<Finding, 'check'>[] =
    used >= 0.75
      ? [
          {
            severity: used >= 0.9 ? 'critical' : 'warning',
            object: 'server connections',
            evidence: `${pct(used)} used: ${evidence}`,
            fix: '-- put a pooler in front (PgBouncer in transaction mode) and lower application pool sizes; or raise the limit (needs a restart):\nALTER SYSTEM SET max_connections = <higher>;',
          },
        ]
      : [];
  return { findings, summary: `${pct(used)} of connections used` };
};

const replication: Runner = async ({ q }) => {
  const role = await q<{ standby: boolean }>('select pg_catalog.pg_is_in_recovery() as standby');
  const findings: Omit<Finding, 'check'>[] = [];
  if (role.rows[0]?.standby) {
    const r = await q<{ lag_s: number | null; receive_gap: string | null }>(
      `select extract(epoch from now() - pg_catalog.pg_last_xact_replay_timestamp())::float8 as lag_s,
              pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_last_wal_receive_lsn(), pg_catalog.pg_last_wal_replay_lsn())::int8::text as receive_gap`,
    );
    const x = r.rows[0];
    const lag = x?.lag_s ?? null;
    const gap = Number(x?.receive_gap ?? 0);
    if ((lag !== null && lag >= 30) || gap >= 64 * 1048576) {
      findings.push({
        severity: (lag ?? 0) >= 300 || gap >= 1024 ** 3 ? 'critical' : 'warning',
        object: 'this standby',
        evidence: `last replayed transaction ${lag === null ? '?' : lag.toFixed(0)} s ago (also grows when the primary is idle), ${pretty(gap)} received but not replayed yet`,
        fix: '-- look for replay conflicts and long queries here (max_standby_streaming_delay), and I/O saturation; no SQL fixes this by itself',
      });
    }
    return { findings, summary: `standby; replay lag ${lag === null ? 'unknown' : `${lag.toFixed(0)} s`}` };
  }
  const standbys = await q<{
    name: string;
    addr: string | null;
    state: string;
    bytes: string | null;
    lag_s: number | null;
  }>(
    `select application_name as name, client_addr::text as addr, state,
            pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), replay_lsn)::int8::text as bytes,
            extract(epoch from replay_lag)::float8 as lag_s
       from pg_catalog.pg_stat_replication`,
  );
  for (const s of standbys.rows) {
    const bytes = Number(s.bytes ?? 0);
    const lag = s.lag_s ?? 0;
    if (bytes < 64 * 1048576 && lag < 30) continue;
    findings.push({
      severity: bytes >= 1024 ** 3 || lag >= 300 ? 'critical' : 'warning',
      object: `standby ${s.name || s.addr || '?'}`,
      evidence: `replay is ${pretty(bytes)} and ${lag.toFixed(0)} s behind (state ${s.state})`,
      fix: '-- check the standby (pg_perf health_report there), its network and disk; no SQL here fixes it',
    });
  }
  const slots = await q<{
    name: string;
    type: string;
    active: boolean;
    retained: string | null;
    status: string | null;
  }>(
    `select slot_name as name, slot_type as type, active,
            pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), restart_lsn)::int8::text as retained,
            wal_status as status
       from pg_catalog.pg_replication_slots`,
  );
  for (const s of slots.rows) {
    const retained = Number(s.retained ?? 0);
    const lost = s.status === 'lost' || s.status === 'unreserved';
    if (s.active && !lost && retained < 1024 ** 3) continue;
    if (!s.active && retained < 64 * 1048576 && !lost) continue;
    findings.push({
      severity: lost || retained >= 10 * 1024 ** 3 ? 'critical' : 'warning',
      object: `slot ${s.name}`,
      evidence: `${s.type} slot, ${s.active ? 'active' : 'INACTIVE'}, retains ${pretty(retained)} of WAL${s.status ? ` (wal_status ${s.status})` : ''}: it keeps WAL${s.type === 'logical' ? ' and the catalog xmin' : ''} until its consumer catches up`,
      fix: `SELECT pg_catalog.pg_drop_replication_slot('${s.name.replace(/'/g, "''")}');  -- only if its consumer is gone for good`,
    });
  }
  return {
    findings,
    summary: `${standbys.rows.length} standby${standbys.rows.length === 1 ? '' : 's'}, ${slots.rows.length} slot${slots.rows.length === 1 ? '' : 's'}`,
  };
};

const cacheHit: Runner = async ({ q }) => {
  const r = await q<{ hit: string; read: string }>(
    `select blks_hit::int8 as hit, blks_read::int8 as read
       from pg_catalog.pg_stat_database where datname = current_database()`,
  );
  const hit = Number(r.rows[0]?.hit ?? 0);
  const read = Number(r.rows[0]?.read ?? 0);
  if (hit + read < 10_000) return { findings: [], summary: 'too little activity to judge' };
  const ratio = hit / (hit + read);
  const findings: Omit<Finding, 'check'>[] =
    ratio < 0.99
      ? [
          {
            severity: ratio < 0.95 ? 'warning' : 'info',
            object: 'database buffer cache',
            evidence: `cache hit ratio ${(ratio * 100).toFixed(2)}% (${hit} hits, ${read} reads from disk or the OS cache): below the 99% an OLTP workload usually reaches`,
            fix: '-- find what reads most: pg_perf top_queries with order_by shared_read; then index it, or give it memory:\nALTER SYSTEM SET shared_buffers = <about 25% of RAM>;  -- needs a restart',
          },
        ]
      : [];
  return { findings, summary: `cache hit ratio ${(ratio * 100).toFixed(2)}%` };
};

const RUNNERS: Record<HealthCheck, Runner> = {
  invalid_indexes: invalidIndexes,
  duplicate_indexes: duplicateIndexes,
  unused_indexes: unusedIndexes,
  bloated_indexes: bloatedIndexes,
  fk_without_index: fkWithoutIndex,
  sequences,
  wraparound,
  unvalidated_constraints: unvalidatedConstraints,
  connections,
  replication,
  cache_hit: cacheHit,
};

const RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

/** Runs the checks (all when `only` is empty) in the session's database. */
export async function healthReport(
  session: PerfSession,
  only: readonly HealthCheck[],
  onCheck?: (done: number, total: number, name: HealthCheck) => Promise<void>,
): Promise<HealthReport> {
  const names = only.length ? HEALTH_CHECKS.filter((c) => only.includes(c)) : [...HEALTH_CHECKS];
  const reset = await session.query<{ since: Date | null }>(
    'select stats_reset as since from pg_catalog.pg_stat_database where datname = current_database()',
  );
  const since = reset.rows[0]?.since;
  const ctx: Context = {
    q: session.query.bind(session) as Q,
    version: session.version,
    database: session.database,
    statsSince: since
      ? `the statistics reset at ${new Date(since).toISOString()}`
      : 'statistics began (no reset recorded: server start, or the last crash)',
  };
  const checks: CheckResult[] = [];
  const findings: Finding[] = [];
  let done = 0;
  for (const name of names) {
    try {
      const out = await RUNNERS[name](ctx);
      const sorted = out.findings.map((f) => ({ check: name, ...f }));
      findings.push(...sorted);
      const worst = sorted.reduce<Severity | undefined>(
        (w, f) => (w === undefined || RANK[f.severity] > RANK[w] ? f.severity : w),
        undefined,
      );
      checks.push({ name, status: worst ?? 'ok', summary: out.summary });
    } catch (err) {
      if (!(err instanceof StatementFailure)) throw err;
      await session.restart();
      checks.push({ name, status: 'skipped', summary: `could not run: ${err.message}` });
    }
    done++;
    await onCheck?.(done, names.length, name);
  }
  findings.sort((a, b) => RANK[b.severity] - RANK[a.severity]);
  const verdict = findings.some((f) => f.severity === 'critical')
    ? 'critical'
    : findings.some((f) => f.severity === 'warning')
      ? 'warning'
      : 'ok';
  return { verdict, checks, findings };
}

import type pg from 'pg';
import { compactTable } from '../schema/text.js';
import { time } from '../schema/values.js';
import { check, countText, durationOf, percentText, toInt, toNumber, toStr, XID_LIMIT } from './format.js';
import type { Check, VacuumPart, VacuumTable, Verdict } from './output.js';
import type { ServerInfo } from './sessions.js';
import { TABLE_SCOPE, type TableFilter } from './sizes.js';
import { wraparoundThreshold, wraparoundVerdict } from './thresholds.js';

type Row = Record<string, unknown>;

/** A table is reported for dead rows from this share of dead rows … */
const DEAD_RATIO_WARN = 0.2;
/** … once it has at least this many of them (small tables churn harmlessly). */
const DEAD_ROWS_MIN = 1000;

/** A storage parameter from pg_class.reloptions (`name=value` text). */
function relopt(options: unknown, name: string): string | null {
  if (!Array.isArray(options)) return null;
  for (const o of options) {
    const s = String(o);
    const eq = s.indexOf('=');
    if (eq > 0 && s.slice(0, eq) === name) return s.slice(eq + 1);
  }
  return null;
}

function tableSql(info: ServerInfo, order: 'dead' | 'age'): string {
  const ins = info.versionNum >= 130000 ? 's.n_ins_since_vacuum::float8' : 'null::float8';
  const orderBy =
    order === 'dead'
      ? 's.n_dead_tup desc nulls last, n.nspname, c.relname'
      : 'greatest(pg_catalog.age(c.relfrozenxid), coalesce(pg_catalog.age(t.relfrozenxid), 0)) desc, n.nspname, c.relname';
  return `select n.nspname::text as schema, c.relname::text as name, quote_ident(n.nspname) || '.' || quote_ident(c.relname) as qname,
      s.n_live_tup::float8 as live, s.n_dead_tup::float8 as dead, s.n_mod_since_analyze::float8 as mod_since_analyze,
      ${ins} as ins_since_vacuum,
      s.last_vacuum::text as last_vacuum, s.last_autovacuum::text as last_autovacuum, s.last_analyze::text as last_analyze,
      s.last_autoanalyze::text as last_autoanalyze, s.vacuum_count::float8 as vacuum_count,
      s.autovacuum_count::float8 as autovacuum_count, c.reltuples::float8 as reltuples, c.reloptions,
      greatest(pg_catalog.age(c.relfrozenxid), coalesce(pg_catalog.age(t.relfrozenxid), 0)) as xid_age,
      count(*) over () as matched
    from pg_catalog.pg_class c
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    left join pg_catalog.pg_class t on t.oid = c.reltoastrelid
    left join pg_catalog.pg_stat_all_tables s on s.relid = c.oid
    where c.relkind in ('r', 'm') and ${TABLE_SCOPE}
    order by ${orderBy} limit $3`;
}

interface Globals {
  autovacuum: boolean;
  trackCounts: boolean;
  threshold: number;
  scaleFactor: number;
  freezeMaxAge: number;
  /** autovacuum_vacuum_max_threshold (PostgreSQL 18+), else null. */
  maxThreshold: number | null;
}

function toTable(r: Row, g: Globals): { table: VacuumTable; qname: string; checks: Check[] } {
  const opts = r.reloptions;
  const enabledOpt = relopt(opts, 'autovacuum_enabled');
  const enabled = enabledOpt === null ? true : !/^(off|false|no|0)$/i.test(enabledOpt);
  const threshold = Number(relopt(opts, 'autovacuum_vacuum_threshold') ?? g.threshold);
  const scale = Number(relopt(opts, 'autovacuum_vacuum_scale_factor') ?? g.scaleFactor);
  const freezeMaxAge = Math.min(g.freezeMaxAge, Number(relopt(opts, 'autovacuum_freeze_max_age') ?? g.freezeMaxAge));
  const reltuples = Math.max(0, toNumber(r.reltuples) ?? 0);
  const live = toNumber(r.live);
  const dead = toNumber(r.dead);
  const ratio = live !== null && dead !== null && live + dead > 0 ? dead / (live + dead) : null;
  const xidAge = toInt(r.xid_age);
  // PostgreSQL 18 caps the trigger at autovacuum_vacuum_max_threshold (-1: no cap).
  const maxThreshold = Number(relopt(opts, 'autovacuum_vacuum_max_threshold') ?? g.maxThreshold ?? -1);
  const trigger = Math.round(threshold + scale * reltuples);
  const autovacuumAt = maxThreshold >= 0 ? Math.min(trigger, maxThreshold) : trigger;
  const qname = String(r.qname);
  const object = `table ${r.schema}.${r.name}`;
  const checks: Check[] = [];

  let verdict: Verdict = 'ok';
  if (xidAge !== null) {
    const v = wraparoundVerdict(xidAge, freezeMaxAge);
    if (v !== 'ok') {
      verdict = v;
      checks.push(
        check(
          'table transaction ID age',
          v,
          `relfrozenxid is ${countText(xidAge)} transactions old: ${countText(XID_LIMIT - xidAge)} left before the 2^31 limit`,
          {
            object,
            threshold: wraparoundThreshold(freezeMaxAge),
            fix: `VACUUM (FREEZE, VERBOSE) ${qname}; -- and end whatever holds the xmin horizon back (long transactions, stale slots, prepared transactions)`,
          },
        ),
      );
    }
  }
  if (dead !== null && ratio !== null && dead >= DEAD_ROWS_MIN && ratio >= DEAD_RATIO_WARN) {
    const why = !g.autovacuum
      ? 'autovacuum is off for the whole server'
      : !enabled
        ? 'autovacuum is disabled on this table (autovacuum_enabled = false)'
        : dead < autovacuumAt
          ? `below its autovacuum trigger of ${countText(autovacuumAt)} dead rows (threshold + scale factor × rows)`
          : `above its autovacuum trigger of ${countText(autovacuumAt)}: autovacuum is behind (busy workers, or a long transaction keeps the rows visible)`;
    if (verdict === 'ok') verdict = 'warn';
    checks.push(
      check(
        'dead rows',
        'warn',
        `${countText(dead)} dead rows = ${percentText(ratio)} of the table; ${why}; last vacuum ${time(r.last_vacuum) ?? 'never'}, last autovacuum ${time(r.last_autovacuum) ?? 'never'}`,
        {
          object,
          threshold: `≥ ${percentText(DEAD_RATIO_WARN)} dead and ≥ ${countText(DEAD_ROWS_MIN)} dead rows`,
          fix: `VACUUM (ANALYZE, VERBOSE) ${qname};${!enabled ? ` ALTER TABLE ${qname} RESET (autovacuum_enabled);` : ''}`,
        },
      ),
    );
  }
  if (!enabled && g.autovacuum) {
    checks.push(
      check(
        'autovacuum disabled on table',
        'warn',
        'autovacuum_enabled = false: dead rows are only removed by manual VACUUM (anti-wraparound vacuums still run)',
        {
          object,
          threshold: 'autovacuum enabled',
          fix: `ALTER TABLE ${qname} RESET (autovacuum_enabled);`,
        },
      ),
    );
  }
  const neverAnalysed = r.last_analyze === null && r.last_autoanalyze === null && (live ?? 0) + (dead ?? 0) > 0;
  if (neverAnalysed) {
    checks.push(
      check(
        'never analysed',
        'warn',
        `${countText((live ?? 0) + (dead ?? 0))} rows and no statistics: the planner guesses`,
        {
          object,
          threshold: 'analysed at least once',
          fix: `ANALYZE ${qname};`,
        },
      ),
    );
  }

  return {
    qname,
    checks,
    table: {
      schema: String(r.schema),
      name: String(r.name),
      liveRows: live,
      deadRows: dead,
      deadRatio: ratio,
      modifiedSinceAnalyze: toNumber(r.mod_since_analyze),
      insertedSinceVacuum: toNumber(r.ins_since_vacuum),
      lastVacuum: time(r.last_vacuum),
      lastAutovacuum: time(r.last_autovacuum),
      lastAnalyze: time(r.last_analyze),
      lastAutoanalyze: time(r.last_autoanalyze),
      vacuumCount: toNumber(r.vacuum_count),
      autovacuumCount: toNumber(r.autovacuum_count),
      autovacuumEnabled: enabled,
      autovacuumAt,
      xidAge,
      leftBeforeAutovacuum: xidAge === null ? null : freezeMaxAge - xidAge,
      leftBeforeLimit: xidAge === null ? null : XID_LIMIT - xidAge,
      freezeMaxAge,
      verdict,
    },
  };
}

export async function vacuum(
  client: pg.ClientBase,
  info: ServerInfo,
  allowed: readonly string[] | null,
  f: TableFilter,
): Promise<{ part: VacuumPart; checks: Check[] }> {
  const s = (
    await client.query(`select current_setting('autovacuum')::boolean as autovacuum,
        current_setting('track_counts')::boolean as track_counts,
        current_setting('autovacuum_max_workers')::int as max_workers,
        current_setting('autovacuum_naptime') as naptime,
        current_setting('autovacuum_vacuum_threshold')::int as threshold,
        current_setting('autovacuum_vacuum_scale_factor')::float8 as scale_factor,
        (select setting::float8 from pg_catalog.pg_settings where name = 'autovacuum_vacuum_max_threshold') as max_threshold,
        current_setting('autovacuum_freeze_max_age')::int8 as freeze_max_age,
        current_setting('autovacuum_multixact_freeze_max_age')::int8 as mxid_freeze_max_age,
        (select count(*) from pg_catalog.pg_stat_activity where backend_type = 'autovacuum worker') as workers`)
  ).rows[0] as Row;
  const g: Globals = {
    autovacuum: s.autovacuum === true,
    trackCounts: s.track_counts === true,
    threshold: Number(s.threshold),
    scaleFactor: Number(s.scale_factor),
    freezeMaxAge: Number(s.freeze_max_age),
    maxThreshold: toNumber(s.max_threshold),
  };
  const mxidFreezeMaxAge = Number(s.mxid_freeze_max_age);
  const checks: Check[] = [];
  if (!g.autovacuum || !g.trackCounts) {
    checks.push(
      check(
        'autovacuum',
        'critical',
        `autovacuum ${g.autovacuum ? 'on' : 'off'}, track_counts ${g.trackCounts ? 'on' : 'off'}: dead rows are not cleaned up automatically`,
        {
          object: 'autovacuum',
          threshold: 'both on',
          fix: 'ALTER SYSTEM SET autovacuum = on; ALTER SYSTEM SET track_counts = on; SELECT pg_reload_conf();',
        },
      ),
    );
  }

  const dbRows = (
    await client.query(
      `select datname::text as name, pg_catalog.age(datfrozenxid) as xid_age, pg_catalog.mxid_age(datminmxid) as mxid_age
        from pg_catalog.pg_database where $1::text[] is null or datname = any($1::text[])
        order by pg_catalog.age(datfrozenxid) desc, datname`,
      [allowed],
    )
  ).rows as Row[];
  const databases = dbRows.map((d) => {
    const age = Number(d.xid_age);
    const mx = Number(d.mxid_age);
    const v = wraparoundVerdict(age, g.freezeMaxAge);
    const mv = wraparoundVerdict(mx, mxidFreezeMaxAge);
    const verdict: Verdict =
      v === 'critical' || mv === 'critical' ? 'critical' : v === 'warn' || mv === 'warn' ? 'warn' : 'ok';
    if (v !== 'ok') {
      checks.push(
        check(
          'database transaction ID age',
          v,
          `datfrozenxid is ${countText(age)} transactions old: ${countText(g.freezeMaxAge - age)} left before anti-wraparound autovacuum, ${countText(XID_LIMIT - age)} before the 2^31 limit`,
          {
            object: `database ${d.name}`,
            threshold: wraparoundThreshold(g.freezeMaxAge),
            fix: `in database ${d.name}: pg_monitor vacuum lists the oldest tables; VACUUM (FREEZE, VERBOSE) them; end long transactions and stale replication slots`,
          },
        ),
      );
    }
    if (mv !== 'ok') {
      checks.push(
        check('database multixact ID age', mv, `datminmxid is ${countText(mx)} multixacts old`, {
          object: `database ${d.name}`,
          threshold: wraparoundThreshold(mxidFreezeMaxAge, 'autovacuum_multixact_freeze_max_age'),
          fix: `VACUUM (FREEZE) the oldest tables in database ${d.name}`,
        }),
      );
    }
    return {
      name: String(d.name),
      xidAge: age,
      leftBeforeAutovacuum: g.freezeMaxAge - age,
      leftBeforeLimit: XID_LIMIT - age,
      mxidAge: mx,
      percentOfLimit: Math.round((age / XID_LIMIT) * 10000) / 100,
      verdict,
    };
  });

  const byDead = (await client.query(tableSql(info, 'dead'), [f.schema, f.pattern, f.limit])).rows as Row[];
  const byAge = (await client.query(tableSql(info, 'age'), [f.schema, f.pattern, f.limit])).rows as Row[];
  const tables = byDead.map((r) => toTable(r, g));
  const oldest = byAge.map((r) => toTable(r, g));
  const seen = new Set<string>();
  for (const t of [...tables, ...oldest]) {
    if (seen.has(t.qname)) continue;
    seen.add(t.qname);
    checks.push(...t.checks);
  }

  // Vacuums running now (manual or autovacuum), in every database the caller may see.
  const progress = (
    await client.query(
      `select p.pid, a.datname::text as datname,
          case when p.datid = (select oid from pg_catalog.pg_database where datname = pg_catalog.current_database())
            then p.relid::regclass::text else 'relation oid ' || p.relid end as relation,
          pg_catalog.to_jsonb(p) as p, a.backend_type = 'autovacuum worker' as auto,
          coalesce(a.query like '%(to prevent wraparound)%', false) as wraparound,
          extract(epoch from now() - coalesce(a.xact_start, a.query_start))::float8 as running_s
        from pg_catalog.pg_stat_progress_vacuum p
        left join pg_catalog.pg_stat_activity a on a.pid = p.pid
        where $1::text[] is null or a.datname = any($1::text[])
        order by running_s desc nulls last`,
      [allowed],
    )
  ).rows.map((r: Row) => {
    const p = r.p as Row;
    const total = toNumber(p.heap_blks_total);
    const scanned = toNumber(p.heap_blks_scanned);
    return {
      pid: Number(r.pid),
      database: toStr(r.datname),
      relation: toStr(r.relation),
      phase: toStr(p.phase),
      autovacuum: r.auto === true,
      wraparound: r.wraparound === true,
      heapBlocks: total,
      scanned,
      vacuumed: toNumber(p.heap_blks_vacuumed),
      percentScanned: total && scanned !== null ? Math.round((scanned / total) * 1000) / 10 : null,
      indexPasses: toNumber(p.index_vacuum_count),
      // PostgreSQL 17 counts dead item identifiers (num_dead_item_ids); before, dead tuples (num_dead_tuples).
      deadItems: toNumber(p.num_dead_item_ids ?? p.num_dead_tuples),
      running: durationOf(r.running_s),
    };
  });

  const workers = Number(s.workers);
  const maxWorkers = Number(s.max_workers);
  if (g.autovacuum && workers >= maxWorkers) {
    checks.push(
      check(
        'autovacuum workers',
        'warn',
        `all ${maxWorkers} autovacuum workers are busy: other tables wait their turn`,
        {
          object: 'autovacuum_max_workers',
          threshold: 'a free worker',
          fix: 'if this persists: raise autovacuum_max_workers (restart) and autovacuum_vacuum_cost_limit so each worker goes faster',
        },
      ),
    );
  }

  return {
    part: {
      settings: {
        autovacuum: g.autovacuum,
        trackCounts: g.trackCounts,
        maxWorkers,
        naptime: String(s.naptime),
        vacuumThreshold: g.threshold,
        vacuumScaleFactor: g.scaleFactor,
        freezeMaxAge: g.freezeMaxAge,
        multixactFreezeMaxAge: mxidFreezeMaxAge,
      },
      workersRunning: workers,
      databases,
      tables: tables.map((t) => t.table),
      tablesTotal: Number(byDead[0]?.matched ?? 0),
      oldest: oldest.map((t) => t.table),
      progress,
    },
    checks,
  };
}

const when = (t: string | null) => (t ? t.replace(/\.\d+/, '').replace('T', ' ') : 'never');

export function vacuumText(part: VacuumPart, database: string): string[] {
  const s = part.settings;
  const lines: string[] = [];
  lines.push(
    `autovacuum ${s.autovacuum ? 'on' : 'OFF'} (track_counts ${s.trackCounts ? 'on' : 'OFF'}), ${part.workersRunning} of ${s.maxWorkers} workers busy, naptime ${s.naptime}; a table is vacuumed at ${s.vacuumThreshold} + ${s.vacuumScaleFactor} × rows dead rows; freeze max age ${countText(s.freezeMaxAge)}`,
  );
  lines.push('transaction ID age per database:');
  lines.push(
    compactTable(
      ['database', 'xid age', 'left before autovacuum freeze', 'left before 2^31', '% of 2^31', 'mxid age', 'verdict'],
      part.databases.map((d) => [
        d.name,
        countText(d.xidAge),
        countText(d.leftBeforeAutovacuum),
        countText(d.leftBeforeLimit),
        d.percentOfLimit,
        countText(d.mxidAge),
        d.verdict,
      ]),
    ),
  );
  if (part.progress.length > 0) {
    lines.push('vacuums running now:');
    lines.push(
      compactTable(
        ['pid', 'database', 'relation', 'kind', 'phase', 'scanned', 'index passes', 'running'],
        part.progress.map((p) => [
          p.pid,
          p.database,
          p.relation,
          `${p.autovacuum ? 'autovacuum' : 'VACUUM'}${p.wraparound ? ' (to prevent wraparound)' : ''}`,
          p.phase,
          p.percentScanned === null ? '' : `${p.percentScanned}% of ${countText(p.heapBlocks)} blocks`,
          p.indexPasses,
          p.running?.text,
        ]),
      ),
    );
  } else {
    lines.push('no vacuum running now');
  }
  lines.push(`tables in ${database} by dead rows (${part.tables.length} of ${part.tablesTotal}):`);
  const table = (list: VacuumTable[]) =>
    compactTable(
      ['table', 'live', 'dead', 'dead %', 'autovacuum at', 'last vacuum', 'last autovacuum', 'last analyze', 'xid age'],
      list.map((t) => [
        `${t.schema}.${t.name}${t.autovacuumEnabled ? '' : ' (autovacuum off)'}`,
        countText(t.liveRows),
        countText(t.deadRows),
        t.deadRatio === null ? '' : percentText(t.deadRatio),
        countText(t.autovacuumAt),
        when(t.lastVacuum),
        when(t.lastAutovacuum),
        when(t.lastAnalyze ?? t.lastAutoanalyze),
        countText(t.xidAge),
      ]),
    );
  if (part.tables.length > 0) lines.push(table(part.tables));
  if (part.oldest.length > 0) {
    lines.push('oldest tables (wraparound: relfrozenxid age, TOAST included):');
    lines.push(
      compactTable(
        ['table', 'xid age', 'left before autovacuum freeze', 'left before 2^31'],
        part.oldest.map((t) => [
          `${t.schema}.${t.name}`,
          countText(t.xidAge),
          countText(t.leftBeforeAutovacuum),
          countText(t.leftBeforeLimit),
        ]),
      ),
    );
  }
  return lines;
}

/** vacuum, analyze and reindex: one statement per table (or one for the database), with progress and before/after. */
import type { ToolContext } from '../context.js';
import { ToolError } from '../errors.js';
import { resolveDatabase } from '../shared-args.js';
import type { AdminArgs } from './args.js';
import type { Change } from './output.js';
import { type AdminPlan, duration, lockHint, type PlanInput, type RunOutcome } from './plan.js';
import { describeRow, fractionOf, ProgressReporter, type ProgressView, watchProgress } from './progress.js';
import type { AdminSession } from './session.js';
import { Catalog, type Relation, sizeText } from './sql.js';

interface TableStats {
  oid: number;
  bytes: string | null;
  dead: string | null;
  live: string | null;
  last_vacuum: string | null;
  last_analyze: string | null;
  mod_since_analyze: string | null;
}

async function tableStats(catalog: Catalog, oids: number[]): Promise<Map<number, TableStats>> {
  const rows = await catalog.rows<TableStats>(
    `select c.oid::int as oid,
            coalesce((select sum(pg_catalog.pg_total_relation_size(t.relid))
                        from pg_catalog.pg_partition_tree(c.oid) t), pg_catalog.pg_total_relation_size(c.oid))::text
              as bytes,
            s.n_dead_tup::text as dead, s.n_live_tup::text as live,
            greatest(s.last_vacuum, s.last_autovacuum)::text as last_vacuum,
            greatest(s.last_analyze, s.last_autoanalyze)::text as last_analyze,
            s.n_mod_since_analyze::text as mod_since_analyze
       from pg_catalog.pg_class c left join pg_catalog.pg_stat_all_tables s on s.relid = c.oid
      where c.oid = any($1::oid[])`,
    [oids],
  );
  return new Map(rows.map((r) => [r.oid, r]));
}

interface DatabaseStats {
  bytes: string;
  tables: number;
  largest: string | null;
}

async function databaseStats(catalog: Catalog): Promise<DatabaseStats> {
  const r = await catalog.one<DatabaseStats>(
    `select pg_catalog.pg_database_size(pg_catalog.current_database())::text as bytes,
            (select count(*)::int from pg_catalog.pg_class where relkind in ('r', 'm')) as tables,
            (select max(pg_catalog.pg_total_relation_size(oid)) from pg_catalog.pg_class where relkind in ('r', 'm'))::text
              as largest`,
  );
  return r ?? { bytes: '0', tables: 0, largest: null };
}

interface Statement {
  sql: string;
  /** The table it works on; undefined for the whole database. */
  table?: Relation;
}

/** What is measured before a statement runs and compared after it. */
interface Measure<B> {
  before(s: Statement): Promise<B>;
  after(s: Statement, before: B): Promise<{ changes: Change[]; note?: string }>;
}

/**
 * Runs maintenance statements one after the other with progress: before each, a notification that it starts; while
 * it runs, the progress view's phase and counts (`items` counts the relations a whole-database statement works
 * through); after it, how long it took and what changed.
 */
async function runWithProgress<B>(
  session: AdminSession,
  ctx: ToolContext,
  catalog: Catalog,
  statements: Statement[],
  view: ProgressView,
  items: number,
  measure: Measure<B>,
): Promise<Change[]> {
  const n = statements.length;
  const byItems = items > 0;
  const reporter = new ProgressReporter(ctx, byItems ? items : n);
  const changes: Change[] = [];
  for (const [i, s] of statements.entries()) {
    const label = s.table ? s.table.qualified : s.sql;
    const before = await measure.before(s);
    await reporter.report(i, `${s.sql}: started${n > 1 ? ` (${i + 1} of ${n})` : ''}`);
    const watch = watchProgress(
      catalog.pool,
      view,
      session.pid,
      async (row, seen) => {
        const base = byItems ? Math.max(0, seen.size - 1) : i;
        await reporter.report(base + fractionOf(view, row), describeRow(row));
      },
      ctx.log,
    );
    const started = performance.now();
    try {
      await session.run(s.sql);
    } finally {
      await watch.stop();
    }
    const took = performance.now() - started;
    const found = await measure.after(s, before);
    changes.push(...found.changes);
    await reporter.report(
      byItems ? items : i + 1,
      `${label}: done in ${duration(took)}${found.note ? ` (${found.note})` : ''}`,
    );
  }
  return changes;
}

function change(object: string, item: string, before: string | null, after: string | null): Change {
  return { object, item, before, after };
}

/** Per-table measures: size always; dead tuples, last vacuum and last analyze when they apply. */
function tableMeasure(
  catalog: Catalog,
  show: { dead: boolean; vacuum: boolean; analyze: boolean },
): Measure<TableStats | undefined> {
  return {
    before: async (s) => (s.table ? (await tableStats(catalog, [s.table.oid])).get(s.table.oid) : undefined),
    after: async (s, b) => {
      if (!s.table) return { changes: [] };
      const a = (await tableStats(catalog, [s.table.oid])).get(s.table.oid);
      const t = s.table.qualified;
      const changes = [change(t, 'total size', sizeText(b?.bytes), sizeText(a?.bytes))];
      if (show.dead) changes.push(change(t, 'dead tuples', b?.dead ?? null, a?.dead ?? null));
      if (show.vacuum) changes.push(change(t, 'last vacuum', b?.last_vacuum ?? null, a?.last_vacuum ?? null));
      if (show.analyze) {
        changes.push(change(t, 'last analyze', b?.last_analyze ?? null, a?.last_analyze ?? null));
        changes.push(
          change(t, 'rows modified since analyze', b?.mod_since_analyze ?? null, a?.mod_since_analyze ?? null),
        );
      }
      const note =
        b?.bytes !== a?.bytes
          ? `${sizeText(b?.bytes)?.split(' (')[0]} → ${sizeText(a?.bytes)?.split(' (')[0]}`
          : undefined;
      return note ? { changes, note } : { changes };
    },
  };
}

function databaseMeasure(catalog: Catalog): Measure<DatabaseStats> {
  return {
    before: () => databaseStats(catalog),
    after: async (_s, b) => {
      const a = await databaseStats(catalog);
      const note = `database ${sizeText(b.bytes)?.split(' (')[0]} → ${sizeText(a.bytes)?.split(' (')[0]}`;
      return { changes: [change(`database ${catalog.database}`, 'size', sizeText(b.bytes), sizeText(a.bytes))], note };
    },
  };
}

function optionList(args: AdminArgs, names: readonly (keyof AdminArgs)[]): string[] {
  const out: string[] = [];
  for (const n of names) if (args[n] === true) out.push(n.toUpperCase());
  return out;
}

export async function planVacuum(input: PlanInput): Promise<AdminPlan> {
  const { args, catalog } = input;
  if (args.full && args.parallel !== undefined) {
    throw new ToolError('VACUUM FULL cannot run in parallel', {
      code: 'invalid_arguments',
      hint: 'leave parallel out with full (parallel applies to the index vacuuming of a plain VACUUM)',
    });
  }
  const opts = optionList(args, ['full', 'freeze', 'verbose', 'analyze', 'skip_locked']);
  if (args.index_cleanup) opts.push(`INDEX_CLEANUP ${args.index_cleanup.toUpperCase()}`);
  if (args.parallel !== undefined) opts.push(`PARALLEL ${args.parallel}`);
  const head = opts.length ? `VACUUM (${opts.join(', ')})` : 'VACUUM';
  const tables = args.tables ? await catalog.relations(args.tables, 'rpm', 'vacuum') : undefined;
  const statements: Statement[] = tables
    ? tables.map((t) => ({ sql: `${head} ${t.qualified}`, table: t }))
    : [{ sql: head }];

  const full = args.full === true;
  const reasons: string[] = [];
  const facts: Record<string, unknown> = {};
  let db: DatabaseStats | undefined;
  if (tables) {
    const stats = await tableStats(
      catalog,
      tables.map((t) => t.oid),
    );
    facts.tables = tables.map((t) => ({ table: t.qualified, kind: t.kind, bytes: stats.get(t.oid)?.bytes ?? null }));
    if (full) {
      for (const t of tables) {
        const size = sizeText(stats.get(t.oid)?.bytes) ?? 'unknown size';
        reasons.push(
          `VACUUM FULL rewrites ${t.qualified} (${size}) under an ACCESS EXCLUSIVE lock: nothing can read or write it until it is done, and it needs free disk space for the new copy`,
        );
      }
    }
  } else {
    db = await databaseStats(catalog);
    facts.database = { name: catalog.database, bytes: db.bytes, tables: db.tables };
    if (full) {
      reasons.push(
        `VACUUM FULL rewrites every table of database ${catalog.database} (${db.tables} tables, ${sizeText(db.bytes)}) one by one, each under an ACCESS EXCLUSIVE lock: nothing can read or write a table while it is rewritten; it needs free disk space for a copy of the largest table (${sizeText(db.largest) ?? 'unknown'})`,
      );
    }
  }
  const summary = `${head} ${tables ? tables.map((t) => t.qualified).join(', ') : `(every table of database ${catalog.database})`}`;
  return {
    summary,
    sql: statements.map((s) => s.sql),
    destructive: full,
    reasons,
    facts,
    unlimited: true,
    waitForLocks: !full,
    failureHint: lockHint,
    async run(session): Promise<RunOutcome> {
      const view: ProgressView = full ? 'cluster' : 'vacuum';
      const changes = tables
        ? await runWithProgress(
            session,
            input.ctx,
            catalog,
            statements,
            view,
            0,
            tableMeasure(catalog, { dead: !full, vacuum: !full, analyze: args.analyze === true }),
          )
        : await runWithProgress(
            session,
            input.ctx,
            catalog,
            statements,
            view,
            db?.tables ?? 0,
            databaseMeasure(catalog),
          );
      return { changes };
    },
  };
}

export async function planAnalyze(input: PlanInput): Promise<AdminPlan> {
  const { args, catalog } = input;
  const opts = optionList(args, ['verbose', 'skip_locked']);
  const head = opts.length ? `ANALYZE (${opts.join(', ')})` : 'ANALYZE';
  const tables = args.tables ? await catalog.relations(args.tables, 'rpmf', 'analyze') : undefined;
  const statements: Statement[] = tables
    ? tables.map((t) => ({ sql: `${head} ${t.qualified}`, table: t }))
    : [{ sql: head }];
  const db = tables ? undefined : await databaseStats(catalog);
  return {
    summary: `${head} ${tables ? tables.map((t) => t.qualified).join(', ') : `(every table of database ${catalog.database})`}`,
    sql: statements.map((s) => s.sql),
    destructive: false,
    reasons: [],
    ...(db ? { facts: { database: { name: catalog.database, tables: db.tables } } } : {}),
    unlimited: true,
    waitForLocks: true,
    failureHint: lockHint,
    async run(session): Promise<RunOutcome> {
      const changes = await runWithProgress(
        session,
        input.ctx,
        catalog,
        statements,
        'analyze',
        db?.tables ?? 0,
        tables ? tableMeasure(catalog, { dead: false, vacuum: false, analyze: true }) : noMeasure,
      );
      return { changes };
    },
  };
}

const noMeasure: Measure<undefined> = {
  before: async () => undefined,
  after: async () => ({ changes: [] }),
};

// ---------------------------------------------------------------------------------------------------------------
// reindex

interface IndexRow {
  qualified: string;
  bytes: string | null;
}

/** Indexes with storage under the target (partitions and TOAST included), by name. */
const INDEXES_OF: Record<'index' | 'table' | 'schema' | 'database', string> = {
  index: `select format('%I.%I', n.nspname, c.relname) as qualified, pg_catalog.pg_relation_size(c.oid)::text as bytes
            from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
           where c.relkind = 'i'
             and c.oid in (select t.relid from pg_catalog.pg_partition_tree($1::oid) t union select $1::oid)
           order by 1`,
  table: `with tree as (select t.relid from pg_catalog.pg_partition_tree($1::oid) t union select $1::oid),
          rels as (
            select relid from tree
            union all
            select c.reltoastrelid from tree join pg_catalog.pg_class c on c.oid = tree.relid where c.reltoastrelid <> 0)
          select format('%I.%I', n.nspname, c.relname) as qualified, pg_catalog.pg_relation_size(c.oid)::text as bytes
            from pg_catalog.pg_index i join pg_catalog.pg_class c on c.oid = i.indexrelid
            join pg_catalog.pg_namespace n on n.oid = c.relnamespace
           where i.indrelid in (select relid from rels) and c.relkind = 'i' order by 1`,
  schema: `select format('%I.%I', n.nspname, c.relname) as qualified, pg_catalog.pg_relation_size(c.oid)::text as bytes
             from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
            where c.relnamespace = $1::oid and c.relkind = 'i' order by 1`,
  database: `select null::text as qualified, sum(pg_catalog.pg_relation_size(c.oid))::text as bytes,
                    count(*)::int as n
               from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
              where c.relkind = 'i'
                and (not $1::boolean or n.nspname not in ('pg_catalog', 'pg_toast', 'information_schema'))`,
};

/** Size of the named indexes, looked up by name (REINDEX CONCURRENTLY gives an index a new OID). */
async function sizesByName(catalog: Catalog, names: string[]): Promise<Map<string, string | null>> {
  const rows = await catalog.rows<{ name: string; bytes: string | null }>(
    `select a.name, pg_catalog.pg_relation_size(pg_catalog.to_regclass(a.name))::text as bytes
       from unnest($1::text[]) as a(name)`,
    [names],
  );
  return new Map(rows.map((r) => [r.name, r.bytes]));
}

/** Invalid indexes a failed REINDEX CONCURRENTLY leaves behind. */
async function leftovers(catalog: Catalog): Promise<string[]> {
  const rows = await catalog.rows<{ qualified: string }>(
    `select format('%I.%I', n.nspname, c.relname) as qualified
       from pg_catalog.pg_index i join pg_catalog.pg_class c on c.oid = i.indexrelid
       join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where not i.indisvalid and c.relname ~ '_cc(new|old)[0-9]*$'`,
  );
  return rows.map((r) => r.qualified);
}

const MAX_INDEX_CHANGES = 20;

export async function planReindex(input: PlanInput): Promise<AdminPlan> {
  const { args, ctx } = input;
  const target = args.target;
  if (target !== 'index' && target !== 'table' && target !== 'schema' && target !== 'database') {
    throw new ToolError(`reindex takes target index, table, schema or database, not ${target}`, {
      code: 'invalid_arguments',
    });
  }
  if (target !== 'database' && args.name === undefined) {
    throw new ToolError(`reindex ${target} needs name: the ${target} to reindex`, { code: 'invalid_arguments' });
  }
  // REINDEX DATABASE works on the database it is connected to: a named one is connected to.
  let catalog = input.catalog;
  let connectTo: string | undefined;
  if (target === 'database' && args.name !== undefined && args.name !== input.database) {
    connectTo = resolveDatabase(args.name, ctx);
    catalog = new Catalog(ctx, connectTo);
  }
  const wanted = args.concurrently ?? true;
  const warnings: string[] = [];
  let cannot: string | undefined;
  let object: string;
  let indexes: IndexRow[] = [];
  let indexCount: number;
  let what: string;
  switch (target) {
    case 'index':
    case 'table': {
      const [rel] = await catalog.relations(
        [args.name as string],
        target === 'index' ? 'iI' : 'rpmt',
        `reindex ${target}`,
      );
      if (!rel) throw new ToolError(`reindex: ${args.name} not found`, { code: 'object_not_found' });
      object = rel.qualified;
      if (rel.system) cannot = `${rel.qualified} is a system catalog ${target}`;
      const excl = await catalog.one<{ n: number }>(
        target === 'index'
          ? `select count(*)::int as n from pg_catalog.pg_constraint where contype = 'x' and conindid = $1::oid`
          : `select count(*)::int as n from pg_catalog.pg_constraint where contype = 'x' and conrelid = $1::oid`,
        [rel.oid],
      );
      if ((excl?.n ?? 0) > 0) {
        if (target === 'index') cannot = `${rel.qualified} belongs to an exclusion constraint`;
        else if (wanted)
          warnings.push(
            `${excl?.n} index(es) of ${rel.qualified} belong to exclusion constraints: REINDEX CONCURRENTLY skips them (PostgreSQL cannot rebuild those concurrently)`,
          );
      }
      indexes = await catalog.rows<IndexRow>(INDEXES_OF[target], [rel.oid]);
      indexCount = indexes.length;
      what = `${target === 'index' ? 'index' : `the ${indexes.length} index(es) of`} ${rel.qualified}`;
      break;
    }
    case 'schema': {
      const schema = await catalog.schema(args.name as string);
      object = schema.quoted;
      if (['pg_catalog', 'pg_toast', 'information_schema'].includes(schema.name))
        cannot = `${schema.name} holds system catalogs`;
      indexes = await catalog.rows<IndexRow>(INDEXES_OF.schema, [schema.oid]);
      indexCount = indexes.length;
      what = `every index in schema ${schema.quoted} (${indexes.length})`;
      break;
    }
    case 'database': {
      const row = await catalog.one<{ quoted: string }>('select quote_ident(pg_catalog.current_database()) as quoted');
      object = row?.quoted ?? (await catalog.ident(catalog.database));
      const sum = await catalog.one<{ bytes: string | null; n: number }>(INDEXES_OF.database, [wanted]);
      indexCount = sum?.n ?? 0;
      what = `every index in database ${catalog.database} (${indexCount}${wanted ? ', system catalogs skipped' : ', system catalogs included'})`;
      if (wanted)
        warnings.push(
          'REINDEX DATABASE CONCURRENTLY skips the system catalogs (PostgreSQL cannot rebuild them concurrently)',
        );
      break;
    }
  }
  const concurrently = wanted && cannot === undefined;
  if (wanted && cannot !== undefined) {
    warnings.push(`${cannot}: it cannot be reindexed concurrently, so this runs without CONCURRENTLY`);
  }
  const opts = args.verbose ? '(VERBOSE) ' : '';
  const sql = `REINDEX ${opts}${target.toUpperCase()} ${concurrently ? 'CONCURRENTLY ' : ''}${object}`;
  const reasons = concurrently
    ? []
    : [
        `REINDEX without CONCURRENTLY rebuilds ${what} while it blocks writes to the table${target === 'index' ? '' : 's'} and reads that would use ${target === 'index' ? 'the index' : 'those indexes'}, until it is done`,
      ];
  const names = indexes.map((i) => i.qualified);
  return {
    summary: sql,
    sql: [sql],
    destructive: !concurrently,
    reasons,
    facts: { target, object, indexes: indexCount, concurrently },
    warnings,
    unlimited: true,
    waitForLocks: concurrently,
    ...(connectTo ? { connectTo } : {}),
    failureHint: async (code) => {
      const left = concurrently ? await leftovers(catalog).catch(() => []) : [];
      const hints = [lockHint(code)];
      if (left.length > 0)
        hints.push(
          `REINDEX CONCURRENTLY left invalid indexes behind: ${left.join(', ')}; drop them (DROP INDEX CONCURRENTLY) before trying again`,
        );
      return hints.filter((h) => h !== undefined).join('; ') || undefined;
    },
    async run(session): Promise<RunOutcome> {
      const measure: Measure<{ sizes: Map<string, string | null>; total: string | null }> = {
        before: async () => ({
          sizes: await sizesByName(catalog, names),
          total:
            target === 'database'
              ? ((await catalog.one<{ bytes: string | null }>(INDEXES_OF.database, [concurrently]))?.bytes ?? null)
              : null,
        }),
        after: async (_s, b) => {
          const changes: Change[] = [];
          if (target === 'database') {
            const a = await catalog.one<{ bytes: string | null }>(INDEXES_OF.database, [concurrently]);
            changes.push(change(`database ${catalog.database}`, 'index size', sizeText(b.total), sizeText(a?.bytes)));
            return { changes };
          }
          const a = await sizesByName(catalog, names);
          let before = 0;
          let after = 0;
          for (const n of names) {
            before += Number(b.sizes.get(n) ?? 0);
            after += Number(a.get(n) ?? 0);
          }
          if (names.length <= MAX_INDEX_CHANGES) {
            for (const n of names) changes.push(change(n, 'size', sizeText(b.sizes.get(n)), sizeText(a.get(n))));
          }
          if (names.length !== 1) changes.push(change(object, 'index size', sizeText(before), sizeText(after)));
          const note = `indexes ${sizeText(before)?.split(' (')[0]} → ${sizeText(after)?.split(' (')[0]}`;
          return { changes, note };
        },
      };
      // Concurrently, every index goes through each phase together: progress follows the phases of one item.
      const items = concurrently ? 0 : indexCount;
      const changes = await runWithProgress(session, ctx, catalog, [{ sql }], 'create_index', items, measure);
      return { changes };
    },
  };
}

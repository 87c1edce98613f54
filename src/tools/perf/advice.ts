/**
 * pg_perf index_advice: the workload (given statements, or the top of pg_stat_statements by total time without
 * utility statements, statements that read no user table and pgmcp's own catalog queries), candidates from the parse
 * trees, and the hypopg search (src/perf/advisor.ts) in one READ ONLY session whose connection is destroyed
 * afterwards. It never creates a real index: the output lists the CREATE INDEX CONCURRENTLY statements to run.
 */
import { searchIndexes, type WorkItem } from '../../perf/advisor.js';
import {
  analyseStatement,
  type Candidate,
  createStatement,
  generateCandidates,
  paramCount,
  relationRefs,
  type StatementShape,
} from '../../perf/candidates.js';
import { loadTables } from '../../perf/catalog.js';
import { Hypopg } from '../../perf/hypopg.js';
import { withPerfSession } from '../../perf/session.js';
import { normaliseQueryText, openStatStatements, workloadQueries } from '../../perf/stat-statements.js';
import { findDeniedCalls, NOTIFICATION, SEQUENCE_CHANGE } from '../../sql/denylist.js';
import { type ParsedStatement, parseSql } from '../../sql/parser.js';
import type { ToolContext } from '../context.js';
import { ToolError } from '../errors.js';
import type { PerfInput } from './args.js';
import { checkPlannable, oneStatement } from './explain.js';
import type { AdviceOutput } from './output.js';

const ADVISABLE = new Set(['SelectStmt', 'InsertStmt', 'UpdateStmt', 'DeleteStmt']);
const SYSTEM_SCHEMAS = new Set(['pg_catalog', 'information_schema', 'pg_toast']);
const MAX_CONSIDERED = 60;
/** `PREPARE name [(types)] AS ` before the query of a prepared statement. */
const PREPARED = /^\s*PREPARE\s+(?:"(?:[^"]|"")+"|[^\s(]+)\s*(?:\([^)]*\))?\s+AS\s+/i;

interface Entry {
  text: string;
  stmt?: ParsedStatement;
  calls?: number;
  rows?: number;
  weight: number;
  skipped?: string;
}

function sortCandidates(cs: Candidate[]): Candidate[] {
  // The most shared and simplest first: with a short time budget, they are the ones tried.
  return [...cs].sort((a, b) => b.from.size - a.from.size || a.keys.length - b.keys.length || a.id - b.id);
}

export async function runIndexAdvice(
  args: PerfInput,
  ctx: ToolContext,
  database: string,
): Promise<{ advice: AdviceOutput; version: number }> {
  const sizeMb = args.size_budget_mb ?? 1024;
  const timeS = args.time_budget_s ?? 30;
  const maxIndexes = args.max_indexes ?? 10;
  const minPercent = args.min_improvement_percent ?? 1;
  const limit = args.limit ?? 50;
  const started = performance.now();

  // Given statements are checked before anything is sent.
  const given: Entry[] | undefined = args.statements?.map((text, i) => {
    const source = `statements[${i}]`;
    const stmt = oneStatement(text, source);
    checkPlannable(stmt, source);
    if (!ADVISABLE.has(stmt.type)) {
      throw new ToolError(`${source}: index advice takes SELECT, INSERT, UPDATE and DELETE statements`, {
        code: 'invalid_argument',
        statement: text,
      });
    }
    return { text: stmt.text, stmt, weight: 1 };
  });

  return withPerfSession(ctx.pools, database, { signal: ctx.signal }, async (session) => {
    const hypo = await Hypopg.open(session);
    let entries: Entry[];
    let writesByTable = new Map<number, { rows: number; statements: number }>();
    if (given) {
      entries = given;
    } else {
      const pss = await openStatStatements(session);
      const rows = await workloadQueries(session, pss, Math.min(limit * 5, 1000));
      entries = rows.map((r) => {
        const e: Entry = { text: r.query, calls: r.calls, rows: r.rows, weight: Math.max(1, r.calls) };
        let stmts: ParsedStatement[];
        try {
          stmts = parseSql(r.query);
          // A statement first seen in a PREPARE keeps that text (its executions count under it): the query inside.
          const inner = stmts.length === 1 && stmts[0]?.type === 'PrepareStmt' ? PREPARED.exec(r.query) : null;
          if (inner) stmts = parseSql(r.query.slice(inner[0].length));
        } catch {
          e.skipped = 'the parser does not read it';
          return e;
        }
        const stmt = stmts[0];
        if (stmts.length !== 1 || !stmt) e.skipped = 'not one statement';
        else if (!ADVISABLE.has(stmt.type)) e.skipped = 'utility or other statement kind';
        else if (findDeniedCalls(stmt.node).some((d) => d.category !== SEQUENCE_CHANGE && d.category !== NOTIFICATION))
          e.skipped = 'calls a denied function';
        else {
          e.stmt = stmt;
          e.text = stmt.text;
        }
        return e;
      });
    }

    // Tables of every statement, resolved through the search_path.
    const refs = entries.flatMap((e) => (e.stmt ? relationRefs(e.stmt) : []));
    const tables = await loadTables(session, refs);
    const shapes: (StatementShape | undefined)[] = entries.map((e) => {
      if (!e.stmt) return undefined;
      const shape = analyseStatement(e.stmt, tables);
      const user = [...shape.reads].filter((oid) => {
        const t = [...tables.values()].find((x) => x?.oid === oid);
        return t && !SYSTEM_SCHEMAS.has(t.schema);
      });
      if (user.length === 0 && shape.writes.size === 0) {
        e.skipped = 'reads no user table (a catalog query, or no table at all)';
        return undefined;
      }
      return shape;
    });

    if (!given) {
      // Rows the whole fetched workload writes per table: each new index is maintained on every such write.
      writesByTable = new Map();
      entries.forEach((e, i) => {
        const shape = shapes[i];
        if (!shape || !e.stmt || e.stmt.type === 'SelectStmt') return;
        for (const oid of shape.writes) {
          const w = writesByTable.get(oid) ?? { rows: 0, statements: 0 };
          w.rows += e.rows ?? 0;
          w.statements++;
          writesByTable.set(oid, w);
        }
      });
      // The workload: the first `limit` statements that read a user table.
      let taken = 0;
      entries.forEach((e, i) => {
        if (e.skipped || !shapes[i] || (shapes[i] as StatementShape).reads.size === 0) return;
        if (taken >= limit) {
          e.skipped = 'beyond the workload limit';
          shapes[i] = undefined;
          return;
        }
        taken++;
      });
      const keep = entries
        .map((e, i) => ({ e, s: shapes[i] }))
        .filter((x) => !x.e.skipped && x.s && x.s.reads.size > 0);
      entries = keep.map((x) => x.e);
      shapes.length = 0;
      shapes.push(...keep.map((x) => x.s));
    }

    const { candidates, setAside } = generateCandidates(shapes);
    const ordered = sortCandidates(candidates);
    const work: WorkItem[] = entries.map((e, i) => ({
      text: e.text,
      paramCount: e.stmt ? paramCount(e.stmt) : 0,
      weight: e.weight,
      reads: shapes[i]?.reads ?? new Set<number>(),
      columns: columnsUsed(shapes[i]),
      skip: e.skipped !== undefined || shapes[i] === undefined,
    }));

    const result = await searchIndexes(session, hypo, work, ordered, {
      sizeBudgetBytes: sizeMb * 1048576,
      timeBudgetMs: timeS * 1000,
      maxIndexes,
      minImprovement: minPercent / 100,
      statementGain: 0.1,
      signal: ctx.signal,
      progress: (done, total, message) => ctx.progress(done, total, message),
    });

    // Output.
    const weightOf = (i: number) => (entries[i] as Entry).weight;
    let before = 0;
    let after = 0;
    entries.forEach((e, i) => {
      if (e.skipped) return;
      before += (result.before[i] ?? 0) * weightOf(i);
      after += (result.after[i] ?? result.before[i] ?? 0) * weightOf(i);
    });
    const taken = new Set<string>();
    for (const t of tables.values()) if (t) for (const ix of t.indexes) taken.add(ix.name);
    const recNumber = new Map<number, number>();
    const updatedBy = new Map<number, Map<string, number[]>>();
    shapes.forEach((s, i) => {
      for (const [oid, cols] of s?.updated ?? []) {
        const m = updatedBy.get(oid) ?? new Map<string, number[]>();
        for (const c of cols) m.set(c, [...(m.get(c) ?? []), i + 1]);
        updatedBy.set(oid, m);
      }
    });
    const recommendations: AdviceOutput['recommendations'] = result.chosen.map((c, k) => {
      recNumber.set(c.candidate.id, k + 1);
      const create = createStatement(c.candidate, taken);
      const name = /INDEX CONCURRENTLY (\S+) ON/.exec(create)?.[1];
      if (name) taken.add(name.replace(/^"|"$/g, ''));
      const notes: string[] = [];
      const writes = writesByTable.get(c.candidate.table.oid);
      if (writes && writes.rows > 0) {
        notes.push(
          `${c.candidate.table.qualified} gets ${writes.rows} written rows from ${writes.statements} statement(s) in pg_stat_statements: every insert (and delete cleanup) also maintains this index`,
        );
      }
      const cols = new Set([...c.candidate.keys.map((k2) => k2.column), ...c.candidate.include]);
      for (const [col, stmts] of updatedBy.get(c.candidate.table.oid) ?? []) {
        if (cols.has(col))
          notes.push(
            `UPDATEs of ${col} (statement ${stmts.join(', ')}) would no longer be HOT updates: each one then writes index entries`,
          );
      }
      const rec: AdviceOutput['recommendations'][number] = {
        create,
        table: c.candidate.table.qualified,
        keys: c.candidate.keys.map((k2) => (k2.desc ? `${k2.sql} DESC` : k2.sql)),
        include: c.candidate.include,
        bytes: c.bytes,
        benefitPercent: before > 0 ? round((100 * c.benefit) / before) : 0,
        statements: c.statements.map((i) => i + 1),
        reason: c.candidate.reason,
      };
      if (notes.length) rec.notes = notes;
      return rec;
    });

    const statements: AdviceOutput['statements'] = entries.map((e, i) => {
      const b = result.before[i] ?? null;
      const a = result.after[i] ?? null;
      const out: AdviceOutput['statements'][number] = {
        n: i + 1,
        query: normaliseQueryText(e.text, 500),
        weight: e.weight,
        costBefore: e.skipped ? null : b === null ? null : round(b),
        costAfter: e.skipped ? null : a === null ? null : round(a),
        factor: !e.skipped && b !== null && a !== null && a > 0 ? round(b / a) : null,
        uses: (result.uses[i] ?? [])
          .map((id) => recNumber.get(id) ?? 0)
          .filter((n) => n > 0)
          .sort((x, y) => x - y),
      };
      if (e.calls !== undefined) out.calls = e.calls;
      const failed = result.failures.get(i);
      if (e.skipped) out.skipped = e.skipped;
      else if (failed) out.skipped = `could not be planned: ${failed}`;
      return out;
    });

    const considered: AdviceOutput['considered'] = [];
    for (const c of ordered) {
      const v = result.verdicts.get(c.id);
      if (!v || v.verdict === 'recommended') continue;
      considered.push({
        definition: c.hypoSql,
        verdict: v.verdict,
        detail: v.detail,
        ...(v.bytes !== undefined ? { bytes: v.bytes } : {}),
      });
    }
    for (const s of setAside) considered.push({ definition: s.definition, verdict: 'exists', detail: s.reason });
    const verdictOrder = [
      'superseded',
      'below_threshold',
      'over_budget',
      'no_improvement',
      'exists',
      'failed',
      'not_evaluated',
    ];
    considered.sort((a, b) => verdictOrder.indexOf(a.verdict) - verdictOrder.indexOf(b.verdict));

    const anyParams = work.some((w, i) => w.paramCount > 0 && !entries[i]?.skipped);
    const advice: AdviceOutput = {
      source: given ? 'statements' : 'pg_stat_statements',
      budget: { sizeMb, timeS, maxIndexes, minImprovementPercent: minPercent },
      stoppedBy: result.stoppedBy,
      elapsedMs: Math.round(performance.now() - started),
      plans: result.explains,
      workloadCost: { before: round(before), after: round(after), factor: after > 0 ? round(before / after) : 1 },
      recommendations,
      statements,
      considered: considered.slice(0, MAX_CONSIDERED),
      consideredTotal: considered.length,
    };
    if (anyParams) {
      advice.genericPlans =
        session.version >= 160000
          ? 'statements with $n were planned with EXPLAIN (GENERIC_PLAN): the plan that serves any value'
          : 'statements with $n were planned as generic plans: PREPARE, then EXPLAIN EXECUTE with NULL arguments under plan_cache_mode = force_generic_plan (the arguments are not looked at; PostgreSQL < 16 has no EXPLAIN (GENERIC_PLAN))';
    }
    return { advice, version: session.version };
  });
}

/** Per table read: the columns a statement uses (null when it uses all of them). */
function columnsUsed(shape: StatementShape | undefined): Map<number, Set<string> | null> {
  const out = new Map<number, Set<string> | null>();
  for (const use of shape?.uses ?? []) {
    const oid = use.table.oid;
    const cols =
      use.needed === null
        ? null
        : new Set([...use.needed, ...use.order.map((k) => k.column), ...use.group.map((k) => k.column)]);
    const had = out.get(oid);
    if (had === null || cols === null) out.set(oid, null);
    else out.set(oid, new Set([...(had ?? []), ...cols]));
  }
  return out;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

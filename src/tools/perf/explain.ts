/**
 * pg_perf explain. Which statements, and how they run:
 * - plain EXPLAIN (plans, executes nothing): one statement the parser accepts of a plannable kind (SELECT, VALUES,
 *   TABLE, INSERT, UPDATE, DELETE, MERGE, CREATE TABLE AS); denied functions are refused as on the read path
 *   (sequence and notification functions excepted: planning never calls a volatile function). READ ONLY transaction,
 *   rolled back.
 * - analyze of a read: the statement must pass the read guard (it is executed); READ ONLY transaction, rolled back,
 *   connection destroyed afterwards.
 * - analyze of a write (access level write): the write guard; destructive statements refused (pg_execute dry_run
 *   shows what they would do); a read-write transaction that is ALWAYS rolled back, connection destroyed.
 * - hypothetical_indexes: hypopg indexes made in the same session before the EXPLAIN; reset and the connection
 *   destroyed afterwards.
 */
import type { ParamValue } from '../../db/params.js';
import { Hypopg } from '../../perf/hypopg.js';
import { planIndexes, planRelations, type RelationFacts, summarisePlan } from '../../perf/plan.js';
import { type PerfSession, StatementFailure, toToolError, withPerfSession } from '../../perf/session.js';
import { classifyStatement } from '../../sql/classify.js';
import { findDeniedCalls, NOTIFICATION, SEQUENCE_CHANGE } from '../../sql/denylist.js';
import { nodesOfType, type ParsedStatement, parseSql, SqlSyntaxError } from '../../sql/parser.js';
import { checkReadStatement } from '../../sql/read-guard.js';
import { checkWriteSql } from '../../sql/write-guard.js';
import type { ToolContext } from '../context.js';
import { ToolError } from '../errors.js';
import type { PerfInput } from './args.js';
import type { ExplainOutput } from './output.js';

/** Statement kinds EXPLAIN plans. */
const PLANNABLE = new Set(['SelectStmt', 'InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt', 'CreateTableAsStmt']);
const WRITE_ANALYZABLE = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);

function syntaxError(source: string, sql: string, err: SqlSyntaxError): ToolError {
  const message = `${source}: ${err.message}`;
  return new ToolError(message, {
    code: 'syntax_error',
    statement: sql,
    pg: {
      severity: 'ERROR',
      code: '42601',
      message,
      ...(err.position !== undefined ? { position: err.position } : {}),
    },
    hint: 'fix the SQL; nothing was sent to the server',
  });
}

/** Exactly one statement, parsed. */
export function oneStatement(sql: string, source: string): ParsedStatement {
  let stmts: ParsedStatement[];
  try {
    stmts = parseSql(sql);
  } catch (err) {
    if (err instanceof SqlSyntaxError) throw syntaxError(source, sql, err);
    throw err;
  }
  if (stmts.length !== 1) {
    throw new ToolError(
      stmts.length === 0
        ? `${source} is empty: there is no statement`
        : `${source} holds ${stmts.length} statements; it takes exactly one`,
      { code: stmts.length === 0 ? 'empty_statement' : 'multiple_statements', statement: sql },
    );
  }
  return stmts[0] as ParsedStatement;
}

/** Refuses calls to denied functions; planning never calls volatile ones, so sequences and notifications pass. */
export function checkPlannable(stmt: ParsedStatement, source: string): void {
  if (stmt.type === 'ExplainStmt') {
    throw new ToolError(`${source}: pass the statement itself, without EXPLAIN`, {
      code: 'invalid_argument',
      statement: stmt.text,
      hint: 'pg_perf adds EXPLAIN (FORMAT JSON, …) itself; analyze: true runs EXPLAIN ANALYZE',
    });
  }
  if (!PLANNABLE.has(stmt.type)) {
    const c = classifyStatement(stmt);
    throw new ToolError(`${source}: EXPLAIN plans queries and DML; this is ${c.command}`, {
      code: 'not_explainable',
      statement: stmt.text,
      hint: 'pass a SELECT, VALUES, TABLE, INSERT, UPDATE, DELETE, MERGE or CREATE TABLE AS statement',
    });
  }
  const denied = findDeniedCalls(stmt.node).filter(
    (d) => d.category !== SEQUENCE_CHANGE && d.category !== NOTIFICATION,
  );
  if (denied.length > 0) {
    const listed = [...new Set(denied.map((d) => `${d.name}() (${d.category})`))].join(', ');
    throw new ToolError(`${source}: pg_perf will not plan a statement that calls ${listed}`, {
      code: 'denied_function',
      statement: stmt.text,
      hint: 'such functions act outside a read-only transaction; remove the call',
    });
  }
}

function highestParam(stmt: ParsedStatement): number {
  let max = 0;
  for (const p of nodesOfType(stmt.node, 'ParamRef'))
    if (typeof p.number === 'number' && p.number > max) max = p.number;
  return max;
}

/** Everything the plan warnings need about the tables of a plan. */
async function relationFacts(
  session: PerfSession,
  rels: { schema: string; name: string }[],
): Promise<Map<string, RelationFacts>> {
  const out = new Map<string, RelationFacts>();
  if (rels.length === 0) return out;
  const r = await session.query<{ schema: string; name: string; rows: number; bytes: string; leading: string[] }>(
    `select n.nspname as schema, c.relname as name, c.reltuples::float8 as rows,
            pg_catalog.pg_relation_size(c.oid)::int8 as bytes,
            array(select a.attname::text from pg_catalog.pg_index i
                    join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
                   where i.indrelid = c.oid and i.indisvalid and i.indpred is null) as leading
       from pg_catalog.pg_class c
       join pg_catalog.pg_namespace n on n.oid = c.relnamespace
       join unnest($1::text[], $2::text[]) as r(s, t) on r.s = n.nspname and r.t = c.relname`,
    [rels.map((r) => r.schema), rels.map((r) => r.name)],
  );
  for (const row of r.rows) {
    out.set(`${row.schema}.${row.name}`, { rows: row.rows, bytes: Number(row.bytes), leading: row.leading });
  }
  return out;
}

type Mode = 'plan' | 'analyze_read' | 'analyze_write';

function modeOf(stmt: ParsedStatement, args: PerfInput, ctx: ToolContext): Mode {
  const sql = args.sql as string;
  if (!args.analyze) {
    checkPlannable(stmt, 'sql');
    return 'plan';
  }
  if (args.hypothetical_indexes) {
    throw new ToolError('EXPLAIN ANALYZE runs the statement for real: hypothetical indexes take no part in that', {
      code: 'invalid_argument',
      hint: 'leave out analyze to see the plan with hypothetical_indexes (and the cost before and after)',
    });
  }
  const c = classifyStatement(stmt);
  if (c.class === 'read') {
    checkReadStatement(sql);
    if (stmt.type !== 'SelectStmt') {
      throw new ToolError(`analyze runs queries; ${c.command} cannot be explained`, {
        code: 'not_explainable',
        statement: stmt.text,
      });
    }
    return 'analyze_read';
  }
  if (ctx.config.access === 'read') {
    throw new ToolError(
      `EXPLAIN ANALYZE executes the statement, and this ${c.command} is a ${c.class} statement; at access level read pg_perf only analyzes reads`,
      {
        code: 'not_read_only',
        statement: stmt.text,
        hint: 'leave out analyze for the plan alone (nothing is executed); at access level write, analyze runs writes in a transaction that is always rolled back',
      },
    );
  }
  const w = checkWriteSql(sql, ctx.config.access);
  if (w.classification.class === 'destructive') {
    throw new ToolError(
      `pg_perf does not EXPLAIN ANALYZE destructive statements: this ${c.command} ${w.classification.reason ?? 'is destructive'}`,
      {
        code: 'destructive_statement',
        statement: stmt.text,
        hint: 'leave out analyze for the plan alone, or run it through pg_execute with dry_run: true (rolled back, reports rows affected)',
      },
    );
  }
  if (!WRITE_ANALYZABLE.has(stmt.type) || w.nonTransactional !== undefined || w.opaque || w.temporary) {
    throw new ToolError(`analyze runs queries and INSERT/UPDATE/DELETE/MERGE; this is ${c.command}`, {
      code: 'not_explainable',
      statement: stmt.text,
    });
  }
  return 'analyze_write';
}

const ANALYZE_TEXT = 'analyze: true';

export async function runExplain(
  args: PerfInput,
  ctx: ToolContext,
  database: string,
): Promise<{ explain: ExplainOutput; version: number }> {
  const sql = args.sql as string;
  const stmt = oneStatement(sql, 'sql');
  const mode = modeOf(stmt, args, ctx);
  const params: ParamValue[] = (args.params ?? []) as ParamValue[];
  const paramCount = highestParam(stmt);
  if (mode !== 'plan' && paramCount > params.length) {
    throw new ToolError(
      `${ANALYZE_TEXT} executes the statement: it needs values for $1…$${paramCount} (params), got ${params.length}`,
      { code: 'invalid_argument', hint: 'pass params, or leave out analyze for a generic plan' },
    );
  }
  const hypothetical = (args.hypothetical_indexes ?? []).map((def, i) => {
    const source = `hypothetical_indexes[${i}]`;
    const s = oneStatement(def, source);
    if (s.type !== 'IndexStmt') {
      throw new ToolError(`${source} is not a CREATE INDEX statement`, { code: 'invalid_argument', statement: def });
    }
    if (findDeniedCalls(s.node).length > 0) {
      throw new ToolError(`${source} calls a denied function`, { code: 'denied_function', statement: def });
    }
    return s.text;
  });

  const analyze = mode !== 'plan';
  const options =
    mode === 'plan'
      ? 'VERBOSE, SETTINGS'
      : mode === 'analyze_read'
        ? 'ANALYZE, BUFFERS, VERBOSE, SETTINGS'
        : 'ANALYZE, BUFFERS, WAL, VERBOSE, SETTINGS';
  const req = { text: stmt.text, options, params, paramCount };

  return withPerfSession(
    ctx.pools,
    database,
    { signal: ctx.signal, readWrite: mode === 'analyze_write' },
    async (session) => {
      // The statement runs: whatever it leaves in the session goes with the connection.
      if (analyze) session.discard();
      let hypo: ExplainOutput['hypothetical'];
      let made: { definition: string; name: string; bytes: number }[] = [];
      let costBefore = 0;
      if (hypothetical.length > 0) {
        const h = await Hypopg.open(session);
        costBefore = await run(session, { ...req, options: undefined }).then((r) => planCostOf(r.root));
        made = [];
        for (const [i, def] of hypothetical.entries()) {
          try {
            const idx = await h.create(def);
            made.push({ definition: def, name: idx.name, bytes: idx.bytes });
          } catch (err) {
            const e = toToolError(err, database, def);
            if (e instanceof ToolError) {
              throw new ToolError(`hypothetical_indexes[${i}]: ${e.message}`, { ...e.info, statement: def });
            }
            throw e;
          }
        }
      }
      const { root, generic } = await run(session, req);
      if (made.length > 0) {
        const used = new Set(planIndexes(root));
        hypo = {
          costBefore,
          costAfter: planCostOf(root),
          indexes: made.map((m) => ({ ...m, used: used.has(m.name) })),
        };
      }
      const facts = await relationFacts(session, planRelations(root));
      const summary = summarisePlan(root, facts);
      const out: ExplainOutput = {
        statement: stmt.text,
        analyzed: analyze,
        totalCost: summary.totalCost,
        rows: summary.rows,
        nodes: summary.nodes,
        omittedNodes: summary.omittedNodes,
        costliest: summary.costliest,
        warnings: summary.warnings,
      };
      if (mode === 'analyze_write') out.rolledBack = true;
      if (generic) {
        out.genericPlan =
          generic === 'generic_plan_option'
            ? 'EXPLAIN (GENERIC_PLAN): $n planned without values'
            : 'PREPARE + EXPLAIN EXECUTE under plan_cache_mode = force_generic_plan: $n planned without values';
      }
      if (summary.actualRows !== undefined) out.actualRows = summary.actualRows;
      if (summary.planningMs !== undefined) out.planningMs = summary.planningMs;
      if (summary.executionMs !== undefined) out.executionMs = summary.executionMs;
      if (summary.settings) {
        // pgmcp's own setting for a generic plan is not the caller's.
        const { plan_cache_mode: _own, ...rest } = summary.settings;
        const settings = generic === 'prepare_force_generic' ? rest : summary.settings;
        if (Object.keys(settings).length > 0) out.settings = settings;
      }
      if (summary.triggers) out.triggers = summary.triggers;
      if (hypo) out.hypothetical = hypo;
      return { explain: out, version: session.version };
    },
  );
}

function planCostOf(root: Record<string, unknown>): number {
  const plan = root.Plan as { 'Total Cost'?: number } | undefined;
  return plan?.['Total Cost'] ?? 0;
}

async function run(
  session: PerfSession,
  req: { text: string; options: string | undefined; params: ParamValue[]; paramCount: number },
): ReturnType<PerfSession['explain']> {
  try {
    return await session.explain({
      text: req.text,
      ...(req.options ? { options: req.options } : {}),
      params: req.params,
      paramCount: req.paramCount,
    });
  } catch (err) {
    if (err instanceof StatementFailure) throw toToolError(err, session.database, req.text);
    throw err;
  }
}

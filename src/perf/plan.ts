/**
 * EXPLAIN (FORMAT JSON) plans summarised: a flat list of nodes in tree order (depth and parent), each with what a
 * reader needs (relation, index, rows estimated vs actual, cost, time, loops, conditions), the costliest nodes by
 * their own share, and warnings that name the node, the evidence and what to do.
 */
import type { PlanJson } from './session.js';

export interface PlanNode {
  id: number;
  parent: number | null;
  depth: number;
  /** e.g. `Index Scan`, `HashAggregate`, `Parallel Seq Scan`, `Insert`. */
  node: string;
  /** `schema.table` when the node reads or writes one. */
  relation?: string;
  alias?: string;
  index?: string;
  join?: string;
  /** How the node hangs under its parent when that is not the plain input: InitPlan, SubPlan, … */
  role?: string;
  startupCost: number;
  cost: number;
  /** Rows estimated per loop. */
  rows: number;
  /** EXPLAIN ANALYZE: rows per loop, loops, and time of all loops together (ms). */
  actualRows?: number;
  loops?: number;
  timeMs?: number;
  /** This node's own share: its cost (or time) minus its inputs'. */
  selfCost: number;
  selfMs?: number;
  /** Conditions, keys, methods, buffers: `filter: (…); removed by filter: 12; …`. */
  detail?: string;
}

export type WarningKind =
  | 'seq_scan'
  | 'estimate'
  | 'nested_loop'
  | 'spill'
  | 'missing_join_index'
  | 'heap_fetches'
  | 'jit';

export interface PlanWarning {
  kind: WarningKind;
  severity: 'info' | 'warning';
  /** The node it is about. */
  node?: number;
  message: string;
}

export interface PlanSummary {
  nodes: PlanNode[];
  /** Nodes left out beyond the cap. */
  omittedNodes: number;
  totalCost: number;
  rows: number;
  actualRows?: number;
  planningMs?: number;
  executionMs?: number;
  /** Up to three node ids, costliest first (by time when analysed). */
  costliest: number[];
  warnings: PlanWarning[];
  /** Settings that differ from the defaults and affect planning (EXPLAIN SETTINGS). */
  settings?: Record<string, string>;
  triggers?: { name: string; relation?: string; timeMs: number; calls: number }[];
}

/** What warnings need to know about the tables in a plan. */
export interface RelationFacts {
  /** pg_class.reltuples (estimate; -1 or 0 when never analysed). */
  rows: number;
  bytes: number;
  /** Leading column of every valid, non-partial index. */
  leading: string[];
}

/** A table this big is worth a warning when scanned sequentially. */
export const BIG_TABLE_ROWS = 100_000;
/** Join keys of tables at least this big are checked for an index. */
const JOIN_TABLE_ROWS = 10_000;
const MAX_NODES = 200;

type Raw = Record<string, unknown>;

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map(String).join(', ');
  return undefined;
}

function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function label(p: Raw): string {
  const type = String(p['Node Type'] ?? '?');
  const strategy = text(p.Strategy);
  let name = type;
  if (type === 'Aggregate' || type === 'SetOp') {
    const prefix: Record<string, string> = {
      Hashed: 'Hash',
      Sorted: type === 'Aggregate' ? 'Group' : '',
      Mixed: 'Mixed',
    };
    name = `${prefix[strategy ?? ''] ?? ''}${type}`;
  } else if (type === 'ModifyTable') {
    name = text(p.Operation) ?? type;
  }
  if (p['Parallel Aware'] === true) name = `Parallel ${name}`;
  if (p['Scan Direction'] === 'Backward') name = `${name} Backward`;
  return name;
}

const DETAIL_KEYS: readonly [string, string][] = [
  ['Index Cond', 'index cond'],
  ['Recheck Cond', 'recheck'],
  ['Hash Cond', 'hash cond'],
  ['Merge Cond', 'merge cond'],
  ['Join Filter', 'join filter'],
  ['Rows Removed by Join Filter', 'removed by join filter'],
  ['Filter', 'filter'],
  ['Rows Removed by Filter', 'removed by filter'],
  ['Rows Removed by Index Recheck', 'removed by recheck'],
  ['Heap Fetches', 'heap fetches'],
  ['Sort Key', 'sort key'],
  ['Presorted Key', 'presorted'],
  ['Group Key', 'group key'],
  ['Cache Key', 'cache key'],
  ['Sort Method', 'sort method'],
  ['Sort Space Used', 'sort space kB'],
  ['Sort Space Type', 'sort space'],
  ['Hash Batches', 'hash batches'],
  ['Original Hash Batches', 'planned batches'],
  ['Peak Memory Usage', 'peak memory kB'],
  ['Disk Usage', 'disk kB'],
  ['HashAgg Batches', 'hashagg batches'],
  ['Workers Planned', 'workers planned'],
  ['Workers Launched', 'workers launched'],
  ['Subplan Name', 'subplan'],
  ['Shared Hit Blocks', 'shared hit'],
  ['Shared Read Blocks', 'shared read'],
  ['Temp Read Blocks', 'temp read'],
  ['Temp Written Blocks', 'temp written'],
  ['WAL Records', 'WAL records'],
  ['WAL Bytes', 'WAL bytes'],
];

function detailOf(p: Raw): string | undefined {
  const parts: string[] = [];
  for (const [key, name] of DETAIL_KEYS) {
    const v = p[key];
    if (v === undefined || v === null) continue;
    // Zero counters are noise.
    if (typeof v === 'number' && v === 0 && !['Heap Fetches'].includes(key)) continue;
    if (key === 'Hash Batches' && v === 1) continue;
    if (key === 'Original Hash Batches' && v === p['Hash Batches']) continue;
    const shown = typeof v === 'number' ? String(v) : text(v);
    if (shown !== undefined && shown !== '') parts.push(`${name}: ${shown}`);
  }
  return parts.length ? parts.join('; ') : undefined;
}

interface Walked {
  raw: Raw;
  node: PlanNode;
  parent: Walked | undefined;
  children: Walked[];
  /** The share of its run cost the plan is expected to spend: below a Limit, only part of the rows are fetched. */
  fraction: number;
  /** Expected executions: the inner side of a nested loop runs once per outer row. */
  times: number;
}

/** What a node is expected to cost the whole plan (EXPLAIN shows costs per execution and for all rows). */
function effectiveCost(w: Walked): number {
  return (w.node.startupCost + (w.node.cost - w.node.startupCost) * w.fraction) * w.times;
}

/** Summarises one EXPLAIN (FORMAT JSON) result. `facts` (by `schema.table`) enables the table-based warnings. */
export function summarisePlan(root: PlanJson, facts: ReadonlyMap<string, RelationFacts> = new Map()): PlanSummary {
  const all: Walked[] = [];
  // Inside Gather, each process reports its own loops and average times: wall time is per process.
  const walk = (
    p: Raw,
    parent: Walked | undefined,
    depth: number,
    processes: number,
    fraction: number,
    times: number,
  ): Walked => {
    const relationName = text(p['Relation Name']);
    const schema = text(p.Schema);
    const node: PlanNode = {
      id: all.length + 1,
      parent: parent ? parent.node.id : null,
      depth,
      node: label(p),
      startupCost: num(p['Startup Cost']) ?? 0,
      cost: num(p['Total Cost']) ?? 0,
      rows: num(p['Plan Rows']) ?? 0,
      selfCost: 0,
    };
    if (relationName) node.relation = schema ? `${schema}.${relationName}` : relationName;
    const alias = text(p.Alias);
    if (alias && alias !== relationName) node.alias = alias;
    const index = text(p['Index Name']);
    if (index) node.index = index;
    const join = text(p['Join Type']);
    if (join && join !== 'Inner') node.join = join;
    const role = text(p['Parent Relationship']);
    if (role && !['Outer', 'Inner', 'Member', 'Subquery'].includes(role)) node.role = role;
    const loops = num(p['Actual Loops']);
    if (loops !== undefined) {
      node.loops = loops;
      node.actualRows = round(num(p['Actual Rows']) ?? 0);
      node.timeMs = round(((num(p['Actual Total Time']) ?? 0) * loops) / Math.min(processes, Math.max(loops, 1)), 3);
    }
    const detail = detailOf(p);
    if (detail) node.detail = detail;
    const w: Walked = { raw: p, node, parent, children: [], fraction, times };
    all.push(w);
    const kids = Array.isArray(p.Plans) ? (p.Plans as Raw[]) : [];
    const gather = node.node === 'Gather' || node.node === 'Gather Merge';
    const workers = num(p['Workers Launched']) ?? num(p['Workers Planned']) ?? 0;
    kids.forEach((k, i) => {
      let f = fraction;
      let t = times;
      if (node.node === 'Limit') {
        const run = (num(k['Total Cost']) ?? 0) - (num(k['Startup Cost']) ?? 0);
        const used = effectiveCost(w) / times - (num(k['Startup Cost']) ?? 0);
        f = run > 0 ? Math.min(1, Math.max(0, used / run)) : fraction;
      } else if (node.node === 'Nested Loop' && i === 1 && w.children[0]) {
        const outer = w.children[0];
        t = times * Math.max(1, outer.node.rows * outer.fraction);
        f = 1;
      }
      w.children.push(walk(k, w, depth + 1, gather ? workers + 1 : processes, f, t));
    });
    return w;
  };
  const top = walk(root.Plan as Raw, undefined, 0, 1, 1, 1);

  const analysed = top.node.loops !== undefined;
  for (const w of all) {
    const childCost = w.children.reduce((s, c) => s + effectiveCost(c), 0);
    w.node.selfCost = round(Math.max(0, effectiveCost(w) - childCost));
    if (analysed && w.node.timeMs !== undefined) {
      const childTime = w.children.reduce((s, c) => s + (c.node.timeMs ?? 0), 0);
      w.node.selfMs = round(Math.max(0, w.node.timeMs - childTime), 3);
    }
  }
  const byShare = [...all].sort((a, b) =>
    analysed ? (b.node.selfMs ?? 0) - (a.node.selfMs ?? 0) : b.node.selfCost - a.node.selfCost,
  );
  const costliest = byShare
    .filter((w) => (analysed ? (w.node.selfMs ?? 0) > 0 : w.node.selfCost > 0))
    .slice(0, 3)
    .map((w) => w.node.id);

  const summary: PlanSummary = {
    nodes: all.slice(0, MAX_NODES).map((w) => w.node),
    omittedNodes: Math.max(0, all.length - MAX_NODES),
    totalCost: top.node.cost,
    rows: top.node.rows,
    costliest,
    warnings: warningsFor(all, facts, analysed),
  };
  if (analysed) summary.actualRows = top.node.actualRows ?? 0;
  const planning = num(root['Planning Time']);
  if (planning !== undefined) summary.planningMs = round(planning, 3);
  const execution = num(root['Execution Time']);
  if (execution !== undefined) summary.executionMs = round(execution, 3);
  const settings = root.Settings;
  if (settings && typeof settings === 'object' && Object.keys(settings).length > 0) {
    summary.settings = Object.fromEntries(Object.entries(settings as Raw).map(([k, v]) => [k, String(v)]));
  }
  if (Array.isArray(root.Triggers) && root.Triggers.length > 0) {
    summary.triggers = (root.Triggers as Raw[]).map((t) => {
      const out: { name: string; relation?: string; timeMs: number; calls: number } = {
        name: text(t['Trigger Name']) ?? text(t['Constraint Name']) ?? '?',
        timeMs: round(num(t.Time) ?? 0, 3),
        calls: num(t.Calls) ?? 0,
      };
      const rel = text(t.Relation);
      if (rel) out.relation = rel;
      return out;
    });
  }
  if (root.JIT && typeof root.JIT === 'object') {
    const timing = (root.JIT as Raw).Timing as Raw | undefined;
    const jitMs = num(timing?.Total) ?? num((timing?.Total as Raw | undefined)?.Total);
    const exec = summary.executionMs;
    if (jitMs !== undefined && exec !== undefined && jitMs > 0.3 * exec && jitMs > 50) {
      summary.warnings.push({
        kind: 'jit',
        severity: 'warning',
        message: `JIT compilation took ${round(jitMs, 1)} ms of ${exec} ms: for short queries on big estimates, raise jit_above_cost or turn jit off for this workload`,
      });
    }
  }
  return summary;
}

function fmtRows(n: number): string {
  if (n >= 1e6) return `${round(n / 1e6, 1)}M`;
  if (n >= 1e4) return `${round(n / 1e3, 0)}k`;
  return String(Math.round(n));
}

/** `(a.x = b.y)` pairs in a join condition: each side as alias and column. */
function equalityPairs(cond: string): [string, string][] {
  const ident = String.raw`(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)`;
  const side = String.raw`\(*(${ident})\.(${ident})(?:\)?::[\w ]+)?\)*`;
  const re = new RegExp(`${side}\\s*=\\s*${side}`, 'g');
  const out: [string, string][] = [];
  for (const m of cond.matchAll(re)) {
    out.push([`${unquote(m[1] ?? '')}.${unquote(m[2] ?? '')}`, `${unquote(m[3] ?? '')}.${unquote(m[4] ?? '')}`]);
  }
  return out;
}

function unquote(id: string): string {
  return id.startsWith('"') ? id.slice(1, -1).replace(/""/g, '"') : id;
}

function warningsFor(all: Walked[], facts: ReadonlyMap<string, RelationFacts>, analysed: boolean): PlanWarning[] {
  const out: PlanWarning[] = [];
  // alias (or table name) → relation, for join conditions.
  const aliases = new Map<string, string>();
  for (const w of all) {
    if (!w.node.relation) continue;
    aliases.set(w.node.alias ?? text(w.raw['Relation Name']) ?? w.node.relation, w.node.relation);
  }

  for (const w of all) {
    const n = w.node;
    const p = w.raw;
    const loops = n.loops ?? 1;

    // Sequential scans of big tables.
    if (/Seq Scan$/.test(n.node) && n.relation) {
      const f = facts.get(n.relation);
      const tableRows = f && f.rows > 0 ? f.rows : undefined;
      const parallel = p['Parallel Aware'] === true;
      // A parallel scan's loops are its processes, not repeats; its estimate is per process.
      const repeats = parallel ? 1 : loops;
      if (tableRows !== undefined && tableRows >= BIG_TABLE_ROWS) {
        const filter = text(p.Filter);
        const processes = parallel ? (num(w.parent?.raw['Workers Planned']) ?? 0) + 1 : 1;
        const kept = analysed ? ((n.actualRows ?? 0) * loops) / repeats : n.rows * processes;
        if (filter) {
          const share = kept / tableRows;
          if (share <= 0.1) {
            out.push({
              kind: 'seq_scan',
              severity: 'warning',
              node: n.id,
              message: `Seq Scan on ${n.relation} reads ~${fmtRows(tableRows)} rows to keep ~${fmtRows(kept)} (${round(share * 100, 2)}%) with filter ${filter}: an index on the filtered columns may help (pg_perf index_advice, or explain with hypothetical_indexes)`,
            });
          }
        } else if (repeats <= 1) {
          out.push({
            kind: 'seq_scan',
            severity: 'info',
            node: n.id,
            message: `Seq Scan on ${n.relation} reads all ~${fmtRows(tableRows)} rows (no filter): expected for a whole-table query`,
          });
        }
        if (repeats > 1) {
          out.push({
            kind: 'seq_scan',
            severity: 'warning',
            node: n.id,
            message: `Seq Scan on ${n.relation} (~${fmtRows(tableRows)} rows) is repeated ${repeats} times`,
          });
        }
      }
    }

    // Estimates off by 10× or more (EXPLAIN ANALYZE).
    if (analysed && n.actualRows !== undefined && n.loops !== undefined && n.loops > 0) {
      const est = Math.max(n.rows, 1);
      const act = Math.max(n.actualRows, 1);
      const ratio = act / est;
      if ((ratio >= 10 || ratio <= 0.1) && Math.max(n.rows, n.actualRows) * loops >= 100) {
        const under = ratio >= 10;
        out.push({
          kind: 'estimate',
          severity: 'warning',
          node: n.id,
          message: `${n.node}${n.relation ? ` on ${n.relation}` : ''}: estimated ${fmtRows(n.rows)} rows, actual ${fmtRows(n.actualRows)} per loop (${under ? 'under' : 'over'}estimated ${round(under ? ratio : 1 / ratio, 0)}×): ANALYZE the tables; for correlated columns CREATE STATISTICS (dependencies, ndistinct, mcv)`,
        });
      }
    }

    // Nested loops over many outer rows.
    if (n.node === 'Nested Loop' && w.children.length >= 2) {
      const outer = w.children[0] as Walked;
      const inner = w.children[1] as Walked;
      const outerRows = analysed ? (outer.node.actualRows ?? 0) * (outer.node.loops ?? 1) : outer.node.rows;
      if (outerRows >= 10_000) {
        out.push({
          kind: 'nested_loop',
          severity: 'warning',
          node: n.id,
          message: `Nested Loop runs its inner side (${inner.node.node}${inner.node.relation ? ` on ${inner.node.relation}` : ''}) for ~${fmtRows(outerRows)} outer rows${analysed ? '' : ' (estimated)'}: a hash or merge join may be cheaper; check the outer row estimate`,
        });
      }
      if (/Seq Scan$/.test(inner.node.node) && outerRows > 1 && inner.node.relation) {
        const f = facts.get(inner.node.relation);
        if (f && f.rows >= JOIN_TABLE_ROWS) {
          out.push({
            kind: 'nested_loop',
            severity: 'warning',
            node: inner.node.id,
            message: `the inner side of Nested Loop #${n.id} scans ${inner.node.relation} (~${fmtRows(f.rows)} rows) sequentially for each of ~${fmtRows(outerRows)} outer rows: index the join key`,
          });
        }
      }
    }

    // Sorts and hashes that spilled to disk.
    const spaceType = text(p['Sort Space Type']);
    const method = text(p['Sort Method']) ?? '';
    if (spaceType === 'Disk' || /external/.test(method)) {
      out.push({
        kind: 'spill',
        severity: 'warning',
        node: n.id,
        message: `${n.node} spilled to disk (${method || 'external'}, ${num(p['Sort Space Used']) ?? '?'} kB): raise work_mem for this query, or avoid the sort with an index matching ${text(p['Sort Key']) ?? 'the sort key'}`,
      });
    }
    const batches = num(p['Hash Batches']);
    if (batches !== undefined && batches > 1) {
      out.push({
        kind: 'spill',
        severity: 'warning',
        node: n.id,
        message: `${n.node} used ${batches} batches (spilled to disk): raise work_mem (or hash_mem_multiplier)`,
      });
    }
    const aggBatches = num(p['HashAgg Batches']);
    const disk = num(p['Disk Usage']);
    if ((aggBatches !== undefined && aggBatches > 1) || (disk !== undefined && disk > 0)) {
      out.push({
        kind: 'spill',
        severity: 'warning',
        node: n.id,
        message: `${n.node} spilled to disk (${disk ?? '?'} kB): raise work_mem (or hash_mem_multiplier)`,
      });
    }

    // Index-only scans fetching from the heap.
    const fetches = num(p['Heap Fetches']);
    if (analysed && fetches !== undefined && fetches > 1000 && n.actualRows !== undefined) {
      const total = n.actualRows * loops;
      if (total > 0 && fetches / total > 0.5) {
        out.push({
          kind: 'heap_fetches',
          severity: 'info',
          node: n.id,
          message: `Index Only Scan on ${n.relation ?? '?'} fetched ${fetches} of ${fmtRows(total)} rows from the table: VACUUM it so the visibility map lets the scan skip the heap`,
        });
      }
    }
  }

  // Join keys without an index on a big table.
  const seen = new Set<string>();
  for (const w of all) {
    const p = w.raw;
    for (const key of ['Hash Cond', 'Merge Cond', 'Join Filter'] as const) {
      const cond = text(p[key]);
      if (!cond) continue;
      for (const pair of equalityPairs(cond)) {
        for (const side of pair) {
          const dot = side.lastIndexOf('.');
          const relation = aliases.get(side.slice(0, dot));
          const column = side.slice(dot + 1);
          if (!relation) continue;
          const f = facts.get(relation);
          if (!f || f.rows < JOIN_TABLE_ROWS || f.leading.includes(column)) continue;
          const k = `${relation}.${column}`;
          if (seen.has(k)) continue;
          seen.add(k);
          out.push({
            kind: 'missing_join_index',
            severity: 'warning',
            node: w.node.id,
            message: `no index on ${relation} starts with ${column}, a join key of ${w.node.node} #${w.node.id} (${key.toLowerCase()}: ${cond}); ~${fmtRows(f.rows)} rows`,
          });
        }
      }
    }
  }
  return out;
}

/** Relations named by a plan as schema and name (VERBOSE plans carry the schema). */
export function planRelations(root: PlanJson): { schema: string; name: string }[] {
  const found = new Map<string, { schema: string; name: string }>();
  const walk = (p: Raw) => {
    const name = text(p['Relation Name']);
    const schema = text(p.Schema);
    if (name && schema) found.set(`${schema}.${name}`, { schema, name });
    if (Array.isArray(p.Plans)) for (const k of p.Plans as Raw[]) walk(k);
  };
  walk(root.Plan as Raw);
  return [...found.values()];
}

/** Every index name a plan uses. */
export function planIndexes(root: PlanJson): string[] {
  const out: string[] = [];
  const walk = (p: Raw) => {
    const index = text(p['Index Name']);
    if (index) out.push(index);
    if (Array.isArray(p.Plans)) for (const k of p.Plans as Raw[]) walk(k);
  };
  walk(root.Plan as Raw);
  return out;
}

/** The plan's total cost. */
export function planCost(root: PlanJson): number {
  return num((root.Plan as Raw | undefined)?.['Total Cost']) ?? 0;
}

/**
 * Candidate indexes from the parse tree (PostgreSQL's own grammar): for every table a statement reads, which columns
 * it filters by equality (=, IS NULL, a boolean column), by a list (IN, = ANY), by a range (<, <=, >, >=, BETWEEN),
 * joins on, orders by and groups by, resolved through aliases, joins, subqueries and CTEs to the real table. From
 * those: single-column candidates, and multi-column ones with equality columns first (most distinct first), then one
 * range, list, join or ORDER BY part; covering (INCLUDE) variants only when the statement needs few other columns of
 * the table. Simple expressions (`lower(email) = $1`) give expression candidates. Candidates that an existing valid
 * index already serves (same leading columns) are set aside with the index that serves them.
 */
import { nodesOfType, type ParsedStatement } from '../sql/parser.js';
import { type ExistingIndex, normaliseExpression, type RelationRef, refKey, type TableInfo } from './catalog.js';

type Node = Record<string, unknown>;

/** A key of a candidate index: a column, or an expression over one column. */
export interface IndexKey {
  /** `customer_id` or `expr:lower(email)` (normalised), for comparing. */
  id: string;
  /** As written in CREATE INDEX: `customer_id`, `lower(email)` (quoted as needed). */
  sql: string;
  /** The column it is built on. */
  column: string;
  desc?: boolean;
}

/** How one statement uses one table occurrence. */
export interface TableUse {
  table: TableInfo;
  eq: Map<string, IndexKey>;
  list: Map<string, IndexKey>;
  range: Map<string, IndexKey>;
  join: Map<string, IndexKey>;
  /** Columns used inside OR branches (each can only help on its own, through a bitmap OR). */
  either: Map<string, IndexKey>;
  order: IndexKey[];
  group: IndexKey[];
  /** Columns of this table the statement needs; null = all (`*` or whole-row use). */
  needed: Set<string> | null;
}

export interface StatementShape {
  /** Tables read, by oid. */
  reads: Set<number>;
  /** Tables written (INSERT/UPDATE/DELETE target), by oid. */
  writes: Set<number>;
  /** UPDATE: columns set, by table oid. */
  updated: Map<number, Set<string>>;
  uses: TableUse[];
}

export interface Candidate {
  id: number;
  table: TableInfo;
  keys: IndexKey[];
  include: string[];
  /** For hypopg: `CREATE INDEX ON schema.table USING btree (…)`. */
  hypoSql: string;
  /** Workload statements (0-based) that gave rise to it. */
  from: Set<number>;
  /** Why it was generated, e.g. `= customer_id, ORDER BY created_at`. */
  reason: string;
}

export interface SetAside {
  definition: string;
  table: string;
  reason: string;
}

const MAX_KEY_COLUMNS = 4;
const MAX_INCLUDE = 3;
const RANGE_OPS = new Set(['<', '<=', '>', '>=']);

function obj(v: unknown): Node | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Node) : undefined;
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function unwrap(v: unknown): [string, Node] | undefined {
  const o = obj(v);
  if (!o) return undefined;
  const keys = Object.keys(o);
  const k = keys[0];
  if (keys.length !== 1 || k === undefined) return undefined;
  const body = obj(o[k]);
  return body ? [k, body] : undefined;
}

function sval(v: unknown): string | undefined {
  const s = obj(obj(v)?.String)?.sval;
  return typeof s === 'string' ? s : undefined;
}

function opName(e: Node): string | undefined {
  const names = list(e.name);
  return sval(names[names.length - 1]);
}

// ---------------------------------------------------------------------------------------------------------------
// Relations named by statements

/** Every relation a statement names in FROM, JOIN, UPDATE, DELETE, INSERT (CTE names excluded). */
export function relationRefs(stmt: ParsedStatement): RelationRef[] {
  const ctes = new Set<string>();
  for (const cte of nodesOfType(stmt.node, 'CommonTableExpr')) {
    if (typeof cte.ctename === 'string') ctes.add(cte.ctename);
  }
  const out: RelationRef[] = [];
  const add = (rv: Node | undefined) => {
    if (!rv || typeof rv.relname !== 'string') return;
    if (rv.schemaname === undefined && ctes.has(rv.relname)) return;
    out.push(typeof rv.schemaname === 'string' ? { schema: rv.schemaname, name: rv.relname } : { name: rv.relname });
  };
  for (const rv of nodesOfType(stmt.node, 'RangeVar')) add(rv);
  // UPDATE/DELETE/INSERT targets are bare RangeVar bodies under `relation`.
  add(obj(stmt.node.relation));
  return out;
}

/** The highest $n in a statement (0 when it has none). */
export function paramCount(stmt: ParsedStatement): number {
  let max = 0;
  for (const p of nodesOfType(stmt.node, 'ParamRef')) {
    const n = typeof p.number === 'number' ? p.number : 0;
    if (n > max) max = n;
  }
  return max;
}

// ---------------------------------------------------------------------------------------------------------------
// Scopes and column resolution

interface Occurrence {
  /** The name columns are qualified with: the alias, else the table name. */
  ref: string;
  schema?: string;
  table: TableInfo | null;
  use?: TableUse;
  /** A subquery, function or CTE: its columns are unknown here. */
  opaque: boolean;
}

interface Scope {
  occurrences: Occurrence[];
  parent?: Scope;
  ctes: Set<string>;
}

interface Resolved {
  occ: Occurrence;
  key: IndexKey;
}

class Analyser {
  readonly shape: StatementShape = { reads: new Set(), writes: new Set(), updated: new Map(), uses: [] };

  constructor(private readonly tables: ReadonlyMap<string, TableInfo | null>) {}

  private tableFor(rv: Node): TableInfo | null {
    const name = rv.relname as string;
    const ref: RelationRef = typeof rv.schemaname === 'string' ? { schema: rv.schemaname, name } : { name };
    return this.tables.get(refKey(ref)) ?? null;
  }

  private occurrenceFor(rv: Node, scope: Scope): Occurrence {
    const name = rv.relname as string;
    const alias = obj(rv.alias)?.aliasname;
    const ref = typeof alias === 'string' ? alias : name;
    if (rv.schemaname === undefined && inCtes(scope, name)) return { ref, table: null, opaque: true };
    const table = this.tableFor(rv);
    const occ: Occurrence = { ref, table, opaque: table === null };
    if (typeof rv.schemaname === 'string' && alias === undefined) occ.schema = rv.schemaname;
    if (table && (table.kind === 'r' || table.kind === 'm' || table.kind === 'p')) {
      this.shape.reads.add(table.oid);
      occ.use = {
        table,
        eq: new Map(),
        list: new Map(),
        range: new Map(),
        join: new Map(),
        either: new Map(),
        order: [],
        group: [],
        needed: new Set(),
      };
      this.shape.uses.push(occ.use);
    }
    return occ;
  }

  /** A column reference resolved to a table occurrence, or undefined (ambiguous, unknown, of a subquery). */
  private resolveColumn(fields: unknown[], scope: Scope): Resolved | undefined {
    const parts = fields.map(sval);
    if (parts.some((p) => p === undefined)) return undefined; // `t.*`
    const names = parts as string[];
    const column = names[names.length - 1] as string;
    const qualifier = names.length >= 2 ? names[names.length - 2] : undefined;
    const schema = names.length >= 3 ? names[names.length - 3] : undefined;
    for (let s: Scope | undefined = scope; s; s = s.parent) {
      if (qualifier !== undefined) {
        const occ = s.occurrences.find((o) => o.ref === qualifier && (schema === undefined || o.schema === schema));
        if (occ) return occ.table?.columns.has(column) ? keyOf(occ, column) : undefined;
        continue;
      }
      const having = s.occurrences.filter((o) => o.table?.columns.has(column));
      if (having.length === 1) return keyOf(having[0] as Occurrence, column);
      if (having.length > 1) return undefined;
      // A subquery or function in this scope may be what provides the column.
      if (s.occurrences.some((o) => o.opaque)) return undefined;
    }
    return undefined;
  }

  /** A column, or an expression over exactly one column with constant arguments (`lower(email)`). */
  private resolveKey(expr: unknown, scope: Scope): Resolved | undefined {
    const u = unwrap(expr);
    if (!u) return undefined;
    const [type, body] = u;
    if (type === 'ColumnRef') return this.resolveColumn(list(body.fields), scope);
    if (type === 'FuncCall') {
      if (body.agg_star === true || body.over !== undefined || body.agg_distinct === true) return undefined;
      const fname = list(body.funcname).map(sval);
      if (fname.some((p) => p === undefined) || fname.length === 0) return undefined;
      let col: Resolved | undefined;
      const args: string[] = [];
      for (const a of list(body.args)) {
        const au = unwrap(a);
        if (!au) return undefined;
        if (au[0] === 'ColumnRef') {
          if (col) return undefined;
          col = this.resolveColumn(list(au[1].fields), scope);
          if (!col || col.key.id.startsWith('expr:')) return undefined;
          args.push(col.key.sql);
          continue;
        }
        const c = constantSql(a);
        if (c === undefined) return undefined;
        args.push(c);
      }
      if (!col) return undefined;
      const sql = `${(fname as string[]).map(identSql).join('.')}(${args.join(', ')})`;
      return {
        occ: col.occ,
        key: { id: `expr:${normaliseExpression(sql)}`, sql, column: col.key.column },
      };
    }
    return undefined;
  }

  /** Marks the columns an expression needs; `*` means all. */
  private need(expr: unknown, scope: Scope): void {
    for (const ref of nodesOfType(expr, 'ColumnRef')) {
      const fields = list(ref.fields);
      const last = fields[fields.length - 1];
      if (unwrap(last)?.[0] === 'A_Star') {
        const qualifier = fields.length >= 2 ? sval(fields[fields.length - 2]) : undefined;
        for (const o of scope.occurrences) {
          if (o.use && (qualifier === undefined || o.ref === qualifier)) o.use.needed = null;
        }
        continue;
      }
      const r = this.resolveColumn(fields, scope);
      if (r?.occ.use?.needed) r.occ.use.needed.add(r.key.column);
    }
    // A bare table reference used as a whole row (`select t from t`) needs every column.
    const u = unwrap(expr);
    if (u?.[0] === 'ColumnRef' && list(u[1].fields).length === 1) {
      const only = sval(list(u[1].fields)[0]);
      const occ = scope.occurrences.find((o) => o.ref === only && !o.table?.columns.has(only ?? ''));
      if (occ?.use) occ.use.needed = null;
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Statements

  statement(stmt: ParsedStatement): void {
    const n = stmt.node;
    switch (stmt.type) {
      case 'SelectStmt':
        this.select(n, undefined);
        break;
      case 'InsertStmt': {
        const target = this.tableFor(obj(n.relation) ?? {});
        if (target) this.shape.writes.add(target.oid);
        this.withCtes(n, undefined, (scope) => {
          const sel = obj(n.selectStmt);
          const su = unwrap(n.selectStmt);
          if (su?.[0] === 'SelectStmt') this.select(su[1], scope);
          else if (sel) this.select(sel, scope);
        });
        break;
      }
      case 'UpdateStmt':
      case 'DeleteStmt':
        this.modify(stmt.type, n);
        break;
      default:
        break;
    }
  }

  private withCtes(n: Node, parent: Scope | undefined, fn: (scope: Scope | undefined) => void): void {
    const w = unwrap(n.withClause)?.[1] ?? obj(n.withClause);
    const ctes = list(w?.ctes);
    if (ctes.length === 0) {
      fn(parent);
      return;
    }
    const scope: Scope = { occurrences: [], ctes: new Set() };
    if (parent) scope.parent = parent;
    for (const c of ctes) {
      const cte = unwrap(c)?.[1];
      if (!cte) continue;
      if (typeof cte.ctename === 'string') scope.ctes.add(cte.ctename);
      const q = unwrap(cte.ctequery);
      if (!q) continue;
      if (q[0] === 'SelectStmt') this.select(q[1], scope);
      else if (q[0] === 'UpdateStmt' || q[0] === 'DeleteStmt') this.modify(q[0], q[1], scope);
    }
    fn(scope);
  }

  private modify(type: string, n: Node, parent?: Scope): void {
    this.withCtes(n, parent, (outer) => {
      const scope: Scope = { occurrences: [], ctes: new Set() };
      if (outer) scope.parent = outer;
      const rv = obj(n.relation);
      if (rv) {
        const occ = this.occurrenceFor(rv, scope);
        scope.occurrences.push(occ);
        if (occ.table) this.shape.writes.add(occ.table.oid);
        if (type === 'UpdateStmt' && occ.table) {
          const set = this.shape.updated.get(occ.table.oid) ?? new Set<string>();
          for (const t of list(n.targetList)) {
            const name = unwrap(t)?.[1]?.name;
            if (typeof name === 'string') set.add(name);
          }
          this.shape.updated.set(occ.table.oid, set);
        }
      }
      const quals: { expr: unknown; scope: Scope }[] = [];
      for (const item of list(type === 'UpdateStmt' ? n.fromClause : n.usingClause)) this.fromItem(item, scope, quals);
      for (const q of quals) this.predicate(q.expr, q.scope);
      if (n.whereClause) this.predicate(n.whereClause, scope);
      for (const t of list(n.targetList)) this.need(unwrap(t)?.[1]?.val, scope);
      for (const t of list(n.returningList)) this.need(unwrap(t)?.[1]?.val, scope);
    });
  }

  private select(n: Node, parent: Scope | undefined): void {
    this.withCtes(n, parent, (outer) => {
      if (n.op !== undefined && n.op !== 'SETOP_NONE') {
        const l = obj(n.larg);
        const r = obj(n.rarg);
        if (l) this.select(l, outer);
        if (r) this.select(r, outer);
        return;
      }
      const scope: Scope = { occurrences: [], ctes: new Set() };
      if (outer) scope.parent = outer;
      const quals: { expr: unknown; scope: Scope }[] = [];
      for (const item of list(n.fromClause)) this.fromItem(item, scope, quals);
      for (const q of quals) this.predicate(q.expr, q.scope);
      if (n.whereClause) this.predicate(n.whereClause, scope);
      if (n.havingClause) this.subqueries(n.havingClause, scope);
      for (const t of list(n.targetList)) {
        const val = unwrap(t)?.[1]?.val;
        this.need(val, scope);
        this.subqueries(val, scope);
      }
      // GROUP BY: plain columns of one table.
      const groups: Resolved[] = [];
      for (const g of list(n.groupClause)) {
        const r = this.resolveKey(g, scope);
        if (r) groups.push(r);
        this.need(g, scope);
      }
      const gocc = groups[0]?.occ;
      if (gocc?.use && groups.every((g) => g.occ === gocc)) gocc.use.group = groups.map((g) => g.key);
      // ORDER BY: keys of one table, in order.
      const sorts: Resolved[] = [];
      let sortable = true;
      for (const s of list(n.sortClause)) {
        const sb = unwrap(s)?.[1];
        if (!sb) continue;
        this.need(sb.node, scope);
        const r = this.resolveKey(sb.node, scope);
        if (!r) {
          sortable = false;
          continue;
        }
        sorts.push({ occ: r.occ, key: { ...r.key, desc: sb.sortby_dir === 'SORTBY_DESC' } });
      }
      const socc = sorts[0]?.occ;
      if (sortable && socc?.use && sorts.every((s) => s.occ === socc)) {
        // One direction throughout needs no DESC (a backward scan serves it); mixed directions keep theirs.
        const mixed = new Set(sorts.map((s) => s.key.desc === true)).size > 1;
        socc.use.order = sorts.map((s) => (mixed ? s.key : { ...s.key, desc: false }));
      }
    });
  }

  private fromItem(item: unknown, scope: Scope, quals: { expr: unknown; scope: Scope }[]): Occurrence[] {
    const u = unwrap(item);
    if (!u) return [];
    const [type, body] = u;
    switch (type) {
      case 'RangeVar': {
        const occ = this.occurrenceFor(body, scope);
        scope.occurrences.push(occ);
        return [occ];
      }
      case 'JoinExpr': {
        const left = this.fromItem(body.larg, scope, quals);
        const right = this.fromItem(body.rarg, scope, quals);
        if (body.quals) quals.push({ expr: body.quals, scope });
        for (const u2 of list(body.usingClause)) {
          const col = sval(u2);
          if (!col) continue;
          for (const side of [left, right]) {
            const occ = side.find((o) => o.table?.columns.has(col));
            if (occ?.use) {
              const k = keyOf(occ, col).key;
              occ.use.join.set(k.id, k);
              occ.use.needed?.add(col);
            }
          }
        }
        return [...left, ...right];
      }
      case 'RangeSubselect': {
        const sub = unwrap(body.subquery);
        if (sub?.[0] === 'SelectStmt') {
          // A LATERAL subquery sees the items before it; others see only the outer query.
          const lateral: Scope = { occurrences: [...scope.occurrences], ctes: new Set() };
          if (scope.parent) lateral.parent = scope.parent;
          this.select(sub[1], body.lateral === true ? lateral : scope.parent);
        }
        const alias = obj(body.alias)?.aliasname;
        const occ: Occurrence = { ref: typeof alias === 'string' ? alias : '', table: null, opaque: true };
        scope.occurrences.push(occ);
        return [occ];
      }
      default: {
        const alias = obj(body.alias)?.aliasname;
        const occ: Occurrence = { ref: typeof alias === 'string' ? alias : '', table: null, opaque: true };
        scope.occurrences.push(occ);
        return [occ];
      }
    }
  }

  /** Subqueries anywhere in an expression, analysed with `scope` as their outer scope. */
  private subqueries(expr: unknown, scope: Scope): void {
    const stack: unknown[] = [expr];
    while (stack.length) {
      const v = stack.pop();
      if (Array.isArray(v)) {
        stack.push(...v);
        continue;
      }
      const o = obj(v);
      if (!o) continue;
      for (const [k, child] of Object.entries(o)) {
        if (k === 'SubLink') {
          const sl = obj(child);
          const sub = unwrap(sl?.subselect);
          if (sub?.[0] === 'SelectStmt') this.select(sub[1], scope);
          if (sl?.testexpr) stack.push(sl.testexpr);
          continue;
        }
        if (typeof child === 'object' && child !== null) stack.push(child);
      }
    }
  }

  /** One WHERE/ON condition: conjuncts analysed one by one. */
  private predicate(expr: unknown, scope: Scope): void {
    for (const c of conjuncts(expr)) this.conjunct(c, scope, false);
  }

  private conjunct(expr: unknown, scope: Scope, inOr: boolean): void {
    const u = unwrap(expr);
    if (!u) return;
    const [type, e] = u;
    const put = (r: Resolved | undefined, kind: 'eq' | 'list' | 'range' | 'join') => {
      if (!r?.occ.use) return;
      const use = r.occ.use;
      use.needed?.add(r.key.column);
      (inOr && kind !== 'join' ? use.either : use[kind]).set(r.key.id, r.key);
    };
    switch (type) {
      case 'BoolExpr': {
        if (e.boolop === 'OR_EXPR') {
          for (const a of list(e.args)) for (const c of conjuncts(a)) this.conjunct(c, scope, true);
        } else if (e.boolop === 'AND_EXPR') {
          for (const a of list(e.args)) this.conjunct(a, scope, inOr);
        } else {
          this.need(expr, scope);
          this.subqueries(expr, scope);
        }
        return;
      }
      case 'A_Expr': {
        const op = opName(e);
        this.need(e.lexpr, scope);
        this.need(e.rexpr, scope);
        this.subqueries(e.lexpr, scope);
        this.subqueries(e.rexpr, scope);
        if (e.kind === 'AEXPR_OP' && (op === '=' || (op !== undefined && RANGE_OPS.has(op)))) {
          const l = this.side(e.lexpr, scope);
          const r = this.side(e.rexpr, scope);
          if (l.key && r.constant) put(l.key, op === '=' ? 'eq' : 'range');
          else if (r.key && l.constant) put(r.key, op === '=' ? 'eq' : 'range');
          else if (op === '=' && l.key && r.key) {
            if (l.key.occ !== r.key.occ) {
              put(l.key, 'join');
              put(r.key, 'join');
            }
          } else if (op === '=') {
            // Join: a column equal to something that depends on another table.
            if (l.key && r.others.size > 0 && !r.others.has(l.key.occ)) put(l.key, 'join');
            if (r.key && l.others.size > 0 && !l.others.has(r.key.occ)) put(r.key, 'join');
          }
          return;
        }
        if (e.kind === 'AEXPR_IN' && op === '=') {
          const l = this.side(e.lexpr, scope);
          if (l.key && list(unwrap(e.rexpr)?.[1]?.items ?? e.rexpr).every((i) => this.side(i, scope).constant))
            put(l.key, 'list');
          return;
        }
        if (e.kind === 'AEXPR_OP_ANY' && op === '=') {
          const l = this.side(e.lexpr, scope);
          if (l.key && this.side(e.rexpr, scope).constant) put(l.key, 'list');
          return;
        }
        if (e.kind === 'AEXPR_BETWEEN' || e.kind === 'AEXPR_BETWEEN_SYM') {
          const l = this.side(e.lexpr, scope);
          if (l.key && list(unwrap(e.rexpr)?.[1]?.items ?? e.rexpr).every((i) => this.side(i, scope).constant))
            put(l.key, 'range');
        }
        return;
      }
      case 'NullTest': {
        this.need(e.arg, scope);
        if (e.nulltesttype === 'IS_NULL') put(this.resolveKey(e.arg, scope), 'eq');
        return;
      }
      case 'ColumnRef': {
        // A boolean column as the condition (`where active`).
        const r = this.resolveKey(expr, scope);
        if (r) {
          const col = r.occ.table?.columns.get(r.key.column);
          if (col?.type === 'boolean') put(r, 'eq');
        }
        return;
      }
      case 'SubLink': {
        const sub = unwrap(e.subselect);
        if (sub?.[0] === 'SelectStmt') this.select(sub[1], scope);
        // `col IN (SELECT …)`: a semi-join on col.
        if (e.subLinkType === 'ANY_SUBLINK' && e.testexpr) {
          this.need(e.testexpr, scope);
          put(this.resolveKey(e.testexpr, scope), 'join');
        }
        return;
      }
      default:
        this.need(expr, scope);
        this.subqueries(expr, scope);
    }
  }

  /** One side of a comparison: an indexable key, a constant, or an expression of other tables' columns. */
  private side(expr: unknown, scope: Scope): { key?: Resolved; constant: boolean; others: Set<Occurrence> } {
    const key = this.resolveKey(expr, scope);
    if (key) return { key, constant: false, others: new Set() };
    const others = new Set<Occurrence>();
    let unresolved = false;
    // Column references outside subqueries decide; a subquery's own columns do not make it non-constant.
    for (const ref of columnRefsOutsideSubqueries(expr)) {
      const r = this.resolveColumn(list(ref.fields), scope);
      if (r) others.add(r.occ);
      else unresolved = true;
    }
    return { constant: others.size === 0 && !unresolved && !hasVolatileLookingCall(expr), others };
  }
}

function inCtes(scope: Scope | undefined, name: string): boolean {
  for (let s = scope; s; s = s.parent) if (s.ctes.has(name)) return true;
  return false;
}

function keyOf(occ: Occurrence, column: string): Resolved {
  const col = occ.table?.columns.get(column);
  return { occ, key: { id: column, sql: col?.quoted ?? identSql(column), column } };
}

function conjuncts(expr: unknown): unknown[] {
  const u = unwrap(expr);
  if (u?.[0] === 'BoolExpr' && u[1].boolop === 'AND_EXPR') return list(u[1].args).flatMap(conjuncts);
  return expr === undefined ? [] : [expr];
}

function columnRefsOutsideSubqueries(expr: unknown): Node[] {
  const out: Node[] = [];
  const stack: unknown[] = [expr];
  while (stack.length) {
    const v = stack.pop();
    if (Array.isArray(v)) {
      stack.push(...v);
      continue;
    }
    const o = obj(v);
    if (!o) continue;
    for (const [k, child] of Object.entries(o)) {
      if (k === 'SubLink') continue;
      if (k === 'ColumnRef' && obj(child)) out.push(child as Node);
      else if (typeof child === 'object' && child !== null) stack.push(child);
    }
  }
  return out;
}

/** random(), now()-style calls are fine as comparison values; only set-returning or volatile ones would not be. */
function hasVolatileLookingCall(expr: unknown): boolean {
  for (const f of nodesOfType(expr, 'FuncCall')) {
    const name = list(f.funcname).map(sval).join('.');
    if (/(^|\.)(random|nextval|setval|gen_random_uuid|clock_timestamp)$/.test(name)) return true;
  }
  return false;
}

/** A constant argument of an index expression, as SQL; undefined when it is not a plain literal. */
function constantSql(v: unknown): string | undefined {
  const u = unwrap(v);
  if (!u) return undefined;
  const [type, body] = u;
  if (type === 'A_Const') {
    if (body.isnull === true) return 'NULL';
    const i = obj(body.ival);
    if (i) return String(typeof i.ival === 'number' ? i.ival : 0);
    const f = obj(body.fval);
    if (f && typeof f.fval === 'string') return f.fval;
    const s = obj(body.sval);
    if (s) return `'${String(s.sval ?? '').replace(/'/g, "''")}'`;
    const b = obj(body.boolval);
    if (b) return b.boolval === true ? 'true' : 'false';
    return undefined;
  }
  if (type === 'TypeCast') {
    const inner = constantSql(body.arg);
    const names = list(obj(body.typeName)?.names).map(sval);
    const typeName = names[names.length - 1];
    if (inner === undefined || typeName === undefined || list(obj(body.typeName)?.typmods).length > 0) return undefined;
    return `${inner}::${identSql(typeName)}`;
  }
  return undefined;
}

/** An identifier as SQL: bare when it is plain lower case, else double-quoted. */
export function identSql(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

/** How one statement uses its tables. `tables` maps every relation reference (refKey) to what it resolved to. */
export function analyseStatement(stmt: ParsedStatement, tables: ReadonlyMap<string, TableInfo | null>): StatementShape {
  const a = new Analyser(tables);
  a.statement(stmt);
  return a.shape;
}

// ---------------------------------------------------------------------------------------------------------------
// Candidates

function distinctOf(use: TableUse, key: IndexKey): number {
  return use.table.columns.get(key.column)?.distinct ?? 0;
}

function keySql(k: IndexKey): string {
  return k.desc ? `${k.sql} DESC` : k.sql;
}

export function hypoDefinition(table: TableInfo, keys: readonly IndexKey[], include: readonly string[]): string {
  const inc = include.length
    ? ` INCLUDE (${include.map((c) => table.columns.get(c)?.quoted ?? identSql(c)).join(', ')})`
    : '';
  return `CREATE INDEX ON ${table.qualified} USING btree (${keys.map(keySql).join(', ')})${inc}`;
}

/**
 * The CREATE INDEX CONCURRENTLY statement to run for a candidate, with a name that no relation of the schema
 * already has (`taken`: index names of the table; a clash is resolved with a numeric suffix).
 */
export function createStatement(c: Candidate, taken: ReadonlySet<string>): string {
  const base = `${c.table.name}_${c.keys.map((k) => (k.id.startsWith('expr:') ? `${k.column}_expr` : k.column)).join('_')}${c.include.length ? '_incl' : ''}_idx`;
  let name = truncateName(base);
  for (let i = 1; taken.has(name); i++) name = truncateName(`${base.slice(0, 58)}${i}`);
  const inc = c.include.length
    ? ` INCLUDE (${c.include.map((col) => c.table.columns.get(col)?.quoted ?? identSql(col)).join(', ')})`
    : '';
  return `CREATE INDEX CONCURRENTLY ${identSql(name)} ON ${c.table.qualified} (${c.keys.map(keySql).join(', ')})${inc};`;
}

function truncateName(name: string): string {
  let out = name;
  while (Buffer.byteLength(out) > 63) out = out.slice(0, -1);
  return out;
}

/** The existing valid, non-partial index that already serves these keys (they are a prefix of its keys). */
export function servedBy(
  table: TableInfo,
  keys: readonly IndexKey[],
  include: readonly string[],
): ExistingIndex | undefined {
  return table.indexes.find((ix) => {
    if (!ix.valid || ix.partial || ix.method !== 'btree' || ix.keys.length < keys.length) return false;
    if (!keys.every((k, i) => ix.keys[i] === k.id)) return false;
    const has = new Set([...ix.keys, ...ix.include]);
    return include.every((c) => has.has(c));
  });
}

interface Draft {
  keys: IndexKey[];
  include: string[];
  reason: string;
}

/** Candidate key lists for one table use. */
function draftsFor(use: TableUse): Draft[] {
  const out: Draft[] = [];
  const add = (keys: IndexKey[], reason: string, include: string[] = []) => {
    const seen = new Set<string>();
    const unique = keys.filter((k) => !seen.has(k.id) && seen.add(k.id));
    if (unique.length === 0) return;
    out.push({ keys: unique.slice(0, MAX_KEY_COLUMNS), include, reason });
  };
  const eq = [...use.eq.values()].sort((a, b) => distinctOf(use, b) - distinctOf(use, a));
  const lists = [...use.list.values()];
  const ranges = [...use.range.values()];
  const joins = [...use.join.values()].filter((j) => !use.eq.has(j.id));
  const eqText = eq.length ? `= ${eq.map((k) => k.sql).join(', ')}` : '';
  const plus = (a: string, b: string) => [a, b].filter(Boolean).join('; ');

  for (const k of eq) add([k], `= ${k.sql}`);
  for (const k of lists) add([k], `IN ${k.sql}`);
  for (const k of ranges) add([k], `range ${k.sql}`);
  for (const k of joins) add([k], `join ${k.sql}`);
  for (const k of use.either.values()) add([k], `OR branch ${k.sql}`);
  if (eq.length >= 2) add(eq, eqText);
  for (const r of ranges) if (eq.length) add([...eq, r], plus(eqText, `range ${r.sql}`));
  for (const l of lists) if (eq.length) add([...eq, l], plus(eqText, `IN ${l.sql}`));
  if (use.order.length) {
    const orderText = `ORDER BY ${use.order.map(keySql).join(', ')}`;
    add([...eq, ...use.order], plus(eqText, orderText));
    for (const j of joins) add([j, ...use.order], plus(`join ${j.sql}`, orderText));
  }
  for (const j of joins) {
    if (eq.length) {
      add([j, ...eq], plus(`join ${j.sql}`, eqText));
      add([...eq, j], plus(eqText, `join ${j.sql}`));
    }
    for (const r of ranges) add([j, r], plus(`join ${j.sql}`, `range ${r.sql}`));
  }
  if (use.group.length && (eq.length || use.group.length > 1))
    add([...eq, ...use.group], plus(eqText, `GROUP BY ${use.group.map((k) => k.sql).join(', ')}`));

  // Covering: the most specific key list, plus the few other columns the statement needs (index-only scans).
  if (use.needed && (eq.length || ranges.length || lists.length)) {
    // Built on the longest key list led by a filter column (join-led lists serve lookups from the other side).
    const filters = new Set([...eq, ...ranges, ...lists].map((k) => k.id));
    const best = out.reduce<Draft | undefined>(
      (b, d) => (filters.has(d.keys[0]?.id ?? '') && (!b || d.keys.length > b.keys.length) ? d : b),
      undefined,
    );
    if (best) {
      const keyCols = new Set(best.keys.map((k) => k.column));
      const exprKey = best.keys.some((k) => k.id.startsWith('expr:'));
      const rest = [...use.needed].filter((c) => !keyCols.has(c));
      if (!exprKey && rest.length > 0 && rest.length <= MAX_INCLUDE)
        out.push({ keys: best.keys, include: rest.sort(), reason: `${best.reason}; covering ${rest.join(', ')}` });
    }
  }
  return out;
}

/**
 * Candidates of a workload: drafts of every table use, merged across statements (same table, keys and INCLUDE),
 * ordinary tables and materialized views only; those an existing index serves are set aside.
 */
export function generateCandidates(shapes: readonly (StatementShape | undefined)[]): {
  candidates: Candidate[];
  setAside: SetAside[];
} {
  const byId = new Map<string, Candidate>();
  const aside = new Map<string, SetAside>();
  shapes.forEach((shape, index) => {
    if (!shape) return;
    for (const use of shape.uses) {
      if (use.table.kind !== 'r' && use.table.kind !== 'm') continue;
      for (const d of draftsFor(use)) {
        const hypoSql = hypoDefinition(use.table, d.keys, d.include);
        const existing = servedBy(use.table, d.keys, d.include);
        if (existing) {
          aside.set(hypoSql, {
            definition: hypoSql,
            table: use.table.qualified,
            reason: `already served by index ${existing.name}${existing.valid ? '' : ' (invalid)'}: ${existing.definition}`,
          });
          continue;
        }
        const found = byId.get(hypoSql);
        if (found) {
          found.from.add(index);
          continue;
        }
        byId.set(hypoSql, {
          id: byId.size + 1,
          table: use.table,
          keys: d.keys,
          include: d.include,
          hypoSql,
          from: new Set([index]),
          reason: d.reason,
        });
      }
    }
  });
  return { candidates: [...byId.values()], setAside: [...aside.values()] };
}

/**
 * The write path's gate (pg_execute): every statement is parsed by PostgreSQL's grammar, must be exactly one
 * statement, and is classified. Reads go to pg_query; transaction control and session statements go to pg_tx
 * (connections are pooled: nothing may outlive the call on them); admin statements need the admin access level;
 * calls to denied functions are refused anywhere in the tree. What is left is described for the runner: which login
 * it needs, whether it can run inside a transaction block, whether it runs code the checks cannot see, whether it
 * leaves objects in the session, and which objects it names.
 */
import type { AccessLevel } from '../tools/define.js';
import { ToolError } from '../tools/errors.js';
import { type Classification, classifyStatement } from './classify.js';
import {
  ADVISORY_LOCK,
  CLUSTER_CHANGE,
  CONFIGURATION,
  type DeniedCall,
  EXECUTES_SQL,
  findDeniedCalls,
  NOTIFICATION,
  SEQUENCE_CHANGE,
  SESSION_STATE,
  SIGNALLING,
  STATISTICS_CHANGE,
  STATISTICS_RESET,
} from './denylist.js';
import { nodesOfType, type ParsedStatement, parseSql, SqlSyntaxError } from './parser.js';

/** One statement pg_execute may run, with what the runner needs to know about it. */
export interface WriteStatement {
  /** 1-based position in the call (always 1 for `sql`). */
  index: number;
  /** Where it came from, for messages: `sql` or `statements[2]` (0-based, as the caller wrote the array). */
  source: string;
  stmt: ParsedStatement;
  /** The text sent to the server (the statement's own text, without a trailing `;`). */
  text: string;
  classification: Classification;
  /** The access level the statement needs; `admin` ones run on the admin login. */
  access: Extract<AccessLevel, 'write' | 'admin'>;
  /** Why the statement cannot run inside a transaction block (PostgreSQL refuses it there), if so. */
  nonTransactional?: string;
  /** Runs code whose effects the checks cannot see (DO, CALL). */
  opaque: boolean;
  /** Creates a temporary object, which lives as long as the connection. */
  temporary: boolean;
  /** Objects the statement names as its targets, e.g. `TABLE public.orders`; empty when it names none. */
  targets: string[];
}

/** Statement kinds that are destructive counterparts of admin statements: they need the admin level as well. */
const ADMIN_DESTRUCTIVE = new Set([
  'DropdbStmt',
  'DropRoleStmt',
  'DropTableSpaceStmt',
  'DropSubscriptionStmt',
  'DropOwnedStmt',
  'ReassignOwnedStmt',
  'AlterPublicationStmt',
  'AlterSubscriptionStmt',
]);

/** Session statements that change nothing on the connection and take effect at commit: allowed. */
const TRANSACTIONAL_SESSION_KINDS = new Set(['NotifyStmt']);

/** Checks one statement given as `sql` (exactly one statement). */
export function checkWriteSql(sql: string, access: AccessLevel): WriteStatement {
  return checkOne(sql, 1, 'sql', access);
}

/** Checks every statement of `statements` (each element exactly one statement). */
export function checkWriteBatch(statements: readonly string[], access: AccessLevel): WriteStatement[] {
  return statements.map((text, i) => checkOne(text, i + 1, `statements[${i}]`, access));
}

function checkOne(sql: string, index: number, source: string, access: AccessLevel): WriteStatement {
  const stmt = onlyStatement(sql, source);
  const c = classifyStatement(stmt);
  const at = (message: string) => `${source}: ${message}`;
  const refuse = (code: string, message: string, hint: string) =>
    new ToolError(at(message), { code, statement: stmt.text, hint });

  if (c.class === 'read') {
    const copy = stmt.type === 'CopyStmt';
    throw refuse(
      'read_statement',
      `pg_execute runs writes and schema changes; this ${c.command} only reads.`,
      copy
        ? 'run the query inside the COPY with pg_query (it returns rows as JSON, paged)'
        : 'run it with pg_query (read-only, paged); pg_execute returns rows only from RETURNING',
    );
  }
  if (c.class === 'transaction') {
    throw refuse(
      'transaction_statement',
      `pg_execute does not run ${c.command}: each call runs on a pooled connection in a transaction of its own (committed at the end, or rolled back on any error), so a transaction opened or closed here would not be yours.`,
      'use pg_tx (begin/commit/rollback/savepoint) and pass its handle as tx to pg_execute and pg_query; a statements list already runs atomically',
    );
  }
  if (c.class === 'session' && !TRANSACTIONAL_SESSION_KINDS.has(stmt.type)) {
    throw refuse(
      'session_statement',
      `pg_execute does not run ${c.command}: connections are pooled, so session state (settings, prepared statements, cursors, LISTEN) would leak to later calls of anyone, or be lost.`,
      'pass values with params; for settings that last, ALTER ROLE/DATABASE … SET (admin); for work that spans several calls, use a pg_tx transaction (tx)',
    );
  }
  if (stmt.type === 'CopyStmt' && !isServerSideCopy(stmt.node)) {
    throw refuse(
      'copy_stream',
      `pg_execute cannot run ${c.command}: it needs a data stream that a tool call does not have.`,
      'insert rows with INSERT … VALUES ($1, $2, …) and params, or INSERT … SELECT; read with pg_query',
    );
  }

  const denied = findDeniedCalls(stmt.node).filter((d) => !allowedInWrites(d));
  if (denied.length > 0) throw deniedFunction(stmt, source, denied);

  const needsAdmin = c.class === 'admin' || ADMIN_DESTRUCTIVE.has(stmt.type);
  if (needsAdmin && access !== 'admin') {
    const why = c.reason === undefined ? '' : ` (it ${c.reason})`;
    throw new ToolError(
      at(
        `${c.command} is an administrator's statement${why}; it needs access level admin, and this server runs at access level ${access}.`,
      ),
      {
        code: 'access_denied',
        statement: stmt.text,
        hint: 'ask the operator to run pgmcp with PGMCP_ACCESS=admin (PGMCP_ADMIN_URL sets a separate, privileged login for such statements)',
      },
    );
  }

  const out: WriteStatement = {
    index,
    source,
    stmt,
    text: stmt.text,
    classification: c,
    access: needsAdmin ? 'admin' : 'write',
    opaque: stmt.type === 'DoStmt' || stmt.type === 'CallStmt',
    temporary: createsTemporaryObject(stmt),
    targets: targetsOf(stmt),
  };
  const nonTx = nonTransactionalReason(stmt);
  if (nonTx !== undefined) out.nonTransactional = nonTx;
  return out;
}

function onlyStatement(sql: string, source: string): ParsedStatement {
  let stmts: ParsedStatement[];
  try {
    stmts = parseSql(sql);
  } catch (err) {
    if (!(err instanceof SqlSyntaxError)) throw err;
    throw new ToolError(`${source}: ${err.message}`, {
      code: 'syntax_error',
      statement: sql,
      pg: {
        severity: 'ERROR',
        code: '42601',
        message: `${source}: ${err.message}`,
        ...(err.position !== undefined ? { position: err.position } : {}),
      },
      hint: 'fix the SQL; nothing was sent to the server',
    });
  }
  const [first, second] = stmts;
  if (first === undefined) {
    throw new ToolError(`${source}: the SQL text is empty (or only comments): there is no statement to run.`, {
      code: 'empty_statement',
      statement: sql,
      hint: 'pass one SQL statement',
    });
  }
  if (second !== undefined) {
    const message =
      source === 'sql'
        ? `sql holds ${stmts.length} statements; sql takes exactly one.`
        : `${source} holds ${stmts.length} statements; each element of statements is exactly one statement.`;
    throw new ToolError(message, {
      code: 'multiple_statements',
      statement: sql,
      pg: { message, position: second.location + 1 },
      hint:
        source === 'sql'
          ? 'pass them as statements: ["…", "…"] (run in order, atomically: all or nothing)'
          : 'split them into separate elements of statements',
    });
  }
  return first;
}

/** COPY to or from a server file or program (admin); COPY with STDIN/STDOUT needs a data stream. */
function isServerSideCopy(node: Record<string, unknown>): boolean {
  return node.is_program === true || typeof node.filename === 'string';
}

// ---------------------------------------------------------------------------------------------------------------
// Denied functions

/** Transaction-scoped advisory locks end with the call's transaction: allowed. Session-level ones are not. */
const TRANSACTIONAL_ADVISORY = /^pg_(try_)?advisory_xact_lock(_shared)?$/;

/**
 * Which denied calls a write may make: sequences (nextval/setval are normal in writes), notifications (pg_notify is
 * delivered at commit, like NOTIFY) and transaction-scoped advisory locks. Everything else on the deny-list acts
 * outside the transaction, on the server, or leaves state on the pooled connection.
 */
function allowedInWrites(call: DeniedCall): boolean {
  if (call.category === SEQUENCE_CHANGE || call.category === NOTIFICATION) return true;
  if (call.category === ADVISORY_LOCK) return TRANSACTIONAL_ADVISORY.test(call.name.split('.').at(-1) ?? '');
  return false;
}

const WRITE_CATEGORY_HINTS: ReadonlyMap<string, string> = new Map([
  [
    SIGNALLING,
    'cancelling or terminating a backend and reloading the configuration are pg_admin actions (admin access level)',
  ],
  [STATISTICS_RESET, 'resetting statistics is a pg_admin action (admin access level)'],
  [STATISTICS_CHANGE, 'changing planner statistics is an administrator action'],
  [
    CONFIGURATION,
    'settings are not changed through pg_execute (connections are pooled); lasting defaults are ALTER ROLE/DATABASE … SET (admin)',
  ],
  [
    ADVISORY_LOCK,
    'a session-level advisory lock would outlive the call on a pooled connection: use pg_advisory_xact_lock(…), released when the transaction ends',
  ],
  [SESSION_STATE, 'hypothetical indexes live in one connection: use pg_perf to try them'],
  [CLUSTER_CHANGE, 'Citus cluster changes are pg_cluster_admin actions'],
  [EXECUTES_SQL, 'run the SQL text itself as a statement, so that it is checked'],
]);

function deniedFunction(stmt: ParsedStatement, source: string, calls: readonly DeniedCall[]): ToolError {
  const distinct = [...new Map(calls.map((c) => [c.name, c])).values()];
  const listed = distinct.map((c) => `${c.name}() (${c.category})`).join(', ');
  const these = distinct.length === 1 ? 'this function acts' : 'these functions act';
  const message = `${source}: pg_execute will not call ${listed}: ${these} outside the transaction, on the server itself, or on the pooled connection.`;
  const first = calls[0];
  return new ToolError(message, {
    code: 'denied_function',
    statement: stmt.text,
    ...(first?.location !== undefined ? { pg: { message, position: first.location - stmt.location + 1 } } : {}),
    hint: WRITE_CATEGORY_HINTS.get(first?.category ?? '') ?? 'remove the call',
  });
}

// ---------------------------------------------------------------------------------------------------------------
// What the runner needs to know

type Node = Record<string, unknown>;

function obj(value: unknown): Node | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Node) : undefined;
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function str(node: Node | undefined, key: string): string | undefined {
  const v = node?.[key];
  return typeof v === 'string' ? v : undefined;
}

/** `{Type: body}` → body when the type is `type`. */
function bodyOf(wrapped: unknown, type: string): Node | undefined {
  return obj(obj(wrapped)?.[type]);
}

function hasOption(node: Node, name: string): boolean {
  return list(node.params).some((p) => {
    const def = bodyOf(p, 'DefElem');
    if (str(def, 'defname')?.toLowerCase() !== name) return false;
    // `(concurrently false)`: an explicit false or 0 turns the option off.
    const arg = obj(def?.arg);
    const text = str(bodyOf(arg, 'String'), 'sval')?.toLowerCase();
    const int = obj(bodyOf(arg, 'Integer'));
    const bool = obj(bodyOf(arg, 'Boolean'));
    if (text === 'false' || text === 'off') return false;
    if (int && (int.ival ?? 0) === 0) return false;
    if (bool && bool.boolval !== true) return false;
    return true;
  });
}

/** Why PostgreSQL refuses this statement inside a transaction block, or undefined when it does not. */
export function nonTransactionalReason(stmt: ParsedStatement): string | undefined {
  const n = stmt.node;
  switch (stmt.type) {
    case 'IndexStmt':
      return n.concurrent === true ? 'CREATE INDEX CONCURRENTLY' : undefined;
    case 'DropStmt':
      return n.concurrent === true ? 'DROP INDEX CONCURRENTLY' : undefined;
    case 'ReindexStmt': {
      if (hasOption(n, 'concurrently')) return 'REINDEX CONCURRENTLY';
      const kind = str(n, 'kind');
      if (kind === 'REINDEX_OBJECT_SCHEMA' || kind === 'REINDEX_OBJECT_SYSTEM' || kind === 'REINDEX_OBJECT_DATABASE')
        return `REINDEX ${kind.replace('REINDEX_OBJECT_', '')}`;
      return undefined;
    }
    case 'VacuumStmt':
      return n.is_vacuumcmd === true ? 'VACUUM' : undefined;
    case 'ClusterStmt':
      return obj(n.relation) === undefined ? 'CLUSTER without a table' : undefined;
    case 'CreatedbStmt':
      return 'CREATE DATABASE';
    case 'DropdbStmt':
      return 'DROP DATABASE';
    case 'CreateTableSpaceStmt':
      return 'CREATE TABLESPACE';
    case 'DropTableSpaceStmt':
      return 'DROP TABLESPACE';
    case 'AlterSystemStmt':
      return 'ALTER SYSTEM';
    case 'CreateSubscriptionStmt':
    case 'DropSubscriptionStmt':
    case 'AlterSubscriptionStmt':
      return 'a subscription change that may create, drop or use a replication slot';
    case 'AlterDatabaseStmt':
      return list(n.options).some((o) => str(bodyOf(o, 'DefElem'), 'defname') === 'tablespace')
        ? 'ALTER DATABASE … SET TABLESPACE'
        : undefined;
    case 'AlterTableStmt':
      return list(n.cmds).some((c) => {
        const cmd = bodyOf(c, 'AlterTableCmd');
        return str(cmd, 'subtype') === 'AT_DetachPartition' && bodyOf(cmd?.def, 'PartitionCmd')?.concurrent === true;
      })
        ? 'DETACH PARTITION CONCURRENTLY'
        : undefined;
    default:
      return undefined;
  }
}

/** A relation that becomes temporary: `TEMP`/`TEMPORARY`, or created in `pg_temp` by name. */
function isTemporaryRelation(rangeVar: Node | undefined): boolean {
  return rangeVar !== undefined && (rangeVar.relpersistence === 't' || rangeVar.schemaname === 'pg_temp');
}

/**
 * True when the statement creates an object in the session's temporary schema (temporary tables, views, sequences,
 * functions and types in pg_temp). Such an object outlives the transaction on the connection, unless it is a table
 * created ON COMMIT DROP.
 */
function createsTemporaryObject(stmt: ParsedStatement): boolean {
  const n = stmt.node;
  const dropsAtCommit = (into: Node | undefined) =>
    str(into, 'oncommit') === 'ONCOMMIT_DROP' || str(into, 'onCommit') === 'ONCOMMIT_DROP';
  switch (stmt.type) {
    case 'CreateStmt':
      return isTemporaryRelation(obj(n.relation)) && !dropsAtCommit(n);
    case 'ViewStmt':
      return isTemporaryRelation(obj(n.view));
    case 'CreateSeqStmt':
      return isTemporaryRelation(obj(n.sequence));
    case 'CreateTableAsStmt':
      return isTemporaryRelation(obj(obj(n.into)?.rel)) && !dropsAtCommit(obj(n.into));
    case 'SelectStmt': {
      const into = nodesOfType(n, 'IntoClause')[0];
      return into !== undefined && isTemporaryRelation(obj(into.rel)) && !dropsAtCommit(into);
    }
    case 'CreateFunctionStmt':
      return qualifiedName(n.funcname).startsWith('pg_temp.');
    case 'CompositeTypeStmt':
      return str(obj(n.typevar), 'schemaname') === 'pg_temp';
    case 'CreateEnumStmt':
    case 'CreateRangeStmt':
    case 'CreateDomainStmt':
      return qualifiedName(n.typeName ?? n.domainname).startsWith('pg_temp.');
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Target objects, named from the parse tree

/** `["s", "t"]` String nodes (or a `{List: {items}}`) → `s.t`. */
function qualifiedName(value: unknown): string {
  const items = Array.isArray(value) ? value : list(bodyOf(value, 'List')?.items);
  const parts = items.map((i) => str(bodyOf(i, 'String'), 'sval')).filter((p): p is string => p !== undefined);
  return parts.join('.');
}

function relation(rangeVar: unknown): string | undefined {
  const rv = obj(rangeVar);
  const name = str(rv, 'relname');
  if (name === undefined) return undefined;
  const schema = str(rv, 'schemaname');
  return schema === undefined ? name : `${schema}.${name}`;
}

function typeName(value: unknown): string {
  const names = list(obj(value)?.names)
    .map((i) => str(bodyOf(i, 'String'), 'sval'))
    .filter((p): p is string => p !== undefined);
  if (names[0] === 'pg_catalog' && names.length > 1) names.shift();
  return names.join('.');
}

/** One object of a DROP's `objects` list, whatever its form. */
function droppedObject(item: unknown): string {
  const o = obj(item);
  if (!o) return '?';
  if (o.List !== undefined) return qualifiedName(o);
  if (o.String !== undefined) return str(bodyOf(o, 'String'), 'sval') ?? '?';
  if (o.TypeName !== undefined) return typeName(o.TypeName);
  if (o.ObjectWithArgs !== undefined) {
    const owa = obj(o.ObjectWithArgs);
    const args = list(owa?.objargs).map((a) => typeName(bodyOf(a, 'TypeName')));
    return `${qualifiedName(owa?.objname)}${owa?.args_unspecified === true ? '' : `(${args.join(', ')})`}`;
  }
  return '?';
}

function objectKind(objectType: string | undefined): string {
  if (objectType === undefined) return '';
  return objectType
    .replace(/^OBJECT_/, '')
    .replace(/_/g, ' ')
    .replace('MATVIEW', 'MATERIALIZED VIEW')
    .replace('FOREIGN SERVER', 'SERVER');
}

const named = (kind: string, names: (string | undefined)[]) =>
  names.filter((n): n is string => n !== undefined && n !== '').map((n) => (kind ? `${kind} ${n}` : n));

/** The objects a statement names as what it acts on; empty when the tree names none this knows how to read. */
export function targetsOf(stmt: ParsedStatement): string[] {
  const n = stmt.node;
  switch (stmt.type) {
    case 'DropStmt':
      return named(objectKind(str(n, 'removeType')), list(n.objects).map(droppedObject));
    case 'TruncateStmt':
      return named(
        'TABLE',
        list(n.relations).map((r) => relation(bodyOf(r, 'RangeVar'))),
      );
    case 'InsertStmt':
    case 'UpdateStmt':
    case 'DeleteStmt':
    case 'MergeStmt':
    case 'CreateStmt':
    case 'CreateForeignTableStmt':
    case 'CopyStmt':
    case 'LockStmt':
      return named('TABLE', [relation(n.relation)]);
    case 'AlterTableStmt':
      return named(objectKind(str(n, 'objtype')), [relation(n.relation)]);
    case 'IndexStmt': {
      const on = relation(n.relation);
      const idx = str(n, 'idxname');
      return [`INDEX ${idx ?? '(unnamed)'}${on ? ` ON ${on}` : ''}`];
    }
    case 'ViewStmt':
      return named('VIEW', [relation(n.view)]);
    case 'CreateTableAsStmt':
      return named(objectKind(str(n, 'objtype')), [relation(obj(n.into)?.rel)]);
    case 'SelectStmt': {
      const into = nodesOfType(n, 'IntoClause')[0];
      return into ? named('TABLE', [relation(into.rel)]) : [];
    }
    case 'RefreshMatViewStmt':
      return named('MATERIALIZED VIEW', [relation(n.relation)]);
    case 'CreateSeqStmt':
    case 'AlterSeqStmt':
      return named('SEQUENCE', [relation(n.sequence)]);
    case 'CreateSchemaStmt':
      return named('SCHEMA', [str(n, 'schemaname')]);
    case 'CreateFunctionStmt':
      return named(n.is_procedure === true ? 'PROCEDURE' : 'FUNCTION', [qualifiedName(n.funcname)]);
    case 'CallStmt':
      return named('PROCEDURE', [qualifiedName(obj(n.funccall)?.funcname)]);
    case 'DoStmt':
      return ['anonymous code block'];
    case 'CreateTrigStmt':
      return [`TRIGGER ${str(n, 'trigname') ?? '?'} ON ${relation(n.relation) ?? '?'}`];
    case 'CreateExtensionStmt':
    case 'AlterExtensionStmt':
      return named('EXTENSION', [str(n, 'extname')]);
    case 'CreateEnumStmt':
    case 'CreateRangeStmt':
      return named('TYPE', [qualifiedName(n.typeName)]);
    case 'CompositeTypeStmt':
      return named('TYPE', [relation(n.typevar)]);
    case 'CreateDomainStmt':
      return named('DOMAIN', [qualifiedName(n.domainname)]);
    case 'RenameStmt': {
      const rel = relation(n.relation);
      const what = objectKind(str(n, rel ? 'relationType' : 'renameType'));
      return named(what, [rel ?? droppedObject(n.object)]);
    }
    case 'CommentStmt':
      return named(objectKind(str(n, 'objtype')), [droppedObject(n.object)]);
    case 'CreatedbStmt':
    case 'DropdbStmt':
    case 'AlterDatabaseStmt':
      return named('DATABASE', [str(n, 'dbname')]);
    case 'VacuumStmt':
      return named(
        'TABLE',
        list(n.rels).map((r) => relation(bodyOf(r, 'VacuumRelation')?.relation)),
      );
    case 'ReindexStmt':
      return named(objectKind(str(n, 'kind')?.replace('REINDEX_', '')), [relation(n.relation) ?? str(n, 'name')]);
    case 'CreateRoleStmt':
      return named('ROLE', [str(n, 'role')]);
    case 'DropRoleStmt':
      return named(
        'ROLE',
        list(n.roles).map((r) => str(bodyOf(r, 'RoleSpec'), 'rolename')),
      );
    default:
      return [];
  }
}

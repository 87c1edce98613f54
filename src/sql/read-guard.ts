/**
 * The read path's gate (pg_query): the statement is parsed by PostgreSQL's grammar and must be exactly one statement of
 * a read kind, with no data-modifying part, no row locks, no SELECT INTO and no call to a denied function anywhere.
 * This is one layer; the statement still runs in a READ ONLY transaction with timeouts and is rolled back.
 */
import { ToolError } from '../tools/errors.js';
import { type Classification, classifyStatement, type StatementClass } from './classify.js';
import {
  CONFIGURATION,
  type DeniedCall,
  EXECUTES_SQL,
  findDeniedCalls,
  SEQUENCE_CHANGE,
  SIGNALLING,
  STATISTICS_RESET,
} from './denylist.js';
import { type ParsedStatement, parseSql, SqlSyntaxError } from './parser.js';
import { RecentTexts } from './recent-texts.js';

/** Statement kinds pg_query runs. Others may classify as read (COPY … TO STDOUT) but cannot be run through it. */
const READ_KINDS = new Set(['SelectStmt', 'ExplainStmt', 'VariableShowStmt']);

const READ_KINDS_TEXT = 'SELECT, WITH … SELECT, VALUES, TABLE, SHOW or EXPLAIN';

/**
 * Statements already accepted, by their exact text. The verdict depends on the text alone, so paging through a result
 * (the same SQL with another offset) and repeated reads skip the parse and the checks. Only accepted statements are
 * kept (a refusal throws); callers treat the parsed statement as read-only.
 */
const accepted = new RecentTexts<ParsedStatement>(256, 4096);

/** Returns the one statement in `sql` when pg_query may run it; throws a ToolError saying why not otherwise. */
export function checkReadStatement(sql: string): ParsedStatement {
  return accepted.get(sql, checkUncached);
}

function checkUncached(sql: string): ParsedStatement {
  const stmt = onlyStatement(sql);
  const c = classifyStatement(stmt);
  if (c.class !== 'read') throw notReadOnly(sql, c);
  if (!READ_KINDS.has(stmt.type)) throw unsupportedReadKind(sql, c);
  const denied = findDeniedCalls(stmt.node);
  if (denied.length > 0) throw deniedFunction(sql, denied);
  return stmt;
}

function onlyStatement(sql: string): ParsedStatement {
  const stmts = parseOrThrow(sql);
  const [first, second] = stmts;
  if (first === undefined) {
    throw new ToolError('The SQL text is empty (or only comments): there is no statement to run.', {
      code: 'empty_statement',
      statement: sql,
      hint: `pass one ${READ_KINDS_TEXT} statement`,
    });
  }
  if (second !== undefined) {
    const message = `The SQL text holds ${stmts.length} statements; pg_query runs exactly one read statement per call.`;
    throw new ToolError(message, {
      code: 'multiple_statements',
      statement: sql,
      pg: { message, position: second.location + 1 },
      hint: 'send each statement in its own pg_query call; to read several times from one snapshot, begin a read-only transaction with pg_tx and pass its handle as tx',
    });
  }
  return first;
}

function parseOrThrow(sql: string): ParsedStatement[] {
  try {
    return parseSql(sql);
  } catch (err) {
    throw err instanceof SqlSyntaxError ? syntaxError(sql, err) : err;
  }
}

function syntaxError(sql: string, err: SqlSyntaxError): ToolError {
  return new ToolError(err.message, {
    code: 'syntax_error',
    statement: sql,
    pg: {
      severity: 'ERROR',
      code: '42601',
      message: err.message,
      ...(err.position !== undefined ? { position: err.position } : {}),
    },
    hint: 'fix the SQL; nothing was sent to the server',
  });
}

const CLASS_HINTS: Record<Exclude<StatementClass, 'read'>, string> = {
  write: 'use pg_execute at the write access level',
  ddl: 'use pg_execute at the write access level',
  destructive: 'use pg_execute at the write access level; it asks for confirmation before running it',
  admin: 'use pg_admin at the admin access level',
  transaction:
    'use pg_tx to begin, commit or roll back transactions, and pass its handle as tx to pg_query to read inside one',
  session:
    'pg_query does not change session state (connections are pooled and reset); use params for values, and pg_tx for a transaction',
};

function notReadOnly(sql: string, c: Classification): ToolError {
  const article = c.class === 'admin' ? 'an' : 'a';
  const why = c.reason === undefined ? '' : `: it ${c.reason}`;
  const message = `pg_query runs read-only statements only; this ${c.command} is ${article} ${c.class} statement${why}.`;
  return new ToolError(message, {
    code: 'not_read_only',
    statement: sql,
    hint: c.class === 'read' ? `use a ${READ_KINDS_TEXT} statement` : CLASS_HINTS[c.class],
  });
}

function unsupportedReadKind(sql: string, c: Classification): ToolError {
  return new ToolError(`pg_query cannot run ${c.command}; it runs ${READ_KINDS_TEXT} statements.`, {
    code: 'not_read_only',
    statement: sql,
    hint: c.command.startsWith('COPY')
      ? 'run the query inside the COPY directly'
      : `use a ${READ_KINDS_TEXT} statement`,
  });
}

const CATEGORY_HINTS: ReadonlyMap<string, string> = new Map([
  [
    SIGNALLING,
    'cancelling or terminating a backend and reloading the configuration are pg_admin actions (admin access level)',
  ],
  [STATISTICS_RESET, 'resetting statistics is a pg_admin action (admin access level)'],
  [
    CONFIGURATION,
    'read settings with current_setting() or SHOW; changing them is a pg_admin action (admin access level)',
  ],
  [SEQUENCE_CHANGE, 'read a sequence without advancing it from the pg_sequences view'],
  [EXECUTES_SQL, 'run the query text itself as the statement'],
]);

function deniedFunction(sql: string, calls: readonly DeniedCall[]): ToolError {
  const distinct = [...new Map(calls.map((c) => [c.name, c])).values()];
  const listed = distinct.map((c) => `${c.name}() (${c.category})`).join(', ');
  const such = distinct.length === 1 ? 'such functions' : 'these functions';
  const message = `pg_query will not call ${listed}: ${such} can act outside a read-only transaction or run SQL that is not checked.`;
  const first = calls[0];
  return new ToolError(message, {
    code: 'denied_function',
    statement: sql,
    ...(first?.location !== undefined ? { pg: { message, position: first.location + 1 } } : {}),
    hint: CATEGORY_HINTS.get(first?.category ?? '') ?? 'remove the call',
  });
}

/**
 * Statement classification: what a parsed statement can do, so that each tool runs only what its access level and
 * confirmation rules allow. Anything not recognised is `admin` (fail closed).
 */
import { nodesOfType, type ParsedStatement } from './parser.js';

export type StatementClass = 'read' | 'write' | 'ddl' | 'destructive' | 'admin' | 'transaction' | 'session';

export interface Classification {
  class: StatementClass;
  /** The SQL command, e.g. `SELECT`, `INSERT`, `DROP TABLE`, `ALTER TABLE`, `VACUUM`. */
  command: string;
  /** Why the statement is in its class when that is not obvious from the command, for people to read. */
  reason?: string;
}

export function classifyStatement(stmt: ParsedStatement): Classification {
  return classifyNode(stmt.type, stmt.node, stmt.node);
}

export function isDestructive(c: Classification): boolean {
  return c.class === 'destructive';
}

type Node = Record<string, unknown>;
/**
 * Classifies one statement node. `scope` is the tree searched for nested effects: the statement itself, or the
 * statement around it (EXPLAIN, COPY) so that the whole statement is indexed once.
 */
type Classifier = (node: Node, scope: Node) => Classification;

function classifyNode(type: string, node: Node, scope: Node): Classification {
  const classify = CLASSIFIERS.get(type);
  if (classify) return classify(node, scope);
  return { class: 'admin', command: type, reason: 'unrecognised statement kind' };
}

/** How far-reaching a class is, to keep the worst of a statement and the statements nested in it. */
const RANK: Record<StatementClass, number> = {
  read: 0,
  transaction: 1,
  session: 2,
  write: 3,
  ddl: 4,
  admin: 5,
  destructive: 6,
};

function worse(a: Classification, b: Classification): Classification {
  return RANK[b.class] > RANK[a.class] ? b : a;
}

function is(cls: StatementClass, command: string, reason?: string): Classification {
  return reason === undefined ? { class: cls, command } : { class: cls, command, reason };
}

const fixed =
  (cls: StatementClass, command: string, reason?: string): Classifier =>
  () =>
    is(cls, command, reason);

// ---------------------------------------------------------------------------------------------------------------
// Reading fields of parse tree nodes

function str(node: Node, key: string): string | undefined {
  const v = node[key];
  return typeof v === 'string' ? v : undefined;
}

function flag(node: Node, key: string): boolean {
  return node[key] === true;
}

function child(node: Node, key: string): Node | undefined {
  const v = node[key];
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Node) : undefined;
}

function items(node: Node, key: string): unknown[] {
  const v = node[key];
  return Array.isArray(v) ? v : [];
}

/** `{Type: body}` → [Type, body]. */
function unwrap(wrapped: unknown): [string, Node] | undefined {
  if (typeof wrapped !== 'object' || wrapped === null || Array.isArray(wrapped)) return undefined;
  const entries = Object.entries(wrapped);
  const first = entries[0];
  if (entries.length !== 1 || first === undefined) return undefined;
  const [type, body] = first;
  return typeof body === 'object' && body !== null && !Array.isArray(body) ? [type, body as Node] : undefined;
}

/** The bodies of the `{Type: body}` items of a list, keeping only those of `type`. */
function itemsOf(node: Node, key: string, type: string): Node[] {
  const out: Node[] = [];
  for (const item of items(node, key)) {
    const u = unwrap(item);
    if (u && u[0] === type) out.push(u[1]);
  }
  return out;
}

function relationName(node: Node): string | undefined {
  const rel = child(node, 'relation');
  if (!rel) return undefined;
  const name = str(rel, 'relname');
  if (name === undefined) return undefined;
  const schema = str(rel, 'schemaname');
  return schema === undefined ? name : `${schema}.${name}`;
}

const OBJECT_NAMES: ReadonlyMap<string, string> = new Map([
  ['OBJECT_ACCESS_METHOD', 'ACCESS METHOD'],
  ['OBJECT_DEFACL', 'DEFAULT PRIVILEGES'],
  ['OBJECT_DOMCONSTRAINT', 'CONSTRAINT'],
  ['OBJECT_FDW', 'FOREIGN DATA WRAPPER'],
  ['OBJECT_FOREIGN_SERVER', 'SERVER'],
  ['OBJECT_LARGEOBJECT', 'LARGE OBJECT'],
  ['OBJECT_MATVIEW', 'MATERIALIZED VIEW'],
  ['OBJECT_OPCLASS', 'OPERATOR CLASS'],
  ['OBJECT_OPFAMILY', 'OPERATOR FAMILY'],
  ['OBJECT_PARAMETER_ACL', 'PARAMETER'],
  ['OBJECT_PUBLICATION_NAMESPACE', 'PUBLICATION'],
  ['OBJECT_PUBLICATION_REL', 'PUBLICATION'],
  ['OBJECT_STATISTIC_EXT', 'STATISTICS'],
  ['OBJECT_TABCONSTRAINT', 'CONSTRAINT'],
  ['OBJECT_TSCONFIGURATION', 'TEXT SEARCH CONFIGURATION'],
  ['OBJECT_TSDICTIONARY', 'TEXT SEARCH DICTIONARY'],
  ['OBJECT_TSPARSER', 'TEXT SEARCH PARSER'],
  ['OBJECT_TSTEMPLATE', 'TEXT SEARCH TEMPLATE'],
]);

/** `OBJECT_MATVIEW` → `MATERIALIZED VIEW`, `OBJECT_TABLE` → `TABLE`. */
function objectName(objectType: string | undefined): string {
  if (objectType === undefined) return 'OBJECT';
  return OBJECT_NAMES.get(objectType) ?? objectType.replace(/^OBJECT_/, '').replace(/_/g, ' ');
}

/** Objects of the whole server or its replication: creating or changing them is an administrator's job. */
const SERVER_OBJECTS = new Set([
  'OBJECT_DATABASE',
  'OBJECT_ROLE',
  'OBJECT_TABLESPACE',
  'OBJECT_SUBSCRIPTION',
  'OBJECT_PUBLICATION',
]);

function alterObject(objectType: string | undefined, what: string): Classification {
  const cls = objectType !== undefined && SERVER_OBJECTS.has(objectType) ? 'admin' : 'ddl';
  return is(cls, `ALTER ${objectName(objectType)}${what}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Queries and data-modifying statements

/**
 * A statement that runs now (SELECT, DML, CREATE TABLE AS, COPY of a query), made as bad as anything nested in it:
 * data-modifying statements in WITH (at any depth), row locks (FOR UPDATE/SHARE in any subquery).
 */
function withNestedEffects(own: Classification, scope: Node): Classification {
  let result = own;
  for (const type of DML_TYPES) {
    for (const nested of nodesOfType(scope, type)) {
      const effect = dmlEffect(type, nested);
      if (RANK[effect.class] > RANK[result.class]) {
        const that = effect.reason === undefined ? '' : ` that ${effect.reason}`;
        result = is(effect.class, own.command, `contains a data-modifying ${effect.command}${that}`);
      }
    }
  }
  const locking = nodesOfType(scope, 'LockingClause')[0];
  if (locking && RANK.write > RANK[result.class]) {
    result = is('write', own.command, `locks rows (${lockStrength(locking)})`);
  }
  return result;
}

const DML_TYPES = ['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt'] as const;
type DmlType = (typeof DML_TYPES)[number];

/** What a data-modifying statement does by itself (not counting what is nested in it). */
function dmlEffect(type: DmlType, node: Node): Classification {
  const table = relationName(node) ?? 'the table';
  switch (type) {
    case 'InsertStmt':
      return is('write', 'INSERT');
    case 'UpdateStmt':
      return rowFilterEffect('UPDATE', node, `changes every row of ${table}`);
    case 'DeleteStmt':
      return rowFilterEffect('DELETE', node, `removes every row of ${table}`);
    case 'MergeStmt':
      return mergeDeletes(node)
        ? is('destructive', 'MERGE', `has a WHEN … THEN DELETE action: removes rows of ${table}`)
        : is('write', 'MERGE');
  }
}

function rowFilterEffect(command: string, node: Node, everyRow: string): Classification {
  const where = node.whereClause;
  if (where === undefined) return is('destructive', command, `has no WHERE clause: ${everyRow}`);
  if (isAlwaysTrue(where)) return is('destructive', command, `has a WHERE clause that is always true: ${everyRow}`);
  return is('write', command);
}

function mergeDeletes(node: Node): boolean {
  return itemsOf(node, 'mergeWhenClauses', 'MergeWhenClause').some((w) => str(w, 'commandType') === 'CMD_DELETE');
}

const TRUE_STRINGS = new Set(['t', 'true', 'y', 'yes', 'on', '1']);

/** The obvious always-true conditions: `true`, `'t'::bool`, `1 = 1`, and OR/AND of those. Not a prover. */
function isAlwaysTrue(expr: unknown): boolean {
  const u = unwrap(expr);
  if (!u) return false;
  const [type, node] = u;
  switch (type) {
    case 'A_Const':
      return child(node, 'boolval')?.boolval === true;
    case 'TypeCast': {
      const names = items(child(node, 'typeName') ?? {}, 'names').map((n) => unwrap(n)?.[1].sval);
      const value = unwrap(node.arg);
      const text = value?.[0] === 'A_Const' ? child(value[1], 'sval')?.sval : undefined;
      const last = names.at(-1);
      return (
        (last === 'bool' || last === 'boolean') && typeof text === 'string' && TRUE_STRINGS.has(text.toLowerCase())
      );
    }
    case 'A_Expr':
      return isEqualConstants(node);
    case 'BoolExpr': {
      const args = items(node, 'args');
      if (str(node, 'boolop') === 'OR_EXPR') return args.some(isAlwaysTrue);
      if (str(node, 'boolop') === 'AND_EXPR') return args.length > 0 && args.every(isAlwaysTrue);
      return false;
    }
    default:
      return false;
  }
}

/** `c = c` for two identical constants. */
function isEqualConstants(node: Node): boolean {
  if (str(node, 'kind') !== 'AEXPR_OP') return false;
  const op = items(node, 'name').map((n) => unwrap(n)?.[1].sval);
  if (op.length !== 1 || op[0] !== '=') return false;
  const left = constantValue(node.lexpr);
  return left !== undefined && left === constantValue(node.rexpr);
}

function constantValue(expr: unknown): string | undefined {
  const u = unwrap(expr);
  if (u?.[0] !== 'A_Const') return undefined;
  const { location: _location, ...value } = u[1];
  return JSON.stringify(value);
}

const LOCK_STRENGTHS: ReadonlyMap<string, string> = new Map([
  ['LCS_FORKEYSHARE', 'FOR KEY SHARE'],
  ['LCS_FORSHARE', 'FOR SHARE'],
  ['LCS_FORNOKEYUPDATE', 'FOR NO KEY UPDATE'],
  ['LCS_FORUPDATE', 'FOR UPDATE'],
]);

function lockStrength(locking: Node): string {
  return LOCK_STRENGTHS.get(str(locking, 'strength') ?? '') ?? 'FOR UPDATE';
}

function classifySelect(node: Node, scope: Node): Classification {
  const values = items(node, 'valuesLists').length > 0 && items(node, 'targetList').length === 0;
  const own = is('read', values ? 'VALUES' : 'SELECT');
  if (nodesOfType(scope, 'IntoClause').length > 0) {
    return worse(is('ddl', 'SELECT INTO', 'creates a table from the result'), withNestedEffects(own, scope));
  }
  return withNestedEffects(own, scope);
}

function classifyDml(type: DmlType): Classifier {
  return (node, scope) => withNestedEffects(dmlEffect(type, node), scope);
}

/** EXPLAIN plans only; EXPLAIN ANALYZE also runs the statement, so it is as strong as the statement. */
function classifyExplain(node: Node, scope: Node): Classification {
  const inner = unwrap(node.query);
  if (!explainAnalyzes(node)) return is('read', 'EXPLAIN');
  if (!inner) return is('admin', 'EXPLAIN ANALYZE', 'unrecognised statement kind');
  const c = classifyNode(inner[0], inner[1], scope);
  const command = `EXPLAIN ANALYZE ${c.command}`;
  if (c.class === 'read') return is('read', command);
  return is(c.class, command, c.reason ?? `EXPLAIN ANALYZE runs the ${c.command}`);
}

/** True unless every ANALYZE option is explicitly false (`analyze false|off|0`), as PostgreSQL's defGetBoolean reads it. */
function explainAnalyzes(node: Node): boolean {
  return itemsOf(node, 'options', 'DefElem').some(
    (opt) => str(opt, 'defname')?.toLowerCase() === 'analyze' && !isFalseOption(opt.arg),
  );
}

function isFalseOption(arg: unknown): boolean {
  const u = unwrap(arg);
  if (!u) return false;
  const [type, value] = u;
  if (type === 'Integer') return (value.ival ?? 0) === 0;
  if (type === 'String') {
    const s = str(value, 'sval')?.toLowerCase();
    return s === 'false' || s === 'off';
  }
  if (type === 'Boolean') return value.boolval !== true;
  return false;
}

function classifyCopy(node: Node, scope: Node): Classification {
  const from = flag(node, 'is_from');
  const direction = from ? 'FROM' : 'TO';
  if (flag(node, 'is_program')) {
    return is('admin', `COPY ${direction} PROGRAM`, 'runs a shell command on the database server');
  }
  if (str(node, 'filename') !== undefined) {
    const what = from ? 'reads a file on the database server' : 'writes a file on the database server';
    return is('admin', `COPY ${direction} FILE`, what);
  }
  if (from) return is('write', 'COPY FROM STDIN');
  const query = unwrap(node.query);
  if (!query) return is('read', 'COPY TO STDOUT');
  const c = classifyNode(query[0], query[1], scope);
  return c.class === 'read'
    ? is('read', 'COPY TO STDOUT')
    : is(c.class, 'COPY TO STDOUT', c.reason ?? `runs ${c.command}`);
}

function classifyCreateTableAs(node: Node, scope: Node): Classification {
  const command = str(node, 'objtype') === 'OBJECT_MATVIEW' ? 'CREATE MATERIALIZED VIEW' : 'CREATE TABLE AS';
  return withNestedEffects(is('ddl', command), scope);
}

// ---------------------------------------------------------------------------------------------------------------
// Schema changes

function createOrReplace(node: Node, what: string): Classification {
  return is('ddl', flag(node, 'replace') ? `CREATE OR REPLACE ${what}` : `CREATE ${what}`);
}

function classifyDrop(node: Node): Classification {
  const command = `DROP ${objectName(str(node, 'removeType'))}`;
  const cascade = str(node, 'behavior') === 'DROP_CASCADE';
  return is('destructive', command, cascade ? 'drops objects and everything that depends on them' : 'drops objects');
}

/** ALTER TABLE subcommands that remove something or rewrite data; all other subcommands are plain DDL. */
function destructiveAlterTableCmd(cmd: Node): string | undefined {
  const name = str(cmd, 'name');
  const col = name === undefined ? '' : ` ${name}`;
  switch (str(cmd, 'subtype')) {
    case 'AT_DropColumn':
      return `drops column${col}`;
    case 'AT_DropConstraint':
      return `drops constraint${col}`;
    case 'AT_AlterColumnType':
      return `rewrites the column${col} (SET DATA TYPE)`;
    case 'AT_DropNotNull':
      return `drops NOT NULL of column${col}`;
    case 'AT_DropExpression':
      return `drops the generation expression of column${col}`;
    case 'AT_DropIdentity':
      return `drops the identity (and its sequence) of column${col}`;
    case 'AT_ColumnDefault':
      return cmd.def === undefined ? `drops the default of column${col}` : undefined;
    case 'AT_DetachPartition':
    case 'AT_DetachPartitionFinalize':
      return 'detaches a partition: its rows leave the table';
    case 'AT_DropInherit':
      return "removes inheritance: the child's rows leave the parent";
    default:
      return undefined;
  }
}

function classifyAlterTable(node: Node): Classification {
  const command = `ALTER ${objectName(str(node, 'objtype'))}`;
  const reasons: string[] = [];
  for (const cmd of itemsOf(node, 'cmds', 'AlterTableCmd')) {
    const reason = destructiveAlterTableCmd(cmd);
    if (reason !== undefined) reasons.push(reason);
  }
  return reasons.length > 0 ? is('destructive', command, reasons.join('; ')) : is('ddl', command);
}

/** ALTER DOMAIN subtypes: T = SET/DROP DEFAULT, N = DROP NOT NULL, X = DROP CONSTRAINT. */
function classifyAlterDomain(node: Node): Classification {
  const subtype = str(node, 'subtype');
  if (subtype === 'X') return is('destructive', 'ALTER DOMAIN', `drops constraint ${str(node, 'name') ?? ''}`.trim());
  if (subtype === 'N') return is('destructive', 'ALTER DOMAIN', 'drops NOT NULL');
  if (subtype === 'T' && node.def === undefined) return is('destructive', 'ALTER DOMAIN', 'drops the default');
  return is('ddl', 'ALTER DOMAIN');
}

function classifyRename(node: Node): Classification {
  const renamed = str(node, 'renameType');
  const onRelation = renamed === 'OBJECT_COLUMN' || renamed === 'OBJECT_TABCONSTRAINT';
  const objectType = onRelation ? str(node, 'relationType') : renamed === 'OBJECT_ATTRIBUTE' ? 'OBJECT_TYPE' : renamed;
  return alterObject(objectType, ' RENAME');
}

function classifyCreateSchema(node: Node): Classification {
  let result = is('ddl', 'CREATE SCHEMA');
  for (const element of items(node, 'schemaElts')) {
    const u = unwrap(element);
    const c = u ? classifyNode(u[0], u[1], u[1]) : is('admin', 'CREATE SCHEMA', 'unrecognised schema element');
    if (RANK[c.class] > RANK[result.class]) result = is(c.class, 'CREATE SCHEMA', `contains ${c.command}`);
  }
  return result;
}

function classifyDefine(node: Node): Classification {
  return createOrReplace(node, objectName(str(node, 'kind')));
}

function classifyFunction(node: Node): Classification {
  return createOrReplace(node, flag(node, 'is_procedure') ? 'PROCEDURE' : 'FUNCTION');
}

// ---------------------------------------------------------------------------------------------------------------
// Roles, databases, replication, maintenance

function classifyCreateRole(node: Node): Classification {
  const kind = str(node, 'stmt_type');
  return is(
    'admin',
    kind === 'ROLESTMT_USER' ? 'CREATE USER' : kind === 'ROLESTMT_GROUP' ? 'CREATE GROUP' : 'CREATE ROLE',
  );
}

function classifyGrant(node: Node): Classification {
  return is('admin', flag(node, 'is_grant') ? 'GRANT' : 'REVOKE');
}

function classifyVacuum(node: Node): Classification {
  return is('admin', flag(node, 'is_vacuumcmd') ? 'VACUUM' : 'ANALYZE');
}

function classifyAlterPublication(node: Node): Classification {
  return str(node, 'action') === 'AP_DropObjects'
    ? is('destructive', 'ALTER PUBLICATION', 'drops objects from the publication')
    : is('admin', 'ALTER PUBLICATION');
}

function classifyAlterSubscription(node: Node): Classification {
  return str(node, 'kind') === 'ALTER_SUBSCRIPTION_DROP_PUBLICATION'
    ? is('destructive', 'ALTER SUBSCRIPTION', 'drops publications from the subscription')
    : is('admin', 'ALTER SUBSCRIPTION');
}

// ---------------------------------------------------------------------------------------------------------------
// Transactions and session state

const TRANSACTION_COMMANDS: ReadonlyMap<string, string> = new Map([
  ['TRANS_STMT_BEGIN', 'BEGIN'],
  ['TRANS_STMT_START', 'START TRANSACTION'],
  ['TRANS_STMT_COMMIT', 'COMMIT'],
  ['TRANS_STMT_ROLLBACK', 'ROLLBACK'],
  ['TRANS_STMT_SAVEPOINT', 'SAVEPOINT'],
  ['TRANS_STMT_RELEASE', 'RELEASE SAVEPOINT'],
  ['TRANS_STMT_ROLLBACK_TO', 'ROLLBACK TO SAVEPOINT'],
  ['TRANS_STMT_PREPARE', 'PREPARE TRANSACTION'],
  ['TRANS_STMT_COMMIT_PREPARED', 'COMMIT PREPARED'],
  ['TRANS_STMT_ROLLBACK_PREPARED', 'ROLLBACK PREPARED'],
]);

function classifyTransaction(node: Node): Classification {
  return is('transaction', TRANSACTION_COMMANDS.get(str(node, 'kind') ?? '') ?? 'TRANSACTION');
}

const SPECIAL_SETTINGS: ReadonlyMap<string, string> = new Map([
  ['role', 'ROLE'],
  ['session_authorization', 'SESSION AUTHORIZATION'],
  ['TRANSACTION', 'TRANSACTION'],
  ['SESSION CHARACTERISTICS', 'SESSION CHARACTERISTICS'],
]);

function classifySet(node: Node): Classification {
  const kind = str(node, 'kind');
  const special = SPECIAL_SETTINGS.get(str(node, 'name') ?? '');
  if (kind === 'VAR_RESET' || kind === 'VAR_RESET_ALL') return is('session', special ? `RESET ${special}` : 'RESET');
  const set = flag(node, 'is_local') ? 'SET LOCAL' : 'SET';
  return is('session', special ? `${set} ${special}` : set);
}

// ---------------------------------------------------------------------------------------------------------------

const RUNS_UNCHECKED_CODE = 'runs code whose effects cannot be checked';

const CLASSIFIERS: ReadonlyMap<string, Classifier> = new Map<string, Classifier>([
  // read
  ['SelectStmt', classifySelect],
  ['VariableShowStmt', fixed('read', 'SHOW')],
  ['ExplainStmt', classifyExplain],
  // write
  ['InsertStmt', classifyDml('InsertStmt')],
  ['UpdateStmt', classifyDml('UpdateStmt')],
  ['DeleteStmt', classifyDml('DeleteStmt')],
  ['MergeStmt', classifyDml('MergeStmt')],
  ['CopyStmt', classifyCopy],
  ['LockStmt', fixed('write', 'LOCK')],
  ['RefreshMatViewStmt', fixed('write', 'REFRESH MATERIALIZED VIEW')],
  ['CommentStmt', fixed('write', 'COMMENT')],
  // ddl (destructive forms picked out)
  ['CreateTableAsStmt', classifyCreateTableAs],
  ['CreateStmt', fixed('ddl', 'CREATE TABLE')],
  ['CreateForeignTableStmt', fixed('ddl', 'CREATE FOREIGN TABLE')],
  ['IndexStmt', fixed('ddl', 'CREATE INDEX')],
  ['ViewStmt', (n) => createOrReplace(n, 'VIEW')],
  ['CreateFunctionStmt', classifyFunction],
  ['AlterFunctionStmt', (n) => alterObject(str(n, 'objtype'), '')],
  ['CreateSchemaStmt', classifyCreateSchema],
  ['CreateSeqStmt', fixed('ddl', 'CREATE SEQUENCE')],
  ['AlterSeqStmt', fixed('ddl', 'ALTER SEQUENCE')],
  ['CreateExtensionStmt', fixed('ddl', 'CREATE EXTENSION')],
  ['AlterExtensionStmt', fixed('ddl', 'ALTER EXTENSION')],
  ['AlterExtensionContentsStmt', fixed('ddl', 'ALTER EXTENSION')],
  ['CreateTrigStmt', (n) => createOrReplace(n, 'TRIGGER')],
  ['CreateEventTrigStmt', fixed('ddl', 'CREATE EVENT TRIGGER')],
  ['AlterEventTrigStmt', fixed('ddl', 'ALTER EVENT TRIGGER')],
  ['CreatePolicyStmt', fixed('ddl', 'CREATE POLICY')],
  ['AlterPolicyStmt', fixed('ddl', 'ALTER POLICY')],
  ['RuleStmt', (n) => createOrReplace(n, 'RULE')],
  ['CreateDomainStmt', fixed('ddl', 'CREATE DOMAIN')],
  ['AlterDomainStmt', classifyAlterDomain],
  ['DefineStmt', classifyDefine],
  ['CompositeTypeStmt', fixed('ddl', 'CREATE TYPE')],
  ['CreateEnumStmt', fixed('ddl', 'CREATE TYPE')],
  ['CreateRangeStmt', fixed('ddl', 'CREATE TYPE')],
  ['AlterEnumStmt', fixed('ddl', 'ALTER TYPE')],
  ['AlterTypeStmt', fixed('ddl', 'ALTER TYPE')],
  ['CreateOpClassStmt', fixed('ddl', 'CREATE OPERATOR CLASS')],
  ['CreateOpFamilyStmt', fixed('ddl', 'CREATE OPERATOR FAMILY')],
  [
    'AlterOpFamilyStmt',
    (n) =>
      flag(n, 'isDrop')
        ? is('destructive', 'ALTER OPERATOR FAMILY', 'drops operators or functions from the family')
        : is('ddl', 'ALTER OPERATOR FAMILY'),
  ],
  ['AlterOperatorStmt', fixed('ddl', 'ALTER OPERATOR')],
  ['CreateCastStmt', fixed('ddl', 'CREATE CAST')],
  ['CreateConversionStmt', fixed('ddl', 'CREATE CONVERSION')],
  ['CreateTransformStmt', (n) => createOrReplace(n, 'TRANSFORM')],
  ['CreateAmStmt', fixed('ddl', 'CREATE ACCESS METHOD')],
  ['CreatePLangStmt', (n) => createOrReplace(n, 'LANGUAGE')],
  ['CreateStatsStmt', fixed('ddl', 'CREATE STATISTICS')],
  ['AlterStatsStmt', fixed('ddl', 'ALTER STATISTICS')],
  ['AlterCollationStmt', fixed('ddl', 'ALTER COLLATION')],
  ['AlterTSDictionaryStmt', fixed('ddl', 'ALTER TEXT SEARCH DICTIONARY')],
  [
    'AlterTSConfigurationStmt',
    (n) =>
      str(n, 'kind') === 'ALTER_TSCONFIG_DROP_MAPPING'
        ? is('destructive', 'ALTER TEXT SEARCH CONFIGURATION', 'drops mappings')
        : is('ddl', 'ALTER TEXT SEARCH CONFIGURATION'),
  ],
  ['CreateFdwStmt', fixed('ddl', 'CREATE FOREIGN DATA WRAPPER')],
  ['AlterFdwStmt', fixed('ddl', 'ALTER FOREIGN DATA WRAPPER')],
  ['CreateForeignServerStmt', fixed('ddl', 'CREATE SERVER')],
  ['AlterForeignServerStmt', fixed('ddl', 'ALTER SERVER')],
  ['CreateUserMappingStmt', fixed('ddl', 'CREATE USER MAPPING')],
  ['AlterUserMappingStmt', fixed('ddl', 'ALTER USER MAPPING')],
  ['ImportForeignSchemaStmt', fixed('ddl', 'IMPORT FOREIGN SCHEMA')],
  ['AlterTableStmt', classifyAlterTable],
  ['RenameStmt', classifyRename],
  ['AlterObjectSchemaStmt', (n) => alterObject(str(n, 'objectType'), ' SET SCHEMA')],
  ['AlterOwnerStmt', (n) => alterObject(str(n, 'objectType'), ' OWNER')],
  ['AlterObjectDependsStmt', (n) => alterObject(str(n, 'objectType'), ' DEPENDS ON EXTENSION')],
  // destructive
  ['DropStmt', classifyDrop],
  ['TruncateStmt', fixed('destructive', 'TRUNCATE', 'removes every row')],
  ['DropUserMappingStmt', fixed('destructive', 'DROP USER MAPPING', 'drops objects')],
  ['DropTableSpaceStmt', fixed('destructive', 'DROP TABLESPACE', 'drops objects')],
  ['DropRoleStmt', fixed('destructive', 'DROP ROLE', 'drops roles')],
  ['DropdbStmt', fixed('destructive', 'DROP DATABASE', 'drops a database and everything in it')],
  ['DropSubscriptionStmt', fixed('destructive', 'DROP SUBSCRIPTION', 'drops a subscription and its replication slot')],
  ['DropOwnedStmt', fixed('destructive', 'DROP OWNED', 'drops every object owned by the roles')],
  [
    'ReassignOwnedStmt',
    fixed('destructive', 'REASSIGN OWNED', 'gives every object owned by the roles to another role'),
  ],
  ['DoStmt', fixed('destructive', 'DO', RUNS_UNCHECKED_CODE)],
  ['CallStmt', fixed('destructive', 'CALL', RUNS_UNCHECKED_CODE)],
  // admin
  ['VacuumStmt', classifyVacuum],
  ['ReindexStmt', fixed('admin', 'REINDEX')],
  ['ClusterStmt', fixed('admin', 'CLUSTER')],
  ['CheckPointStmt', fixed('admin', 'CHECKPOINT')],
  ['AlterSystemStmt', fixed('admin', 'ALTER SYSTEM', 'changes server configuration')],
  ['CreatedbStmt', fixed('admin', 'CREATE DATABASE')],
  ['AlterDatabaseStmt', fixed('admin', 'ALTER DATABASE')],
  ['AlterDatabaseSetStmt', fixed('admin', 'ALTER DATABASE')],
  ['AlterDatabaseRefreshCollStmt', fixed('admin', 'ALTER DATABASE')],
  ['CreateRoleStmt', classifyCreateRole],
  ['AlterRoleStmt', fixed('admin', 'ALTER ROLE')],
  ['AlterRoleSetStmt', fixed('admin', 'ALTER ROLE')],
  ['GrantStmt', classifyGrant],
  ['GrantRoleStmt', classifyGrant],
  ['AlterDefaultPrivilegesStmt', fixed('admin', 'ALTER DEFAULT PRIVILEGES')],
  ['LoadStmt', fixed('admin', 'LOAD', 'loads a shared library into the server process')],
  ['SecLabelStmt', fixed('admin', 'SECURITY LABEL')],
  ['CreatePublicationStmt', fixed('admin', 'CREATE PUBLICATION')],
  ['AlterPublicationStmt', classifyAlterPublication],
  ['CreateSubscriptionStmt', fixed('admin', 'CREATE SUBSCRIPTION')],
  ['AlterSubscriptionStmt', classifyAlterSubscription],
  ['CreateTableSpaceStmt', fixed('admin', 'CREATE TABLESPACE')],
  ['AlterTableSpaceOptionsStmt', fixed('admin', 'ALTER TABLESPACE')],
  ['AlterTableMoveAllStmt', fixed('admin', 'ALTER TABLE ALL IN TABLESPACE')],
  // transaction
  ['TransactionStmt', classifyTransaction],
  // session
  ['VariableSetStmt', classifySet],
  ['ConstraintsSetStmt', fixed('session', 'SET CONSTRAINTS')],
  ['DiscardStmt', fixed('session', 'DISCARD')],
  ['ListenStmt', fixed('session', 'LISTEN')],
  ['UnlistenStmt', fixed('session', 'UNLISTEN')],
  ['NotifyStmt', fixed('session', 'NOTIFY')],
  ['PrepareStmt', fixed('session', 'PREPARE')],
  ['ExecuteStmt', fixed('session', 'EXECUTE', 'runs a prepared statement, whose kind is not known here')],
  ['DeallocateStmt', fixed('session', 'DEALLOCATE')],
  ['DeclareCursorStmt', fixed('session', 'DECLARE')],
  ['FetchStmt', (n) => is('session', flag(n, 'ismove') ? 'MOVE' : 'FETCH')],
  ['ClosePortalStmt', fixed('session', 'CLOSE')],
]);

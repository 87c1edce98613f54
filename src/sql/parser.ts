/**
 * The SQL parser: PostgreSQL's own grammar (libpg-query, compiled to WASM). This is the only module that touches
 * libpg-query or knows the shape of its JSON output; everything else sees `ParsedStatement` and plain node objects.
 *
 * Offsets: libpg-query reports node locations as UTF-8 byte offsets. `parseSql` turns every `location` in the tree it
 * returns into a character offset (Unicode code points, as PostgreSQL and `caretUnder` count them), so offsets are
 * right for multi-byte text. Syntax error positions already come back in characters.
 *
 * Trees: a node is `{ TypeName: body }`; a few fields hold a bare body whose type the field implies (see
 * `BARE_NODE_FIELDS`). `nodesOfType` answers "which nodes of type X are under this statement" from an index built in
 * one pass over the tree and cached per tree, so the safety checks together walk each statement once.
 */
type LibPgQuery = typeof import('libpg-query');

/** One statement of the input. */
export interface ParsedStatement {
  /** The statement's node type, e.g. `SelectStmt`, `DropStmt`. */
  type: string;
  /** The statement node's body: the value under `type` in the parse tree. Treat it as immutable. */
  node: Record<string, unknown>;
  /**
   * This statement's own source text: from its first token to its end, without the `;` after it and without leading
   * or trailing whitespace; comments before the first token are left out, a comment after the last statement stays.
   */
  text: string;
  /** 0-based character offset of the statement's first token in the input. */
  location: number;
}

/** Text PostgreSQL's grammar rejects, or text that cannot be checked safely (see `parseSql`). */
export class SqlSyntaxError extends Error {
  /** 1-based character position of the error in the input, as PostgreSQL reports it. */
  readonly position?: number;

  constructor(message: string, position?: number) {
    super(message);
    this.name = 'SqlSyntaxError';
    if (position !== undefined) this.position = position;
  }
}

/** The loaded parser; undefined until initParser has finished. */
let lib: LibPgQuery | undefined;
let loading: Promise<void> | undefined;

/** Whether the parser is loaded (initParser has finished). */
export function parserLoaded(): boolean {
  return lib !== undefined;
}

/**
 * Loads the parser's WASM module. Idempotent; concurrent callers share one load; a failed load can be retried.
 * libpg-query starts compiling its WASM as soon as its module is evaluated (tens of milliseconds of start-up), so it is
 * imported here, on first need, rather than at the top: a server answers initialize and tools/list without it.
 */
export function initParser(): Promise<void> {
  if (lib) return Promise.resolve();
  loading ??= import('libpg-query').then(
    async (loaded) => {
      await loaded.loadModule();
      lib = loaded;
    },
    (err: unknown) => {
      loading = undefined;
      throw err;
    },
  );
  return loading;
}

/**
 * PostgreSQL's query fingerprint (the same for statements that differ only in constants or layout), or undefined
 * when the text does not parse or the parser is not loaded.
 */
export function fingerprintSql(sql: string): string | undefined {
  if (!lib) return undefined;
  try {
    return lib.fingerprintSync(sql);
  } catch {
    return undefined;
  }
}

/**
 * Splits `sql` into statements and parses each one. Empty input or input holding only comments gives `[]`.
 * Throws `SqlSyntaxError` for anything PostgreSQL's grammar rejects, and also for text the server could read
 * differently from this parser: a NUL character, an unpaired surrogate, a '…' literal with `\'` in it.
 * Throws a plain Error when `initParser` has not finished.
 */
export function parseSql(sql: string): ParsedStatement[] {
  if (!lib) throw new Error('SQL parser not initialised: await initParser() first');
  rejectUnsendableText(sql);
  if (sql === '') return [];
  const raw = parseRaw(sql);
  const offsets = isAscii(sql) ? undefined : new OffsetMap(sql);
  if (sql.includes("\\'")) rejectBackslashQuoteLiterals(sql, offsets);
  return raw.map((r) => toStatement(sql, r, offsets));
}

/** A statement as libpg-query returns it (offsets in UTF-8 bytes). */
interface RawStatement {
  stmt?: unknown;
  stmt_location?: number;
  stmt_len?: number;
}

function parseRaw(sql: string): RawStatement[] {
  let result: { stmts?: RawStatement[] };
  try {
    result = (lib as LibPgQuery).parseSync(sql) as { stmts?: RawStatement[] };
  } catch (err) {
    throw toSyntaxError(err);
  }
  return result.stmts ?? [];
}

/** libpg-query's error carries a 0-based character cursor (0 also when it has none); PostgreSQL's is 1-based. */
function toSyntaxError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const details = (err as { sqlDetails?: { cursorPosition?: unknown } }).sqlDetails;
  if (details === undefined) return err;
  const cursor = details.cursorPosition;
  const position = typeof cursor === 'number' && Number.isInteger(cursor) && cursor >= 0 ? cursor + 1 : undefined;
  return new SqlSyntaxError(err.message, position);
}

/**
 * PostgreSQL refuses a NUL character in a query, and the parser would silently stop reading at one (C strings), so
 * the text checked would not be the text sent. Lone UTF-16 surrogates cannot be encoded as UTF-8 at all.
 */
function rejectUnsendableText(sql: string): void {
  const nul = sql.indexOf('\0');
  if (nul !== -1) throw unsendable(sql, nul, 'a NUL character (\\0)');
  const surrogate = /\p{Cs}/u.exec(sql);
  if (surrogate) throw unsendable(sql, surrogate.index, 'an unpaired UTF-16 surrogate');
}

function unsendable(sql: string, index: number, what: string): SqlSyntaxError {
  const position = codePointLength(sql.slice(0, index)) + 1;
  return new SqlSyntaxError(`the SQL text contains ${what}, which PostgreSQL does not accept`, position);
}

/**
 * The grammar here reads strings as PostgreSQL does with `standard_conforming_strings = on` (the default). A server
 * session with it off (set per role, database, server or connection) reads `\'` inside a plain '…' literal as an
 * escaped quote, so `select '\' as a, ' , pg_read_file(…) --'` is two harmless literals here and a call there. Such
 * literals (a backslash run of odd length right before a quote) are refused: only they scan differently in the two
 * modes; E'…', $$…$$ and literals without `\'` mean the same either way. Only input containing `\'` is scanned.
 */
function rejectBackslashQuoteLiterals(sql: string, offsets: OffsetMap | undefined): void {
  let tokens: { start: number; text: string; tokenName: string }[];
  try {
    tokens = (lib as LibPgQuery).scanSync(sql).tokens;
  } catch {
    throw new SqlSyntaxError('the SQL text could not be scanned to check its string literals');
  }
  for (const token of tokens) {
    if (token.tokenName !== 'SCONST' || !token.text.startsWith("'")) continue;
    if (!ODD_BACKSLASHES_BEFORE_QUOTE.test(token.text.slice(1))) continue;
    const position = (offsets ? offsets.charIndex(token.start) : token.start) + 1;
    throw new SqlSyntaxError(
      "a '…' string literal has a backslash right before a quote, which PostgreSQL reads differently when " +
        "standard_conforming_strings is off: write it as E'…' with each backslash doubled, or as $$…$$",
      position,
    );
  }
}

const ODD_BACKSLASHES_BEFORE_QUOTE = /(?<!\\)(?:\\\\)*\\'/;

function toStatement(sql: string, raw: RawStatement, offsets: OffsetMap | undefined): ParsedStatement {
  const [type, node] = unwrapNode(raw.stmt);
  const startByte = raw.stmt_location ?? 0;
  const endByte = raw.stmt_len ? startByte + raw.stmt_len : undefined;
  if (!offsets) {
    return { type, node, text: sql.slice(startByte, endByte).trimEnd(), location: startByte };
  }
  indexTree(node, offsets);
  const start = offsets.unitIndex(startByte);
  const end = endByte === undefined ? undefined : offsets.unitIndex(endByte);
  return { type, node, text: sql.slice(start, end).trimEnd(), location: offsets.charIndex(startByte) };
}

/** A node in libpg-query's JSON is `{ TypeName: body }`. */
function unwrapNode(value: unknown): [string, Record<string, unknown>] {
  if (isObject(value)) {
    const keys = Object.keys(value);
    const type = keys[0];
    const body = type === undefined ? undefined : value[type];
    if (keys.length === 1 && type !== undefined && isObject(body)) return [type, body];
  }
  throw new Error('unexpected parse tree shape from libpg-query: a statement is not a single {Type: body} node');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isAscii(text: string): boolean {
  return !/[^\p{ASCII}]/u.test(text);
}

function codePointLength(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/**
 * Fields whose value is a bare node body rather than a `{ Type: body }` wrapper, for the node types the safety checks
 * look for. Each field name is used by exactly one node type in the tree format (checked by a unit test against the
 * installed libpg-query type definitions), so the field name alone identifies the body's type.
 */
export const BARE_NODE_FIELDS: ReadonlyMap<string, string> = new Map([
  ['funccall', 'FuncCall'], // CallStmt.funccall
  ['intoClause', 'IntoClause'], // SelectStmt.intoClause
  ['into', 'IntoClause'], // CreateTableAsStmt.into
]);

/** Fields of parse tree nodes that hold an offset into the input (-1 when unknown). */
const OFFSET_FIELDS = new Set(['location', 'name_location']);

type NodeIndex = Map<string, Record<string, unknown>[]>;
/** The index rides on the tree's root under a symbol: invisible to JSON, `for…in` and `Object.keys`. */
const INDEX = Symbol('pgmcp.nodeIndex');
type Indexed = { [INDEX]?: NodeIndex };
const NO_NODES: readonly Record<string, unknown>[] = Object.freeze([]);

/**
 * The nodes of `type` (e.g. `FuncCall`, `DeleteStmt`) anywhere below `root`, as bodies. `root` itself counts only when
 * it is a `{ Type: body }` wrapper. The first call for a tree indexes it in one pass; later calls are lookups.
 */
export function nodesOfType(root: unknown, type: string): readonly Record<string, unknown>[] {
  if (typeof root !== 'object' || root === null) return NO_NODES;
  const index = (root as Indexed)[INDEX] ?? indexTree(root);
  return index.get(type) ?? NO_NODES;
}

/** One pass over the tree: indexes nodes by type and, for non-ASCII input, rewrites byte offsets to characters. */
function indexTree(root: object, offsets?: OffsetMap): NodeIndex {
  const index: NodeIndex = new Map();
  const add = (type: string, body: Record<string, unknown>) => {
    const list = index.get(type);
    if (list) list.push(body);
    else index.set(type, [body]);
  };
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value !== 'object' || value === null) continue;
    if (Array.isArray(value)) {
      for (const item of value) stack.push(item);
      continue;
    }
    const obj = value as Record<string, unknown>;
    for (const key in obj) {
      const field = obj[key];
      if (typeof field === 'object' && field !== null) {
        if (!Array.isArray(field)) {
          const type = isNodeTypeName(key) ? key : BARE_NODE_FIELDS.get(key);
          if (type !== undefined) add(type, field as Record<string, unknown>);
        }
        stack.push(field);
      } else if (offsets && typeof field === 'number' && field >= 0 && OFFSET_FIELDS.has(key)) {
        obj[key] = offsets.charIndex(field);
      }
    }
  }
  if (Object.isExtensible(root)) Object.defineProperty(root, INDEX, { value: index });
  return index;
}

/** Node type names (wrapper keys) start with a capital letter; field names never do. */
function isNodeTypeName(key: string): boolean {
  const c = key.charCodeAt(0);
  return c >= 65 && c <= 90;
}

/** Maps UTF-8 byte offsets of a non-ASCII input to code point and UTF-16 offsets. */
class OffsetMap {
  private readonly chars: Int32Array;
  private readonly units: Int32Array;

  constructor(text: string) {
    const size = Buffer.byteLength(text, 'utf8') + 1;
    this.chars = new Int32Array(size);
    this.units = new Int32Array(size);
    let byte = 0;
    let char = 0;
    let unit = 0;
    for (const ch of text) {
      const cp = ch.codePointAt(0) ?? 0;
      const width = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      // The parser never reports an offset inside a character; map those bytes to the character anyway.
      for (let i = 0; i < width; i++) {
        this.chars[byte + i] = char;
        this.units[byte + i] = unit;
      }
      byte += width;
      char++;
      unit += ch.length;
    }
    this.chars[byte] = char;
    this.units[byte] = unit;
  }

  /** Code point offset of a byte offset. */
  charIndex(byte: number): number {
    return this.chars[this.clamp(byte)] ?? 0;
  }

  /** UTF-16 code unit offset (a JavaScript string index) of a byte offset. */
  unitIndex(byte: number): number {
    return this.units[this.clamp(byte)] ?? 0;
  }

  private clamp(byte: number): number {
    return Math.min(Math.max(byte, 0), this.chars.length - 1);
  }
}

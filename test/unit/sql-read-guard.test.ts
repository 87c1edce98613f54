import { beforeAll, describe, expect, it, vi } from 'vitest';
import { initParser, parseSql, SqlSyntaxError } from '../../src/sql/parser.js';
import { checkReadStatement } from '../../src/sql/read-guard.js';
import { formatToolError, ToolError } from '../../src/tools/errors.js';

beforeAll(async () => {
  await initParser();
});

/** The ToolError checkReadStatement throws for `sql` (fails the test when it accepts the statement). */
function refusal(sql: string): ToolError {
  try {
    checkReadStatement(sql);
  } catch (err) {
    if (err instanceof ToolError) return err;
    throw err;
  }
  throw new Error(`accepted: ${sql}`);
}

describe('initParser', () => {
  it('is idempotent and safe to call concurrently', async () => {
    await Promise.all([initParser(), initParser(), initParser()]);
    expect(parseSql('select 1')).toHaveLength(1);
  });

  it('must finish before parseSql', async () => {
    vi.resetModules();
    const fresh = await import('../../src/sql/parser.js');
    expect(() => fresh.parseSql('select 1')).toThrow(/initParser/);
    await fresh.initParser();
    expect(fresh.parseSql('select 1')).toHaveLength(1);
  });
});

describe('parseSql', () => {
  it('returns nothing for empty input or comments only', () => {
    expect(parseSql('')).toEqual([]);
    expect(parseSql('  \n\t')).toEqual([]);
    expect(parseSql('-- nothing')).toEqual([]);
    expect(parseSql('/* nothing */ ;;')).toEqual([]);
  });

  it('splits statements with their own text and offsets', () => {
    const sql = 'select 1; /* two */ select 2 ;\n  select 3 -- three\n';
    const stmts = parseSql(sql);
    expect(stmts.map((s) => [s.type, s.text, s.location])).toEqual([
      ['SelectStmt', 'select 1', 0],
      ['SelectStmt', 'select 2', 20],
      ['SelectStmt', 'select 3 -- three', 33],
    ]);
    for (const s of stmts) expect(sql.slice(s.location).startsWith(s.text)).toBe(true);
  });

  it('gives the statement node body under its type', () => {
    const [stmt] = parseSql('drop table t');
    expect(stmt?.type).toBe('DropStmt');
    expect(stmt?.node.removeType).toBe('OBJECT_TABLE');
  });

  it('turns UTF-8 byte offsets into character offsets for multi-byte text', () => {
    const sql = "select 'é😀' as a; select 'ü', x";
    const [first, second] = parseSql(sql);
    expect(first?.text).toBe("select 'é😀' as a");
    expect(second?.text).toBe("select 'ü', x");
    expect(second?.location).toBe(18);
    expect([...sql].slice(18).join('')).toBe("select 'ü', x");
    const targets = second?.node.targetList as { ResTarget: { location: number } }[];
    expect(targets.map((t) => t.ResTarget.location)).toEqual([25, 30]);
    expect([...sql][30]).toBe('x');
  });

  it('leaves non-offset fields named location alone', () => {
    const [stmt] = parseSql("create tablespace ts location '/srv/é'");
    expect(stmt?.node.location).toBe('/srv/é');
  });

  it('throws SqlSyntaxError with a 1-based character position', () => {
    expect(() => parseSql('select 1 frm t')).toThrow(SqlSyntaxError);
    expect.assertions(4);
    try {
      parseSql("select 'é😀' , 'x' frm t");
    } catch (err) {
      expect(err).toBeInstanceOf(SqlSyntaxError);
      expect((err as SqlSyntaxError).message).toBe('syntax error at or near "t"');
      // "t" is the 23rd character (code point); it would be 24 in UTF-16 units and 27 in UTF-8 bytes.
      expect((err as SqlSyntaxError).position).toBe(23);
    }
  });

  it('refuses a NUL character, which the C parser would stop at', () => {
    const err = (() => {
      try {
        parseSql('select 1\u0000; drop table t');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(SqlSyntaxError);
    expect((err as SqlSyntaxError).position).toBe(9);
  });

  it('refuses an unpaired surrogate', () => {
    expect(() => parseSql("select '\uD800'")).toThrow(/surrogate/);
  });

  it("refuses '…' literals with a backslash before a quote (read differently with standard_conforming_strings off)", () => {
    // With standard_conforming_strings off the server sees a pg_read_file call here; this parser sees two literals.
    expect(() => parseSql("select '\\' as a, ' , pg_read_file($$PG_VERSION$$) --'")).toThrow(
      /standard_conforming_strings/,
    );
    expect(() => parseSql("update t set a = '\\' where false and ' , b = 1 --'")).toThrow(SqlSyntaxError);
    expect(() => parseSql("select N'x\\''")).toThrow(SqlSyntaxError);
    expect(() => parseSql("select 'a''\\'")).toThrow(SqlSyntaxError);
    // Same meaning in both modes: accepted.
    expect(parseSql("select E'it\\'s', $$a\\'$$, '\\\\', '\\d+', 'a\\b'")).toHaveLength(1);
    expect(parseSql("select 1 -- it\\'s a comment")).toHaveLength(1);
  });
});

describe('checkReadStatement accepts', () => {
  it.each([
    'select 1',
    'SELECT * FROM t WHERE a = $1',
    'with x as (select 1) select * from x',
    'values (1), (2)',
    'table t',
    'show search_path',
    'explain select * from t',
    'explain delete from t',
    'explain analyze select * from t',
    'select 1;',
    '/* leading */ select 1',
    'select 1 -- trailing',
    'select pg_sleep(0.1)',
    `select "PG_READ_FILE"('x')`,
  ])('%s', (sql) => {
    const stmt = checkReadStatement(sql);
    expect(['SelectStmt', 'ExplainStmt', 'VariableShowStmt']).toContain(stmt.type);
  });

  it('returns the statement text without the trailing semicolon', () => {
    expect(checkReadStatement('  select 1 ;  ').text).toBe('select 1');
  });
});

describe('checkReadStatement refuses', () => {
  it('syntax errors, with the position for a caret', () => {
    const err = refusal('select 1 frm t');
    expect(err.info.code).toBe('syntax_error');
    expect(err.info.statement).toBe('select 1 frm t');
    expect(err.info.pg).toMatchObject({ message: 'syntax error at or near "t"', position: 14 });
    expect(formatToolError(err)).toContain('LINE 1: select 1 frm t\n                     ^');
  });

  it('an unterminated comment that would hide the rest', () => {
    expect(refusal('select 1 /* ; drop table t').info.code).toBe('syntax_error');
  });

  it.each(['', '   ', '-- just a comment', '/* c */', ';'])('empty input %j', (sql) => {
    const err = refusal(sql);
    expect(err.info.code).toBe('empty_statement');
    expect(err.message).toMatch(/empty/);
  });

  it.each([
    ['select 1; commit; drop table t', 3],
    ['select 1; select 2', 2],
    ['begin; select 1', 2],
    ['/* x */ select 1 /* ; */ ; drop table t', 2],
    ['select 1 --\n; delete from t', 2],
    ['select $$;commit;drop table t$$::text; drop table t', 2],
  ])('several statements: %s', (sql, count) => {
    const err = refusal(sql);
    expect(err.info.code).toBe('multiple_statements');
    expect(err.message).toContain(`${count} statements`);
    expect(err.message).toContain('pg_query runs exactly one read statement');
  });

  it('treats comment and string contents as text, not statements', () => {
    expect(checkReadStatement('select 1 /* ; drop table t */').text).toBe('select 1 /* ; drop table t */');
    expect(checkReadStatement("select '; drop table t'").type).toBe('SelectStmt');
    expect(checkReadStatement('select 1; -- drop table t').text).toBe('select 1');
  });

  it.each([
    ['drop table t', 'DROP TABLE', 'destructive', /pg_execute/],
    ['delete from t', 'DELETE', 'destructive', /confirmation/],
    ['insert into t values (1)', 'INSERT', 'write', /pg_execute/],
    ['create table t (a int)', 'CREATE TABLE', 'ddl', /pg_execute/],
    ['select 1 into t', 'SELECT INTO', 'ddl', /pg_execute/],
    ['select * from t for update', 'SELECT', 'write', /pg_execute/],
    ['select * from (select * from t for update) s', 'SELECT', 'write', /pg_execute/],
    ['with d as (delete from t returning *) select * from d', 'SELECT', 'destructive', /pg_execute/],
    [
      'select * from (with u as (insert into t values (1) returning *) select * from u) s',
      'SELECT',
      'write',
      /pg_execute/,
    ],
    ['explain analyze insert into t values (1)', 'EXPLAIN ANALYZE INSERT', 'write', /pg_execute/],
    ['explain (analyze, buffers) delete from t', 'EXPLAIN ANALYZE DELETE', 'destructive', /pg_execute/],
    ['commit', 'COMMIT', 'transaction', /pg_tx/],
    ['begin read only', 'BEGIN', 'transaction', /pg_tx/],
    ['set default_transaction_read_only = off', 'SET', 'session', /session state/],
    ['set role postgres', 'SET ROLE', 'session', /session state/],
    ['prepare p as select 1', 'PREPARE', 'session', /session state/],
    ['listen chan', 'LISTEN', 'session', /session state/],
    ['vacuum', 'VACUUM', 'admin', /pg_admin/],
    ["copy t to '/tmp/x'", 'COPY TO FILE', 'admin', /pg_admin/],
    ["copy (select 1) to program 'touch /tmp/x'", 'COPY TO PROGRAM', 'admin', /pg_admin/],
    ['do $$ begin end $$', 'DO', 'destructive', /pg_execute/],
    ['call p()', 'CALL', 'destructive', /pg_execute/],
  ])('%s (not read-only)', (sql, command, cls, hint) => {
    const err = refusal(sql);
    expect(err.info.code).toBe('not_read_only');
    expect(err.message).toContain(`this ${command} is`);
    expect(err.message).toContain(` ${cls} statement`);
    expect(err.info.hint).toMatch(hint);
    expect(err.info.statement).toBe(sql);
  });

  it('read-only statements pg_query cannot run (COPY … TO STDOUT)', () => {
    const err = refusal('copy (select 1) to stdout');
    expect(err.info.code).toBe('not_read_only');
    expect(err.message).toContain('COPY TO STDOUT');
  });

  it.each([
    ["select pg_read_file('/etc/passwd')", 'pg_read_file', 'file access', 8],
    ["select * from pg_read_file('/etc/passwd')", 'pg_read_file', 'file access', 15],
    ['select * from t, lateral pg_ls_dir(t.d) f', 'pg_ls_dir', 'file access', 26],
    ["select * from rows from (pg_ls_dir('.'))", 'pg_ls_dir', 'file access', 26],
    ['with recursive r as (select pg_advisory_lock(44) as x) select * from r', 'pg_advisory_lock', 'advisory lock', 29],
    ['select * from t where pg_try_advisory_lock(43)', 'pg_try_advisory_lock', 'advisory lock', 23],
    ['select * from t order by pg_read_file(t.f)', 'pg_read_file', 'file access', 26],
    ["select * from set_config('transaction_read_only', 'off', true)", 'set_config', 'configuration', 15],
    ['explain select pg_terminate_backend(1)', 'pg_terminate_backend', 'program/backend signalling', 16],
    ["explain analyze select nextval('s')", 'nextval', 'sequence change', 24],
    ["select query_to_xml('select pg_advisory_lock(45)', true, false, '')", 'query_to_xml', 'executes SQL text', 8],
    ["select dblink_exec('dbname=x', 'delete from t')", 'dblink_exec', 'remote connection', 8],
    ['select pg_stat_reset()', 'pg_stat_reset', 'statistics reset', 8],
    ["SeLeCt PG_CATALOG.Pg_Read_File('/etc/passwd')", 'pg_catalog.pg_read_file', 'file access', 8],
    [`select U&"pg\\005fread\\005ffile"('/etc/passwd')`, 'pg_read_file', 'file access', 8],
    ["select 'é😀', lo_import('/etc/passwd')", 'lo_import', 'large object', 14],
  ])('%s (denied function)', (sql, name, category, position) => {
    const err = refusal(sql);
    expect(err.info.code).toBe('denied_function');
    expect(err.message).toContain(`${name}()`);
    expect(err.message).toContain(category);
    expect(err.info.pg?.position).toBe(position);
    expect(err.info.statement).toBe(sql);
  });

  it('names every denied function when there are several', () => {
    const err = refusal("select lo_import('x'), pg_read_file('y'), lo_import('z')");
    expect(err.message).toContain('lo_import() (large object), pg_read_file() (file access)');
    expect(err.message.match(/lo_import/g)).toHaveLength(1);
  });

  it('points at pg_admin for actions it offers', () => {
    expect(refusal('select pg_cancel_backend(1)').info.hint).toMatch(/pg_admin/);
    expect(refusal('select pg_stat_reset()').info.hint).toMatch(/pg_admin/);
  });

  it('text PostgreSQL cannot take', () => {
    expect(refusal('select 1\u0000; drop table t').info.code).toBe('syntax_error');
    expect(refusal("select '\\' as a, ' , pg_read_file($$x$$) --'").info.code).toBe('syntax_error');
  });
});

describe('checkReadStatement remembers what it accepted', () => {
  it('gives back the same parsed statement for the same text, and refuses a refused text every time', () => {
    const sql = 'select 42 as remembered';
    const first = checkReadStatement(sql);
    expect(checkReadStatement(sql)).toBe(first);
    expect(checkReadStatement(`${sql} `)).not.toBe(first);
    for (let i = 0; i < 2; i++) expect(refusal('delete from t').info.code).toBe('not_read_only');
  });

  it('keeps a bounded number of statements', () => {
    const first = checkReadStatement('select 0 as evicted');
    for (let i = 1; i <= 300; i++) checkReadStatement(`select ${i} as n`);
    expect(checkReadStatement('select 0 as evicted')).not.toBe(first);
  });
});

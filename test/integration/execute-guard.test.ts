/** pg_execute's statement checks (src/sql/write-guard.ts) on their own: no server needed. */
import { beforeAll, describe, expect, it } from 'vitest';
import { initParser } from '../../src/sql/parser.js';
import { checkWriteBatch, checkWriteSql } from '../../src/sql/write-guard.js';
import { formatToolError, ToolError } from '../../src/tools/errors.js';

beforeAll(async () => {
  await initParser();
});

function refusal(sql: string, access: 'write' | 'admin' = 'write'): ToolError {
  try {
    checkWriteSql(sql, access);
  } catch (err) {
    if (err instanceof ToolError) return err;
    throw err;
  }
  throw new Error(`accepted: ${sql}`);
}

describe('write guard: what each statement needs', () => {
  it.each([
    ['drop table a, s.b cascade', ['TABLE a', 'TABLE s.b']],
    ['drop function f(int, text)', ['FUNCTION f(int4, text)']],
    ['drop schema if exists s1', ['SCHEMA s1']],
    ['drop type mood', ['TYPE mood']],
    ['truncate a, s.b', ['TABLE a', 'TABLE s.b']],
    ['delete from s.orders where id = 1', ['TABLE s.orders']],
    ['alter table orders drop column note', ['TABLE orders']],
    ['create index concurrently i on t (a)', ['INDEX i ON t']],
    ['create materialized view mv as select 1', ['MATERIALIZED VIEW mv']],
    ['call p(1)', ['PROCEDURE p']],
    ['do $$ begin end $$', ['anonymous code block']],
    ['comment on table t is $$x$$', ['TABLE t']],
  ])('%s names %j', (sql, targets) => {
    expect(checkWriteSql(sql, 'admin').targets).toEqual(targets);
  });

  it.each([
    ['create index concurrently i on t (a)', 'CREATE INDEX CONCURRENTLY'],
    ['drop index concurrently i', 'DROP INDEX CONCURRENTLY'],
    ['reindex (concurrently) table t', 'REINDEX CONCURRENTLY'],
    ['reindex schema public', 'REINDEX SCHEMA'],
    ['vacuum t', 'VACUUM'],
    ['cluster', 'CLUSTER without a table'],
    ['create database d', 'CREATE DATABASE'],
    ['alter system set work_mem = 1', 'ALTER SYSTEM'],
    ['alter table p detach partition c concurrently', 'DETACH PARTITION CONCURRENTLY'],
  ])('%s cannot run in a transaction block (%s)', (sql, reason) => {
    expect(checkWriteSql(sql, 'admin').nonTransactional).toBe(reason);
  });

  it.each([
    'create index i on t (a)',
    'reindex (concurrently false) table t',
    'analyze t',
    'cluster t using i',
    'alter table p detach partition c',
  ])('%s can run in a transaction block', (sql) => {
    expect(checkWriteSql(sql, 'admin').nonTransactional).toBeUndefined();
  });

  it.each([
    ['create temp table t (a int)', true],
    ['create temporary view v as select 1', true],
    ['create table pg_temp.t (a int)', true],
    ['create temp sequence s', true],
    ['select 1 as a into temp t', true],
    ['create temp table t as select 1', true],
    ['create function pg_temp.f() returns int language sql as $$ select 1 $$', true],
    ['create temp table t (a int) on commit drop', false],
    ['create table t (a int)', false],
  ])('%s makes a temporary object: %s', (sql, temporary) => {
    expect(checkWriteSql(sql, 'write').temporary).toBe(temporary);
  });

  it('marks DO and CALL as opaque and destructive; other statements as neither', () => {
    for (const sql of ['do $$ begin end $$', 'call p()']) {
      const s = checkWriteSql(sql, 'write');
      expect(s.opaque).toBe(true);
      expect(s.classification.class).toBe('destructive');
    }
    expect(checkWriteSql('insert into t values (1)', 'write').opaque).toBe(false);
  });

  it('needs admin (and the admin login) for admin statements and their destructive counterparts', () => {
    for (const sql of [
      'vacuum t',
      'grant select on t to public',
      'drop database d',
      'drop role r',
      'drop owned by r',
    ]) {
      expect(refusal(sql).info.code).toBe('access_denied');
      expect(checkWriteSql(sql, 'admin').access).toBe('admin');
    }
    expect(checkWriteSql('drop table t', 'write').access).toBe('write');
  });
});

describe('write guard: functions', () => {
  it.each([
    "insert into t select nextval('s')",
    "select setval('s', 1) into t2",
    "insert into t select 1 from (select pg_notify('c', 'x')) n",
    'insert into t select 1 from (select pg_advisory_xact_lock(1)) l',
    'insert into t select 1 where pg_try_advisory_xact_lock_shared(1, 2)',
    "notify c, 'x'",
  ])('allows %s', (sql) => {
    expect(() => checkWriteSql(sql, 'write')).not.toThrow();
  });

  it.each([
    ['insert into t select pg_advisory_unlock_all()', 'advisory lock'],
    ["update t set a = length(pg_read_binary_file('x'))::int where a = 1", 'file access'],
    ["insert into t select query_to_xml('select 1', true, true, '')", 'executes SQL text'],
    ["insert into t select hypopg_create_index('create index on t (a)')", 'session state'],
    ["insert into t select create_distributed_table('t', 'a')", 'Citus cluster change'],
  ])('refuses %s (%s)', (sql, category) => {
    const e = refusal(sql, 'admin');
    expect(e.info.code).toBe('denied_function');
    expect(e.message).toContain(`(${category})`);
  });

  it('puts the caret under the call, counted from the statement (leading comments left out)', () => {
    const e = refusal("-- note\ninsert into t values (pg_read_file('x'))");
    expect(formatToolError(e)).toContain(
      "LINE 1: insert into t values (pg_read_file('x'))\n                              ^",
    );
  });
});

describe('write guard: batches', () => {
  it('names the element of statements that is refused', () => {
    expect(() => checkWriteBatch(['insert into t values (1)', 'select 1'], 'write')).toThrow(/^statements\[1\]: /);
    expect(() => checkWriteBatch(['insert into t values (1)', 'begin'], 'write')).toThrow(/statements\[1\]/);
  });

  it('refuses an element holding two statements', () => {
    expect(() => checkWriteBatch(['insert into t values (1); insert into t values (2)'], 'write')).toThrow(
      /statements\[0\] holds 2 statements; each element of statements is exactly one statement/,
    );
  });

  it('refuses an empty element', () => {
    expect(() => checkWriteBatch(['-- nothing'], 'write')).toThrow(/statements\[0\]: the SQL text is empty/);
  });
});

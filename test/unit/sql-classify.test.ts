import { beforeAll, describe, expect, it } from 'vitest';
import { type Classification, classifyStatement, isDestructive, type StatementClass } from '../../src/sql/classify.js';
import { initParser, parseSql } from '../../src/sql/parser.js';

beforeAll(async () => {
  await initParser();
});

/** Classifies the one statement in `sql`. */
function classify(sql: string): Classification {
  const stmts = parseSql(sql);
  expect(stmts).toHaveLength(1);
  const [stmt] = stmts;
  if (!stmt) throw new Error('no statement');
  return classifyStatement(stmt);
}

type Case = [sql: string, command: string];

function expectClass(cls: StatementClass, cases: Case[]): void {
  it.each(cases)('%s → %s', (sql, command) => {
    const c = classify(sql);
    expect(c.class).toBe(cls);
    expect(c.command).toBe(command);
  });
}

describe('read', () => {
  expectClass('read', [
    ['select 1', 'SELECT'],
    ['SELECT a, b FROM t WHERE a = $1 ORDER BY b LIMIT 10', 'SELECT'],
    ['with x as (select 1) select * from x', 'SELECT'],
    ['with recursive r(n) as (select 1 union all select n + 1 from r where n < 3) select * from r', 'SELECT'],
    ['with x as materialized (select 1) select * from x', 'SELECT'],
    ['select 1 union all select 2 except select 3', 'SELECT'],
    ['select * from t where exists (select 1 from u where u.id = t.id)', 'SELECT'],
    ['values (1, 2), (3, 4)', 'VALUES'],
    ['table t', 'SELECT'],
    ['show search_path', 'SHOW'],
    ['show all', 'SHOW'],
    ['explain select * from t', 'EXPLAIN'],
    ['explain (costs off, format json) select 1', 'EXPLAIN'],
    ['explain delete from t', 'EXPLAIN'],
    ['explain (analyze false) delete from t', 'EXPLAIN'],
    ['explain (analyze off, buffers) update t set a = 1', 'EXPLAIN'],
    ['explain (analyze 0) insert into t values (1)', 'EXPLAIN'],
    ['explain analyze select 1', 'EXPLAIN ANALYZE SELECT'],
    ['explain (analyze, verbose) with x as (select 1) select * from x', 'EXPLAIN ANALYZE SELECT'],
    ['copy t to stdout', 'COPY TO STDOUT'],
    ['copy (select * from t) to stdout with (format csv)', 'COPY TO STDOUT'],
  ]);

  it('is not fooled by case, comments or strings that mention writes', () => {
    for (const sql of [
      'SeLeCt 1',
      '/* drop table t */ select 1',
      '-- delete from t\nselect 1',
      "select 'drop table t; delete from t'",
      'select $$; drop table t; $$',
      'with "delete" as (select 1) select * from "delete"',
      'select "update" from "insert"',
    ]) {
      expect(classify(sql).class, sql).toBe('read');
    }
  });
});

describe('write', () => {
  expectClass('write', [
    ['insert into t values (1)', 'INSERT'],
    ['insert into t select * from u', 'INSERT'],
    ['insert into t values (1) on conflict (id) do update set a = excluded.a', 'INSERT'],
    ['update t set a = 1 where id = 2', 'UPDATE'],
    ['update t set a = u.a from u where u.id = t.id', 'UPDATE'],
    ['delete from t where id = 1', 'DELETE'],
    ['delete from t where current of c', 'DELETE'],
    [
      'merge into t using s on t.id = s.id when matched then update set a = s.a when not matched then insert values (s.id)',
      'MERGE',
    ],
    ['copy t from stdin', 'COPY FROM STDIN'],
    ['copy t (a, b) from stdin with (format csv) where a > 0', 'COPY FROM STDIN'],
    ['lock table t in access exclusive mode', 'LOCK'],
    ['refresh materialized view concurrently v', 'REFRESH MATERIALIZED VIEW'],
    ["comment on table t is 'orders'", 'COMMENT'],
    ['select * from t for update', 'SELECT'],
    ['select * from t for share nowait', 'SELECT'],
    ['select * from (select * from t for update) s', 'SELECT'],
    ['select * from t where id in (select id from u for no key update)', 'SELECT'],
    ['with x as (select * from t for key share) select * from x', 'SELECT'],
    ['with d as (insert into t values (1) returning *) select * from d', 'SELECT'],
    ['with x as (select 1), d as (update t set a = 1 where id = 1 returning *) select * from x, d', 'SELECT'],
    ["select * from (with u as (update t set v = 'y' where id = 1 returning *) select * from u) s", 'SELECT'],
    ['explain analyze insert into t values (1)', 'EXPLAIN ANALYZE INSERT'],
    ['explain (analyze, buffers) update t set a = 1 where id = 1', 'EXPLAIN ANALYZE UPDATE'],
    ['explain (analyze yes) delete from t where id = 1', 'EXPLAIN ANALYZE DELETE'],
    ['explain analyze select * from t for update', 'EXPLAIN ANALYZE SELECT'],
  ]);

  it('says why a SELECT writes', () => {
    expect(classify('select * from t for update').reason).toBe('locks rows (FOR UPDATE)');
    expect(classify('select * from (select 1 from t for share) s').reason).toBe('locks rows (FOR SHARE)');
    expect(classify('with d as (insert into t values (1) returning *) select * from d').reason).toBe(
      'contains a data-modifying INSERT',
    );
    expect(classify('explain analyze insert into t values (1)').reason).toBe('EXPLAIN ANALYZE runs the INSERT');
  });
});

describe('ddl', () => {
  expectClass('ddl', [
    ['create table t (a int primary key, b text default now())', 'CREATE TABLE'],
    ['create temp table t (a int)', 'CREATE TABLE'],
    ['create table t as select 1', 'CREATE TABLE AS'],
    ['create materialized view v as select 1', 'CREATE MATERIALIZED VIEW'],
    ['select 1 into t', 'SELECT INTO'],
    ['select * into temp stolen from t', 'SELECT INTO'],
    ['create index concurrently i on t (a)', 'CREATE INDEX'],
    ['create view v as select 1', 'CREATE VIEW'],
    ['create or replace view v as select 1', 'CREATE OR REPLACE VIEW'],
    ['create or replace function f() returns int language sql as $$select 1$$', 'CREATE OR REPLACE FUNCTION'],
    ['create procedure p() language sql as $$select 1$$', 'CREATE PROCEDURE'],
    ['alter function f() stable', 'ALTER FUNCTION'],
    ['create schema s', 'CREATE SCHEMA'],
    ['create sequence s', 'CREATE SEQUENCE'],
    ['alter sequence s restart with 10', 'ALTER SEQUENCE'],
    ['create extension if not exists hypopg', 'CREATE EXTENSION'],
    ['alter extension hypopg update', 'ALTER EXTENSION'],
    ['create trigger trg before insert on t for each row execute function f()', 'CREATE TRIGGER'],
    ['create policy p on t using (owner = current_user)', 'CREATE POLICY'],
    ["create type mood as enum ('sad', 'ok')", 'CREATE TYPE'],
    ["alter type mood add value 'happy'", 'ALTER TYPE'],
    ['create domain posint as int check (value > 0)', 'CREATE DOMAIN'],
    ['create aggregate agg(int) (sfunc = int4pl, stype = int)', 'CREATE AGGREGATE'],
    ['alter table t add column b int', 'ALTER TABLE'],
    ['alter table t alter column b set default 1, add constraint c check (b > 0)', 'ALTER TABLE'],
    ['alter index i set (fillfactor = 70)', 'ALTER INDEX'],
    ['alter table t rename to u', 'ALTER TABLE RENAME'],
    ['alter table t rename column a to b', 'ALTER TABLE RENAME'],
    ['alter view v rename to w', 'ALTER VIEW RENAME'],
    ['alter table t owner to r', 'ALTER TABLE'],
    ['alter function f() owner to r', 'ALTER FUNCTION OWNER'],
    ['alter table t set schema s', 'ALTER TABLE SET SCHEMA'],
    ["create server s foreign data wrapper postgres_fdw options (host 'h')", 'CREATE SERVER'],
    ['import foreign schema public from server s into local_schema', 'IMPORT FOREIGN SCHEMA'],
  ]);
});

describe('destructive', () => {
  expectClass('destructive', [
    ['drop table t', 'DROP TABLE'],
    ['drop table if exists t, u cascade', 'DROP TABLE'],
    ['drop index concurrently i', 'DROP INDEX'],
    ['drop materialized view mv', 'DROP MATERIALIZED VIEW'],
    ['drop schema s cascade', 'DROP SCHEMA'],
    ['drop function f(int)', 'DROP FUNCTION'],
    ['drop extension hypopg', 'DROP EXTENSION'],
    ['drop publication p', 'DROP PUBLICATION'],
    ['truncate t', 'TRUNCATE'],
    ['truncate table t, u restart identity cascade', 'TRUNCATE'],
    ['delete from t', 'DELETE'],
    ['update t set a = 1', 'UPDATE'],
    ['delete from t where true', 'DELETE'],
    ['update t set a = 1 where 1 = 1', 'UPDATE'],
    ["delete from t where 'yes'::boolean", 'DELETE'],
    ['delete from t where id = 1 or true', 'DELETE'],
    ['merge into t using s on t.id = s.id when matched then delete', 'MERGE'],
    ['with d as (delete from t returning *) select * from d', 'SELECT'],
    ['with d as (update t set a = 1) insert into log select 1', 'INSERT'],
    ['alter table t drop column a', 'ALTER TABLE'],
    ['alter table t drop constraint c', 'ALTER TABLE'],
    ['alter table t alter column a type bigint', 'ALTER TABLE'],
    ['alter table t alter column a drop default', 'ALTER TABLE'],
    ['alter table t alter column a drop not null', 'ALTER TABLE'],
    ['alter table t detach partition p', 'ALTER TABLE'],
    ['alter domain posint drop constraint c', 'ALTER DOMAIN'],
    ['do $$ begin delete from t; end $$', 'DO'],
    ['call p()', 'CALL'],
    ['drop database d', 'DROP DATABASE'],
    ['drop role r', 'DROP ROLE'],
    ['drop user u', 'DROP ROLE'],
    ['drop owned by r', 'DROP OWNED'],
    ['reassign owned by a to b', 'REASSIGN OWNED'],
    ['drop subscription s', 'DROP SUBSCRIPTION'],
    ['alter publication p drop table t', 'ALTER PUBLICATION'],
    ['drop tablespace ts', 'DROP TABLESPACE'],
    ['explain analyze delete from t', 'EXPLAIN ANALYZE DELETE'],
    ['copy (delete from t returning *) to stdout', 'COPY TO STDOUT'],
  ]);

  it('says why', () => {
    expect(classify('delete from public.orders').reason).toBe(
      'has no WHERE clause: removes every row of public.orders',
    );
    expect(classify('update t set a = 1 where 1 = 1').reason).toBe(
      'has a WHERE clause that is always true: changes every row of t',
    );
    expect(classify('alter table t drop column a, alter column b type text').reason).toBe(
      'drops column a; rewrites the column b (SET DATA TYPE)',
    );
    expect(classify('do $$ begin end $$').reason).toBe('runs code whose effects cannot be checked');
    expect(classify('call p()').reason).toBe('runs code whose effects cannot be checked');
    expect(classify('with d as (delete from t) select 1').reason).toBe(
      'contains a data-modifying DELETE that has no WHERE clause: removes every row of t',
    );
    expect(classify('drop table t cascade').reason).toBe('drops objects and everything that depends on them');
  });

  it('keeps the worst of a statement and what is nested in it', () => {
    expect(classify('select * into t2 from (select 1) s').class).toBe('ddl');
    expect(classify('with d as (delete from t) select * into t2 from u').class).toBe('destructive');
    expect(classify('insert into t select * from u for update').class).toBe('write');
  });

  it('isDestructive', () => {
    expect(isDestructive(classify('drop table t'))).toBe(true);
    expect(isDestructive(classify('delete from t where id = 1'))).toBe(false);
    expect(isDestructive(classify('select 1'))).toBe(false);
  });
});

describe('admin', () => {
  expectClass('admin', [
    ['vacuum', 'VACUUM'],
    ['vacuum (full, analyze) t', 'VACUUM'],
    ['analyze t', 'ANALYZE'],
    ['reindex table concurrently t', 'REINDEX'],
    ['cluster t using i', 'CLUSTER'],
    ['checkpoint', 'CHECKPOINT'],
    ["alter system set work_mem = '1GB'", 'ALTER SYSTEM'],
    ['create database d', 'CREATE DATABASE'],
    ['alter database d set work_mem = 1', 'ALTER DATABASE'],
    ['alter database d owner to r', 'ALTER DATABASE OWNER'],
    ['alter database d rename to e', 'ALTER DATABASE RENAME'],
    ['create role r login', 'CREATE ROLE'],
    ['create user u', 'CREATE USER'],
    ['create group g', 'CREATE GROUP'],
    ["alter role r with password 'x'", 'ALTER ROLE'],
    ['alter user u set search_path = s', 'ALTER ROLE'],
    ['grant select on t to r', 'GRANT'],
    ['revoke all on t from r', 'REVOKE'],
    ['grant r to u', 'GRANT'],
    ['alter default privileges grant select on tables to r', 'ALTER DEFAULT PRIVILEGES'],
    ["copy t to '/tmp/x'", 'COPY TO FILE'],
    ["copy t from '/tmp/x'", 'COPY FROM FILE'],
    ["copy t to program 'gzip > /tmp/x'", 'COPY TO PROGRAM'],
    ["copy (select 1) to program 'touch /tmp/x'", 'COPY TO PROGRAM'],
    ["copy t from program 'echo 1'", 'COPY FROM PROGRAM'],
    ["load 'auto_explain'", 'LOAD'],
    ["security label on table t is 'secret'", 'SECURITY LABEL'],
    ['create publication p for all tables', 'CREATE PUBLICATION'],
    ["create subscription s connection 'host=x' publication p", 'CREATE SUBSCRIPTION'],
    ['alter subscription s disable', 'ALTER SUBSCRIPTION'],
    ["create tablespace ts location '/srv/ts'", 'CREATE TABLESPACE'],
    ['create schema s create table t (a int) grant select on t to public', 'CREATE SCHEMA'],
  ]);

  it('says why for COPY to or from the server', () => {
    expect(classify("copy t to program 'x'").reason).toBe('runs a shell command on the database server');
    expect(classify("copy t from '/etc/passwd'").reason).toBe('reads a file on the database server');
  });

  it('fails closed on a statement kind it does not know', () => {
    expect(classifyStatement({ type: 'FutureStmt', node: {}, text: 'future', location: 0 })).toEqual({
      class: 'admin',
      command: 'FutureStmt',
      reason: 'unrecognised statement kind',
    });
  });
});

describe('transaction', () => {
  expectClass('transaction', [
    ['begin', 'BEGIN'],
    ['begin isolation level serializable read only', 'BEGIN'],
    ['start transaction read write', 'START TRANSACTION'],
    ['commit', 'COMMIT'],
    ['commit and chain', 'COMMIT'],
    ['end', 'COMMIT'],
    ['rollback', 'ROLLBACK'],
    ['abort', 'ROLLBACK'],
    ['savepoint a', 'SAVEPOINT'],
    ['release savepoint a', 'RELEASE SAVEPOINT'],
    ['release a', 'RELEASE SAVEPOINT'],
    ['rollback to savepoint a', 'ROLLBACK TO SAVEPOINT'],
    ["prepare transaction 'x'", 'PREPARE TRANSACTION'],
    ["commit prepared 'x'", 'COMMIT PREPARED'],
    ["rollback prepared 'x'", 'ROLLBACK PREPARED'],
  ]);
});

describe('session', () => {
  expectClass('session', [
    ['set search_path = s, public', 'SET'],
    ["set local work_mem = '1MB'", 'SET LOCAL'],
    ['set default_transaction_read_only = off', 'SET'],
    ['set "constructor" = 1', 'SET'],
    ['reset all', 'RESET'],
    ['reset work_mem', 'RESET'],
    ['set role r', 'SET ROLE'],
    ['reset role', 'RESET ROLE'],
    ["set session authorization 'u'", 'SET SESSION AUTHORIZATION'],
    ['set transaction read write', 'SET TRANSACTION'],
    ['set constraints all deferred', 'SET CONSTRAINTS'],
    ['discard all', 'DISCARD'],
    ['listen chan', 'LISTEN'],
    ['unlisten *', 'UNLISTEN'],
    ["notify chan, 'x'", 'NOTIFY'],
    ['prepare p as delete from t', 'PREPARE'],
    ['execute p(1)', 'EXECUTE'],
    ['deallocate all', 'DEALLOCATE'],
    ['declare c cursor with hold for select 1', 'DECLARE'],
    ['fetch 10 from c', 'FETCH'],
    ['move c', 'MOVE'],
    ['close c', 'CLOSE'],
  ]);
});

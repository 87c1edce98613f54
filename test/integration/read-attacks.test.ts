/**
 * The read-only attack suite: crafted statements that try to write, hold, signal, read files or leave a pooled
 * connection changed. Each must be refused (by pgmcp or by PostgreSQL inside the read-only transaction), and a
 * separate connection then checks that nothing was written, nothing is held and the server still answers.
 */
import { existsSync, rmSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type InProcess, pgEnv, startInProcess } from '../support/mcp-client.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';

const FILE = '/tmp/pgmcp-attack-out';
const PROGRAM_FILE = '/tmp/pgmcp-attack-program';

let db: TestDatabase;
let mcp: InProcess;
let verify: pg.Client;

/**
 * Statements, or sequences of statements sent as separate calls (the attack needs a later call to act).
 * Each is refused, except the `neutralised` ones: a user function whose body pgmcp cannot see may run, and what it
 * leaves behind that a rollback does not undo (session advisory locks, prepared statements) is cleared.
 */
type Outcome = 'refused' | 'neutralised';
const attacks: [string, string | string[], Outcome?][] = [
  ['multi-statement with COMMIT', 'select 1; commit; drop table victim'],
  ['COMMIT first', 'commit; insert into victim values (2)'],
  ['END then delete', 'end; delete from victim'],
  ['ROLLBACK then update', "rollback; update victim set v = 'x'"],
  ['nested BEGIN/COMMIT', 'select 1; begin; insert into victim values (3); commit'],
  ['comment hiding a second statement', '/* x */ select 1 /* ; */ ; drop table victim'],
  ['line comment then statement', 'select 1 --\n; delete from victim'],
  ['dollar quote then statement', 'select $$;commit;drop table victim$$::text; drop table victim'],
  ['TABLE then delete', 'table victim; delete from victim'],
  ['data-modifying CTE (delete)', 'with d as (delete from victim returning *) select * from d'],
  [
    'data-modifying CTE (insert) after a read CTE',
    'with x as (select 1), d as (insert into victim values (4) returning *) select * from x, d',
  ],
  [
    'data-modifying CTE in a subquery',
    "select * from (with u as (update victim set v = 'y' returning *) select * from u) s",
  ],
  ['SELECT INTO', 'select * into stolen from victim'],
  ['FOR UPDATE', 'select * from victim for update'],
  ['FOR SHARE NOWAIT', 'select * from victim for share nowait'],
  ['FOR UPDATE in a subquery', 'select * from (select * from victim for update) s'],
  ['SET then write', ['set default_transaction_read_only = off', 'insert into victim values (5)']],
  [
    'set_config then write',
    ["select set_config('default_transaction_read_only', 'off', false)", 'insert into victim values (5)'],
  ],
  ['set_config in FROM', "select * from set_config('transaction_read_only', 'off', true)"],
  ['SET ROLE', 'set role postgres'],
  ['RESET ALL', 'reset all'],
  ['DO block', 'do $$ begin insert into victim values (6); end $$'],
  ['CALL a writing procedure', 'call evil_proc()'],
  ['COPY to a file', `copy victim to '${FILE}'`],
  ['COPY to a program', `copy (select 1) to program 'touch ${PROGRAM_FILE}'`],
  ['COPY from a program', "copy victim from program 'echo 9'"],
  ['file read in the select list', "select pg_read_file('/etc/passwd')"],
  ['file read in FROM', "select * from pg_read_file('/etc/passwd')"],
  ['file read in LATERAL', "select * from victim, lateral pg_read_file('/etc/passwd') f"],
  ['file read in a scalar subquery', "select (select pg_read_file('/etc/passwd'))"],
  ['file read in VALUES', "values (pg_read_binary_file('/etc/passwd'))"],
  ['directory listing in ROWS FROM', "select * from rows from (pg_ls_dir('.'))"],
  ['directory listing in ARRAY()', "select array(select pg_ls_dir('.'))"],
  ['pg_stat_file', "select pg_stat_file('postgresql.conf')"],
  ['large object import', "select lo_import('/etc/passwd')"],
  ['large object export', `select lo_export(1, '${FILE}')`],
  [
    'terminate the verifying backend',
    'select pg_terminate_backend(pid) from pg_stat_activity where application_name = $$pgmcp-verify$$',
  ],
  ['cancel own backend', 'select pg_cancel_backend(pg_backend_pid())'],
  ['reload configuration', 'select pg_reload_conf()'],
  ['session advisory lock', 'select pg_advisory_lock(42)'],
  ['advisory lock in WHERE', 'select * from victim where pg_try_advisory_lock(43)'],
  ['advisory lock in a recursive CTE', 'with recursive t as (select pg_advisory_lock(44) as x) select * from t'],
  ['dblink_exec write', "select dblink_exec('dbname=' || current_database(), 'insert into victim values (7)')"],
  ['dblink in FROM', "select * from dblink('dbname=' || current_database(), 'select 1') as t(x int)"],
  ['user function that writes', 'select evil_write()'],
  ['user function switching read-only off, then a write', ['select evil_rw_off()', 'select evil_write()']],
  ['user function taking a session advisory lock', 'select evil_lock()', 'neutralised'],
  ['user function leaving a prepared statement', 'select evil_prepare()', 'neutralised'],
  ['user function in FROM that writes', 'select * from evil_write()'],
  ['EXPLAIN ANALYZE insert', 'explain analyze insert into victim values (8)'],
  ['EXPLAIN (ANALYZE) delete', 'explain (analyze, buffers) delete from victim'],
  ['EXPLAIN ANALYZE of a writing function', 'explain analyze select evil_write()'],
  ['pg_sleep past the statement timeout', 'select pg_sleep(5)'],
  ['quoted function name', 'SeLeCt "pg_read_file"(\'/etc/passwd\')'],
  ['upper-case schema-qualified name', "select PG_CATALOG.PG_READ_FILE('/etc/passwd')"],
  ['unicode-escaped identifier', 'select U&"pg\\005fread\\005ffile"(\'/etc/passwd\')'],
  ['nextval', "select nextval('victim_seq')"],
  ['SQL text run by query_to_xml', "select query_to_xml('select pg_advisory_lock(45)', true, false, '')"],
  ['pg_notify', "select pg_notify('chan', 'x')"],
  ['LISTEN', 'listen chan'],
  ['PREPARE', 'prepare p as insert into victim values (10)'],
  ['DECLARE WITH HOLD', 'declare c cursor with hold for select 1'],
  ['switch WAL', 'select pg_switch_wal()'],
  ['create a replication slot', "select pg_create_physical_replication_slot('evil')"],
  ['statistics reset', 'select pg_stat_reset()'],
  ['VACUUM', 'vacuum victim'],
  ['psql meta-command', 'select 1 \\g /tmp/x'],
  // The database reads backslash escapes in plain literals (set below): the parser and the server must still agree.
  ['backslash-quote literal hiding a call', "select '\\' as a, ' , pg_read_file($$PG_VERSION$$) --'"],
];

async function snapshot() {
  const r = await verify.query(`
    select (select count(*) from victim)::int as victim_rows,
           (select string_agg(v, ',' order by id) from victim) as victim_values,
           (select last_value from victim_seq)::int as seq,
           to_regclass('stolen') is not null as stolen,
           (select count(*) from pg_locks where locktype = 'advisory')::int as advisory_locks,
           (select count(*) from pg_stat_activity where application_name = 'pgmcp' and state like 'idle in transaction%')::int as idle_in_tx,
           (select count(*) from pg_replication_slots)::int as slots,
           (select count(*) from pg_largeobject_metadata)::int as large_objects`);
  return r.rows[0];
}

beforeAll(async () => {
  rmSync(FILE, { force: true });
  rmSync(PROGRAM_FILE, { force: true });
  db = await createTestDatabase(inject('pg'), 'attacks');
  verify = new pg.Client({ connectionString: db.url, application_name: 'pgmcp-verify' });
  await verify.connect();
  await verify.query(`alter database ${db.database} set standard_conforming_strings = off`);
  await verify.query(`
    create extension dblink;
    create table victim (id int primary key, v text);
    insert into victim values (1, 'original');
    create sequence victim_seq;
    create function evil_write() returns int language plpgsql as $$ begin insert into victim values (100, 'pwned'); return 1; end $$;
    create function evil_rw_off() returns int language plpgsql as $$
      begin
        perform set_config('default_transaction_read_only', 'off', false);
        perform set_config('transaction_read_only', 'off', false);
        return 1;
      end $$;
    create function evil_lock() returns int language plpgsql as $$ begin perform pg_advisory_lock(99); return 1; end $$;
    create function evil_prepare() returns int language plpgsql as $$ begin execute 'prepare leftover as select 1'; return 1; end $$;
    create procedure evil_proc() language plpgsql as $$ begin insert into victim values (101, 'pwned'); end $$;
  `);
  // A pool of two connections so that the same pooled connections meet every attack.
  mcp = await startInProcess({ ...pgEnv(db), PGMCP_POOL_SIZE: '2', PGMCP_STATEMENT_TIMEOUT: '1s' });
});

afterAll(async () => {
  await mcp?.close();
  await verify?.end();
  await db?.drop();
});

describe('read-only attack suite', () => {
  it(`has at least 40 attacks (${attacks.length})`, () => {
    expect(attacks.length).toBeGreaterThanOrEqual(40);
  });

  it.each(attacks)('blocks: %s', async (_name, statements, outcome = 'refused') => {
    const before = await snapshot();
    const list = Array.isArray(statements) ? statements : [statements];
    const results = [];
    for (const sql of list) results.push(await mcp.call('pg_query', { sql }));
    // The statement that would do harm is refused (the last of a sequence; a SET-like first step is refused too).
    if (outcome === 'refused') for (const r of results) expect(r.isError, `not refused: ${r.text}`).toBe(true);
    const after = await snapshot();
    expect(after).toEqual(before);
    expect(after?.victim_rows).toBe(1);
    expect(after?.advisory_locks).toBe(0);
    expect(existsSync(FILE)).toBe(false);
    expect(existsSync(PROGRAM_FILE)).toBe(false);
    // The server still answers through pgmcp, read-only.
    const ok = await mcp.call('pg_query', {
      sql: 'select current_setting($1) as ro',
      params: ['transaction_read_only'],
    });
    expect(ok.structuredContent).toMatchObject({ rows: [{ ro: 'on' }] });
  });

  it('leaves every pooled connection as it found it', async () => {
    const pool = mcp.app.pools.get(db.database);
    const clients = await Promise.all([pool.connect(), pool.connect()]);
    try {
      for (const c of clients) {
        const r = await c.query(`
          select current_setting('standard_conforming_strings') as scs,
                 current_setting('default_transaction_read_only') as default_ro,
                 current_setting('transaction_read_only') as ro,
                 (select count(*) from pg_settings where source = 'session'
                    and name not in ('statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout', 'application_name',
                                     'standard_conforming_strings', 'client_encoding'))::int as session_settings,
                 (select count(*) from pg_prepared_statements)::int as prepared,
                 (select count(*) from pg_cursors)::int as cursors,
                 (select count(*) from pg_listening_channels())::int as listening,
                 (select count(*) from pg_locks where locktype = 'advisory' and pid = pg_backend_pid())::int as locks`);
        expect(r.rows[0]).toEqual({
          scs: 'on',
          default_ro: 'off',
          ro: 'off',
          session_settings: 0,
          prepared: 0,
          cursors: 0,
          listening: 0,
          locks: 0,
        });
      }
    } finally {
      for (const c of clients) c.release();
    }
  });

  it('the verifying connection was never touched', async () => {
    const r = await verify.query('select 1 as alive');
    expect(r.rows[0]).toEqual({ alive: 1 });
  });
});

import type { ElicitResult } from '@modelcontextprotocol/sdk/types.js';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type InProcess, pgEnv, startInProcess } from '../support/mcp-client.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';

interface Statement {
  index: number;
  command: string;
  class: string;
  targets: string[];
  tag?: string;
  rowsAffected?: number | null;
  columns?: { name: string; type: string }[];
  rows?: Record<string, unknown>[];
  rowsReturned?: number;
  truncated?: boolean;
  truncatedBy?: string;
  notices?: { severity: string; message: string; detail?: string }[];
}

interface Output {
  status: 'executed' | 'dry_run' | 'confirmation_required';
  database: string;
  tx?: string;
  statements: Statement[];
  rowCount: number;
  plan?: { action: string; reasons: string[]; details: string };
  confirmation?: { action: string; confirm_token: string; expires_at: string; details: string };
  confirmedVia?: string;
  objectsChanged?: { statement: number; change: string; object: string }[];
}

let db: TestDatabase;
let writer: InProcess;
let admin: InProcess;
let reader: InProcess;
/** A separate connection that sees only what was committed. */
let check: pg.Client;

const out = (r: { structuredContent?: unknown }) => r.structuredContent as Output;
const one = async (sql: string) => (await check.query(sql)).rows[0] as Record<string, unknown>;

beforeAll(async () => {
  db = await createTestDatabase(inject('pg'), 'execute');
  check = new pg.Client({ connectionString: db.url });
  await check.connect();
  const env = pgEnv(db);
  [writer, admin, reader] = await Promise.all([
    startInProcess({ ...env, PGMCP_ACCESS: 'write' }),
    startInProcess({ ...env, PGMCP_ACCESS: 'admin' }),
    startInProcess({ ...env, PGMCP_ACCESS: 'read' }),
  ]);
});

afterAll(async () => {
  await Promise.all([writer?.close(), admin?.close(), reader?.close()]);
  await check?.end();
  await db?.drop();
});

describe('pg_execute: registration', () => {
  it('is listed at write level as an effectful, destructive tool', async () => {
    const { tools } = await writer.client.listTools();
    const t = tools.find((x) => x.name === 'pg_execute');
    expect(t?.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true, idempotentHint: false });
    expect(Object.keys(t?.inputSchema.properties ?? {})).toEqual(
      expect.arrayContaining(['sql', 'statements', 'params', 'database', 'tx', 'dry_run', 'confirm_token', 'limit']),
    );
  });

  it('is not listed at read level, and a call is refused', async () => {
    const { tools } = await reader.client.listTools();
    expect(tools.map((t) => t.name)).not.toContain('pg_execute');
    await expect(reader.call('pg_execute', { sql: 'create table nope (a int)' })).rejects.toThrow(/unknown tool/);
    expect((await one(`select to_regclass('nope') is null as gone`)).gone).toBe(true);
  });
});

describe('pg_execute: arguments', () => {
  it.each([
    [{}, /pass the SQL to run: sql .* or statements/],
    [{ sql: 'select 1', statements: ['select 1'] }, /either sql or statements, not both/],
    [{ statements: ['insert into x values ($1)'], params: [1] }, /params go with sql only/],
    [{ sql: 'create table x (a int)', limit: 1_000_000 }, /limit 1000000 is above/],
    [{ statements: [] }, /statements/],
  ])('refuses %j with a message naming the argument', async (args, message) => {
    const r = await writer.call('pg_execute', args);
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(message);
  });

  it('refuses more than one statement in sql and says to use statements', async () => {
    const r = await writer.call('pg_execute', { sql: 'create table x1 (a int); create table x2 (a int)' });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/sql holds 2 statements; sql takes exactly one/);
    expect(r.text).toMatch(/statements: \[/);
  });
});

describe('pg_execute: non-destructive writes run without confirmation', () => {
  it('creates a table, inserts with params and RETURNING (types like pg_query), updates with WHERE, creates an index', async () => {
    let r = await writer.call('pg_execute', {
      sql: `create table items (id bigserial primary key, name text not null, price numeric(12,2),
              added timestamptz not null default '2024-03-04 05:06:07+00', tags text[], meta jsonb, big bigint)`,
    });
    expect(r.isError).toBeFalsy();
    expect(out(r)).toMatchObject({ status: 'executed', statements: [{ tag: 'CREATE TABLE', class: 'ddl' }] });

    r = await writer.call('pg_execute', {
      sql: `insert into items (name, price, tags, meta, big) values ($1, $2, $3, $4, $5), ($6, 0.5, null, null, null)
            returning id, name, price, added, tags, meta, big`,
      params: ['apple', '1.25', ['red', 'fruit'], { origin: 'NZ', n: [1, 2] }, '9223372036854775807', 'pear'],
    });
    expect(r.isError).toBeFalsy();
    const ins = out(r).statements[0] as Statement;
    expect(ins).toMatchObject({ tag: 'INSERT 0 2', rowsAffected: 2, rowsReturned: 2, truncated: false });
    expect(ins.columns).toEqual([
      { name: 'id', type: 'bigint' },
      { name: 'name', type: 'text' },
      { name: 'price', type: 'numeric(12,2)' },
      { name: 'added', type: 'timestamp with time zone' },
      { name: 'tags', type: 'text[]' },
      { name: 'meta', type: 'jsonb' },
      { name: 'big', type: 'bigint' },
    ]);
    expect(ins.rows?.[0]).toEqual({
      id: '1',
      name: 'apple',
      price: '1.25',
      added: '2024-03-04T05:06:07+00:00',
      tags: ['red', 'fruit'],
      meta: { n: [1, 2], origin: 'NZ' },
      big: '9223372036854775807',
    });
    expect(r.text).toMatch(/INSERT 0 2 — 2 rows inserted/);
    expect(r.text).toContain('| id | name | price |');
    expect(out(r).rowCount).toBe(2);

    r = await writer.call('pg_execute', {
      sql: `update items set price = price * 2 where name = $1`,
      params: ['apple'],
    });
    expect(out(r)).toMatchObject({
      status: 'executed',
      rowCount: 1,
      statements: [{ tag: 'UPDATE 1', rowsAffected: 1 }],
    });
    expect((await one(`select price from items where name = 'apple'`)).price).toBe('2.50');

    r = await writer.call('pg_execute', { sql: 'create index items_name on items (name)' });
    expect(out(r)).toMatchObject({
      status: 'executed',
      statements: [{ tag: 'CREATE INDEX', targets: ['INDEX items_name ON items'] }],
    });
    expect((await one(`select to_regclass('items_name') is not null as ok`)).ok).toBe(true);
  });

  it('caps RETURNING rows at limit and says how many there were', async () => {
    await writer.call('pg_execute', { sql: 'create table many (n int)' });
    const r = await writer.call('pg_execute', {
      sql: 'insert into many select g from generate_series(1, 50) g returning n',
      limit: 5,
    });
    const s = out(r).statements[0] as Statement;
    expect(s).toMatchObject({ rowsAffected: 50, rowsReturned: 50, truncated: true, truncatedBy: 'limit' });
    expect(s.rows).toHaveLength(5);
    expect(r.text).toMatch(/5 of 50 RETURNING rows shown/);
  });

  it('runs a statements list atomically and reports each statement', async () => {
    const r = await writer.call('pg_execute', {
      statements: [
        'create table batch_a (id int primary key, v text)',
        "insert into batch_a values (1, 'one'), (2, 'two')",
        "update batch_a set v = 'zwei' where id = 2 returning id, v",
      ],
    });
    expect(r.isError).toBeFalsy();
    expect(out(r).statements.map((s) => s.tag)).toEqual(['CREATE TABLE', 'INSERT 0 2', 'UPDATE 1']);
    expect(out(r).statements[2]?.rows).toEqual([{ id: 2, v: 'zwei' }]);
    expect(out(r).rowCount).toBe(3);
    expect((await one('select count(*)::int as n from batch_a')).n).toBe(2);
  });

  it('allows nextval/setval, pg_notify and transaction-level advisory locks', async () => {
    const r = await writer.call('pg_execute', {
      statements: [
        'create sequence seq_ok',
        'create table seq_use (n bigint)',
        "insert into seq_use values (nextval('seq_ok')), (setval('seq_ok', 41) + 1)",
        "insert into seq_use select 0 from (select pg_notify('chan', 'hello'), pg_advisory_xact_lock(42)) x",
        "notify chan, 'bye'",
      ],
    });
    expect(r.isError, r.text).toBeFalsy();
    expect((await one('select count(*)::int as n from seq_use')).n).toBe(3);
  });
});

describe('pg_execute: failures', () => {
  it('leaves nothing of an atomic batch behind when its third statement fails, and names that statement', async () => {
    await writer.call('pg_execute', { sql: 'create table atomic_t (id int primary key)' });
    const r = await writer.call('pg_execute', {
      statements: [
        'insert into atomic_t values (1)',
        'create table atomic_new (a int)',
        'insert into atomic_t values (2), (1)',
      ],
    });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(
      /ERROR 23505: statements\[2\] \(statement 3 of 3\): duplicate key value violates unique constraint/,
    );
    expect(r.text).toMatch(/DETAIL: Key \(id\)=\(1\) already exists/);
    expect(r.text).toMatch(/nothing of this call was kept/);
    expect((await one('select count(*)::int as n from atomic_t')).n).toBe(0);
    expect((await one(`select to_regclass('atomic_new') is null as gone`)).gone).toBe(true);
  });

  it('shows a caret under a server error position in the failing statement', async () => {
    const r = await writer.call('pg_execute', {
      statements: ['create table caret_t (a int)', 'insert into caret_t (a, nope) values (1, 2)'],
    });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(
      /ERROR 42703: statements\[1\] \(statement 2 of 2\): column "nope" of relation "caret_t" does not exist/,
    );
    const line = 'LINE 1: insert into caret_t (a, nope) values (1, 2)';
    expect(r.text).toContain(`${line}\n${' '.repeat(line.indexOf('nope'))}^`);
    expect((await one(`select to_regclass('caret_t') is null as gone`)).gone).toBe(true);
  });

  it('reports a syntax error with a caret before sending anything', async () => {
    let r = await writer.call('pg_execute', { sql: 'insert into t valuez (1)' });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/ERROR 42601: sql: syntax error at or near "valuez"/);
    expect(r.text).toContain('LINE 1: insert into t valuez (1)\n                      ^');
    r = await writer.call('pg_execute', { statements: ['create table syn_ok (a int)', 'delete form syn_ok'] });
    expect(r.text).toMatch(/ERROR 42601: statements\[1\]: syntax error at or near "form"/);
    expect((await one(`select to_regclass('syn_ok') is null as gone`)).gone).toBe(true);
  });
});

describe('pg_execute: refusals', () => {
  it.each(['begin', 'commit', 'rollback', 'savepoint s1', 'start transaction isolation level serializable'])(
    'refuses transaction control %s with a pointer to pg_tx',
    async (sql) => {
      const r = await writer.call('pg_execute', { sql });
      expect(r.isError).toBe(true);
      expect(r.text).toMatch(/\(transaction_statement\)/);
      expect(r.text).toMatch(/pooled connection/);
      expect(r.text).toMatch(/NEXT: use pg_tx/);
    },
  );

  it.each([
    'set search_path = evil',
    'set local statement_timeout = 0',
    'reset all',
    'set role postgres',
    'listen chan',
    'prepare p as select 1',
    'discard all',
  ])('refuses session statement %s with a pointer to pg_tx', async (sql) => {
    const r = await writer.call('pg_execute', { sql });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/\(session_statement\)/);
    expect(r.text).toMatch(/connections are pooled/);
    expect(r.text).toMatch(/pg_tx/);
  });

  it('refuses a read with a pointer to pg_query', async () => {
    const r = await writer.call('pg_execute', { sql: 'select * from pg_class' });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/\(read_statement\)/);
    expect(r.text).toMatch(/pg_query/);
  });

  it('refuses COPY with a data stream', async () => {
    const r = await writer.call('pg_execute', { sql: 'copy items from stdin' });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/\(copy_stream\)/);
  });

  it.each([
    ["insert into many values (length(pg_read_file('/etc/passwd')))", 'pg_read_file() (file access)'],
    ['update many set n = 1 where pg_terminate_backend(n)', 'pg_terminate_backend() (program/backend signalling)'],
    [
      "insert into many select 1 from (select set_config('search_path', 'evil', false)) x",
      'set_config() (configuration)',
    ],
    ['insert into many select pg_advisory_lock(1)::text::int', 'pg_advisory_lock() (advisory lock)'],
    ["create table lo_t as select lo_import('/etc/passwd') as o", 'lo_import() (large object)'],
    ["insert into many select 1 from dblink('dbname=x', 'select 1') as t(a int)", 'dblink() (remote connection)'],
    ['insert into many select 1 from (select pg_stat_reset()) x', 'pg_stat_reset() (statistics reset)'],
    [
      "insert into many select 1 from pg_create_physical_replication_slot('s')",
      'pg_create_physical_replication_slot() (WAL/replication control)',
    ],
    ["create table ctl (n int default length(pg_read_file('x')))", 'pg_read_file() (file access)'],
  ])('refuses a denied function anywhere in the tree: %s', async (sql, listed) => {
    const r = await writer.call('pg_execute', { sql });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/\(denied_function\)|ERROR: sql: pg_execute will not call/);
    expect(r.text).toContain(listed);
  });

  it('refuses a temporary table outside a transaction', async () => {
    const r = await writer.call('pg_execute', { sql: 'create temp table tmp_x (a int)' });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/\(temporary_object\)/);
    expect(r.text).toMatch(/pg_tx/);
  });
});

describe('pg_execute: admin statements', () => {
  it.each([
    'vacuum items',
    'grant select on items to public',
    'create role exec_test_role',
    'alter system set work_mem = 1234',
    "copy items to '/tmp/pgmcp-items.csv'",
  ])('refuses %s at write level, naming the access level', async (sql) => {
    const r = await writer.call('pg_execute', { sql });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/\(access_denied\)/);
    expect(r.text).toMatch(/needs access level admin, and this server runs at access level write/);
  });

  it('runs them at admin level (VACUUM alone, outside a transaction block)', async () => {
    let r = await admin.call('pg_execute', { sql: 'vacuum items' });
    expect(r.isError, r.text).toBeFalsy();
    expect(out(r).statements[0]).toMatchObject({ tag: 'VACUUM', class: 'admin' });
    r = await admin.call('pg_execute', {
      statements: ['create role exec_test_role', 'grant select on items to exec_test_role'],
    });
    expect(r.isError, r.text).toBeFalsy();
    expect((await one(`select has_table_privilege('exec_test_role', 'items', 'select') as ok`)).ok).toBe(true);
    await check.query('drop owned by exec_test_role; drop role exec_test_role');
  });

  it('refuses VACUUM inside statements and in a dry run, saying why', async () => {
    let r = await admin.call('pg_execute', { statements: ['analyze items', 'vacuum items'] });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/statements\[1\]: VACUUM cannot run inside a transaction block/);
    r = await admin.call('pg_execute', { sql: 'vacuum items', dry_run: true });
    expect(r.text).toMatch(/cannot run as a dry run/);
  });
});

describe('pg_execute: CREATE INDEX CONCURRENTLY', () => {
  it('runs alone, outside a transaction block', async () => {
    const r = await writer.call('pg_execute', { sql: 'create index concurrently items_price on items (price)' });
    expect(r.isError, r.text).toBeFalsy();
    const idx = await one(
      `select i.indisvalid from pg_index i join pg_class c on c.oid = i.indexrelid where c.relname = 'items_price'`,
    );
    expect(idx.indisvalid).toBe(true);
  });

  it('is refused inside statements and inside a dry run', async () => {
    let r = await writer.call('pg_execute', {
      statements: ['create table cic_t (a int)', 'create index concurrently cic_i on cic_t (a)'],
    });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/\(not_in_transaction_block\)/);
    expect(r.text).toMatch(/CREATE INDEX CONCURRENTLY cannot run inside a transaction block .* in statements/);
    r = await writer.call('pg_execute', { sql: 'create index concurrently cic_j on items (name)', dry_run: true });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/as a dry run/);
    expect((await one(`select to_regclass('cic_t') is null and to_regclass('cic_j') is null as gone`)).gone).toBe(true);
  });
});

/**
 * Every destructive class: asked for confirmation (nothing runs), then the token from the answer runs the same call.
 * `state` reads what the statement would change, through a separate connection.
 */
const DESTRUCTIVE: { name: string; setup: string; sql: string; state: string; reason: RegExp }[] = [
  {
    name: 'DROP TABLE',
    setup: 'create table d_drop (a int)',
    sql: 'drop table d_drop',
    state: `select to_regclass('d_drop') is not null as v`,
    reason: /drops objects/,
  },
  {
    name: 'DROP … CASCADE',
    setup: 'create table d_casc (a int); create view d_casc_v as select * from d_casc',
    sql: 'drop table d_casc cascade',
    state: `select to_regclass('d_casc_v') is not null as v`,
    reason: /everything that depends on them/,
  },
  {
    name: 'TRUNCATE',
    setup: 'create table d_trunc (a int); insert into d_trunc values (1), (2)',
    sql: 'truncate d_trunc',
    state: 'select count(*)::int as v from d_trunc',
    reason: /removes every row/,
  },
  {
    name: 'DELETE without WHERE',
    setup: 'create table d_del (a int); insert into d_del values (1), (2)',
    sql: 'delete from d_del',
    state: 'select count(*)::int as v from d_del',
    reason: /has no WHERE clause: removes every row of d_del/,
  },
  {
    name: 'UPDATE without WHERE',
    setup: 'create table d_upd (a int); insert into d_upd values (1), (2)',
    sql: 'update d_upd set a = 0',
    state: 'select sum(a)::int as v from d_upd',
    reason: /has no WHERE clause: changes every row of d_upd/,
  },
  {
    name: 'DELETE … WHERE true',
    setup: 'create table d_true (a int); insert into d_true values (1), (2)',
    sql: 'delete from d_true where true',
    state: 'select count(*)::int as v from d_true',
    reason: /WHERE clause that is always true/,
  },
  {
    name: 'ALTER TABLE DROP COLUMN',
    setup: 'create table d_col (a int, b int)',
    sql: 'alter table d_col drop column b',
    state: `select count(*)::int as v from information_schema.columns where table_name = 'd_col'`,
    reason: /drops column b/,
  },
  {
    name: 'ALTER TABLE DROP CONSTRAINT',
    setup: 'create table d_con (a int constraint d_con_pos check (a > 0))',
    sql: 'alter table d_con drop constraint d_con_pos',
    state: `select count(*)::int as v from pg_constraint where conname = 'd_con_pos'`,
    reason: /drops constraint d_con_pos/,
  },
  {
    name: 'ALTER COLUMN TYPE',
    setup: 'create table d_type (a int)',
    sql: 'alter table d_type alter column a type bigint',
    state: `select data_type as v from information_schema.columns where table_name = 'd_type'`,
    reason: /SET DATA TYPE/,
  },
  {
    name: 'DO block',
    setup: 'create table d_do (a int)',
    sql: 'do $$ begin insert into d_do values (1); end $$',
    state: 'select count(*)::int as v from d_do',
    reason: /runs code whose effects cannot be checked/,
  },
  {
    name: 'CALL',
    setup:
      'create table d_call (a int); create procedure d_call_p() language sql as $$ insert into d_call values (1) $$',
    sql: 'call d_call_p()',
    state: 'select count(*)::int as v from d_call',
    reason: /runs code whose effects cannot be checked/,
  },
];

describe('pg_execute: destructive statements need confirmation', () => {
  it.each(DESTRUCTIVE)(
    '$name: asks, changes nothing, then the token runs it',
    async ({ setup, sql, state, reason }) => {
      await check.query(setup);
      const before = (await one(state)).v;

      const asked = await writer.call('pg_execute', { sql });
      expect(asked.isError, asked.text).toBeFalsy();
      const o = out(asked);
      expect(o.status).toBe('confirmation_required');
      expect(o.plan?.reasons.join('\n')).toMatch(reason);
      expect(o.plan?.details).toBe(`${sql};`);
      expect(o.confirmation?.confirm_token).toMatch(/^[A-Za-z0-9_-]{76}$/);
      expect(asked.text).toMatch(/^CONFIRMATION REQUIRED: nothing was run\. pg_execute would run: /);
      expect((await one(state)).v).toEqual(before);

      const token = o.confirmation?.confirm_token;
      const ran = await writer.call('pg_execute', { sql, confirm_token: token });
      expect(ran.isError, ran.text).toBeFalsy();
      expect(out(ran)).toMatchObject({ status: 'executed', confirmedVia: 'token' });
      expect((await one(state)).v).not.toEqual(before);
    },
  );

  it('names the command and its targets in the plan', async () => {
    await check.query('create table d_named (a int); create table d_named2 (a int)');
    const r = await writer.call('pg_execute', { sql: 'drop table d_named, public.d_named2 cascade' });
    expect(out(r).plan?.action).toBe('DROP TABLE d_named, public.d_named2 CASCADE');
    const d = await writer.call('pg_execute', { sql: 'delete from d_named' });
    expect(out(d).plan?.action).toBe('DELETE FROM d_named');
  });

  it('confirms a whole batch with one destructive statement; nothing of it runs before', async () => {
    await check.query('create table d_batch (a int); insert into d_batch values (1)');
    const statements = ['insert into d_batch values (2)', 'delete from d_batch', 'insert into d_batch values (3)'];
    const asked = await writer.call('pg_execute', { statements });
    const o = out(asked);
    expect(o.status).toBe('confirmation_required');
    expect(o.plan?.action).toBe('DELETE FROM d_batch (in an atomic batch of 3 statements)');
    expect(o.plan?.reasons).toEqual(['statement 2 (DELETE): has no WHERE clause: removes every row of d_batch']);
    expect(o.plan?.details).toBe(statements.map((s) => `${s};`).join('\n'));
    expect((await check.query('select a from d_batch order by a')).rows).toEqual([{ a: 1 }]);
    const ran = await writer.call('pg_execute', { statements, confirm_token: o.confirmation?.confirm_token });
    expect(out(ran).status).toBe('executed');
    expect((await check.query('select a from d_batch order by a')).rows).toEqual([{ a: 3 }]);
  });

  it('refuses a replayed token and a token used with other arguments', async () => {
    await check.query('create table d_tok (a int); insert into d_tok values (1), (2), (3)');
    const asked = await writer.call('pg_execute', { sql: 'delete from d_tok' });
    const token = out(asked).confirmation?.confirm_token;

    const other = await writer.call('pg_execute', { sql: 'delete from d_tok', limit: 5, confirm_token: token });
    expect(other.isError).toBe(true);
    expect(other.text).toMatch(/\(token_mismatch\)/);
    const otherSql = await writer.call('pg_execute', { sql: 'truncate d_tok', confirm_token: token });
    expect(otherSql.text).toMatch(/\(token_mismatch\)/);
    expect((await one('select count(*)::int as n from d_tok')).n).toBe(3);

    const ran = await writer.call('pg_execute', { sql: 'delete from d_tok', confirm_token: token });
    expect(out(ran)).toMatchObject({ status: 'executed', rowCount: 3 });
    await check.query('insert into d_tok values (4)');
    const replay = await writer.call('pg_execute', { sql: 'delete from d_tok', confirm_token: token });
    expect(replay.isError).toBe(true);
    expect(replay.text).toMatch(/\(token_used\)/);
    expect((await one('select count(*)::int as n from d_tok')).n).toBe(1);
  });
});

describe('pg_execute: dry_run', () => {
  beforeAll(async () => {
    await check.query(`
      create table dry (id int primary key, v int);
      insert into dry select g, g from generate_series(1, 10) g;
      create view dry_v as select * from dry;
      create view dry_v2 as select id from dry_v;
    `);
  });

  it('reports what an INSERT, UPDATE and DELETE would do, and changes nothing', async () => {
    const r = await writer.call('pg_execute', {
      statements: [
        'insert into dry values (11, 11), (12, 12) returning id',
        'update dry set v = v + 1 where id <= 5',
        'delete from dry where id > 8',
      ],
      dry_run: true,
    });
    expect(r.isError, r.text).toBeFalsy();
    const o = out(r);
    expect(o.status).toBe('dry_run');
    expect(o.statements.map((s) => s.rowsAffected)).toEqual([2, 5, 4]);
    expect(o.statements[0]?.rows).toEqual([{ id: 11 }, { id: 12 }]);
    expect(r.text).toMatch(/^DRY RUN: nothing was changed/);
    expect(await one('select count(*)::int as n, sum(v)::int as s from dry')).toEqual({ n: 10, s: 55 });
  });

  it('reports the cascade of DROP … CASCADE without confirmation, and drops nothing', async () => {
    const r = await writer.call('pg_execute', { sql: 'drop table dry cascade', dry_run: true });
    expect(r.isError, r.text).toBeFalsy();
    const o = out(r);
    expect(o.status).toBe('dry_run');
    expect(o.statements[0]?.tag).toBe('DROP TABLE');
    expect(o.statements[0]?.notices?.[0]?.message).toBe('drop cascades to 2 other objects');
    expect(o.objectsChanged).toEqual([
      { statement: 1, change: 'DROP TABLE', object: 'TABLE dry' },
      { statement: 1, change: 'DROP (cascade)', object: 'view dry_v' },
      { statement: 1, change: 'DROP (cascade)', object: 'view dry_v2' },
    ]);
    expect(r.text).toMatch(/drop cascades to view dry_v/);
    expect(o.plan?.action).toBe('DROP TABLE dry CASCADE');
    expect((await one(`select to_regclass('dry_v2') is not null as still`)).still).toBe(true);

    // The dry run's token confirms the real call (same arguments without dry_run).
    const token = o.confirmation?.confirm_token;
    expect(token).toBeDefined();
    expect(r.text).toContain(token);
    const ran = await writer.call('pg_execute', { sql: 'drop table dry cascade', confirm_token: token });
    expect(out(ran)).toMatchObject({ status: 'executed', confirmedVia: 'token' });
    expect((await one(`select to_regclass('dry') is null and to_regclass('dry_v2') is null as gone`)).gone).toBe(true);
  });

  it('reports how a statement would fail, and changes nothing', async () => {
    await check.query('create table dry_fail (id int primary key); insert into dry_fail values (1)');
    const r = await writer.call('pg_execute', {
      statements: ['insert into dry_fail values (2)', 'insert into dry_fail values (1)'],
      dry_run: true,
    });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/ERROR 23505: statements\[1\]/);
    expect(r.text).toMatch(/dry run: this is how the statement would fail; nothing was changed/);
    expect((await one('select count(*)::int as n from dry_fail')).n).toBe(1);
  });

  it('still asks before running a DO block as a dry run (its code can act outside the transaction)', async () => {
    const r = await writer.call('pg_execute', { sql: 'do $$ begin perform 1; end $$', dry_run: true });
    expect(out(r).status).toBe('confirmation_required');
  });
});

describe('pg_execute: connections go back to the pool clean', () => {
  it('leaves no transaction, advisory lock, setting or temporary schema on pooled connections', async () => {
    const app = writer.app;
    await writer.call('pg_execute', { sql: 'create table clean_t (a int)' });
    await writer.call('pg_execute', {
      statements: ['insert into clean_t values (1)', 'insert into clean_t values (2)'],
    });
    await writer.call('pg_execute', { sql: 'insert into clean_t values (1), (1)', dry_run: true });
    await writer.call('pg_execute', { statements: ['insert into clean_t values (3)', 'insert into nope values (1)'] });
    const pool = app.pools.get(db.database);
    const clients = await Promise.all(Array.from({ length: Math.max(1, pool.idleCount) }, () => pool.connect()));
    try {
      for (const c of clients) {
        expect(c.getTransactionStatus()).toBe('I');
        const s = await c.query(`select
            (select count(*) from pg_locks where locktype = 'advisory' and pid = pg_backend_pid())::int as locks,
            (select count(*) from pg_settings where source = 'session')::int as settings,
            pg_my_temp_schema()::int as temp`);
        expect(s.rows[0]).toEqual({ locks: 0, settings: 0, temp: 0 });
      }
    } finally {
      for (const c of clients) c.release();
    }
  });
});

describe('pg_execute: what triggers leave in the session is cleared', () => {
  it('resets session settings, advisory locks and prepared statements a trigger made, after success and failure', async () => {
    await writer.call('pg_execute', {
      statements: [
        'create table trig_t (a int)',
        `create function trig_f() returns trigger language plpgsql as $$
           begin
             perform set_config('work_mem', '1234kB', false);
             perform pg_advisory_lock(4242);
             execute 'prepare trig_leftover as select 1';
             return new;
           end $$`,
        'create trigger trig_t_ins before insert on trig_t for each row execute function trig_f()',
      ],
    });
    const ok = await writer.call('pg_execute', { sql: 'insert into trig_t values (1)' });
    expect(ok.isError).toBeFalsy();
    const failed = await writer.call('pg_execute', {
      statements: ['insert into trig_t values (2)', 'insert into trig_t values (1 / 0)'],
    });
    expect(failed.isError).toBe(true);
    const pool = writer.app.pools.get(db.database);
    const clients = await Promise.all(Array.from({ length: Math.max(1, pool.idleCount) }, () => pool.connect()));
    try {
      for (const c of clients) {
        const s = await c.query(`select current_setting('work_mem') as work_mem,
            (select count(*) from pg_locks where locktype = 'advisory' and pid = pg_backend_pid())::int as locks,
            (select count(*) from pg_prepared_statements)::int as prepared`);
        expect(s.rows[0]).toEqual({ work_mem: '4MB', locks: 0, prepared: 0 });
      }
    } finally {
      for (const c of clients) c.release();
    }
  });
});

describe('pg_execute: inside a pg_tx transaction (tx)', () => {
  const begin = async (s: InProcess) => {
    const r = await s.call('pg_tx', { action: 'begin' });
    expect(r.isError, r.text).toBeFalsy();
    return (r.structuredContent as { transaction: { handle: string } }).transaction.handle;
  };

  beforeAll(async () => {
    await check.query('create table in_tx (id int primary key, v text)');
  });

  it('inserts inside the transaction: visible only after pg_tx commit', async () => {
    const tx = await begin(writer);
    const r = await writer.call('pg_execute', {
      sql: 'insert into in_tx values ($1, $2) returning id',
      params: [1, 'one'],
      tx,
    });
    expect(r.isError, r.text).toBeFalsy();
    expect(out(r)).toMatchObject({ status: 'executed', tx, rowCount: 1, statements: [{ rows: [{ id: 1 }] }] });
    expect(r.text).toMatch(/not committed until pg_tx commit/);
    expect((await one('select count(*)::int as n from in_tx')).n).toBe(0);
    const batch = await writer.call('pg_execute', {
      statements: ["insert into in_tx values (2, 'two')", 'create temp table in_tx_tmp (a int)'],
      tx,
    });
    expect(batch.isError, batch.text).toBeFalsy();
    expect((await one('select count(*)::int as n from in_tx')).n).toBe(0);
    const done = await writer.call('pg_tx', { action: 'commit', tx });
    expect(done.isError, done.text).toBeFalsy();
    expect((await one('select count(*)::int as n from in_tx')).n).toBe(2);
  });

  it('a dry run inside a transaction changes nothing in it, and the transaction goes on', async () => {
    const tx = await begin(writer);
    await writer.call('pg_execute', { sql: "insert into in_tx values (3, 'three')", tx });
    const dry = await writer.call('pg_execute', {
      statements: ['delete from in_tx where id = 3', 'insert into in_tx values (1, $$dup$$)'],
      dry_run: true,
      tx,
    });
    expect(dry.isError).toBe(true);
    expect(dry.text).toMatch(/23505/);
    expect(dry.text).toMatch(/nothing was changed and transaction tx_\w+ is as it was/);
    const dry2 = await writer.call('pg_execute', { sql: 'delete from in_tx where id = 3', dry_run: true, tx });
    expect(out(dry2)).toMatchObject({ status: 'dry_run', tx, rowCount: 1 });
    const seen = await writer.call('pg_query', { sql: 'select id from in_tx where id = 3', tx });
    expect((seen.structuredContent as { rows: unknown[] }).rows).toEqual([{ id: 3 }]);
    await writer.call('pg_tx', { action: 'rollback', tx });
    expect((await one('select count(*)::int as n from in_tx where id = 3')).n).toBe(0);
  });

  it('a failing statement aborts the transaction; the error names the statement and says what to do', async () => {
    const tx = await begin(writer);
    const r = await writer.call('pg_execute', {
      statements: ["insert into in_tx values (4, 'four')", "insert into in_tx values (1, 'dup')"],
      tx,
    });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/ERROR 23505: statements\[1\] \(statement 2 of 2\)/);
    expect(r.text).toMatch(/is now aborted/);
    expect(r.text).toContain(`pg_tx action rollback with tx "${tx}"`);
    await writer.call('pg_tx', { action: 'rollback', tx });
    expect((await one('select count(*)::int as n from in_tx where id = 4')).n).toBe(0);
  });

  it('asks before a destructive statement in a transaction; the token runs it there', async () => {
    const tx = await begin(writer);
    const asked = await writer.call('pg_execute', { sql: 'delete from in_tx', tx });
    expect(out(asked).status).toBe('confirmation_required');
    const ran = await writer.call('pg_execute', {
      sql: 'delete from in_tx',
      tx,
      confirm_token: out(asked).confirmation?.confirm_token,
    });
    expect(out(ran)).toMatchObject({ status: 'executed', tx, rowCount: 2 });
    expect((await one('select count(*)::int as n from in_tx')).n).toBe(2);
    await writer.call('pg_tx', { action: 'rollback', tx });
    expect((await one('select count(*)::int as n from in_tx')).n).toBe(2);
  });

  it('refuses CREATE INDEX CONCURRENTLY in a transaction, saying why', async () => {
    const r = await writer.call('pg_execute', {
      sql: 'create index concurrently in_tx_v on in_tx (v)',
      tx: 'tx_aaaaaaaaaaaaaaaa',
    });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/cannot run inside a transaction block .* inside a pg_tx transaction \(tx\)/);
  });

  it('refuses an unknown handle as the registry does', async () => {
    const r = await writer.call('pg_execute', { sql: "insert into in_tx values (9, 'x')", tx: 'tx_aaaaaaaaaaaaaaaa' });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/tx_unknown/);
  });
});

describe('pg_execute: a client that can ask its user (elicitation)', () => {
  let eliciting: InProcess;
  let answer: ElicitResult = { action: 'decline' };
  const questions: string[] = [];
  const call = (args: Record<string, unknown>) => eliciting.call('pg_execute', args);

  beforeAll(async () => {
    eliciting = await startInProcess(
      { ...pgEnv(db), PGMCP_ACCESS: 'write', PGMCP_LOG_LEVEL: 'error' },
      {
        ask: (params) => {
          questions.push(params.message);
          return answer;
        },
      },
    );
    await check.query('create table el_t (a int); insert into el_t values (1), (2)');
  });

  afterAll(async () => {
    await eliciting?.close();
  });

  it('asks with the plan; no runs nothing, yes runs it', async () => {
    answer = { action: 'decline' };
    const no = await call({ sql: 'delete from el_t' });
    expect(no.isError).toBe(true);
    expect(no.text).toMatch(/confirmation_declined/);
    expect(questions.at(-1)).toMatch(/pg_execute wants to run: DELETE FROM el_t/);
    expect(questions.at(-1)).toMatch(/has no WHERE clause: removes every row of el_t/);
    expect((await one('select count(*)::int as n from el_t')).n).toBe(2);

    answer = { action: 'accept', content: { confirm: true } };
    const yes = await call({ sql: 'delete from el_t' });
    expect(yes.structuredContent).toMatchObject({ status: 'executed', confirmedVia: 'elicitation', rowCount: 2 });
    expect((await one('select count(*)::int as n from el_t')).n).toBe(0);
  });

  it('a dry run does not ask and issues no token (the real call will ask)', async () => {
    const before = questions.length;
    const r = await call({ sql: 'drop table el_t', dry_run: true });
    expect(r.structuredContent).toMatchObject({ status: 'dry_run', plan: { action: 'DROP TABLE el_t' } });
    expect(out(r).confirmation).toBeUndefined();
    expect(questions.length).toBe(before);
    expect((await one(`select to_regclass('el_t') is not null as still`)).still).toBe(true);
  });
});

describe('pg_execute: cancellation', () => {
  it('a cancelled call cancels the statement on the server and keeps nothing', async () => {
    await check.query('create table cancel_t (a int)');
    const abort = new AbortController();
    const pending = writer.client.callTool(
      { name: 'pg_execute', arguments: { sql: 'insert into cancel_t select 1 from pg_sleep(20)' } },
      undefined,
      { signal: abort.signal },
    );
    const running = async () =>
      (await one(`select count(*)::int as n from pg_stat_activity where query like 'insert into cancel_t%'`)).n;
    for (let i = 0; i < 50 && (await running()) === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await running()).toBe(1);
    abort.abort();
    await expect(pending).rejects.toThrow();
    for (let i = 0; i < 50 && (await running()) === 1; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await running()).toBe(0);
    expect((await one('select count(*)::int as n from cancel_t')).n).toBe(0);
  });
});

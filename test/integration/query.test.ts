import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type InProcess, pgEnv, startInProcess } from '../support/mcp-client.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';

let db: TestDatabase;
let mcp: InProcess;

beforeAll(async () => {
  db = await createTestDatabase(inject('pg'), 'query');
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  await c.query(`
    create type mood as enum ('sad', 'ok', 'happy');
    create table t (id int primary key, big bigint, n numeric(30,10), f float8, b bool, ts timestamptz, d date,
                    j jsonb, arr int[], moods mood[], bin bytea, txt text, u uuid);
    insert into t values (1, 9223372036854775807, 12345678901234567890.0123456789, 1.5, true,
                          '2024-03-04 05:06:07.123456+00', '2024-03-04', '{"a":[1,2,{"b":null}]}', '{1,NULL,3}',
                          '{sad,happy}', '\\xdeadbeef', repeat('x', 20000), 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
  `);
  await c.end();
  mcp = await startInProcess({ ...pgEnv(db), PGMCP_CELL_BYTES: '1000', PGMCP_MAX_ROWS: '5000' });
});

afterAll(async () => {
  await mcp?.close();
  await db?.drop();
});

describe('pg_query', () => {
  it('is listed with read-only annotations and schemas', async () => {
    const { tools } = await mcp.client.listTools();
    const q = tools.find((t) => t.name === 'pg_query');
    expect(q?.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false, idempotentHint: true });
    expect(q?.inputSchema.properties).toHaveProperty('sql');
    expect(q?.outputSchema?.properties).toHaveProperty('rows');
  });

  it('answers select 1 with a markdown table and structured rows', async () => {
    const r = await mcp.call('pg_query', { sql: 'select 1 as one' });
    expect(r.isError).toBeFalsy();
    expect(r.text).toContain('| one |');
    expect(r.structuredContent).toMatchObject({
      rows: [{ one: 1 }],
      rowCount: 1,
      truncated: false,
      columns: [{ name: 'one', type: 'integer' }],
    });
  });

  it('keeps every type faithful', async () => {
    const r = await mcp.call('pg_query', { sql: 'select big, n, f, b, ts, d, j, arr, moods, bin, u from t' });
    const row = (r.structuredContent as { rows: Record<string, unknown>[] }).rows[0];
    expect(row).toEqual({
      big: '9223372036854775807',
      n: '12345678901234567890.0123456789',
      f: 1.5,
      b: true,
      ts: '2024-03-04T05:06:07.123456+00:00',
      d: '2024-03-04',
      j: { a: [1, 2, { b: null }] },
      arr: [1, null, 3],
      moods: ['sad', 'happy'],
      bin: { $bytea: '\\xdeadbeef', bytes: 4 },
      u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    });
    const cols = (r.structuredContent as { columns: { name: string; type: string }[] }).columns;
    expect(cols.find((c) => c.name === 'n')?.type).toBe('numeric(30,10)');
    expect(cols.find((c) => c.name === 'moods')?.type).toBe('mood[]');
  });

  it('binds parameters server-side', async () => {
    const r = await mcp.call('pg_query', {
      sql: 'select $1::int + 1 as x, $2::text as y, $3::int[] as z',
      params: [41, "it's; drop", [1, 2]],
    });
    expect((r.structuredContent as { rows: unknown[] }).rows).toEqual([{ x: 42, y: "it's; drop", z: [1, 2] }]);
  });

  it('pages with limit and offset and says how to go on', async () => {
    const first = await mcp.call('pg_query', { sql: 'select g from generate_series(1, 250) g', limit: 100 });
    expect(first.structuredContent).toMatchObject({
      rowCount: 100,
      truncated: true,
      truncatedBy: 'limit',
      nextOffset: 100,
    });
    expect(first.text).toMatch(/offset 100/);
    const last = await mcp.call('pg_query', {
      sql: 'select g from generate_series(1, 250) g',
      limit: 100,
      offset: 200,
    });
    const rows = (last.structuredContent as { rows: { g: number }[] }).rows;
    expect(rows).toHaveLength(50);
    expect(rows[0]?.g).toBe(201);
    expect(last.structuredContent).toMatchObject({ truncated: false });
  });

  it('refuses a limit above the cap with a clear message', async () => {
    const r = await mcp.call('pg_query', { sql: 'select 1', limit: 5001 });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/limit 5001 .*cap of 5000/);
  });

  it('returns the first page of a huge result quickly', async () => {
    const r = await mcp.call('pg_query', { sql: 'select g, md5(g::text) from generate_series(1, 5000000) g' });
    expect(r.structuredContent).toMatchObject({ rowCount: 100, truncated: true });
  });

  it('cuts huge cells and says so', async () => {
    const r = await mcp.call('pg_query', { sql: 'select txt from t' });
    const v = (r.structuredContent as { rows: { txt: string }[] }).rows[0]?.txt ?? '';
    expect(v.length).toBeLessThan(1100);
    expect(v).toContain('20000 characters');
    expect(r.structuredContent).toMatchObject({ cutCells: 1 });
  });

  it('keeps duplicate column names apart', async () => {
    const r = await mcp.call('pg_query', { sql: 'select 1, 2' });
    expect((r.structuredContent as { rows: unknown[] }).rows).toEqual([{ '?column?': 1, '?column?_2': 2 }]);
  });

  it('reports server errors with SQLSTATE, caret and hint', async () => {
    const r = await mcp.call('pg_query', { sql: 'select idd\n  from t' });
    expect(r.isError).toBe(true);
    expect(r.text).toContain('ERROR 42703: column "idd" does not exist');
    expect(r.text).toContain('LINE 1: select idd\n               ^');
    expect(r.text).toMatch(/HINT: Perhaps you meant to reference the column "t.id"/);
  });

  it('reports syntax errors with the position', async () => {
    const r = await mcp.call('pg_query', { sql: 'select * fromm t' });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/syntax error/);
    expect(r.text).toMatch(/\^/);
  });

  it('refuses bad input naming the argument', async () => {
    const r = await mcp.call('pg_query', { sql: 42 });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/sql/);
  });

  it('runs SHOW and EXPLAIN', async () => {
    const s = await mcp.call('pg_query', { sql: 'show transaction_read_only' });
    expect((s.structuredContent as { rows: unknown[] }).rows).toEqual([{ transaction_read_only: 'on' }]);
    const e = await mcp.call('pg_query', { sql: 'explain select * from t where id = 1' });
    expect(e.text).toMatch(/Index Scan|Seq Scan/);
  });

  it('reaches another database by name', async () => {
    const r = await mcp.call('pg_query', { sql: 'select current_database() as db', database: 'postgres' });
    expect((r.structuredContent as { rows: unknown[] }).rows).toEqual([{ db: 'postgres' }]);
  });

  it('never leaks the password in errors', async () => {
    const bad = await startInProcess({ ...pgEnv(db), PGPASSWORD: `${db.password}-wrong` });
    try {
      const r = await bad.call('pg_query', { sql: 'select 1' });
      expect(r.isError).toBe(true);
      expect(r.text).toMatch(/28P01|password authentication failed/);
      expect(r.text).not.toContain(`${db.password}-wrong`);
    } finally {
      await bad.close();
    }
  });
});

describe('pg_query cancellation', () => {
  it('cancels the statement on the server when the client cancels the call', async () => {
    const controller = new AbortController();
    const call = mcp.client.callTool(
      { name: 'pg_query', arguments: { sql: 'select pg_sleep(20), 1 as marker' } },
      undefined,
      {
        signal: controller.signal,
      },
    );
    const watcher = new pg.Client({ connectionString: db.url });
    await watcher.connect();
    try {
      const running = async () =>
        (
          await watcher.query(
            `select count(*)::int as n from pg_stat_activity where query like 'select pg_sleep(20)%' and state = 'active'`,
          )
        ).rows[0].n;
      for (let i = 0; i < 50 && (await running()) === 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(await running()).toBe(1);
      controller.abort();
      await expect(call).rejects.toThrow();
      let left = 1;
      for (let i = 0; i < 40 && left > 0; i++) {
        await new Promise((r) => setTimeout(r, 50));
        left = await running();
      }
      expect(left).toBe(0);
    } finally {
      await watcher.end();
    }
  });
});

describe('arguments', () => {
  it('refuses an argument the tool does not know, naming it, rather than ignoring it', async () => {
    const r = await mcp.call('pg_query', { sql: 'select 1', limt: 5 });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/invalid arguments for pg_query: .*limt/);
  });

  it('answers an unknown tool with a protocol error listing the tools', async () => {
    await expect(mcp.client.callTool({ name: 'pg_nope', arguments: {} })).rejects.toThrow(
      /unknown tool pg_nope.*pg_query/,
    );
  });
});

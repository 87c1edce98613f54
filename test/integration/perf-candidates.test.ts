/**
 * Candidate indexes from parse trees (no server needed): which columns a statement filters, joins, orders and
 * groups by, resolved through aliases, joins, subqueries and CTEs; the candidates made from them; and the ones an
 * existing index already serves.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  analyseStatement,
  generateCandidates,
  paramCount,
  relationRefs,
  type StatementShape,
} from '../../src/perf/candidates.js';
import { type ExistingIndex, refKey, type TableInfo } from '../../src/perf/catalog.js';
import { initParser, parseSql } from '../../src/sql/parser.js';

function table(
  oid: number,
  name: string,
  columns: Record<string, [string, number]>,
  indexes: Partial<ExistingIndex>[] = [],
): TableInfo {
  return {
    oid,
    schema: 'public',
    name,
    qualified: `public.${name}`,
    kind: 'r',
    rows: 100000,
    bytes: 10 << 20,
    columns: new Map(
      Object.entries(columns).map(([c, [type, distinct]]) => [c, { name: c, quoted: c, type, distinct }]),
    ),
    indexes: indexes.map((i) => ({
      name: 'ix',
      method: 'btree',
      keys: [],
      include: [],
      unique: false,
      primary: false,
      valid: true,
      partial: false,
      definition: 'CREATE INDEX …',
      ...i,
    })),
  };
}

const orders = table(
  1,
  'orders',
  {
    id: ['bigint', 100000],
    customer_id: ['integer', 20000],
    status: ['integer', 50],
    region: ['integer', 100],
    total: ['numeric', 1000],
    created_at: ['timestamp with time zone', 100000],
    note: ['text', 100000],
    paid: ['boolean', 2],
  },
  [{ name: 'orders_pkey', keys: ['id'], unique: true, primary: true }],
);
const customers = table(
  2,
  'customers',
  { id: ['integer', 20000], email: ['text', 20000], name: ['text', 20000], country: ['text', 4] },
  [{ name: 'customers_pkey', keys: ['id'], unique: true, primary: true }],
);

let tables: Map<string, TableInfo | null>;

function shape(sql: string): StatementShape {
  const stmt = parseSql(sql)[0];
  if (!stmt) throw new Error('no statement');
  for (const ref of relationRefs(stmt)) if (!tables.has(refKey(ref))) tables.set(refKey(ref), null);
  return analyseStatement(stmt, tables);
}

function use(s: StatementShape, name: string) {
  const u = s.uses.find((x) => x.table.name === name);
  if (!u) throw new Error(`no use of ${name}`);
  return {
    eq: [...u.eq.keys()],
    list: [...u.list.keys()],
    range: [...u.range.keys()],
    join: [...u.join.keys()],
    either: [...u.either.keys()],
    order: u.order.map((k) => `${k.id}${k.desc ? ' desc' : ''}`),
    group: u.group.map((k) => k.id),
    needed: u.needed === null ? null : [...u.needed].sort(),
  };
}

function candidates(...sqls: string[]): string[] {
  return generateCandidates(sqls.map(shape)).candidates.map((c) => c.hypoSql.replace(/^CREATE INDEX ON /, ''));
}

beforeAll(async () => {
  await initParser();
  tables = new Map<string, TableInfo | null>([
    ['orders', orders],
    ['customers', customers],
    ['public.orders', orders],
  ]);
});

describe('what a statement does with its tables', () => {
  it('equality, lists, ranges, IS NULL and boolean columns', () => {
    const s = shape(
      'select id from orders where customer_id = $1 and status in (1, 2) and created_at >= $2 and total between 1 and 2 and note is null and paid',
    );
    const u = use(s, 'orders');
    expect(u.eq.sort()).toEqual(['customer_id', 'note', 'paid']);
    expect(u.list).toEqual(['status']);
    expect(u.range.sort()).toEqual(['created_at', 'total']);
    expect(u.needed).toEqual(['created_at', 'customer_id', 'id', 'note', 'paid', 'status', 'total']);
  });

  it('joins through aliases, ON and USING-free conditions, ORDER BY of one table', () => {
    const s = shape(
      'select o.id, c.name from orders o join customers c on c.id = o.customer_id where c.email = $1 order by o.created_at desc, o.id desc limit 10',
    );
    expect(use(s, 'orders')).toMatchObject({ join: ['customer_id'], order: ['created_at', 'id'] });
    expect(use(s, 'customers')).toMatchObject({ eq: ['email'], join: ['id'] });
    expect([...s.reads].sort()).toEqual([1, 2]);
  });

  it('mixed ORDER BY directions keep DESC; an ORDER BY across tables gives none', () => {
    expect(use(shape('select * from orders order by status, created_at desc'), 'orders').order).toEqual([
      'status',
      'created_at desc',
    ]);
    const across = shape('select * from orders o join customers c on c.id = o.customer_id order by c.name, o.id');
    expect(use(across, 'orders').order).toEqual([]);
    expect(use(across, 'customers').order).toEqual([]);
  });

  it('OR branches, subqueries, IN (SELECT …), EXISTS and CTE names', () => {
    const s = shape(`
      with recent as (select customer_id from orders where created_at > $1)
      select * from customers c
       where (c.country = 'de' or c.name = $2)
         and c.id in (select customer_id from recent)
         and exists (select 1 from orders o where o.customer_id = c.id and o.status = 3)`);
    const c = use(s, 'customers');
    expect(c.either.sort()).toEqual(['country', 'name']);
    expect(c.eq).toEqual([]);
    expect(c.join).toEqual(['id']);
    expect(c.needed).toBeNull();
    const os = s.uses.filter((u) => u.table.name === 'orders');
    expect(os.map((u) => [...u.range.keys()])).toContainEqual(['created_at']);
    const inExists = os.find((u) => u.eq.has('status'));
    expect([...(inExists?.join.keys() ?? [])]).toEqual(['customer_id']);
    // `recent` is the CTE, not a table.
    expect(relationRefs(parseSql('with recent as (select 1) select * from recent')[0] as never)).toEqual([]);
  });

  it('an unqualified column of two tables is ambiguous and left alone', () => {
    const s = shape('select * from orders o join customers c on c.id = o.customer_id where id = 5');
    expect(use(s, 'orders').eq).toEqual([]);
    expect(use(s, 'customers').eq).toEqual([]);
  });

  it('expressions over one column with constants become expression keys', () => {
    const s = shape("select * from customers where lower(email) = $1 and coalesce(name, 'x') = 'y'");
    expect(use(s, 'customers').eq).toEqual(['expr:lower(email)']);
  });

  it('UPDATE and DELETE: the target is read and written; SET columns are recorded', () => {
    const s = shape('update orders set status = $1, total = total + 1 where customer_id = $2');
    expect(use(s, 'orders').eq).toEqual(['customer_id']);
    expect([...s.writes]).toEqual([1]);
    expect([...(s.updated.get(1) ?? [])].sort()).toEqual(['status', 'total']);
    const d = shape('delete from orders o using customers c where c.id = o.customer_id and c.country = $1');
    expect(use(d, 'orders').join).toEqual(['customer_id']);
    expect(use(d, 'customers').eq).toEqual(['country']);
  });

  it('counts parameters', () => {
    expect(paramCount(parseSql('select $1, $3')[0] as never)).toBe(3);
    expect(paramCount(parseSql('select 1')[0] as never)).toBe(0);
  });
});

describe('candidates', () => {
  it('single columns, then equality columns most distinct first, then a range or the ORDER BY', () => {
    const c = candidates('select * from orders where status = $1 and customer_id = $2 and created_at > $3');
    expect(c).toEqual(
      expect.arrayContaining([
        'public.orders USING btree (customer_id)',
        'public.orders USING btree (status)',
        'public.orders USING btree (created_at)',
        'public.orders USING btree (customer_id, status)',
        'public.orders USING btree (customer_id, status, created_at)',
      ]),
    );
    const ordered = candidates('select * from orders where status = $1 order by created_at desc limit 10');
    expect(ordered).toContain('public.orders USING btree (status, created_at)');
  });

  it('join keys lead or follow the equality columns; expression keys are kept as written', () => {
    const c = candidates(
      'select o.id from orders o join customers c on c.id = o.customer_id where o.status = $1',
      "select * from customers where lower(email) = 'a@b'",
    );
    expect(c).toEqual(
      expect.arrayContaining([
        'public.orders USING btree (customer_id, status)',
        'public.orders USING btree (status, customer_id)',
        'public.customers USING btree (lower(email))',
      ]),
    );
  });

  it('covering only for few extra columns, never for SELECT *', () => {
    expect(candidates('select id, total from orders where customer_id = $1')).toContain(
      'public.orders USING btree (customer_id) INCLUDE (id, total)',
    );
    expect(candidates('select * from orders where customer_id = $1').some((d) => d.includes('INCLUDE'))).toBe(false);
  });

  it('sets aside what an existing index already serves, including as its prefix', () => {
    const withIndex = table(3, 'items', { a: ['integer', 10], b: ['integer', 10], c: ['integer', 10] }, [
      { name: 'items_a_b', keys: ['a', 'b'] },
    ]);
    tables.set('items', withIndex);
    const { candidates: cs, setAside } = generateCandidates([
      shape('select * from items where a = $1'),
      shape('select * from items where a = $1 and b = $2 and c = $3'),
    ]);
    expect(setAside.map((s) => s.definition)).toEqual(
      expect.arrayContaining(['CREATE INDEX ON public.items USING btree (a)']),
    );
    expect(setAside.find((s) => s.definition.endsWith('(a)'))?.reason).toMatch(/items_a_b/);
    expect(cs.map((c) => c.hypoSql)).toContain('CREATE INDEX ON public.items USING btree (a, b, c)');
    expect(cs.map((c) => c.hypoSql)).not.toContain('CREATE INDEX ON public.items USING btree (a)');
  });

  it('merges the same candidate across statements', () => {
    const { candidates: cs } = generateCandidates([
      shape('select * from orders where customer_id = $1'),
      shape('select count(*) from orders where customer_id = $1'),
    ]);
    const c = cs.find((x) => x.hypoSql.endsWith('(customer_id)'));
    expect([...(c?.from ?? [])]).toEqual([0, 1]);
  });
});

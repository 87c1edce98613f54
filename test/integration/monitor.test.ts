import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { capChecks, check } from '../../src/tools/monitor/format.js';
import { type LockNode, type MonitorOutput, monitorOutput } from '../../src/tools/monitor/output.js';
import { sameValue, showValue } from '../../src/tools/monitor/settings.js';
import { type InProcess, pgEnv, startInProcess } from '../support/mcp-client.js';
import {
  connectionUrl,
  createTestDatabase,
  type PgServer,
  startPostgres,
  startStandby,
  type TestDatabase,
} from '../support/postgres-server.js';

const ROLE = `pgmcp_mon_${randomBytes(4).toString('hex')}`;
const ROLE_PASSWORD = randomBytes(12).toString('hex');

const FIXTURE = `
  create table lk_rows (id int primary key, v int);
  insert into lk_rows select i, 0 from generate_series(1, 10) i;
  create table lk_other (id int);

  -- sizes: one table with TOAST, one mid-sized, one small
  -- size_big stays not analysed (the text check below): autovacuum must not get to it first
  create table size_big (id int primary key, doc text) with (autovacuum_enabled = false);
  insert into size_big select i, (select string_agg(md5(i::text || '-' || j), '') from generate_series(1, 200) j)
    from generate_series(1, 400) i;
  create table size_mid (id int primary key, pad text);
  insert into size_mid select i, repeat(md5(i::text), 6) from generate_series(1, 3000) i;
  create index size_mid_pad_idx on size_mid (pad);
  create table size_small (id int);
  insert into size_small values (1);
  create table size_part (id int primary key, pad text) partition by range (id);
  create table size_part_a partition of size_part for values from (0) to (1000);
  create table size_part_b partition of size_part for values from (1000) to (2000);
  insert into size_part select i, repeat('p', 100) from generate_series(0, 1999) i;

  -- bloat: every row updated several times with autovacuum off, next to a freshly loaded twin
  create table bloat_t (id int primary key, v int, pad text) with (autovacuum_enabled = false);
  insert into bloat_t select i, 0, repeat('x', 80) from generate_series(1, 20000) i;
  update bloat_t set v = v + 1;
  update bloat_t set v = v + 1;
  update bloat_t set v = v + 1;
  update bloat_t set v = v + 1;
  analyze bloat_t;
  create table tight_t (id int primary key, v int, pad text) with (autovacuum_enabled = false);
  insert into tight_t select i, 0, repeat('x', 80) from generate_series(1, 20000) i;
  analyze tight_t;
  create table nostats_t (id int, note text) with (autovacuum_enabled = false);
  insert into nostats_t select i, 'n' || i from generate_series(1, 5000) i;

  -- extensions: one behind its default version, one that needs preloading (and is)
  create extension citext version '1.4';
  create extension pg_stat_statements;
`;

let server: ReturnType<typeof inject<'pg'>>;
let db: TestDatabase;
let mcp: InProcess;
const openClients: pg.Client[] = [];

async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ ...server, database: 'postgres' });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** A direct client (not through pgmcp) with its backend pid; ended in afterAll unless ended before. */
async function session(
  url: string,
  application: string,
  extra: Partial<pg.ClientConfig> = {},
): Promise<{ c: pg.Client; pid: number }> {
  const c = new pg.Client({ connectionString: url, application_name: application, ...extra });
  c.on('error', () => {});
  await c.connect();
  openClients.push(c);
  const pid = Number((await c.query('select pg_backend_pid() as pid')).rows[0].pid);
  return { c, pid };
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until `pid` waits on a heavyweight lock. */
async function waitingOnLock(url: string, pid: number): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await waitFor(`pid ${pid} to wait on a lock`, async () => {
      const r = await c.query('select wait_event_type from pg_stat_activity where pid = $1', [pid]);
      return r.rows[0]?.wait_event_type === 'Lock' ? true : undefined;
    });
  } finally {
    await c.end();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function call(client: InProcess, args: Record<string, unknown>): Promise<{ data: MonitorOutput; text: string }> {
  const r = await client.call('pg_monitor', args);
  if (r.isError) throw new Error(`pg_monitor failed: ${r.text}`);
  // What the tool returns must satisfy the output schema it declares.
  return { data: monitorOutput.strict().parse(r.structuredContent), text: r.text };
}
const ok = (args: Record<string, unknown>) => call(mcp, args);

async function fails(args: Record<string, unknown>): Promise<string> {
  const r = await mcp.call('pg_monitor', args);
  expect(r.isError, `expected an error for ${JSON.stringify(args)}, got ${r.text}`).toBe(true);
  return r.text;
}

beforeAll(async () => {
  server = inject('pg');
  db = await createTestDatabase(server, 'monitor');
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    await c.query(FIXTURE);
  } finally {
    await c.end();
  }
  await admin(`create role ${ROLE} login password '${ROLE_PASSWORD}'`);
  await admin(`grant all on database ${db.database} to ${ROLE}`);
  mcp = await startInProcess(pgEnv(db));
  // Makes the client compile the output schema: every structured result below is validated against it.
  await mcp.client.listTools();
});

afterAll(async () => {
  await Promise.all(openClients.map((c) => c.end().catch(() => {})));
  await mcp?.close();
  await db?.drop();
  if (server) await admin(`drop role if exists ${ROLE}`);
});

describe('pg_monitor catalogue entry', () => {
  it('is a read-only monitor tool with one action argument and a compact output schema', async () => {
    const { tools } = await mcp.client.listTools();
    const t = tools.find((x) => x.name === 'pg_monitor');
    expect(t?.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false, idempotentHint: true });
    const action = (t?.inputSchema.properties ?? {}) as Record<string, { enum?: string[] }>;
    expect(action.action?.enum).toEqual([
      'health',
      'activity',
      'locks',
      'long_running',
      'replication',
      'sizes',
      'vacuum',
      'bloat',
      'settings',
      'extensions',
    ]);
    // The full schema defines its shared parts once and refers to them; the declared one (what clients compile)
    // types the top-level fields and is small.
    const full = z.toJSONSchema(monitorOutput, { target: 'draft-7', io: 'output' }) as Record<string, unknown>;
    const defs = Object.keys((full.definitions ?? {}) as object);
    expect(defs).toEqual(
      expect.arrayContaining(['pg_monitor_session', 'pg_monitor_check', 'pg_monitor_duration', 'pg_monitor_size']),
    );
    expect(JSON.stringify(full).length).toBeLessThan(30_000);
    const out = t?.outputSchema as Record<string, unknown>;
    expect(Object.keys((out.properties ?? {}) as object)).toContain('action');
    expect(JSON.stringify(out).length).toBeLessThan(JSON.stringify(full).length);
  });

  it('refuses arguments an action would ignore, with what it takes', async () => {
    expect(await fails({ action: 'sizes', user: 'bob' })).toMatch(
      /sizes does not take `user`.*`schema`, `pattern`, `limit`/,
    );
    expect(await fails({ action: 'locks', limit: 5 })).toMatch(/locks does not take `limit`/);
    expect(await fails({ action: 'replication', pattern: 'x' })).toMatch(
      /replication does not take `pattern`; it takes only `database`/,
    );
    expect(await fails({ action: 'activity', long_query_seconds: 5 })).toMatch(
      /thresholds apply to health and long_running/,
    );
    expect(await fails({ action: 'activity', state: 'sleeping' })).toMatch(/state/);
    expect(await fails({ action: 'health', limt: 3 })).toMatch(/limt/);
    // A flag left false is no mistake anywhere.
    await ok({ action: 'sizes', include_self: false });
  });
});

describe('findings', () => {
  it('a pile-up of one kind is cut to the worst 20 and summed up in one more finding', () => {
    const many = Array.from({ length: 25 }, (_, i) =>
      check('idle in transaction', i === 24 ? 'critical' : 'warn', `session ${i}`, { object: `pid ${i}` }),
    );
    const capped = capChecks([...many, check('dead rows', 'warn', 'x', { object: 'table t' })]);
    expect(capped).toHaveLength(22);
    expect(capped[0]).toMatchObject({ verdict: 'critical', object: 'pid 24' });
    const rest = capped.find((c) => c.evidence.startsWith('5 more'))!;
    expect(rest).toMatchObject({
      check: 'idle in transaction',
      verdict: 'warn',
      object: 'pid 19; pid 20; pid 21; pid 22; pid 23',
    });
    expect(capped.filter((c) => c.check === 'dead rows')).toHaveLength(1);
  });
});

describe('health', () => {
  it('reports version, uptime, role, connections, cache and wraparound with a verdict and threshold per check', async () => {
    const { data, text } = await ok({ action: 'health' });
    const h = data.health!;
    expect(h.versionNum).toBeGreaterThanOrEqual(150000);
    expect(h.version).toMatch(/^15\./);
    expect(h.role).toBe('primary');
    expect(h.uptime?.seconds).toBeGreaterThan(0);
    expect(h.connections.maxConnections).toBe(200);
    expect(h.connections.usable).toBe(200 - h.connections.reservedSuperuser - h.connections.reservedRoles);
    expect(h.connections.clientBackends).toBeGreaterThanOrEqual(1);
    expect(h.oldestXid?.age).toBeGreaterThan(0);
    const names = data.checks.map((c) => c.check);
    expect(names).toEqual(
      expect.arrayContaining([
        'connections',
        'cache hit ratio',
        'transaction ID age',
        'multixact ID age',
        'autovacuum',
        'idle in transaction',
        'long transactions',
        'long-running statements',
        'lock waits',
        'replication',
        'checkpoints',
        'pending restart',
      ]),
    );
    for (const c of data.checks) {
      expect(['ok', 'warn', 'critical']).toContain(c.verdict);
      expect(c.evidence.length).toBeGreaterThan(5);
      expect(c.threshold, c.check).toBeTruthy();
    }
    const conn = data.checks.find((c) => c.check === 'connections')!;
    expect(conn).toMatchObject({ verdict: 'ok', object: 'max_connections' });
    expect(conn.threshold).toBe('warn ≥ 80%, critical ≥ 95% of usable connections');
    expect(data.checks.find((c) => c.check === 'transaction ID age')).toMatchObject({ verdict: 'ok' });
    expect(text).toMatch(/^pg_monitor health — the whole server\nPostgreSQL 15\.\d+.* — primary, up /);
    expect(text).toContain('overall: ');
    expect(text).toMatch(/- ok connections — max_connections: \d+ client connections of 197 usable/);
  });

  it('idle-in-transaction threshold comes from the arguments; the verdict turns to warn', async () => {
    const { c, pid } = await session(db.url, 'mon-health-idle');
    await c.query('begin');
    await c.query('select count(*) from lk_rows');
    await sleep(1200);
    const { data } = await ok({ action: 'health', idle_in_transaction_seconds: 1 });
    const idle = data.checks.find((x) => x.check === 'idle in transaction')!;
    // warn for this one; another test file's session may make it critical.
    expect(['warn', 'critical']).toContain(idle.verdict);
    expect(idle.threshold).toBe('warn ≥ 1 s, critical ≥ 10 s');
    expect(idle.evidence).toMatch(/session\(s\); the worst: idle in transaction for/);
    expect(data.health?.verdict).not.toBe('ok');
    expect(data.health?.connections.idleInTransaction).toBeGreaterThanOrEqual(1);
    await c.query('rollback');
    expect(pid).toBeGreaterThan(0);
  });
});

describe('activity', () => {
  let idleTx: { c: pg.Client; pid: number };
  let active: { c: pg.Client; pid: number };
  let idle: { c: pg.Client; pid: number };
  let other: { c: pg.Client; pid: number };
  let sleeping: Promise<unknown>;

  beforeAll(async () => {
    idleTx = await session(db.url, 'mon-act-idletx');
    await idleTx.c.query('begin');
    await idleTx.c.query('select * from lk_rows where id = 3');
    await sleep(300);
    active = await session(db.url, 'mon-act-active');
    sleeping = active.c.query('select pg_sleep(4), 1 as sleeper').catch(() => undefined);
    idle = await session(db.url, 'mon-act-idle');
    other = await session(
      connectionUrl({ ...server, user: ROLE, password: ROLE_PASSWORD }, db.database),
      'mon-act-role',
    );
    await sleep(500);
  });

  afterAll(async () => {
    await idleTx.c.query('rollback');
    await sleeping;
  });

  it('groups by state, user, database and application and lists working sessions longest first', async () => {
    const { data, text } = await ok({ action: 'activity', database: db.database, application: 'mon-act' });
    const a = data.activity!;
    expect(a.total).toBe(4);
    expect(a.sessions.map((s) => s.pid)).toEqual([idleTx.pid, active.pid, expect.any(Number), expect.any(Number)]);
    expect(new Set(a.sessions.slice(2).map((s) => s.pid))).toEqual(new Set([idle.pid, other.pid]));
    const group = (by: string, value: string | null) => a.groups.find((g) => g.by === by && g.value === value)?.count;
    expect(group('state', 'active')).toBe(1);
    expect(group('state', 'idle')).toBe(2);
    expect(group('state', 'idle in transaction')).toBe(1);
    expect(group('user', ROLE)).toBe(1);
    expect(group('user', 'postgres')).toBe(3);
    expect(group('database', db.database)).toBe(4);
    expect(group('application', 'mon-act-active')).toBe(1);
    const s = a.sessions.find((x) => x.pid === active.pid)!;
    expect(s).toMatchObject({
      user: 'postgres',
      database: db.database,
      application: 'mon-act-active',
      backendType: 'client backend',
      state: 'active',
      waitEvent: 'Timeout: PgSleep',
      statement: 'select pg_sleep(4), 1 as sleeper',
      blockedBy: [],
    });
    expect(s.client).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(s.query?.seconds).toBeGreaterThan(0.3);
    const t = a.sessions.find((x) => x.pid === idleTx.pid)!;
    expect(t.state).toBe('idle in transaction');
    expect(t.transaction!.seconds).toBeGreaterThan(t.inState!.seconds - 0.01);
    expect(t.statement).toBe('select * from lk_rows where id = 3');
    expect(text).toContain(
      `pg_monitor activity — database ${db.database}, application ILIKE '%mon-act%'\n4 session(s)\n`,
    );
    expect(text).toMatch(
      /by state: idle 2, active 1, idle in transaction 1|by state: idle 2, idle in transaction 1, active 1/,
    );
    expect(text).toContain('| pid | user | database | application | client | state | for | wait | statement |');
  });

  it('filters by user, state and minimum duration', async () => {
    const byUser = await ok({ action: 'activity', database: db.database, user: ROLE });
    expect(byUser.data.activity?.sessions.map((s) => s.pid)).toEqual([other.pid]);
    const byState = await ok({ action: 'activity', database: db.database, state: 'active', application: 'mon-act' });
    expect(byState.data.activity?.sessions.map((s) => s.pid)).toEqual([active.pid]);
    const none = await ok({
      action: 'activity',
      database: db.database,
      application: 'mon-act',
      min_duration_seconds: 3600,
    });
    expect(none.data.activity).toMatchObject({ total: 0, sessions: [] });
    const limited = await ok({ action: 'activity', database: db.database, application: 'mon-act', limit: 1 });
    expect(limited.data.activity).toMatchObject({ total: 4, truncated: true });
    expect(limited.text).toContain('3 more session(s)');
  });

  it("leaves pgmcp's own session out unless include_self", async () => {
    const without = await ok({ action: 'activity', database: db.database, application: 'pgmcp' });
    const withSelf = await ok({ action: 'activity', database: db.database, application: 'pgmcp', include_self: true });
    expect(withSelf.data.activity!.total).toBe(without.data.activity!.total + 1);
    const self = withSelf.data.activity!.sessions.find(
      (s) => s.state === 'active' && s.statement?.startsWith('select a.pid'),
    );
    expect(self).toBeDefined();
    expect(without.data.activity!.sessions.some((s) => s.pid === self!.pid)).toBe(false);
    expect(without.text).toContain("pgmcp's own monitoring session is left out");
  });

  it('shows background processes on request', async () => {
    const bg = await ok({ action: 'activity', include_background: true });
    const types = new Set(bg.data.activity!.sessions.map((s) => s.backendType));
    expect(types).toContain('checkpointer');
    const plain = await ok({ action: 'activity' });
    expect(plain.data.activity!.sessions.every((s) => s.backendType === 'client backend')).toBe(true);
  });
});

describe('locks', () => {
  const node = (nodes: LockNode[], pid: number) => {
    const n = nodes.find((x) => x.pid === pid);
    if (!n) throw new Error(`pid ${pid} is not in the lock tree: ${JSON.stringify(nodes.map((x) => x.pid))}`);
    return n;
  };

  it('shows a two-session chain: the row-lock holder as root, the waiter as its child', async () => {
    const a = await session(db.url, 'mon-lock2-a');
    const b = await session(db.url, 'mon-lock2-b');
    await a.c.query('begin');
    await a.c.query('update lk_rows set v = 1 where id = 1');
    const blocked = b.c.query('update lk_rows set v = 2 where id = 1');
    try {
      await waitingOnLock(db.url, b.pid);
      const { data, text } = await ok({ action: 'locks', database: db.database });
      const l = data.locks!;
      expect(l.roots).toEqual([a.pid]);
      expect(l.waiting).toBe(1);
      expect(l.cycles).toEqual([]);
      const na = node(l.nodes, a.pid);
      const nb = node(l.nodes, b.pid);
      expect(na).toMatchObject({ depth: 0, children: [b.pid], blockedBy: [], waitingFor: null, inCycle: false });
      expect(na.session).toMatchObject({ state: 'idle in transaction', application: 'mon-lock2-a' });
      expect(na.session?.statement).toBe('update lk_rows set v = 1 where id = 1');
      expect(na.holding).toEqual([
        {
          locktype: 'transactionid',
          mode: 'ExclusiveLock',
          target: expect.stringMatching(/^transaction \d+$/),
          granted: true,
        },
      ]);
      expect(nb).toMatchObject({ depth: 1, children: [], blockedBy: [a.pid], holding: [] });
      expect(nb.waitingFor).toEqual({
        locktype: 'transactionid',
        mode: 'ShareLock',
        target: na.holding[0]?.target,
        granted: false,
      });
      expect(nb.waited?.seconds).toBeGreaterThanOrEqual(0);
      expect(nb.session?.waitEvent).toBe('Lock: transactionid');
      const finding = data.checks.find((c) => c.check === 'blocking session')!;
      expect(finding).toMatchObject({
        verdict: 'warn',
        object: `pid ${a.pid} (postgres@${db.database}, app "mon-lock2-a")`,
      });
      expect(finding.evidence).toMatch(/^blocks 1 session\(s\) \(1 directly\)/);
      expect(finding.fix).toContain(`pg_terminate_backend(${a.pid})`);
      expect(text).toContain('1 blocking chain(s), 1 session(s) waiting');
      expect(text).toMatch(new RegExp(`^- pid ${a.pid} .*holds ExclusiveLock on transaction \\d+`, 'm'));
      expect(text).toMatch(new RegExp(`^  - pid ${b.pid} .*waits .* for ShareLock on transaction \\d+`, 'm'));
    } finally {
      await a.c.query('rollback');
      await blocked;
    }
    const after = await ok({ action: 'locks', database: db.database });
    expect(after.data.locks).toEqual({ roots: [], nodes: [], cycles: [], waiting: 0, truncated: false });
    expect(after.text).toContain('no session waits on a lock held by another');
  });

  it('shows a three-session chain A ← B ← C with each lock mode requested and held', async () => {
    const a = await session(db.url, 'mon-lock3-a');
    const b = await session(db.url, 'mon-lock3-b');
    const c = await session(db.url, 'mon-lock3-c');
    await a.c.query('begin');
    await a.c.query('update lk_rows set v = 10 where id = 2');
    await b.c.query('begin');
    await b.c.query('lock table lk_other in access exclusive mode');
    const bWaits = b.c.query('update lk_rows set v = 20 where id = 2');
    await waitingOnLock(db.url, b.pid);
    const cWaits = c.c.query('select count(*) from lk_other');
    try {
      await waitingOnLock(db.url, c.pid);
      const { data, text } = await ok({ action: 'locks', database: db.database, query_chars: 40 });
      const l = data.locks!;
      expect(l.roots).toEqual([a.pid]);
      expect(l.waiting).toBe(2);
      expect(l.nodes.map((n) => n.pid)).toEqual([a.pid, b.pid, c.pid]);
      const [na, nb, nc] = [node(l.nodes, a.pid), node(l.nodes, b.pid), node(l.nodes, c.pid)];
      expect(na).toMatchObject({ depth: 0, children: [b.pid], blockedBy: [], waitingFor: null });
      expect(na.holding.map((h) => `${h.locktype} ${h.mode}`)).toEqual(['transactionid ExclusiveLock']);
      expect(nb).toMatchObject({ depth: 1, children: [c.pid], blockedBy: [a.pid] });
      expect(nb.waitingFor).toMatchObject({ locktype: 'transactionid', mode: 'ShareLock', granted: false });
      expect(nb.holding).toEqual([
        { locktype: 'relation', mode: 'AccessExclusiveLock', target: 'relation lk_other', granted: true },
      ]);
      expect(nc).toMatchObject({ depth: 2, children: [], blockedBy: [b.pid], holding: [] });
      expect(nc.waitingFor).toEqual({
        locktype: 'relation',
        mode: 'AccessShareLock',
        target: 'relation lk_other',
        granted: false,
      });
      expect(nc.session?.statement).toBe('select count(*) from lk_other');
      const finding = data.checks.find((x) => x.check === 'blocking session')!;
      expect(finding.object).toContain(`pid ${a.pid}`);
      expect(finding.evidence).toMatch(/^blocks 2 session\(s\) \(1 directly\)/);
      // The tree as text: A, then B indented under it, then C under B.
      const lines = text.split('\n');
      const ia = lines.findIndex((x) => x.startsWith(`- pid ${a.pid} `));
      expect(lines[ia + 1]).toMatch(
        new RegExp(
          `^  - pid ${b.pid} .*waits .*for ShareLock on transaction \\d+; holds AccessExclusiveLock on relation lk_other`,
        ),
      );
      expect(lines[ia + 2]).toMatch(
        new RegExp(`^    - pid ${c.pid} .*waits .*for AccessShareLock on relation lk_other`),
      );
    } finally {
      await a.c.query('rollback');
      await bWaits;
      await b.c.query('rollback');
      await cWaits;
    }
  });

  it('keeps chains of other databases out when a database is named', async () => {
    const elsewhere = await createTestDatabase(server, 'monitor_other');
    try {
      const url = elsewhere.url;
      const setup = new pg.Client({ connectionString: url });
      await setup.connect();
      await setup.query('create table t (id int primary key); insert into t values (1)');
      await setup.end();
      const a = await session(url, 'mon-lockx-a');
      const b = await session(url, 'mon-lockx-b');
      await a.c.query('begin');
      await a.c.query('update t set id = id where id = 1');
      const blocked = b.c.query('update t set id = id where id = 1');
      try {
        await waitingOnLock(url, b.pid);
        const mine = await ok({ action: 'locks', database: db.database });
        expect(mine.data.locks?.nodes).toEqual([]);
        const all = await ok({ action: 'locks' });
        expect(all.data.locks?.roots).toContain(a.pid);
      } finally {
        await a.c.query('rollback');
        await blocked;
        await a.c.end();
        await b.c.end();
      }
    } finally {
      await elsewhere.drop();
    }
  });
});

describe('long_running', () => {
  it('finds an idle-in-transaction session and a long statement, with the thresholds given', async () => {
    const idle = await session(db.url, 'mon-long-idle');
    const busy = await session(db.url, 'mon-long-busy');
    await idle.c.query('begin');
    await idle.c.query('select v from lk_rows where id = 5 /* the last statement */');
    const running = busy.c.query('select pg_sleep(30)').catch((e: Error) => e);
    try {
      await sleep(1300);
      const { data, text } = await ok({
        action: 'long_running',
        database: db.database,
        long_query_seconds: 1,
        idle_in_transaction_seconds: 1,
        long_transaction_seconds: 1,
      });
      const lr = data.longRunning!;
      expect(lr.thresholds).toEqual({ querySeconds: 1, transactionSeconds: 1, idleInTransactionSeconds: 1 });
      const idleRow = lr.idleInTransaction.find((s) => s.pid === idle.pid)!;
      expect(idleRow).toMatchObject({ state: 'idle in transaction', application: 'mon-long-idle' });
      expect(idleRow.statement).toBe('select v from lk_rows where id = 5 /* the last statement */');
      expect(idleRow.inState!.seconds).toBeGreaterThanOrEqual(1);
      expect(lr.transactions.map((s) => s.pid)).toEqual(expect.arrayContaining([idle.pid, busy.pid]));
      const q = lr.queries.find((s) => s.pid === busy.pid)!;
      expect(q.statement).toBe('select pg_sleep(30)');
      expect(q.query!.seconds).toBeGreaterThanOrEqual(1);
      expect(lr.queries.some((s) => s.pid === idle.pid)).toBe(false);

      const idleCheck = data.checks.find(
        (c) => c.check === 'idle in transaction' && c.object?.includes(`pid ${idle.pid}`),
      )!;
      expect(idleCheck.verdict).toBe('warn');
      expect(idleCheck.fix).toContain(`pg_terminate_backend(${idle.pid})`);
      expect(idleCheck.fix).toContain('idle_in_transaction_session_timeout');
      expect(idleCheck.evidence).toContain('last statement: select v from lk_rows');
      const busyCheck = data.checks.find(
        (c) => c.check === 'long-running statement' && c.object?.includes(`pid ${busy.pid}`),
      )!;
      expect(busyCheck.fix).toContain(`pg_cancel_backend(${busy.pid})`);
      expect(text).toMatch(/statements running ≥ 1 s: [1-9]/);
      expect(text).toMatch(/idle in transaction ≥ 1 s: [1-9]/);

      // With the defaults (1 min, 5 min, 1 min) neither is long yet.
      const defaults = await ok({ action: 'long_running', database: db.database, application: 'mon-long' });
      expect(defaults.data.longRunning).toMatchObject({ queries: [], transactions: [], idleInTransaction: [] });
      expect(defaults.data.longRunning?.thresholds).toEqual({
        querySeconds: 60,
        transactionSeconds: 300,
        idleInTransactionSeconds: 60,
      });
      // user and application filters narrow it.
      const other = await ok({
        action: 'long_running',
        user: ROLE,
        long_query_seconds: 0,
        long_transaction_seconds: 0,
      });
      expect(other.data.longRunning?.queries).toEqual([]);
    } finally {
      await admin(`select pg_cancel_backend(${busy.pid})`);
      await running;
      await idle.c.query('rollback');
    }
  });
});

describe('sizes', () => {
  it('lists the largest tables with heap, TOAST and index sizes, and the largest indexes, in order', async () => {
    const { data, text } = await ok({ action: 'sizes', pattern: 'size_' });
    const s = data.sizes!;
    expect(s.tables.map((t) => t.name)).toEqual([
      'size_big',
      'size_mid',
      'size_part',
      'size_part_a',
      'size_part_b',
      'size_small',
    ]);
    expect(s.tablesTotal).toBe(6);
    for (const t of s.tables) {
      expect(t.heap.bytes + t.toast.bytes + t.indexes.bytes).toBe(t.total.bytes);
    }
    const totals = s.tables.map((t) => t.total.bytes);
    expect([...totals].sort((a, b) => b - a)).toEqual(totals);
    const byName = (n: string) => s.tables.find((t) => t.name === n)!;
    // A partitioned table sums its partitions.
    expect(byName('size_part')).toMatchObject({ kind: 'partitioned table', partitionOf: null, rows: null });
    expect(byName('size_part').total.bytes).toBe(byName('size_part_a').total.bytes + byName('size_part_b').total.bytes);
    expect(byName('size_part_a')).toMatchObject({ kind: 'table', partitionOf: 'public.size_part' });
    expect(text).toContain('a partitioned table sums its partitions');
    const [big, mid, small] = [byName('size_big'), byName('size_mid'), byName('size_small')];
    expect(big!.toast.bytes).toBeGreaterThan(big!.heap.bytes);
    expect(big!.total.bytes).toBeGreaterThan(mid!.total.bytes);
    expect(mid!.total.bytes).toBeGreaterThan(small!.total.bytes);
    expect(mid!.indexes.bytes).toBeGreaterThan(0);
    expect(small!.indexes.bytes).toBe(0);
    expect(s.indexes[0]).toMatchObject({ name: 'size_mid_pad_idx', table: 'size_mid', unique: false, valid: true });
    const sizesDesc = s.indexes.map((i) => i.size.bytes);
    expect([...sizesDesc].sort((a, b) => b - a)).toEqual(sizesDesc);
    expect(s.databases.find((d) => d.name === db.database)?.size?.bytes).toBeGreaterThan(1_000_000);
    expect(s.databaseSize?.bytes).toBeGreaterThan(1_000_000);
    expect(text).toMatch(
      /\| public\.size_big \| table \| not analysed \| [\d.]+ kB \| [\d.]+ MB \| [\d.]+ kB \| [\d.]+ MB \|/,
    );

    const top = await ok({ action: 'sizes', pattern: 'size_', limit: 1 });
    expect(top.data.sizes?.tables.map((t) => t.name)).toEqual(['size_big']);
    expect(top.data.sizes?.tablesTotal).toBe(6);
    const none = await ok({ action: 'sizes', schema: 'no_such_schema' });
    expect(none.data.sizes?.tables).toEqual([]);
  });
});

describe('a table locked ACCESS EXCLUSIVE', () => {
  it('does not make sizes or bloat wait: the locked table is estimated from pg_class and marked', async () => {
    const a = await session(db.url, 'mon-ael');
    await a.c.query('begin');
    await a.c.query('lock table size_mid in access exclusive mode');
    try {
      const started = Date.now();
      const { data, text } = await ok({ action: 'sizes', pattern: 'size_mid' });
      const bl = await ok({ action: 'bloat', pattern: 'size_mid' });
      expect(Date.now() - started).toBeLessThan(3000);
      const t = data.sizes!.tables[0]!;
      expect(t).toMatchObject({ name: 'size_mid', estimated: true });
      expect(t.heap.bytes).toBeGreaterThan(100_000);
      expect(t.indexes.bytes).toBeGreaterThan(0);
      expect(data.sizes!.indexes.every((i) => !i.estimated)).toBe(true);
      expect(text).toContain('(estimated: locked)');
      expect(bl.data.bloat!.tables.map((x) => x.name)).toEqual(['size_mid']);
    } finally {
      await a.c.query('rollback');
    }
  });
});

describe('vacuum', () => {
  it('shows dead rows, autovacuum settings and wraparound age, and names the fix', async () => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    await c.query('create table vac_t (id int, pad text) with (autovacuum_enabled = false)');
    await c.query("insert into vac_t select i, repeat('v', 50) from generate_series(1, 5000) i");
    await c.query('delete from vac_t where id <= 3000');
    await c.end();
    const { data, text } = await waitFor('dead rows in the statistics', async () => {
      const r = await ok({ action: 'vacuum', pattern: 'vac_t' });
      return (r.data.vacuum?.tables[0]?.deadRows ?? 0) >= 3000 ? r : undefined;
    });
    const v = data.vacuum!;
    const t = v.tables[0]!;
    expect(t).toMatchObject({
      schema: 'public',
      name: 'vac_t',
      liveRows: 2000,
      deadRows: 3000,
      deadRatio: 0.6,
      autovacuumEnabled: false,
      lastVacuum: null,
      lastAutovacuum: null,
      verdict: 'warn',
    });
    // Never vacuumed nor analysed: autovacuum counts the table as empty (reltuples -1).
    expect(t.autovacuumAt).toBe(50);
    expect(t.lastAnalyze).toBeNull();
    expect(t.xidAge).toBeGreaterThan(0);
    expect(t.leftBeforeLimit).toBe(2 ** 31 - t.xidAge!);
    expect(t.leftBeforeAutovacuum).toBe(200_000_000 - t.xidAge!);
    expect(v.settings).toMatchObject({ autovacuum: true, trackCounts: true, maxWorkers: 3, freezeMaxAge: 200_000_000 });
    const d = v.databases.find((x) => x.name === db.database)!;
    expect(d.verdict).toBe('ok');
    expect(d.leftBeforeLimit).toBe(2 ** 31 - d.xidAge!);
    expect(v.oldest.map((x) => x.name)).toEqual(['vac_t']);

    const dead = data.checks.find((x) => x.check === 'dead rows')!;
    expect(dead).toMatchObject({ verdict: 'warn', object: 'table public.vac_t' });
    expect(dead.evidence).toContain('3,000 dead rows = 60.0% of the table');
    expect(dead.evidence).toContain('autovacuum is disabled on this table');
    expect(dead.fix).toBe(
      'VACUUM (ANALYZE, VERBOSE) public.vac_t; ALTER TABLE public.vac_t RESET (autovacuum_enabled);',
    );
    expect(data.checks.find((x) => x.check === 'autovacuum disabled on table')?.object).toBe('table public.vac_t');
    expect(data.checks.find((x) => x.check === 'never analysed')).toMatchObject({
      object: 'table public.vac_t',
      fix: 'ANALYZE public.vac_t;',
    });
    expect(text).toContain('transaction ID age per database:');
    expect(text).toContain('| public.vac_t (autovacuum off) | 2,000 | 3,000 | 60.0% |');

    const c2 = new pg.Client({ connectionString: db.url });
    await c2.connect();
    await c2.query('vacuum analyze vac_t');
    await c2.end();
    const after = await waitFor('the vacuum in the statistics', async () => {
      const r = await ok({ action: 'vacuum', pattern: 'vac_t' });
      return r.data.vacuum?.tables[0]?.lastVacuum ? r : undefined;
    });
    expect(after.data.vacuum?.tables[0]).toMatchObject({ deadRows: 0, vacuumCount: 1 });
    expect(after.data.checks.some((x) => x.check === 'dead rows' || x.check === 'never analysed')).toBe(false);
    expect(after.data.vacuum?.tables[0]?.autovacuumAt).toBe(50 + Math.round(0.2 * 2000));
  });
});

describe('vacuum in progress', () => {
  it('shows a running VACUUM from pg_stat_progress_vacuum with its phase and blocks', async () => {
    const setup = new pg.Client({ connectionString: db.url });
    await setup.connect();
    await setup.query('create table prog_t (id int, pad text) with (autovacuum_enabled = false)');
    await setup.query("insert into prog_t select i, repeat('p', 100) from generate_series(1, 20000) i");
    await setup.query('delete from prog_t where id % 3 = 0');
    await setup.end();
    const slow = await session(db.url, 'mon-slow-vacuum');
    await slow.c.query("set vacuum_cost_delay = '100ms'");
    await slow.c.query('set vacuum_cost_limit = 1');
    const running = slow.c.query('vacuum prog_t').catch((err: Error) => err);
    try {
      const { data, text } = await waitFor('the vacuum in progress', async () => {
        const r = await ok({ action: 'vacuum', pattern: 'prog_t' });
        return r.data.vacuum?.progress.some((p) => p.pid === slow.pid) ? r : undefined;
      });
      const p = data.vacuum!.progress.find((x) => x.pid === slow.pid)!;
      expect(p).toMatchObject({ database: db.database, relation: 'prog_t', autovacuum: false, wraparound: false });
      expect(p.phase).toBe('scanning heap');
      expect(p.heapBlocks).toBeGreaterThan(200);
      expect(p.scanned).toBeLessThan(p.heapBlocks!);
      expect(p.deadItems).toBeGreaterThanOrEqual(0);
      expect(text).toMatch(
        new RegExp(`\\| ${slow.pid} \\| ${db.database} \\| prog_t \\| VACUUM \\| scanning heap \\|`),
      );
    } finally {
      await admin(`select pg_cancel_backend(${slow.pid})`);
      await running;
    }
  });
});

describe('bloat', () => {
  it('estimates the bloat of a table updated several times without vacuum, and not of its tightly loaded twin', async () => {
    const { data, text } = await ok({ action: 'bloat' });
    const b = data.bloat!;
    const bloated = b.tables.find((t) => t.name === 'bloat_t')!;
    const tight = b.tables.find((t) => t.name === 'tight_t')!;
    expect(bloated).toMatchObject({ statistics: 'ok', rows: 20000, fillfactor: 100, verdict: 'warn', missing: [] });
    expect(bloated.ratio).toBeGreaterThan(0.6);
    expect(bloated.bloat!.bytes).toBeGreaterThan(2 * 1024 * 1024);
    expect(bloated.expected!.bytes + bloated.bloat!.bytes).toBe(bloated.size.bytes);
    // The estimate of a freshly loaded table is close to its real size.
    expect(tight.statistics).toBe('ok');
    expect(tight.ratio).toBeLessThan(0.1);
    expect(tight.verdict).toBe('ok');
    expect(Math.abs(tight.expected!.bytes - tight.size.bytes) / tight.size.bytes).toBeLessThan(0.1);
    // Most bloat first.
    expect(b.tables[0]?.name).toBe('bloat_t');
    const pkey = b.indexes.find((i) => i.name === 'bloat_t_pkey')!;
    expect(pkey).toMatchObject({ table: 'bloat_t', statistics: 'ok', fillfactor: 90 });
    expect(pkey.ratio).toBeGreaterThan(0.5);
    const tightKey = b.indexes.find((i) => i.name === 'tight_t_pkey')!;
    expect(tightKey.ratio).toBeLessThan(0.15);

    const finding = data.checks.find((c) => c.check === 'table bloat')!;
    expect(finding).toMatchObject({ verdict: 'warn', object: 'table public.bloat_t' });
    expect(finding.evidence).toMatch(
      /^about [\d.]+ MB of [\d.]+ MB \(\d+\.\d%\) beyond the [\d.]+ (kB|MB) its 20,000 rows need at fillfactor 100 \(estimate\)$/,
    );
    expect(finding.fix).toContain('VACUUM (FULL, VERBOSE) public.bloat_t;');
    expect(data.checks.find((c) => c.check === 'index bloat')?.fix).toBe(
      'REINDEX INDEX CONCURRENTLY public.bloat_t_pkey;',
    );
    // The method is explained, and missing statistics are said.
    expect(b.method).toMatch(/^Estimates, not measurements/);
    expect(data.notes[0]).toBe(b.method);
    const nostats = b.tables.find((t) => t.name === 'nostats_t')!;
    expect(nostats).toMatchObject({ statistics: 'missing', expected: null, bloat: null, ratio: null, rows: null });
    const missing = data.checks.find((c) => c.check === 'statistics missing')!;
    expect(missing.evidence).toContain('public.nostats_t');
    expect(missing.fix).toContain('ANALYZE public.nostats_t;');
    expect(text).toContain('statistics missing');
    expect(text).toMatch(
      /\| public\.bloat_t \| [\d.]+ MB \| [\d.]+ (kB|MB) \| [\d.]+ MB \| \d+\.\d% \| 20000 \| 100 \| warn \|/,
    );

    const filtered = await ok({ action: 'bloat', pattern: 'tight', limit: 1 });
    expect(filtered.data.bloat?.tables.map((t) => t.name)).toEqual(['tight_t']);
  });
});

describe('settings', () => {
  it('lists non-default settings with source, unit and default, filtered by name and category', async () => {
    const { data, text } = await ok({ action: 'settings' });
    const s = data.settings!;
    const byName = (n: string) => s.items.find((i) => i.name === n);
    expect(byName('max_connections')).toMatchObject({
      value: '200',
      setting: '200',
      default: '100',
      source: 'configuration file',
      context: 'postmaster',
      pendingRestart: false,
    });
    expect(byName('max_connections')?.file).toMatch(/pgmcp\.conf:\d+$/);
    expect(byName('fsync')).toMatchObject({ value: 'off', default: 'on', context: 'sighup' });
    // At the default, or set by pgmcp's own connection: left out.
    expect(byName('shared_buffers')).toBeUndefined();
    expect(byName('application_name')).toBeUndefined();
    expect(byName('statement_timeout')).toBeUndefined();
    expect(text).toMatch(
      /\| max_connections \| 200 \| 100 \| configuration file \(.*pgmcp\.conf:\d+\) \| postmaster \|/,
    );

    const wal = await ok({ action: 'settings', category: 'write-ahead', include_defaults: true, pattern: 'wal_' });
    const walItems = wal.data.settings!.items;
    expect(walItems.every((i) => i.category.toLowerCase().includes('write-ahead') && i.name.includes('wal_'))).toBe(
      true,
    );
    const walBuffers = walItems.find((i) => i.name === 'wal_writer_delay')!;
    expect(walBuffers).toMatchObject({ value: '200ms', unit: 'ms', default: '200ms', source: 'default' });
    const mem = await ok({ action: 'settings', pattern: 'shared_buffers', include_defaults: true });
    expect(mem.data.settings?.items[0]).toMatchObject({
      value: '128MB',
      setting: '16384',
      unit: '8kB',
      default: '128MB',
    });
    const wm = await ok({ action: 'settings', pattern: 'work_mem', include_defaults: true });
    expect(wm.data.settings?.items.find((i) => i.name === 'work_mem')).toMatchObject({
      value: '4MB',
      setting: '4096',
      unit: 'kB',
      default: '4MB',
    });
  });

  it('shows values the way SHOW does', () => {
    expect(showValue('16384', '8kB')).toBe('128MB');
    expect(showValue('4096', 'kB')).toBe('4MB');
    expect(showValue('1000', 'kB')).toBe('1000kB');
    expect(showValue('300', 's')).toBe('5min');
    expect(showValue('90', 's')).toBe('90s');
    expect(showValue('86400000', 'ms')).toBe('1d');
    expect(showValue('-1', 'ms')).toBe('-1');
    expect(showValue('0', 'ms')).toBe('0');
    expect(showValue('on', null)).toBe('on');
  });

  it('compares a configuration-file value with the running one in its unit', () => {
    expect(sameValue('7MB', '4096', 'kB', 'integer')).toBe(false);
    expect(sameValue('4MB', '4096', 'kB', 'integer')).toBe(true);
    expect(sameValue('4096kB', '4096', 'kB', 'integer')).toBe(true);
    expect(sameValue('4096', '4096', 'kB', 'integer')).toBe(true);
    expect(sameValue('128MB', '16384', '8kB', 'integer')).toBe(true);
    expect(sameValue('5min', '300', 's', 'integer')).toBe(true);
    expect(sameValue('1h', '300', 's', 'integer')).toBe(false);
    expect(sameValue('0.2', '0.2', null, 'real')).toBe(true);
    expect(sameValue('yes', 'on', null, 'bool')).toBe(true);
    expect(sameValue('off', 'on', null, 'bool')).toBe(false);
    expect(sameValue('iso, mdy', 'ISO, MDY', null, 'string')).toBe(true);
    expect(sameValue('12 parsecs', '4096', 'kB', 'integer')).toBeNull();
  });
});

describe('extensions', () => {
  it('lists installed extensions with available upgrades and preload state, and the ones not installed', async () => {
    const { data, text } = await ok({ action: 'extensions' });
    const e = data.extensions!;
    const citext = e.installed.find((x) => x.name === 'citext')!;
    expect(citext).toMatchObject({ version: '1.4', updateAvailable: true, schema: 'public', preload: 'not needed' });
    expect(citext.defaultVersion).not.toBe('1.4');
    expect(e.installed.find((x) => x.name === 'pg_stat_statements')).toMatchObject({
      preload: 'loaded',
      updateAvailable: false,
    });
    expect(e.installed.find((x) => x.name === 'plpgsql')).toMatchObject({
      schema: 'pg_catalog',
      updateAvailable: false,
    });
    expect(e.available.find((x) => x.name === 'hypopg')).toMatchObject({ defaultVersion: expect.any(String) });
    expect(e.available.find((x) => x.name === 'hstore')?.trusted).toBe(true);
    expect(e.available.some((x) => x.name === 'citext')).toBe(false);
    const update = data.checks.find((c) => c.check === 'extension update')!;
    expect(update).toMatchObject({ verdict: 'warn', object: 'extension citext' });
    expect(update.fix).toBe('ALTER EXTENSION citext UPDATE; -- read its release notes first');
    expect(text).toMatch(/\| citext \| 1\.4 \| 1\.\d \(ALTER EXTENSION … UPDATE\) \| public \|/);
    expect(text).toMatch(/available, not installed: \d+ — .*hypopg/);

    const only = await ok({ action: 'extensions', pattern: 'cit' });
    expect(only.data.extensions?.installed.map((x) => x.name)).toEqual(['citext']);
  });
});

describe('a login without monitoring privileges', () => {
  it('every action still answers, and says what this login cannot see', async () => {
    const limited = await startInProcess({ ...pgEnv(db), PGUSER: ROLE, PGPASSWORD: ROLE_PASSWORD });
    try {
      await limited.client.listTools();
      const other = await session(db.url, 'mon-priv-other');
      for (const action of ['health', 'locks', 'long_running', 'replication', 'sizes', 'vacuum', 'bloat']) {
        await call(limited, { action });
      }
      const act = await call(limited, { action: 'activity', database: db.database, application: 'mon-priv-other' });
      expect(act.data.activity?.sessions.map((s) => [s.pid, s.statement])).toEqual([
        [other.pid, '<insufficient privilege>'],
      ]);
      expect(act.data.notes.join('\n')).toContain('GRANT pg_monitor TO <login> shows everything');
      const ext = await call(limited, { action: 'extensions', pattern: 'pg_stat_statements' });
      expect(ext.data.extensions?.installed[0]).toMatchObject({ name: 'pg_stat_statements', preload: 'unknown' });
      expect(ext.data.notes[0]).toContain('shared_preload_libraries is not visible to this login');
      const set = await call(limited, { action: 'settings' });
      expect(set.data.settings?.items.find((i) => i.name === 'max_connections')).toMatchObject({
        value: '200',
        file: null,
      });
      expect(set.data.notes.join('\n')).toContain('pg_file_settings is not readable by this login');
    } finally {
      await limited.close();
    }
  });
});

describe('a dedicated primary with a streaming standby', () => {
  let primary: PgServer;
  let standby: PgServer;
  let onPrimary: InProcess;
  let onStandby: InProcess;

  const exec = async (url: string, sql: string) => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      return await c.query(sql);
    } finally {
      await c.end();
    }
  };

  beforeAll(async () => {
    primary = await startPostgres({
      name: 'mon-primary',
      settings: { max_connections: '20', autovacuum: 'off', max_prepared_transactions: '5' },
    });
    await exec(primary.url, "select pg_create_physical_replication_slot('mon_idle_slot', true)");
    await exec(primary.url, 'create table repl_t (id int, pad text)');
    standby = await startStandby(primary);
    onPrimary = await startInProcess(pgEnv(primary));
    onStandby = await startInProcess(pgEnv(standby));
    await onPrimary.client.listTools();
    await onStandby.client.listTools();
  });

  afterAll(async () => {
    await onStandby?.close();
    await onPrimary?.close();
    await standby?.stop();
    await primary?.stop();
  });

  it('replication on the primary: the standby with its lag in bytes and time, and the inactive slot', async () => {
    await waitFor('the standby to stream', async () => {
      const r = await exec(primary.url, "select 1 from pg_stat_replication where state = 'streaming'");
      return r.rowCount === 1 ? true : undefined;
    });
    // Generate WAL until the standby has reported lag times.
    const { data, text } = await waitFor(
      'lag times from the standby',
      async () => {
        await exec(primary.url, "insert into repl_t select i, repeat('r', 200) from generate_series(1, 20000) i");
        const r = await call(onPrimary, { action: 'replication' });
        const s = r.data.replication?.standbys[0];
        return s?.writeLag && s.flushLag ? r : undefined;
      },
      30_000,
    );
    const rep = data.replication!;
    expect(rep.role).toBe('primary');
    expect(rep.currentLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(rep.standbys).toHaveLength(1);
    const s = rep.standbys[0]!;
    expect(s).toMatchObject({ state: 'streaming', syncState: 'async', user: 'postgres', application: 'standby' });
    for (const lsn of [s.sentLsn, s.writeLsn, s.flushLsn, s.replayLsn]) expect(lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    for (const b of Object.values(s.lagBytes)) {
      expect(typeof b).toBe('number');
      expect(b).toBeGreaterThanOrEqual(0);
    }
    expect(s.lagBytes.replay).toBeGreaterThanOrEqual(s.lagBytes.sent!);
    expect(s.writeLag!.seconds).toBeGreaterThanOrEqual(0);
    expect(s).toHaveProperty('replayLag');
    expect(s.client).toMatch(/^127\.0\.0\.1:\d+$/);

    const slot = rep.slots.find((x) => x.name === 'mon_idle_slot')!;
    expect(slot).toMatchObject({
      type: 'physical',
      active: false,
      activePid: null,
      temporary: false,
      walStatus: 'reserved',
    });
    expect(slot.retained!.bytes).toBeGreaterThan(1_000_000);
    const finding = data.checks.find((c) => c.check === 'inactive replication slot')!;
    expect(finding).toMatchObject({ verdict: 'warn', object: 'slot mon_idle_slot (physical)' });
    expect(finding.fix).toContain("SELECT pg_drop_replication_slot('mon_idle_slot');");
    expect(finding.evidence).toContain(`retains ${slot.retained!.pretty} of WAL`);
    expect(text).toContain('standbys: 1');
    expect(text).toContain('| mon_idle_slot | physical |  | NO | reserved |');
    expect(rep.receiver).toBeNull();
    expect(rep.recovery).toBeNull();
  });

  it('replication on the standby: the WAL receiver, receive and replay positions, replay lag', async () => {
    await exec(primary.url, "insert into repl_t values (0, 'committed after the others')");
    const { data, text } = await waitFor('the standby to catch up', async () => {
      const r = await call(onStandby, { action: 'replication' });
      const rec = r.data.replication?.recovery;
      return rec?.caughtUp && rec.sinceLastReplay ? r : undefined;
    });
    const rep = data.replication!;
    expect(rep.role).toBe('standby');
    expect(rep.receiver).toMatchObject({
      status: 'streaming',
      senderHost: '127.0.0.1',
      senderPort: primary.port,
      receivedTli: 1,
    });
    expect(rep.receiver!.flushedLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(rep.receiver!.lastMessageAge!.seconds).toBeLessThan(60);
    expect(rep.recovery).toMatchObject({
      caughtUp: true,
      replayLagBytes: 0,
      replayPaused: 'not paused',
      applyDelay: '0',
    });
    expect(rep.recovery!.receiveLsn).toBe(rep.recovery!.replayLsn);
    expect(rep.recovery!.sinceLastReplay!.seconds).toBeGreaterThanOrEqual(0);
    // Read a moment before the receive position: never past it (the primary may have sent more WAL in between).
    const lsn = (v: string | null | undefined) => {
      const [hi, lo] = String(v).split('/');
      return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
    };
    expect(lsn(rep.currentLsn) <= lsn(rep.recovery!.receiveLsn)).toBe(true);
    expect(data.checks).toEqual([]);
    expect(text).toMatch(new RegExp(`WAL receiver: streaming from 127\\.0\\.0\\.1:${primary.port}, timeline 1`));
    expect(text).toContain('caught up');

    const health = await call(onStandby, { action: 'health' });
    expect(health.data.health?.role).toBe('standby');
    expect(health.data.checks.find((c) => c.check === 'WAL receiver')).toMatchObject({ verdict: 'ok' });
    expect(health.data.checks.find((c) => c.check === 'replay lag')?.evidence).toMatch(/^caught up/);
  });

  it('health verdicts: connections near max_connections, autovacuum off, the inactive slot', async () => {
    // max_connections 20 − 3 reserved = 17 usable: 14 clients (plus pgmcp's own) is over 80%.
    for (let i = 0; i < 14; i++) await session(primary.url, `mon-fill-${i}`);
    const { data, text } = await call(onPrimary, { action: 'health' });
    const conn = data.checks.find((c) => c.check === 'connections')!;
    expect(conn.verdict).toBe('warn');
    expect(conn.evidence).toMatch(
      /^1[5-6] client connections of 17 usable \(max_connections 20 − 3 superuser_reserved_connections\)/,
    );
    expect(conn.fix).toContain('PgBouncer');
    expect(data.checks.find((c) => c.check === 'autovacuum')).toMatchObject({
      verdict: 'critical',
      evidence: 'autovacuum off, track_counts on',
    });
    expect(data.checks.find((c) => c.check === 'inactive replication slot')?.object).toBe(
      'slot mon_idle_slot (physical)',
    );
    expect(data.checks.find((c) => c.check === 'replication lag')?.verdict).toBe('ok');
    expect(data.health?.verdict).toBe('critical');
    // Worst first.
    expect(data.checks[0]?.verdict).toBe('critical');
    expect(text).toMatch(/overall: CRITICAL — \d+ critical, \d+ warning\(s\), \d+ ok/);
    expect(text).toMatch(/^- CRITICAL autovacuum — autovacuum: autovacuum off/m);
    const vac = await call(onPrimary, { action: 'vacuum' });
    expect(vac.data.checks[0]).toMatchObject({ check: 'autovacuum', verdict: 'critical' });
  });

  it('an old prepared transaction: long_running lists it and locks shows it as the root of a chain', async () => {
    await exec(primary.url, 'create table prep_t (id int primary key); insert into prep_t values (1)');
    const p = await session(primary.url, 'mon-prep');
    await p.c.query('begin');
    await p.c.query('update prep_t set id = 1 where id = 1');
    await p.c.query("prepare transaction 'mon_gid'");
    const w = await session(primary.url, 'mon-prep-waiter');
    const waiting = w.c.query('update prep_t set id = 1 where id = 1');
    try {
      await waitingOnLock(primary.url, w.pid);
      const lr = await call(onPrimary, { action: 'long_running', long_transaction_seconds: 0 });
      expect(lr.data.longRunning?.prepared).toEqual([
        expect.objectContaining({ gid: 'mon_gid', owner: 'postgres', database: 'postgres' }),
      ]);
      const prepCheck = lr.data.checks.find((c) => c.check === 'old prepared transaction')!;
      expect(prepCheck.object).toBe("prepared transaction 'mon_gid'");
      expect(prepCheck.fix).toContain("ROLLBACK PREPARED 'mon_gid';");

      const { data, text } = await call(onPrimary, { action: 'locks' });
      const l = data.locks!;
      expect(l.roots).toEqual([0]);
      expect(l.nodes[0]).toMatchObject({ pid: 0, session: null, prepared: ['mon_gid'], children: [w.pid] });
      expect(l.nodes[0]?.holding.map((h) => `${h.locktype} ${h.mode}`)).toEqual(['transactionid ExclusiveLock']);
      expect(l.nodes[1]).toMatchObject({ pid: w.pid, blockedBy: [0], depth: 1 });
      expect(data.checks[0]?.fix).toBe("ROLLBACK PREPARED 'mon_gid';");
      expect(text).toMatch(/^- prepared transaction mon_gid; holds ExclusiveLock on transaction \d+/m);
    } finally {
      await exec(primary.url, "rollback prepared 'mon_gid'");
      await waiting;
    }
  });

  it('settings: a change waiting for a restart and one waiting for a reload', async () => {
    await exec(primary.url, "alter system set shared_buffers = '64MB'");
    await exec(primary.url, 'select pg_reload_conf()');
    await waitFor('pending_restart', async () => {
      const r = await exec(primary.url, "select pending_restart from pg_settings where name = 'shared_buffers'");
      return r.rows[0]?.pending_restart ? true : undefined;
    });
    // Each backend re-reads the files when it next runs a command after the reload: let pgmcp's do so now.
    await call(onPrimary, { action: 'settings', pattern: 'shared_buffers' });
    await exec(primary.url, "alter system set work_mem = '7MB'");
    const { data, text } = await call(onPrimary, { action: 'settings' });
    const sb = data.settings!.items[0]!;
    expect(sb).toMatchObject({ name: 'shared_buffers', value: '128MB', pendingRestart: true, context: 'postmaster' });
    const pending = data.checks.find((c) => c.check === 'pending restart')!;
    expect(pending).toMatchObject({ verdict: 'warn', object: 'setting shared_buffers' });
    expect(pending.evidence).toMatch(
      /^running with 128MB; the configuration says '64MB' \(.*postgresql\.auto\.conf:\d+\): it takes effect only after a restart$/,
    );
    const file = data.settings!.fileProblems.find((f) => f.name === 'work_mem')!;
    expect(file).toMatchObject({ applied: false, error: null });
    expect(file.file).toMatch(/postgresql\.auto\.conf:\d+$/);
    const reload = data.checks.find((c) => c.check === 'configuration file')!;
    expect(reload).toMatchObject({ verdict: 'warn', fix: 'SELECT pg_reload_conf();' });
    expect(reload.evidence).toBe(
      "the file says work_mem = '7MB', the server runs with 4MB: the file changed since the last reload",
    );
    expect(reload.object).toMatch(/^setting work_mem at .*postgresql\.auto\.conf:\d+$/);
    expect(text).toContain('| shared_buffers (PENDING RESTART) | 128MB |');
    const autovac = await call(onPrimary, { action: 'settings', category: 'autovacuum' });
    expect(autovac.data.settings?.items.map((i) => i.name)).toEqual(['autovacuum']);

    const health = await call(onPrimary, { action: 'health' });
    expect(health.data.checks.find((c) => c.check === 'pending restart')).toMatchObject({
      verdict: 'warn',
      evidence: 'changed in the configuration but waiting for a restart: shared_buffers',
    });
  });
});

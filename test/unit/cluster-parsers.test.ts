import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseInfo, parseStatCsv } from '../../src/cluster/haproxy.js';
import { normaliseRole, parseClusterMembers, parseHistory, parseNodeStatus } from '../../src/cluster/patroni.js';
import { normaliseRow } from '../../src/cluster/pgbouncer.js';
import { assess, verdictOf } from '../../src/tools/cluster/overview.js';
import type { MemberView } from '../../src/tools/cluster/patroni.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/cluster/${name}`, import.meta.url), 'utf8');

describe('Patroni parsers (captured from Patroni 3.0.2)', () => {
  it('normalises roles: master and leader are both leader', () => {
    expect(normaliseRole('master')).toBe('leader');
    expect(normaliseRole('leader')).toBe('leader');
    expect(normaliseRole('replica')).toBe('replica');
    expect(normaliseRole('weird')).toBe('unknown');
  });
  it('parses /cluster', () => {
    const { members } = parseClusterMembers(JSON.parse(fixture('patroni-cluster.json')));
    expect(members.map((m) => [m.name, m.role, m.state, m.timeline])).toEqual([
      ['node1', 'leader', 'running', 1],
      ['node2', 'replica', 'running', 1],
      ['node3', 'replica', 'running', 1],
    ]);
    expect(members[0]?.lagBytes).toBeNull();
    expect(members[1]?.lagBytes).toBe(0);
  });
  it('parses /patroni on the leader and on a replica', () => {
    const leader = parseNodeStatus(JSON.parse(fixture('patroni-leader.json')));
    expect(leader.role).toBe('leader');
    expect(leader.walLocation).toBeGreaterThan(0);
    expect(leader.replication.map((r) => r.application).sort()).toEqual(['node2', 'node3']);
    expect(leader.scope).toBe('pgmcp');
    const replica = parseNodeStatus(JSON.parse(fixture('patroni-replica.json')));
    expect(replica.role).toBe('replica');
    expect(replica.replayedLocation).toBeGreaterThan(0);
    expect(replica.replayPaused).toBe(false);
  });
  it('parses /history', () => {
    expect(
      parseHistory(JSON.parse('[[1, 50331808, "no recovery target specified", "2026-11-21T10:00:00+00:00", "node2"]]')),
    ).toEqual([
      {
        timeline: 1,
        lsn: 50331808,
        reason: 'no recovery target specified',
        time: '2026-11-21T10:00:00+00:00',
        newLeader: 'node2',
      },
    ]);
    expect(parseHistory([])).toEqual([]);
  });
});

describe('HAProxy parsers (captured from HAProxy 2.6)', () => {
  it('parses the HTTP CSV and the runtime-API show stat into the same shape', () => {
    const http = parseStatCsv(fixture('haproxy-stat.csv'));
    const socket = parseStatCsv(fixture('haproxy-show-stat.csv'));
    const key = (rows: typeof http) => rows.map((r) => `${r.proxy}/${r.name}/${r.type}/${r.status}`);
    expect(key(http)).toEqual(key(socket));
    const node1 = http.find((r) => r.proxy === 'primary' && r.name === 'node1');
    expect(node1).toMatchObject({ type: 'server', status: 'UP', checkStatus: 'L7OK', checkCode: 200, weight: 1 });
    // the server address is shown on the admin socket only
    expect(socket.find((r) => r.proxy === 'primary' && r.name === 'node1')?.address).toMatch(/^127\.0\.0\.1:\d+$/);
    const fe = http.find((r) => r.proxy === 'primary' && r.name === 'FRONTEND');
    expect(fe?.type).toBe('frontend');
  });
  it('takes HAProxy\'s "* " mark of a check in progress off the status (and its code 0)', () => {
    const csv = [
      '# pxname,svname,status,check_status,check_code,type',
      'primary,node1,UP,* L7OK,0,2',
      'primary,node2,DOWN,L7STS,503,2',
    ].join('\n');
    const [node1, node2] = parseStatCsv(csv);
    expect(node1).toMatchObject({ status: 'UP', checkStatus: 'L7OK', checkInProgress: true, checkCode: null });
    expect(node2).toMatchObject({ status: 'DOWN', checkStatus: 'L7STS', checkInProgress: false, checkCode: 503 });
  });
  it('parses show info', () => {
    const info = parseInfo(fixture('haproxy-show-info.txt'));
    expect(info.Name).toBe('HAProxy');
    expect(info.Version).toMatch(/^2\.6/);
  });
  it('refuses text that is not stats CSV', () => {
    expect(() => parseStatCsv('<html>')).toThrow(/not HAProxy stats CSV/);
  });
});

describe('PgBouncer console rows (captured from PgBouncer 1.18)', () => {
  it('normalises numbers and keeps text', () => {
    const pools = JSON.parse(fixture('pgbouncer-pools.json')) as { rows: Record<string, unknown>[] };
    const rows = pools.rows.map(normaliseRow);
    const pg = rows.find((r) => r.database === 'postgres');
    expect(pg).toMatchObject({ user: 'postgres', cl_waiting: 0, pool_mode: 'transaction' });
    expect(normaliseRow({ a: '12', b: '1.5', c: null, d: '99999999999999999999' })).toEqual({
      a: 12,
      b: '1.5',
      c: null,
      d: '99999999999999999999',
    });
  });
});

describe('pg_cluster assessment', () => {
  const members = (): MemberView[] =>
    parseClusterMembers(JSON.parse(fixture('patroni-cluster.json'))).members.map((m) => ({
      ...m,
      status: null,
      reachable: true,
    }));
  const haproxy = () => ({ rows: parseStatCsv(fixture('haproxy-show-stat.csv')) });
  const pools = () => ({
    pools: (JSON.parse(fixture('pgbouncer-pools.json')).rows as Record<string, unknown>[]).map(normaliseRow),
    databases: [],
  });
  const patroni = (ms = members(), unreachableUrls: string[] = []) => ({
    scope: 'pgmcp',
    leader: 'node1',
    members: ms,
    unreachableUrls,
  });

  it('is healthy on the captured healthy cluster', () => {
    const { problems, routing } = assess(patroni(), haproxy(), pools());
    expect(problems).toEqual([]);
    expect(verdictOf(problems)).toBe('healthy');
    expect(routing).toEqual({ primaryProxy: 'primary', primaryUp: ['node1'], routesToLeader: true });
  });
  it('is degraded with a replica gone, and names it', () => {
    const { problems } = assess(
      patroni(
        members().filter((m) => m.name !== 'node2'),
        ['http://127.0.0.1:1'],
      ),
      haproxy(),
      pools(),
    );
    expect(verdictOf(problems)).toBe('degraded');
    expect(problems[0]?.problem).toContain('http://127.0.0.1:1');
  });
  it('is critical without a leader, with HAProxy routing elsewhere, or with clients waiting as a warning', () => {
    expect(verdictOf(assess(patroni(members().filter((m) => m.role !== 'leader')), null, null).problems)).toBe(
      'critical',
    );
    const ms = members().map((m) => ({
      ...m,
      role: m.name === 'node2' ? ('leader' as const) : ('replica' as const),
      lagBytes: 0,
    }));
    const r = assess(patroni(ms), haproxy(), null);
    expect(r.routing.routesToLeader).toBe(false);
    expect(verdictOf(r.problems)).toBe('critical');
    const waiting = pools();
    waiting.pools = waiting.pools.map((p) => ({ ...p, cl_waiting: 3, maxwait: 2 }));
    expect(verdictOf(assess(null, null, waiting).problems)).toBe('degraded');
    // A client that has waited less than a second (PgBouncer opening a server connection for it) is no problem.
    const moment = pools();
    moment.pools = moment.pools.map((p) => ({ ...p, cl_waiting: 1, maxwait: 0 }));
    expect(assess(null, null, moment).problems).toEqual([]);
    expect(verdictOf(assess(null, new Error('ECONNREFUSED'), null).problems)).toBe('critical');
  });
});

/**
 * The pure parts of pg_cluster_admin: pre-checks, plans and parsers, on output captured from the real cluster
 * (test/fixtures/cluster). The actions themselves run against the real cluster in test/integration/cluster-admin.test.ts.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseServersState, parseStatCsv, runtimeApiAddress } from '../../src/cluster/haproxy.js';
import { memberBaseUrl, type PatroniClient, parseClusterMembers } from '../../src/cluster/patroni.js';
import { adminCommandText, normaliseRow } from '../../src/cluster/pgbouncer.js';
import { resolveConfig } from '../../src/config/resolve.js';
import { defineComponent } from '../../src/tools/cluster/admin/action.js';
import { COMPONENTS } from '../../src/tools/cluster/admin/components.js';
import { findServer, othersUp } from '../../src/tools/cluster/admin/haproxy-checks.js';
import { buildInput, databaseField, mergeFields } from '../../src/tools/cluster/admin/input.js';
import { directlyPointed, leaderChangeSteps } from '../../src/tools/cluster/admin/leader-change.js';
import { checkLeaderChange, checkSchedule, unfitCandidate } from '../../src/tools/cluster/admin/patroni-checks.js';
import { configPatchPlan, leafHolds, patchLeaves } from '../../src/tools/cluster/admin/patroni-config.js';
import { findDatabase, poolDatabases } from '../../src/tools/cluster/admin/pgbouncer-checks.js';
import { stepLines } from '../../src/tools/cluster/admin/render.js';
import { checkFields, pgClusterAdmin } from '../../src/tools/cluster/admin.js';
import type { MemberView } from '../../src/tools/cluster/patroni.js';
import { ToolError } from '../../src/tools/errors.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/cluster/${name}`, import.meta.url), 'utf8');

/** The captured three-member cluster (node1 leader), each member answering, with changes. */
function members(changes: Record<string, Partial<MemberView>> = {}): MemberView[] {
  return parseClusterMembers(JSON.parse(fixture('patroni-cluster.json'))).members.map((m) => ({
    ...m,
    status: null,
    reachable: true,
    ...(changes[m.name] ?? {}),
  }));
}

const MB = 1_048_576;

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ToolError);
    return (err as Error).message;
  }
  throw new Error('expected a ToolError');
}

describe('Patroni pre-checks', () => {
  it('a switchover to a named healthy replica is planned; without a candidate the fit replicas are listed', () => {
    const c = checkLeaderChange('switchover', members(), 'node2', MB);
    expect([c.leader?.name, c.candidate?.name]).toEqual(['node1', 'node2']);
    const any = checkLeaderChange('switchover', members(), undefined, MB);
    expect(any.candidate).toBeUndefined();
    expect(any.fit.map((m) => m.name)).toEqual(['node2', 'node3']);
  });

  it('refuses an unknown candidate, naming the members', () => {
    expect(refusal(() => checkLeaderChange('switchover', members(), 'node9', MB))).toBe(
      'unknown candidate node9: the Patroni cluster has node1 (leader), node2 (replica), node3 (replica)',
    );
  });

  it('refuses a candidate that lags, is stopped, does not answer, is tagged nofailover or is the leader', () => {
    const lagging = members({ node2: { lagBytes: 5 * MB } });
    expect(refusal(() => checkLeaderChange('switchover', lagging, 'node2', MB))).toMatch(
      /candidate node2 lags 5\.0 MB, more than maximum_lag_on_failover \(1\.0 MB\)/,
    );
    expect(
      refusal(() => checkLeaderChange('switchover', members({ node2: { state: 'stopped' } }), 'node2', MB)),
    ).toMatch(/node2 is stopped, not running/);
    expect(
      refusal(() => checkLeaderChange('switchover', members({ node2: { reachable: false } }), 'node2', MB)),
    ).toMatch(/REST API does not answer/);
    expect(
      refusal(() => checkLeaderChange('switchover', members({ node2: { tags: { nofailover: true } } }), 'node2', MB)),
    ).toMatch(/tagged nofailover/);
    expect(refusal(() => checkLeaderChange('switchover', members(), 'node1', MB))).toMatch(/node1 is the leader/);
    expect(unfitCandidate(members()[2] as MemberView, members()[0], MB)).toBeUndefined();
  });

  it('names the replicas that could take over instead', () => {
    try {
      checkLeaderChange('switchover', members({ node2: { lagBytes: 5 * MB } }), 'node2', MB);
    } catch (err) {
      expect((err as ToolError).info.hint).toBe('replicas that can take over: node3');
    }
  });

  it('a switchover needs a running leader; a failover does not, but needs a candidate that runs', () => {
    const leaderless = members({ node1: { role: 'replica', lagBytes: 0 } });
    expect(refusal(() => checkLeaderChange('switchover', leaderless, 'node2', MB))).toMatch(/no leader/);
    const down = members({ node1: { reachable: false } });
    expect(refusal(() => checkLeaderChange('switchover', down, 'node2', MB))).toMatch(/leader node1 is not answering/);
    expect(checkLeaderChange('failover', down, 'node2', MB).candidate?.name).toBe('node2');
    expect(refusal(() => checkLeaderChange('failover', members(), undefined, MB))).toMatch(
      /failover needs `candidate`/,
    );
    expect(
      refusal(() => checkLeaderChange('failover', members({ node3: { state: 'starting' } }), 'node3', MB)),
    ).toMatch(/candidate node3 is starting/);
  });

  it('checks a schedule: a time zone, a parseable time, in the future', () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    expect(checkSchedule('2030-01-31T02:00:00+02:00', now)).toBe('2030-01-31T00:00:00.000Z');
    expect(refusal(() => checkSchedule('2030-01-31T02:00:00', now))).toMatch(/has no time zone/);
    expect(refusal(() => checkSchedule('tomorrowZ', now))).toMatch(/not an ISO 8601 time/);
    expect(refusal(() => checkSchedule('2029-01-31T02:00:00Z', now))).toMatch(/in the past/);
  });

  it('a member’s REST base URL comes from its api_url', () => {
    expect(memberBaseUrl('http://127.0.0.1:8008/patroni')).toBe('http://127.0.0.1:8008');
    expect(memberBaseUrl('http://127.0.0.1:8008/')).toBe('http://127.0.0.1:8008');
  });
});

describe('config_patch plan', () => {
  const current = JSON.parse(fixture('patroni-config.json')) as Record<string, unknown>;
  const noClient = undefined as unknown as PatroniClient; // plans are built without calling Patroni

  it('lists each value it sets with its value before, and binds the token to them', () => {
    const plan = configPatchPlan(noClient, current, { ttl: 20, postgresql: { parameters: { work_mem: '8MB' } } });
    expect(plan.summary).toBe(
      'patch the dynamic configuration: ttl: 10 → 20; postgresql.parameters.work_mem: (absent) → "8MB"',
    );
    expect(plan.before).toEqual({ ttl: 10, 'postgresql.parameters.work_mem': null });
    expect(plan.bind).toEqual(plan.before);
    expect(plan.reasons.join(' ')).toMatch(/timing of leader elections/);
    expect(plan.reasons.join(' ')).toMatch(/after a restart/);
  });

  it('refuses a patch that changes nothing; compares scalars as text as Patroni does', () => {
    expect(refusal(() => configPatchPlan(noClient, current, { ttl: '10' }))).toMatch(/already holds every value/);
    expect(refusal(() => configPatchPlan(noClient, current, {}))).toMatch(/config is empty/);
    expect(leafHolds(current, { path: ['ttl'], value: 10 })).toBe(true);
    expect(leafHolds(current, { path: ['nope'], value: null })).toBe(true);
    expect(leafHolds(current, { path: ['ttl'], value: null })).toBe(false);
  });

  it('leaves of a patch: nested objects walked, null and arrays are leaves', () => {
    expect(patchLeaves({ a: { b: 1, c: null }, d: [1, 2], e: {} })).toEqual([
      { path: ['a', 'b'], value: 1 },
      { path: ['a', 'c'], value: null },
      { path: ['d'], value: [1, 2] },
      { path: ['e'], value: {} },
    ]);
  });
});

describe('HAProxy pre-checks and parsers', () => {
  const rows = parseStatCsv(fixture('haproxy-show-stat.csv'));

  it('finds a server, or names the backends or servers there are', () => {
    expect(findServer(rows, 'replicas', 'node2').status).toBe('UP');
    expect(refusal(() => findServer(rows, 'nope', 'node2'))).toBe(
      'unknown backend nope: HAProxy’s backends with servers are primary, replicas'.replace('’', "'"),
    );
    expect(refusal(() => findServer(rows, 'replicas', 'node9'))).toBe(
      'unknown server node9 in backend replicas: its servers are node1, node2, node3',
    );
  });

  it('knows who else is UP in the backend (the only UP server of primary has nobody)', () => {
    expect(othersUp(rows, findServer(rows, 'primary', 'node1'))).toEqual([]);
    expect(othersUp(rows, findServer(rows, 'replicas', 'node2'))).toEqual(['node3']);
  });

  it('parses show servers state: maintenance, drain and weights', () => {
    const all = parseServersState(fixture('haproxy-servers-state.txt'));
    expect(all).toHaveLength(6);
    expect(all.every((s) => s.admin === 'ready' && s.userWeight === 1)).toBe(true);
    const changed = parseServersState(fixture('haproxy-servers-state-changed.txt'));
    expect(changed.map((s) => `${s.backend}/${s.server}:${s.admin}`)).toEqual([
      'replicas/node1:ready',
      'replicas/node2:drain',
      'replicas/node3:maint',
    ]);
  });

  it('reaches the runtime API on a socket path or on host:port', () => {
    expect(runtimeApiAddress('/run/haproxy/admin.sock')).toBeNull();
    expect(runtimeApiAddress('127.0.0.1:9999')).toEqual({ host: '127.0.0.1', port: 9999 });
    expect(runtimeApiAddress('ipv4@10.0.0.5:9999')).toEqual({ host: '10.0.0.5', port: 9999 });
    expect(runtimeApiAddress('tcp://haproxy.internal:9999')).toEqual({ host: 'haproxy.internal', port: 9999 });
  });
});

describe('PgBouncer pre-checks', () => {
  const rows = (JSON.parse(fixture('pgbouncer-databases.json')).rows as Record<string, unknown>[]).map(normaliseRow);

  it('finds a database, or names the pooled ones; the console itself is never a target', () => {
    expect(findDatabase(rows, 'postgres').name).toBe('postgres');
    expect(refusal(() => findDatabase(rows, 'nosuch'))).toBe('unknown database nosuch: PgBouncer has postgres');
    expect(refusal(() => findDatabase(rows, 'pgbouncer'))).toMatch(/admin console itself/);
    expect(poolDatabases(rows).map((r) => r.name)).toEqual(['postgres']);
  });

  it('writes admin commands with a bare database name only', () => {
    expect(adminCommandText('PAUSE', 'postgres')).toBe('PAUSE postgres');
    expect(adminCommandText('RESUME')).toBe('RESUME');
    expect(() => adminCommandText('PAUSE', 'x; SHUTDOWN')).toThrow(/not a PgBouncer database name/);
    expect(() => adminCommandText('KILL')).toThrow(/KILL needs a database/);
    expect(() => adminCommandText('RELOAD', 'postgres')).toThrow(/RELOAD takes no database/);
  });

  it('says which PgBouncer databases point at a member directly (a leader change does not move them)', () => {
    const m = members();
    const direct = [{ name: 'app', host: '127.0.0.1', port: m[0]?.port as number }, ...rows];
    expect(directlyPointed(direct, m)).toEqual([`app → node1 (127.0.0.1:${m[0]?.port})`]);
  });
});

describe('pg_cluster_admin framework', () => {
  const config = (env: Record<string, string> = {}) => resolveConfig({ env }).config;

  it('every action name is unique and each takes only its own fields', () => {
    const names = COMPONENTS.flatMap((c) => Object.keys(c.actions));
    expect(new Set(names).size).toBe(names.length);
    const input = pgClusterAdmin.input;
    expect(Object.keys(input.shape)).toEqual(
      expect.arrayContaining([
        'action',
        'dry_run',
        'confirm_token',
        'timeout_seconds',
        'candidate',
        'backend',
        'database',
      ]),
    );
    expect(input.safeParse({ action: 'switchover', timeout_seconds: 601 }).success).toBe(false);
    expect(input.safeParse({ action: 'no_such_action' }).success).toBe(false);
  });

  it('refuses a missing required field and a field of another action', () => {
    const entry = (name: string) => {
      const component = COMPONENTS.find((c) => name in c.actions);
      return { component: component as never, definition: component?.actions[name] as never };
    };
    expect(refusal(() => checkFields('set_weight', entry('set_weight'), { backend: 'b', server: 's' }))).toBe(
      'set_weight needs `weight`',
    );
    expect(refusal(() => checkFields('switchover', entry('switchover'), { candidate: 'node2', database: 'x' }))).toBe(
      'switchover does not take database (it takes candidate, scheduled_at, pgbouncer_reconnect)',
    );
    expect(() => checkFields('pgbouncer_pause', entry('pgbouncer_pause'), { database: 'postgres' })).not.toThrow();
  });

  it('a component can add its fields; a field name two components use must be the same schema', () => {
    const citusLike = defineComponent({
      component: 'citus',
      fields: { database: databaseField, example_count: z.number().int().optional() },
      unavailable: () => undefined,
      actions: {},
    });
    expect(Object.keys(mergeFields([...COMPONENTS, citusLike]))).toContain('example_count');
    const clash = defineComponent({
      component: 'citus',
      fields: { database: z.string().optional() },
      unavailable: () => undefined,
      actions: {},
    });
    expect(() => mergeFields([...COMPONENTS, clash])).toThrow(
      /field database of citus differs from the one of pgbouncer/,
    );
    expect(() => buildInput([clash], ['x'])).not.toThrow();
  });

  it('the plan shows the verification that fits what is configured', () => {
    const target = {
      oldLeader: 'node1',
      expected: 'node2',
      followers: ['node1', 'node2', 'node3'],
      reconnectPgbouncer: true,
    };
    const all = config({
      PGMCP_HAPROXY: '/run/haproxy.sock',
      PGMCP_PGBOUNCER_URL: 'postgresql://a:b@127.0.0.1:6432/pgbouncer',
    });
    const text = stepLines(leaderChangeSteps(all, target));
    expect(text).toContain("[verify] HAProxy's primary backend has node2 UP and no other server");
    expect(text).toContain('[act] RECONNECT');
    expect(text).toContain('[verify] node1, node3 run as replicas of the new leader on its timeline (informative)');
    const patroniOnly = stepLines(leaderChangeSteps(config(), target));
    expect(patroniOnly).not.toMatch(/HAProxy|RECONNECT/);
  });
});

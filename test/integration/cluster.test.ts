/**
 * pg_cluster, pg_patroni, pg_haproxy and pg_pgbouncer against a real cluster: etcd + 3 Patroni PostgreSQL 15 nodes +
 * HAProxy + PgBouncer on loopback (test/support/cluster.ts), started once for this file.
 */
import { mkdtempSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterDown, clusterRunning, clusterUp, readCluster } from '../../scripts/cluster/harness.js';
import { ensureClusterDeps, haproxyUp, startCluster, type TestCluster, waitFor } from '../support/cluster.js';
import { type InProcess, startInProcess } from '../support/mcp-client.js';

let cluster: TestCluster;
let mcp: InProcess;
const timings: string[] = [];

beforeAll(async () => {
  cluster = await startCluster();
  timings.push(`cluster up ${cluster.upMs} ms`);
  mcp = await startInProcess({ ...cluster.env, PGMCP_TOOLSETS: 'core,cluster,ha,proxy' });
}, 240_000);

afterAll(async () => {
  await mcp?.close();
  const t0 = Date.now();
  await cluster?.stop();
  timings.push(`cluster down ${Date.now() - t0} ms`);
  console.error(`[cluster.test] ${timings.join('; ')}`);
}, 60_000);

type Verdict = { verdict: string; problems: { severity: string; subject: string; problem: string }[] };

async function overview(): Promise<
  Verdict & { text: string; haproxy: { primaryUp: string[]; routesToLeader: boolean } }
> {
  const r = await mcp.call('pg_cluster');
  expect(r.isError ?? false).toBe(false);
  return { ...(r.structuredContent as Record<string, unknown>), text: r.text } as never;
}

describe('cluster read tools on a real cluster', () => {
  it('pg_cluster says healthy on a fresh cluster, and the read tools show members, servers and pools', async () => {
    const o = await overview();
    expect(o.verdict, o.text).toBe('healthy');
    expect(o.haproxy.routesToLeader).toBe(true);

    const p = await mcp.call('pg_patroni', { action: 'status' });
    expect(p.text).toContain('leader node1');
    const members = (p.structuredContent as { members: { name: string; role: string }[] }).members;
    expect(members.map((m) => `${m.name}:${m.role}`).sort()).toEqual([
      'node1:leader',
      'node2:replica',
      'node3:replica',
    ]);
    const lag = await mcp.call('pg_patroni', { action: 'lag' });
    expect(lag.text).toMatch(/node2 \| running/);
    expect(
      (lag.structuredContent as { lag: { pgStatReplication: string | null }[] }).lag.map((r) => r.pgStatReplication),
    ).toEqual(['streaming', 'streaming']);
    expect((await mcp.call('pg_patroni', { action: 'member', name: 'node2' })).text).toContain('member node2: replica');
    expect((await mcp.call('pg_patroni', { action: 'history' })).isError ?? false).toBe(false);
    expect((await mcp.call('pg_patroni', { action: 'config' })).text).toContain('"ttl": 10');

    // A health check that happens to be running shows as "L7OK (checking)" without a code: read again once it is done.
    const servers = () => mcp.call('pg_haproxy', { action: 'servers', proxy: 'primary' });
    const checking = (r: Awaited<ReturnType<typeof servers>>) =>
      (r.structuredContent as { rows: { checkInProgress: boolean }[] }).rows.some((row) => row.checkInProgress);
    let h = await servers();
    for (let i = 0; i < 20 && checking(h); i++) {
      await new Promise((r) => setTimeout(r, 100));
      h = await servers();
    }
    expect(h.text).toMatch(/\| primary \| node1 \| UP \| L7OK \| 200 \|/);
    expect((await mcp.call('pg_haproxy', { action: 'info' })).text).toContain('HAProxy');

    const b = await mcp.call('pg_pgbouncer', { action: 'pools' });
    expect(b.text).toMatch(/\| postgres \| postgres \|/);
    for (const action of ['stats', 'clients', 'servers', 'databases', 'config']) {
      const r = await mcp.call('pg_pgbouncer', { action });
      expect(r.isError ?? false, r.text).toBe(false);
    }
    // secrets never show
    for (const secret of [cluster.info.pgbouncer.adminPassword, cluster.info.patroni.password]) {
      expect((await mcp.call('pg_pgbouncer', { action: 'config' })).text).not.toContain(secret);
    }
  });

  it('the HTTP stats URL gives the same servers as the runtime-API socket', async () => {
    const http = await startInProcess({ ...cluster.env, PGMCP_HAPROXY: cluster.info.haproxy.statsUrl });
    try {
      const a = (await http.call('pg_haproxy', {})).structuredContent as {
        source: string;
        rows: { name: string; status: string }[];
      };
      const b = (await mcp.call('pg_haproxy', {})).structuredContent as {
        source: string;
        rows: { name: string; status: string }[];
      };
      expect([a.source, b.source]).toEqual(['http', 'socket']);
      expect(a.rows.map((r) => `${r.name}:${r.status}`)).toEqual(b.rows.map((r) => `${r.name}:${r.status}`));
    } finally {
      await http.close();
    }
  });

  it('a stopped replica makes the cluster degraded and is named', async () => {
    await cluster.stopNode('node3');
    const node3 = cluster.info.patroni.nodes.find((n) => n.name === 'node3')?.restUrl as string;
    const o = await waitFor('degraded', async () => {
      const v = await overview();
      return v.verdict === 'degraded' ? v : undefined;
    });
    expect(o.text.includes('node3') || o.text.includes(node3), o.text).toBe(true);
    cluster.startNode('node3');
    await waitFor('healthy again', async () => (await overview()).verdict === 'healthy', 60_000, 500);
  }, 120_000);

  it('a leader crash is critical, then a new leader is elected and HAProxy routes to it', async () => {
    const t0 = Date.now();
    const old = await cluster.crashLeader();
    const during = await overview();
    expect(['critical', 'degraded']).toContain(during.verdict);
    const after = await waitFor(
      'a new leader that HAProxy routes to',
      async () => {
        const v = await overview();
        const leader = await cluster.leader();
        return leader && leader !== old && v.haproxy.routesToLeader && v.haproxy.primaryUp[0] === leader
          ? { v, leader }
          : undefined;
      },
      60_000,
      250,
    );
    timings.push(`crash failover ${Date.now() - t0} ms (to ${after.leader})`);
    expect(after.v.verdict).not.toBe('critical');
    expect(await haproxyUp(cluster.info, 'primary')).toEqual([after.leader]);
    // a write through PgBouncer reaches the new primary
    await waitFor(
      'a write through PgBouncer',
      async () => {
        const client = new pg.Client({ connectionString: cluster.info.pgbouncer.url });
        client.on('error', () => {});
        try {
          await client.connect();
          await client.query('create table if not exists after_failover (id int)');
          return true;
        } finally {
          await client.end().catch(() => {});
        }
      },
      30_000,
      500,
    );
    // The old leader's REST API is gone: the cluster is degraded (not critical) until it is brought back.
    expect((await overview()).verdict).toBe('degraded');
    // Restarted, the crashed old leader rejoins as a streaming replica of the new one and the cluster is healthy.
    const t1 = Date.now();
    cluster.startNode(old);
    const rejoined = await waitFor(
      `${old} to rejoin as a streaming replica`,
      async () => {
        const v = await overview();
        const lag = await mcp.call('pg_patroni', { action: 'lag' });
        const rows = (lag.structuredContent as { lag: { name: string; pgStatReplication: string | null }[] }).lag;
        return v.verdict === 'healthy' && rows.find((r) => r.name === old)?.pgStatReplication === 'streaming'
          ? v
          : undefined;
      },
      90_000,
      500,
    );
    timings.push(`crashed leader rejoined in ${Date.now() - t1} ms`);
    expect(rejoined.problems).toEqual([]);
  }, 240_000);
});

describe('cluster harness', () => {
  it('is idempotent: up twice returns the running cluster, down twice is a no-op', async () => {
    ensureClusterDeps();
    const dir = mkdtempSync('/tmp/pgmcp-cl2-');
    const t0 = Date.now();
    const a = await clusterUp({ dir });
    const up = Date.now() - t0;
    const b = await clusterUp({ dir });
    expect(b.startedAt).toBe(a.startedAt);
    expect(clusterRunning(b)).toBe(true);
    const t1 = Date.now();
    await clusterDown({ dir });
    timings.push(`second cluster up ${up} ms, down ${Date.now() - t1} ms`);
    expect(readCluster(dir)).toBeUndefined();
    expect(clusterRunning(a)).toBe(false);
    await clusterDown({ dir });
  }, 180_000);
});

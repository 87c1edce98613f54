/**
 * pg_cluster_admin against a real cluster: etcd + 3 Patroni PostgreSQL 15 nodes + HAProxy + PgBouncer on loopback
 * (test/support/cluster.ts), started once for this file. Every action is confirmed with a token (the in-process client
 * cannot elicit), except where elicitation itself is tested.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { type CallToolResult, ElicitRequestSchema, type Progress } from '@modelcontextprotocol/sdk/types.js';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMcpServer } from '../../src/server.js';
import type { ClusterAdminOutput } from '../../src/tools/cluster/admin/output.js';
import { resultText as textOf } from '../../src/tools/result-text.js';
import { BUNDLE, requireFiles, run } from '../support/built.js';
import { startCluster, type TestCluster, waitFor } from '../support/cluster.js';
import { type InProcess, startInProcess } from '../support/mcp-client.js';

type Result = CallToolResult & { text: string; data: ClusterAdminOutput };

let cluster: TestCluster;
let admin: InProcess;
const timings: string[] = [];
/** Every text a tool answered, to check that no secret ever shows. */
const answered: string[] = [];

beforeAll(async () => {
  cluster = await startCluster();
  timings.push(`cluster up ${cluster.upMs} ms`);
  admin = await startInProcess({ ...cluster.env, PGMCP_ACCESS: 'admin' });
}, 240_000);

afterAll(async () => {
  await admin?.close();
  const t0 = Date.now();
  await cluster?.stop();
  timings.push(`cluster down ${Date.now() - t0} ms`);
  console.error(`[cluster-admin.test] ${timings.join('; ')}`);
}, 60_000);

async function call(client: Client, args: Record<string, unknown>, progress?: Progress[]): Promise<Result> {
  const r = (await client.callTool({ name: 'pg_cluster_admin', arguments: args }, undefined, {
    timeout: 120_000,
    ...(progress ? { onprogress: (p: Progress) => progress.push(p) } : {}),
  })) as CallToolResult;
  const text = textOf(r);
  answered.push(text, JSON.stringify(r.structuredContent ?? {}));
  return { ...r, text, data: r.structuredContent as ClusterAdminOutput };
}

/** The token flow: the first call changes nothing and returns a token, the same call with it runs the action. */
async function confirmed(args: Record<string, unknown>, progress?: Progress[]): Promise<Result> {
  const first = await call(admin.client, args);
  expect(first.isError ?? false, first.text).toBe(false);
  expect(first.data.status).toBe('confirmation_required');
  const token = first.data.confirmation?.confirm_token;
  expect(token).toMatch(/^[A-Za-z0-9_-]{76}$/);
  const second = await call(admin.client, { ...args, confirm_token: token }, progress);
  expect(second.isError ?? false, second.text).toBe(false);
  expect(second.data.status).toBe('executed');
  expect(second.data.verified, second.text).toBe(true);
  return second;
}

async function read(tool: string, args: Record<string, unknown>) {
  const r = await admin.call(tool, args);
  expect(r.isError ?? false, r.text).toBe(false);
  answered.push(r.text);
  return r as typeof r & { structuredContent: Record<string, unknown> };
}

async function serverStatus(backend: string, server: string): Promise<string | undefined> {
  const r = await read('pg_haproxy', { action: 'servers', proxy: backend });
  const rows = (r.structuredContent as { rows: { name: string; status: string }[] }).rows;
  return rows.find((x) => x.name === server)?.status;
}

async function pgbouncerPaused(database: string): Promise<number | undefined> {
  const r = await read('pg_pgbouncer', { action: 'databases', database });
  return (r.structuredContent as { rows: { paused: number }[] }).rows[0]?.paused;
}

function connectTo(url: string): pg.Client {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  return client;
}

const nodePort = (name: string) => cluster.info.patroni.nodes.find((n) => n.name === name)?.pgPort as number;
const nodeUrl = (name: string) =>
  `postgresql://postgres:${cluster.info.superuser.password}@127.0.0.1:${nodePort(name)}/postgres`;

describe('pg_cluster_admin on a real cluster', () => {
  it('switchover: dry run shows the plan; after confirmation the leader moves, HAProxy routes to it and a write through PgBouncer reaches it', async () => {
    const old = await waitFor('a leader', () => cluster.leader(), 30_000);
    const candidate = old === 'node2' ? 'node3' : 'node2';
    const args = { action: 'switchover', candidate };

    const dry = await call(admin.client, { ...args, dry_run: true });
    expect(dry.data.status).toBe('dry_run');
    expect(dry.data.verified).toBeNull();
    expect(dry.data.plan.map((s) => s.phase)).toEqual(expect.arrayContaining(['check', 'act', 'verify']));
    expect(dry.text).toContain(`POST /switchover {"leader":"${old}","candidate":"${candidate}"}`);
    expect(dry.text).toMatch(/HAProxy's primary backend has node\d UP/);
    expect(dry.data.outcome.before).toMatchObject({ leader: old });

    // The first call changes nothing; a token for other arguments is refused.
    const first = await call(admin.client, args);
    expect(first.data.status).toBe('confirmation_required');
    expect(first.text).toContain(`switchover from ${old} to ${candidate}`);
    expect(await cluster.leader()).toBe(old);
    const other = old === 'node1' ? 'node3' : 'node1';
    const wrong = await call(admin.client, {
      action: 'switchover',
      candidate: other,
      confirm_token: first.data.confirmation?.confirm_token,
    });
    expect(wrong.isError).toBe(true);
    expect(wrong.text).toMatch(/token/i);
    expect(await cluster.leader()).toBe(old);

    const progress: Progress[] = [];
    const t0 = Date.now();
    const done = await confirmed(args, progress);
    const steps = done.data.timings;
    const routed = steps.findIndex((t) => t.step.startsWith("wait: HAProxy's primary backend"));
    const toRouting = steps.slice(0, routed + 1).reduce((n, t) => n + t.ms, 0);
    timings.push(
      `switchover ${old} → ${candidate}: HAProxy routes to it after ${toRouting} ms, all verified in ${Date.now() - t0} ms`,
    );
    const haproxyCheck = done.data.checks.find((c) => c.check.startsWith("HAProxy's primary backend"));
    expect(haproxyCheck?.ok).toBe(true);
    expect(done.data.outcome.after).toMatchObject({ leader: candidate, haproxyPrimary: { up: [candidate] } });
    expect(done.data.timings.map((t) => t.step)).toContain('POST /switchover');
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(progress.some((p) => /POST \/switchover/.test(p.message ?? ''))).toBe(true);
    expect(await cluster.leader()).toBe(candidate);
    // Verified means every member that ran before follows the new leader too: the cluster is healthy at once.
    expect(done.data.checks.find((c) => c.check.includes(`follow ${candidate} on its timeline`))?.ok).toBe(true);
    const overview = await read('pg_cluster', {});
    expect(overview.structuredContent.verdict, overview.text).toBe('healthy');

    // HAProxy's stats show the change: the new leader UP in the primary backend, the old one DOWN.
    expect(await serverStatus('primary', candidate)).toMatch(/^UP/);
    expect(
      await waitFor(`${old} DOWN in primary`, async () => (await serverStatus('primary', old))?.startsWith('DOWN')),
    ).toBe(true);

    // A write through PgBouncer (the PG* of the harness) reaches the new primary.
    const bouncer = connectTo(cluster.info.pgbouncer.url);
    await bouncer.connect();
    const marker = `switched-${Date.now()}`;
    try {
      await bouncer.query('create table if not exists admin_switchover (note text)');
      const w = await bouncer.query<{ port: number; standby: boolean }>(
        'insert into admin_switchover values ($1) returning inet_server_port() as port, pg_is_in_recovery() as standby',
        [marker],
      );
      expect(w.rows[0]).toEqual({ port: nodePort(candidate), standby: false });
    } finally {
      await bouncer.end();
    }
    const direct = connectTo(nodeUrl(candidate));
    await direct.connect();
    try {
      const r = await direct.query('select note from admin_switchover where note = $1', [marker]);
      expect(r.rowCount).toBe(1);
    } finally {
      await direct.end();
    }
  }, 120_000);

  it('PgBouncer pause then resume: SHOW DATABASES says paused 1 then 0; a query waits while paused and runs after resume', async () => {
    // The database must be known to PgBouncer (it is, once a client has used it).
    const warm = connectTo(cluster.info.pgbouncer.url);
    await warm.connect();
    await warm.end();

    const paused = await confirmed({ action: 'pgbouncer_pause', database: 'postgres' });
    expect(paused.data.outcome.after).toMatchObject({ postgres: { paused: true } });
    expect(await pgbouncerPaused('postgres')).toBe(1);

    const waiting = connectTo(cluster.info.pgbouncer.url);
    const started = Date.now();
    const query = (async () => {
      await waiting.connect();
      const r = await waiting.query<{ one: number }>('select 1 as one');
      return { one: r.rows[0]?.one, at: Date.now() };
    })();
    const early = await Promise.race([query.then(() => 'ran'), new Promise((r) => setTimeout(() => r('waits'), 1500))]);
    expect(early).toBe('waits');

    const resumed = await confirmed({ action: 'pgbouncer_resume', database: 'postgres' });
    expect(resumed.data.outcome.after).toMatchObject({ postgres: { paused: false } });
    expect(await pgbouncerPaused('postgres')).toBe(0);
    const ran = await query;
    expect(ran.one).toBe(1);
    expect(ran.at - started).toBeGreaterThanOrEqual(1500);
    await waiting.end();
  }, 60_000);

  it('a pause that cannot complete within timeout_seconds (a transaction holds a server) is undone', async () => {
    const holder = connectTo(cluster.info.pgbouncer.url);
    await holder.connect();
    try {
      await holder.query('begin');
      await holder.query('select 1');
      const args = { action: 'pgbouncer_pause', database: 'postgres', timeout_seconds: 2 };
      const first = await call(admin.client, args);
      const r = await call(admin.client, { ...args, confirm_token: first.data.confirmation?.confirm_token });
      expect(r.isError).toBe(true);
      expect(r.text).toContain(
        'PAUSE postgres did not complete: a transaction still held a server connection after 2 s',
      );
      expect(r.text).toContain('the pause was undone (RESUME): nothing stays paused');
      expect(await pgbouncerPaused('postgres')).toBe(0);
      await holder.query('commit');
    } finally {
      await holder.end();
    }
  });

  it('HAProxy: disable then enable a replica server shows MAINT then UP; drain and weight show too', async () => {
    const leader = await waitFor('a leader', () => cluster.leader(), 30_000);
    const replica = ['node1', 'node2', 'node3'].find((n) => n !== leader) as string;
    const server = { backend: 'replicas', server: replica };

    await confirmed({ action: 'disable_server', ...server });
    expect(await serverStatus('replicas', replica)).toMatch(/^MAINT/);
    const enabled = await confirmed({ action: 'enable_server', ...server });
    expect(enabled.data.outcome.before).toMatchObject({ status: 'MAINT', admin: 'maint' });
    expect(
      await waitFor('UP again', async () => (await serverStatus('replicas', replica))?.startsWith('UP'), 15_000),
    ).toBe(true);

    await confirmed({ action: 'drain_server', ...server });
    expect(await serverStatus('replicas', replica)).toMatch(/^DRAIN/);
    const weighted = await confirmed({ action: 'set_weight', ...server, weight: 7 });
    expect(weighted.data.outcome.after).toMatchObject({ weight: 7 });
    await confirmed({ action: 'set_weight', ...server, weight: 1 });
    const back = await confirmed({ action: 'enable_server', ...server });
    expect(back.data.outcome.before).toMatchObject({ admin: 'drain' });
    expect(await serverStatus('replicas', replica)).toMatch(/^UP/);
  }, 60_000);

  it('restart_member restarts a replica (new postmaster start time) and reload_member reloads every member', async () => {
    const leader = await waitFor('a leader', () => cluster.leader(), 30_000);
    const replica = ['node1', 'node2', 'node3'].find((n) => n !== leader) as string;
    const restarted = await confirmed({ action: 'restart_member', member: replica });
    const before = restarted.data.outcome.before as { postmasterStartTime: string };
    const after = restarted.data.outcome.after as { postmasterStartTime: string; state: string };
    expect(after.state).toBe('running');
    expect(after.postmasterStartTime).not.toBe(before.postmasterStartTime);
    timings.push(`restart of ${replica} ${restarted.data.durationMs} ms`);

    const reloaded = await confirmed({ action: 'reload_member' });
    expect(Object.keys(reloaded.data.outcome.after ?? {}).sort()).toEqual(['node1', 'node2', 'node3']);
  }, 90_000);

  it('refuses unknown members, servers and databases, naming the valid ones, before anything is asked', async () => {
    const member = await call(admin.client, { action: 'restart_member', member: 'node9' });
    expect(member.isError).toBe(true);
    expect(member.text).toMatch(/unknown member node9: .*node1.*node2.*node3/);
    const candidate = await call(admin.client, { action: 'switchover', candidate: 'nope' });
    expect(candidate.text).toMatch(/unknown candidate nope/);
    const backend = await call(admin.client, { action: 'disable_server', backend: 'nope', server: 'node1' });
    expect(backend.text).toMatch(/unknown backend nope: .*primary.*replicas/);
    const server = await call(admin.client, { action: 'disable_server', backend: 'replicas', server: 'node9' });
    expect(server.text).toMatch(/unknown server node9 in backend replicas: its servers are node1, node2, node3/);
    const database = await call(admin.client, { action: 'pgbouncer_pause', database: 'nosuch' });
    expect(database.isError).toBe(true);
    expect(database.text).toMatch(/unknown database nosuch: PgBouncer has .*postgres/);
    const missing = await call(admin.client, { action: 'pgbouncer_kill' });
    expect(missing.text).toContain('pgbouncer_kill needs `database`');
    const stray = await call(admin.client, { action: 'switchover', weight: 3 });
    expect(stray.text).toMatch(/switchover does not take weight/);
    const resume = await call(admin.client, { action: 'pgbouncer_resume', database: 'postgres' });
    expect(resume.text).toContain('database postgres is not paused');
  });

  it('refuses HAProxy changes through the read-only stats URL and is not listed at read access', async () => {
    const stats = await startInProcess({
      ...cluster.env,
      PGMCP_ACCESS: 'admin',
      PGMCP_HAPROXY: cluster.info.haproxy.statsUrl,
    });
    try {
      const r = await call(stats.client, { action: 'disable_server', backend: 'replicas', server: 'node1' });
      expect(r.isError).toBe(true);
      expect(r.text).toContain('HAProxy changes need its runtime API');
      expect(r.text).toContain('level admin');
    } finally {
      await stats.close();
    }
    for (const access of ['read', 'write']) {
      const reader = await startInProcess({ ...cluster.env, PGMCP_ACCESS: access });
      try {
        const names = (await reader.client.listTools()).tools.map((t) => t.name);
        expect(names).toContain('pg_cluster');
        expect(names).not.toContain('pg_cluster_admin');
      } finally {
        await reader.close();
      }
    }
    const listed = (await admin.client.listTools()).tools.find((t) => t.name === 'pg_cluster_admin');
    expect(listed?.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
  });

  it('asks the user by elicitation when the client can: yes runs it, no runs nothing', async () => {
    const leader = await waitFor('a leader', () => cluster.leader(), 30_000);
    const replica = ['node1', 'node2', 'node3'].find((n) => n !== leader) as string;
    let answer = true;
    const asked: string[] = [];
    const server = createMcpServer(admin.app, { sessionId: 'elicit-session', identity: 'test' });
    const client = new Client({ name: 'elicit-test', version: '0' }, { capabilities: { elicitation: { form: {} } } });
    client.setRequestHandler(ElicitRequestSchema, (request) => {
      asked.push(request.params.message);
      return { action: 'accept', content: { confirm: answer } };
    });
    const [a, b] = InMemoryTransport.createLinkedPair();
    await Promise.all([server.connect(b), client.connect(a)]);
    try {
      answer = false;
      const no = await call(client, { action: 'set_weight', backend: 'replicas', server: replica, weight: 3 });
      expect(no.isError).toBe(true);
      expect(no.text).toContain('declined');
      expect(asked[0]).toContain(`set weight replicas/${replica} 3`);
      answer = true;
      const yes = await call(client, { action: 'set_weight', backend: 'replicas', server: replica, weight: 3 });
      expect(yes.data).toMatchObject({ status: 'executed', confirmedVia: 'elicitation', verified: true });
      const reset = await call(client, { action: 'set_weight', backend: 'replicas', server: replica, weight: 1 });
      expect(reset.data.verified).toBe(true);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it('pgmcp doctor checks each component and whether its admin actions are possible', async () => {
    requireFiles([BUNDLE], '`npm test` builds it (npm run build)');
    const env = { PATH: process.env.PATH ?? '', ...cluster.env, PGMCP_ACCESS: 'admin' };
    const { stdout } = await run(process.execPath, [BUNDLE, 'doctor'], { env });
    answered.push(stdout);
    expect(stdout).toMatch(
      /ok +patroni: http:\/\/127\.0\.0\.1:\d+: Patroni 3\.0\.2, (leader|replica) running, scope pgmcp/,
    );
    expect(stdout).toMatch(/ok +patroni cluster: 3 members, leader node\d/);
    expect(stdout).toMatch(/ok +patroni admin: write calls authorised/);
    expect(stdout).toMatch(/ok +haproxy: runtime API: HAProxy 2\.6/);
    expect(stdout).toMatch(/ok +haproxy admin: runtime API at level admin/);
    expect(stdout).toMatch(/ok +pgbouncer: PgBouncer 1\.18/);
    expect(stdout).toMatch(/ok +pgbouncer admin: pgbouncer_admin is in admin_users/);
    const wrong = await run(process.execPath, [BUNDLE, 'doctor'], {
      env: { ...env, PGMCP_HAPROXY: cluster.info.haproxy.statsUrl, PGMCP_PATRONI_PASSWORD: 'not-the-password' },
    });
    answered.push(wrong.stdout);
    expect(wrong.stdout).toMatch(/WARN patroni admin: credentials refused/);
    expect(wrong.stdout).toMatch(/WARN haproxy admin: a stats URL is read-only/);
  });

  it('never shows a secret', () => {
    const secrets = [
      cluster.info.patroni.password,
      cluster.info.pgbouncer.adminPassword,
      cluster.info.superuser.password,
    ];
    for (const text of answered) for (const s of secrets) expect(text).not.toContain(s);
    expect(answered.length).toBeGreaterThan(20);
  });
});

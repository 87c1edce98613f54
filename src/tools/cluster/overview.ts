import { z } from 'zod';
import type { HaproxyRow } from '../../cluster/haproxy.js';
import type { ConsoleRow } from '../../cluster/pgbouncer.js';
import { markdownTable } from '../../format/markdown.js';
import { citusEnabled } from '../components.js';
import { defineTool } from '../define.js';
import { assessCitus, type CitusFacts, citusData, citusDetail, citusFacts } from './citus/assess.js';
import { bytesText, haproxyClient, patroniClient, pgbouncerClient } from './clients.js';
import { type MemberView, memberViews } from './patroni.js';

export const SEVERITIES = ['critical', 'warning', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];
export const CLUSTER_VERDICTS = ['healthy', 'degraded', 'critical'] as const;
export type ClusterVerdict = (typeof CLUSTER_VERDICTS)[number];

export interface Problem {
  severity: Severity;
  component: 'patroni' | 'haproxy' | 'pgbouncer' | 'citus';
  subject: string;
  problem: string;
  action: string;
}

/** Clients of a PgBouncer pool waiting this long (seconds) or longer are a warning. */
export const PGBOUNCER_WAIT_WARN_S = 1;

/** Replica lag above this (bytes) is a warning. */
export const LAG_WARN_BYTES = 16 * 1024 * 1024;

const PRIMARY_PROXY = /primary|master|leader|write|rw\b/i;
const REPLICA_PROXY = /replica|standby|read|ro\b/i;

export interface PatroniFacts {
  scope: string | null;
  leader: string | null;
  members: MemberView[];
  /** Configured REST URLs that answered nothing. */
  unreachableUrls: string[];
}

export interface HaproxyFacts {
  rows: HaproxyRow[];
}

export interface PgbouncerFacts {
  pools: ConsoleRow[];
  databases: ConsoleRow[];
}

function hostPort(m: MemberView): string {
  return `${m.host}:${m.port}`;
}

/** The problems found in what each component reported (pure: unit-tested with captured output). */
export function assess(
  patroni: PatroniFacts | Error | null,
  haproxy: HaproxyFacts | Error | null,
  pgbouncer: PgbouncerFacts | Error | null,
  citus: CitusFacts | Error | null = null,
): {
  problems: Problem[];
  routing: { primaryProxy: string | null; primaryUp: string[]; routesToLeader: boolean | null };
} {
  const problems: Problem[] = [];
  const add = (p: Problem) => problems.push(p);
  let leader: MemberView | undefined;
  let members: MemberView[] = [];

  if (patroni instanceof Error) {
    add({
      severity: 'critical',
      component: 'patroni',
      subject: 'REST API',
      problem: `no Patroni member answered: ${patroni.message}`,
      action: 'check that Patroni runs on the members and PGMCP_PATRONI_URLS',
    });
  } else if (patroni) {
    members = patroni.members;
    leader = members.find((m) => m.role === 'leader' || m.role === 'standby_leader');
    if (!leader) {
      add({
        severity: 'critical',
        component: 'patroni',
        subject: 'leader',
        problem: 'the cluster has no leader: writes fail until one is elected',
        action: 'check etcd (DCS) and the members’ Patroni logs; pg_patroni status',
      });
    } else if (!leader.reachable || leader.state !== 'running') {
      add({
        severity: 'critical',
        component: 'patroni',
        subject: leader.name,
        problem: `leader ${leader.name} is ${leader.reachable ? leader.state : 'not answering (its leader key has not expired yet)'}`,
        action: 'wait for the failover (ttl) or check the leader host; pg_patroni status',
      });
    }
    for (const m of members) {
      if (m === leader) continue;
      if (!m.reachable || !['running', 'streaming'].includes(m.state)) {
        add({
          severity: 'warning',
          component: 'patroni',
          subject: m.name,
          problem: `replica ${m.name} is ${m.reachable ? m.state : 'not answering'}`,
          action: `start Patroni on ${m.name} or look at its log; pg_patroni member name=${m.name}`,
        });
        continue;
      }
      if (leader && m.timeline !== null && leader.timeline !== null && m.timeline !== leader.timeline) {
        add({
          severity: 'warning',
          component: 'patroni',
          subject: m.name,
          problem: `replica ${m.name} is on timeline ${m.timeline}, the leader on ${leader.timeline}`,
          action: `reinitialise ${m.name} if it does not catch up (patronictl reinit)`,
        });
      }
      if (m.lagBytes === null) {
        add({
          severity: 'warning',
          component: 'patroni',
          subject: m.name,
          problem: `replica ${m.name} lag is unknown (not streaming yet?)`,
          action: `pg_patroni lag; check replication on ${m.name}`,
        });
      } else if (m.lagBytes > LAG_WARN_BYTES) {
        add({
          severity: 'warning',
          component: 'patroni',
          subject: m.name,
          problem: `replica ${m.name} lags ${bytesText(m.lagBytes)}`,
          action: 'check replica load, network and long queries on it; pg_patroni lag',
        });
      }
      if (m.pendingRestart || m.status?.pendingRestart) {
        add({
          severity: 'info',
          component: 'patroni',
          subject: m.name,
          problem: `${m.name} needs a restart for a changed setting`,
          action: 'restart it in a quiet moment',
        });
      }
    }
    for (const url of patroni.unreachableUrls) {
      add({
        severity: 'warning',
        component: 'patroni',
        subject: url,
        problem: `the Patroni member at ${url} is not answering and is not in the cluster`,
        action: 'start Patroni on that member (it rejoins as a replica) or remove it from PGMCP_PATRONI_URLS',
      });
    }
  }

  let primaryProxy: string | null = null;
  let primaryUp: string[] = [];
  let routesToLeader: boolean | null = null;
  if (haproxy instanceof Error) {
    add({
      severity: 'critical',
      component: 'haproxy',
      subject: 'stats',
      problem: `HAProxy did not answer: ${haproxy.message}`,
      action: 'check that HAProxy runs and PGMCP_HAPROXY',
    });
  } else if (haproxy) {
    const servers = haproxy.rows.filter((r) => r.type === 'server');
    const proxies = [...new Set(servers.map((r) => r.proxy))];
    primaryProxy = proxies.find((p) => PRIMARY_PROXY.test(p)) ?? (proxies.length === 1 ? (proxies[0] ?? null) : null);
    if (primaryProxy) {
      const inPrimary = servers.filter((r) => r.proxy === primaryProxy);
      const up = inPrimary.filter((r) => r.status.startsWith('UP'));
      primaryUp = up.map((r) => r.name);
      if (up.length === 0) {
        add({
          severity: 'critical',
          component: 'haproxy',
          subject: primaryProxy,
          problem: `no server is UP in the primary backend ${primaryProxy}: connections to it fail`,
          action: 'wait for the failover, then check the health checks (pg_haproxy servers)',
        });
      } else if (up.length > 1) {
        add({
          severity: 'critical',
          component: 'haproxy',
          subject: primaryProxy,
          problem: `${up.length} servers are UP in the primary backend ${primaryProxy} (${primaryUp.join(', ')})`,
          action: 'check the health checks: only the leader must pass OPTIONS /primary',
        });
      }
      if (leader && up.length > 0) {
        const l = leader;
        routesToLeader = up.some((r) => r.name === l.name || r.address === hostPort(l));
        if (!routesToLeader) {
          add({
            severity: 'critical',
            component: 'haproxy',
            subject: primaryProxy,
            problem: `HAProxy's primary backend routes to ${primaryUp.join(', ')}, but Patroni's leader is ${l.name}`,
            action: 'check the health-check endpoint (/primary) and the server addresses in haproxy.cfg',
          });
        }
      }
    }
    for (const r of servers) {
      if (r.proxy === primaryProxy) continue;
      if (REPLICA_PROXY.test(r.proxy) && !r.status.startsWith('UP') && r.status !== 'no check') {
        const isLeader = leader && (r.name === leader.name || r.address === hostPort(leader));
        if (isLeader) continue; // the leader is expectedly down in a replica backend
        add({
          severity: 'warning',
          component: 'haproxy',
          subject: `${r.proxy}/${r.name}`,
          problem: `server ${r.name} is ${r.status} in ${r.proxy} (check ${r.checkStatus ?? '?'})`,
          action: `reads go to the other replicas; bring ${r.name} back`,
        });
      }
    }
  }

  if (pgbouncer instanceof Error) {
    add({
      severity: 'critical',
      component: 'pgbouncer',
      subject: 'admin console',
      problem: `PgBouncer did not answer: ${pgbouncer.message}`,
      action: 'check that PgBouncer runs and PGMCP_PGBOUNCER_URL',
    });
  } else if (pgbouncer) {
    for (const p of pgbouncer.pools) {
      const waiting = Number(p.cl_waiting ?? 0);
      // A client waits a moment whenever PgBouncer opens a server connection for it: only a wait that has lasted a
      // second or more (maxwait is whole seconds) is a problem.
      if (waiting > 0 && Number(p.maxwait ?? 0) >= PGBOUNCER_WAIT_WARN_S) {
        add({
          severity: 'warning',
          component: 'pgbouncer',
          subject: `${p.database}/${p.user}`,
          problem: `${waiting} clients waiting in pool ${p.database}/${p.user} (longest ${p.maxwait ?? 0}s)`,
          action: 'raise pool_size, find long transactions holding servers, or check the backend is reachable',
        });
      }
    }
    for (const d of pgbouncer.databases) {
      if (Number(d.paused) === 1 || Number(d.disabled) === 1) {
        add({
          severity: 'warning',
          component: 'pgbouncer',
          subject: String(d.name),
          problem: `database ${d.name} is ${Number(d.paused) === 1 ? 'paused' : 'disabled'} in PgBouncer`,
          action: 'RESUME / ENABLE it when the maintenance is over (pg_cluster_admin)',
        });
      }
    }
  }
  problems.push(...assessCitus(citus));
  return { problems, routing: { primaryProxy, primaryUp, routesToLeader } };
}

export function verdictOf(problems: readonly Problem[]): ClusterVerdict {
  if (problems.some((p) => p.severity === 'critical')) return 'critical';
  if (problems.some((p) => p.severity === 'warning')) return 'degraded';
  return 'healthy';
}

const input = z.object({});
const row = z.record(z.string(), z.unknown());
const output = z.object({
  verdict: z.enum(CLUSTER_VERDICTS),
  problems: z.array(row),
  summary: z.array(row).describe('one row per component: component, status, detail'),
  patroni: row.nullable(),
  haproxy: row.nullable(),
  pgbouncer: row.nullable(),
  citus: row.nullable(),
});

async function settle<T>(p: Promise<T> | null): Promise<T | Error | null> {
  if (!p) return null;
  try {
    return await p;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

export const pgCluster = defineTool({
  name: 'pg_cluster',
  title: 'Cluster health overview',
  description:
    'One call answering "is my cluster healthy?": Patroni leader, replicas, timelines and lag; whether HAProxy’s ' +
    'primary backend routes to Patroni’s leader; PgBouncer pools with waiting clients and paused databases; Citus ' +
    'node health, disabled nodes, shards on nodes that should hold none, skewed tables and a running rebalance. ' +
    'Returns a verdict (healthy, degraded, critical), the problems with severity and suggested action, and a ' +
    'summary table. Drill down with pg_patroni, pg_haproxy, pg_pgbouncer and pg_citus.',
  toolset: 'cluster',
  readOnly: true,
  component: 'cluster',
  input,
  output,
  async handler(_args, ctx) {
    const pc = patroniClient(ctx.config, ctx.signal);
    const hc = haproxyClient(ctx.config);
    const bc = pgbouncerClient(ctx.config);
    const [patroni, haproxy, pgbouncer, citus] = await Promise.all([
      settle(
        pc
          ? (async (): Promise<PatroniFacts> => {
              const { scope, members } = await memberViews(pc);
              const known = new Set(members.map((m) => m.apiUrl?.replace(/\/patroni$/, '')));
              const missing = pc.urls.filter((u) => !known.has(u));
              const unreachableUrls: string[] = [];
              await Promise.all(
                missing.map(async (u) => {
                  try {
                    await pc.requestAt(u, 'GET', '/patroni');
                  } catch {
                    unreachableUrls.push(u);
                  }
                }),
              );
              const leader = members.find((m) => m.role === 'leader')?.name ?? null;
              return { scope, leader, members, unreachableUrls: unreachableUrls.sort() };
            })()
          : null,
      ),
      settle(hc ? hc.stats().then((rows) => ({ rows })) : null),
      settle(
        bc
          ? bc
              .run(['SHOW POOLS', 'SHOW DATABASES'])
              .then(([pools, databases]) => ({ pools: pools ?? [], databases: databases ?? [] }))
          : null,
      ),
      settle(citusEnabled(ctx.config, ctx.components ?? { citus: false }) ? citusFacts(ctx) : null),
    ]);
    const { problems: raw, routing } = assess(patroni, haproxy, pgbouncer, citus);
    const problems = raw.map((p) => ({ ...p, problem: ctx.redact(p.problem) }));
    const verdict = verdictOf(problems);

    const statusOf = (c: Problem['component']) => {
      const ps = problems.filter((p) => p.component === c);
      return ps.some((p) => p.severity === 'critical')
        ? 'critical'
        : ps.some((p) => p.severity === 'warning')
          ? 'warning'
          : 'ok';
    };
    const summary: { component: string; status: string; detail: string }[] = [];
    let patroniData: Record<string, unknown> | null = null;
    if (patroni && !(patroni instanceof Error)) {
      const leader = patroni.members.find((m) => m.role === 'leader');
      const replicas = patroni.members.filter((m) => m !== leader);
      summary.push({
        component: 'patroni',
        status: statusOf('patroni'),
        detail: `leader ${leader?.name ?? 'NONE'} (TL ${leader?.timeline ?? '?'}); replicas ${
          replicas
            .map((m) => `${m.name} ${m.state}${m.lagBytes !== null ? ` lag ${bytesText(m.lagBytes)}` : ''}`)
            .join(', ') || 'none'
        }`,
      });
      patroniData = {
        scope: patroni.scope,
        leader: leader?.name ?? null,
        members: patroni.members.map((m) => ({
          name: m.name,
          role: m.role,
          state: m.state,
          timeline: m.timeline,
          lagBytes: m.lagBytes,
          reachable: m.reachable,
        })),
        unreachableUrls: patroni.unreachableUrls,
      };
    } else if (patroni) summary.push({ component: 'patroni', status: 'critical', detail: 'unreachable' });
    let haproxyData: Record<string, unknown> | null = null;
    if (haproxy && !(haproxy instanceof Error)) {
      const servers = haproxy.rows.filter((r) => r.type === 'server');
      const down = servers.filter((r) => !r.status.startsWith('UP'));
      summary.push({
        component: 'haproxy',
        status: statusOf('haproxy'),
        detail: `primary ${routing.primaryProxy ?? '?'} → ${routing.primaryUp.join(', ') || 'NONE'}${
          routing.routesToLeader === true
            ? ' (the leader)'
            : routing.routesToLeader === false
              ? ' (NOT the leader)'
              : ''
        }; ${servers.length - down.length}/${servers.length} servers up`,
      });
      haproxyData = {
        primaryProxy: routing.primaryProxy,
        primaryUp: routing.primaryUp,
        routesToLeader: routing.routesToLeader,
        servers: servers.map((r) => ({ proxy: r.proxy, name: r.name, status: r.status, check: r.checkStatus })),
      };
    } else if (haproxy) summary.push({ component: 'haproxy', status: 'critical', detail: 'unreachable' });
    let pgbouncerData: Record<string, unknown> | null = null;
    if (pgbouncer && !(pgbouncer instanceof Error)) {
      const waiting = pgbouncer.pools.reduce((n, p) => n + Number(p.cl_waiting ?? 0), 0);
      const active = pgbouncer.pools.reduce((n, p) => n + Number(p.cl_active ?? 0), 0);
      summary.push({
        component: 'pgbouncer',
        status: statusOf('pgbouncer'),
        detail: `${pgbouncer.pools.length} pools, ${active} clients active, ${waiting} waiting`,
      });
      pgbouncerData = {
        pools: pgbouncer.pools.map((p) => ({
          database: p.database,
          user: p.user,
          cl_active: p.cl_active,
          cl_waiting: p.cl_waiting,
          sv_active: p.sv_active,
          sv_idle: p.sv_idle,
          maxwait: p.maxwait,
        })),
        waitingClients: waiting,
      };
    } else if (pgbouncer) summary.push({ component: 'pgbouncer', status: 'critical', detail: 'unreachable' });
    if (citus) {
      const read = !(citus instanceof Error);
      summary.push({
        component: 'citus',
        status: statusOf('citus'),
        detail: read ? citusDetail(citus) : 'catalog unreadable',
      });
    }

    const lines = [
      `Cluster verdict: **${verdict}**`,
      markdownTable(
        ['component', 'status', 'detail'],
        summary.map((s) => [s.component, s.status, s.detail]),
      ),
    ];
    if (problems.length) {
      lines.push(
        markdownTable(
          ['severity', 'component', 'subject', 'problem', 'action'],
          problems.map((p) => [p.severity, p.component, p.subject, p.problem, p.action]),
        ),
      );
    } else lines.push('no problems found');
    return {
      text: lines.join('\n'),
      data: {
        verdict,
        problems,
        summary,
        patroni: patroniData,
        haproxy: haproxyData,
        pgbouncer: pgbouncerData,
        citus: citus && !(citus instanceof Error) ? citusData(citus) : null,
      },
    };
  },
});

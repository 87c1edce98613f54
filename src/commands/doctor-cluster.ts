/**
 * `pgmcp doctor`'s checks of the configured cluster components: each reachable, its version, and whether
 * pg_cluster_admin's actions on it are possible (Patroni credentials accepted, HAProxy's runtime API at level admin,
 * the PgBouncer login in admin_users). Every probe reads or is refused before anything happens: Patroni's
 * credentials are tried with an empty PATCH /config, which changes nothing and is answered 401 when they are wrong.
 */
import { HaproxyClient } from '../cluster/haproxy.js';
import { describeFetchError, memberBaseUrl, PatroniClient, parseNodeStatus } from '../cluster/patroni.js';
import { PgbouncerClient } from '../cluster/pgbouncer.js';
import type { Config } from '../config/settings.js';
import { accessAllows } from '../tools/define.js';

export type Verdict = 'ok' | 'warn' | 'fail' | 'skip';
export interface Check {
  name: string;
  verdict: Verdict;
  detail: string;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Whether pg_cluster_admin is served, so that what it needs is worth a warning. */
function adminActionsWanted(config: Config): boolean {
  return accessAllows(config.access, 'admin') && config.toolsets.includes('cluster-admin');
}

async function checkPatroni(config: Config): Promise<Check[]> {
  const c = config.cluster;
  const client = new PatroniClient({ urls: c.patroniUrls, user: c.patroniUser, password: c.patroniPassword });
  const checks = await Promise.all(
    client.urls.map(async (url): Promise<Check> => {
      try {
        const raw = await client.rawNodeStatus(url);
        const status = parseNodeStatus(raw);
        const version = (raw.patroni as { version?: string } | undefined)?.version ?? '?';
        return {
          name: 'patroni',
          verdict: 'ok',
          detail: `${url}: Patroni ${version}, ${status.role} ${status.state}, scope ${status.scope ?? '?'}`,
        };
      } catch (err) {
        return { name: 'patroni', verdict: 'fail', detail: `${url}: ${describeFetchError(err)}` };
      }
    }),
  );
  const answering = checks.filter((x) => x.verdict === 'ok').length;
  if (answering === 0) return checks;
  try {
    const cluster = await client.cluster();
    const leader = cluster.members.find((m) => m.role === 'leader');
    const unknown = client.urls.filter((u) => !cluster.members.some((m) => m.apiUrl && memberBaseUrl(m.apiUrl) === u));
    checks.push({
      name: 'patroni cluster',
      verdict: leader ? (unknown.length ? 'warn' : 'ok') : 'fail',
      detail:
        `${cluster.members.length} members, leader ${leader?.name ?? 'NONE'}` +
        (unknown.length ? `; not a member's REST URL: ${unknown.join(', ')}` : ''),
    });
  } catch (err) {
    checks.push({ name: 'patroni cluster', verdict: 'fail', detail: message(err) });
  }
  checks.push(await patroniCredentials(config, client));
  return checks;
}

async function patroniCredentials(config: Config, client: PatroniClient): Promise<Check> {
  const name = 'patroni admin';
  try {
    await client.writeAny('PATCH', '/config', {});
    return { name, verdict: 'ok', detail: 'write calls accepted' };
  } catch (err) {
    const status = (err as { status?: number }).status;
    if (status === 400)
      return { name, verdict: 'ok', detail: 'write calls authorised (an empty PATCH /config is refused as empty)' };
    const wanted = adminActionsWanted(config);
    const detail =
      status === 401 || status === 403
        ? `credentials refused: pg_cluster_admin's Patroni actions fail (${config.cluster.patroniUser ? 'check PGMCP_PATRONI_USER/PASSWORD' : 'set PGMCP_PATRONI_USER and PGMCP_PATRONI_PASSWORD'})`
        : `write calls not checked: ${message(err)}`;
    return { name, verdict: wanted ? 'warn' : 'skip', detail };
  }
}

async function checkHaproxy(config: Config, target: string): Promise<Check[]> {
  const client = new HaproxyClient({ target });
  let servers: number;
  try {
    servers = (await client.stats()).filter((r) => r.type === 'server').length;
  } catch (err) {
    return [{ name: 'haproxy', verdict: 'fail', detail: message(err) }];
  }
  if (!client.canAdminister) {
    return [
      { name: 'haproxy', verdict: 'ok', detail: `stats URL answers (${servers} servers)` },
      {
        name: 'haproxy admin',
        verdict: adminActionsWanted(config) ? 'warn' : 'skip',
        detail:
          'a stats URL is read-only: pg_cluster_admin’s HAProxy actions need the runtime API (PGMCP_HAPROXY as a socket path or host:port, level admin)',
      },
    ];
  }
  try {
    const info = await client.info();
    const level = await client.cliLevel();
    return [
      { name: 'haproxy', verdict: 'ok', detail: `runtime API: HAProxy ${info?.Version ?? '?'}, ${servers} servers` },
      level === 'admin'
        ? {
            name: 'haproxy admin',
            verdict: 'ok',
            detail: 'runtime API at level admin: enable/disable/drain/weight possible',
          }
        : {
            name: 'haproxy admin',
            verdict: adminActionsWanted(config) ? 'warn' : 'skip',
            detail: `runtime API at level ${level || '?'}: pg_cluster_admin’s HAProxy actions need level admin (stats socket … level admin)`,
          },
    ];
  } catch (err) {
    return [{ name: 'haproxy', verdict: 'fail', detail: message(err) }];
  }
}

async function checkPgbouncer(config: Config, url: string): Promise<Check[]> {
  const client = new PgbouncerClient({ url });
  try {
    const [version, settings] = await client.run(['SHOW VERSION', 'SHOW CONFIG']);
    const text = String(Object.values(version?.[0] ?? {})[0] ?? 'answered');
    const admins = String(settings?.find((r) => r.key === 'admin_users')?.value ?? '')
      .split(/[\s,]+/)
      .filter(Boolean);
    const user = decodeURIComponent(new URL(url).username);
    return [
      { name: 'pgbouncer', verdict: 'ok', detail: text },
      admins.includes(user)
        ? {
            name: 'pgbouncer admin',
            verdict: 'ok',
            detail: `${user} is in admin_users: pause/resume/reload/reconnect/kill possible`,
          }
        : {
            name: 'pgbouncer admin',
            verdict: adminActionsWanted(config) ? 'warn' : 'skip',
            detail: `${user} is not in admin_users: pg_cluster_admin’s PgBouncer actions are refused`,
          },
    ];
  } catch (err) {
    return [{ name: 'pgbouncer', verdict: 'fail', detail: message(err) }];
  }
}

/** The checks of every cluster component; `skip` for one that is not configured. */
export async function checkCluster(config: Config): Promise<Check[]> {
  const c = config.cluster;
  const [patroni, haproxy, pgbouncer] = await Promise.all([
    c.patroniUrls.length
      ? checkPatroni(config)
      : [{ name: 'patroni', verdict: 'skip', detail: 'PGMCP_PATRONI_URLS not set' } as Check],
    c.haproxy
      ? checkHaproxy(config, c.haproxy)
      : [{ name: 'haproxy', verdict: 'skip', detail: 'PGMCP_HAPROXY not set' } as Check],
    c.pgbouncerUrl
      ? checkPgbouncer(config, c.pgbouncerUrl)
      : [{ name: 'pgbouncer', verdict: 'skip', detail: 'PGMCP_PGBOUNCER_URL not set' } as Check],
  ]);
  return [...patroni, ...haproxy, ...pgbouncer];
}

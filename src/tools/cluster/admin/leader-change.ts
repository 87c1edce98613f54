/**
 * What a switchover or failover is verified by, in order: Patroni shows the new leader running; HAProxy's primary
 * backend routes to it alone (when HAProxy is configured); PgBouncer's server connections are renewed (when PgBouncer
 * is configured and not opted out); the members that ran before, the old leader among them, follow the new leader on
 * its timeline (informative: a member may be down for good).
 *
 * Why PgBouncer is reconnected: PgBouncer keeps server connections it opened through HAProxy, and those still lead to
 * the old leader, now a read-only replica, unless HAProxy cut them (`on-marked-down shutdown-sessions`). RECONNECT
 * closes each as soon as it is released (no client is cut off mid-transaction) and WAIT_CLOSE confirms none is left,
 * so the next transaction of every client reaches the new leader. A PgBouncer database pointing at a member directly
 * (not through HAProxy) cannot be fixed by a reconnect: the plan says so.
 */

import type { PatroniClient } from '../../../cluster/patroni.js';
import type { ConsoleRow } from '../../../cluster/pgbouncer.js';
import type { Config } from '../../../config/settings.js';
import { haproxyClient, pgbouncerClient } from '../clients.js';
import { assess } from '../overview.js';
import { type MemberView, memberViews } from '../patroni.js';
import type { PlanStep } from './action.js';
import { clusterState, leaderOf } from './patroni-checks.js';
import type { ActionRunner } from './runner.js';

export interface LeaderChangeTarget {
  /** The leader before (absent when there was none). */
  oldLeader: string | undefined;
  /** The member that must lead after; any other than the old leader when absent. */
  expected: string | undefined;
  /** The members running before (the old leader among them): each must follow the new leader on its timeline. */
  followers: readonly string[];
  /** Renew PgBouncer's server connections after HAProxy routes to the new leader. */
  reconnectPgbouncer: boolean;
}

/** The verification steps, as the plan shows them. */
export function leaderChangeSteps(config: Config, target: LeaderChangeTarget): PlanStep[] {
  const who = target.expected ?? 'a replica';
  const steps: PlanStep[] = [
    { phase: 'verify', what: `Patroni /cluster shows ${who} as leader, running`, where: 'Patroni' },
  ];
  if (config.cluster.haproxy) {
    steps.push({
      phase: 'verify',
      what: `HAProxy's primary backend has ${who} UP and no other server`,
      where: 'HAProxy',
    });
  }
  if (config.cluster.pgbouncerUrl && target.reconnectPgbouncer) {
    steps.push(
      { phase: 'act', what: 'RECONNECT (server connections close when released)', where: 'PgBouncer admin console' },
      {
        phase: 'verify',
        what: 'WAIT_CLOSE: no server connection from before is left',
        where: 'PgBouncer admin console',
      },
    );
  }
  const followers = target.followers.filter((n) => n !== target.expected);
  if (followers.length) {
    steps.push({
      phase: 'verify',
      what: `${followers.join(', ')} run as replicas of the new leader on its timeline (informative)`,
      where: 'Patroni',
    });
  }
  return steps;
}

/** PgBouncer databases pointing at a member's host:port directly (a reconnect cannot move them). */
export function directlyPointed(databases: readonly ConsoleRow[], members: readonly MemberView[]): string[] {
  const out: string[] = [];
  for (const d of databases) {
    const m = members.find((x) => x.host === d.host && x.port === Number(d.port));
    if (m) out.push(`${d.name} → ${m.name} (${d.host}:${d.port})`);
  }
  return out;
}

/**
 * When HAProxy is configured: waits until its primary backend routes to `leader` and to no other server. Returns
 * what it saw last (undefined without HAProxy).
 */
export async function waitForRouting(
  runner: ActionRunner,
  config: Config,
  leader: MemberView,
  members: readonly MemberView[],
): Promise<Record<string, unknown> | string | undefined> {
  const hc = haproxyClient(config);
  if (!hc) return undefined;
  let seen = '';
  const routing = await runner.waitFor(
    `HAProxy's primary backend routes to ${leader.name} only`,
    async () => {
      const facts = { scope: null, leader: leader.name, members: [...members], unreachableUrls: [] };
      const r = assess(facts, { rows: await hc.stats() }, null).routing;
      seen = `${r.primaryProxy ?? 'no primary backend'} → ${r.primaryUp.join(', ') || 'no server UP'}`;
      return r.routesToLeader === true && r.primaryUp.length === 1 ? r : undefined;
    },
    () => seen,
  );
  return routing ? { backend: routing.primaryProxy, up: routing.primaryUp } : seen;
}

/** Whether `m` runs as a replica of `leader` on its timeline with a known lag. */
function follows(m: MemberView | undefined, leader: MemberView | undefined): boolean {
  return (
    m?.reachable === true &&
    m !== leader &&
    (m.state === 'running' || m.state === 'streaming') &&
    m.lagBytes !== null &&
    (leader?.timeline == null || m.timeline === leader.timeline)
  );
}

/** Waits for the outcome of a switchover or failover; returns the cluster after it. */
export async function verifyLeaderChange(
  runner: ActionRunner,
  config: Config,
  patroni: PatroniClient,
  target: LeaderChangeTarget,
): Promise<{ after: Record<string, unknown>; notes: string[] }> {
  const notes: string[] = [];
  let members: MemberView[] = [];
  const readMembers = async () => {
    members = (await memberViews(patroni)).members;
    return members;
  };
  const leaderNow = () => {
    const l = leaderOf(members);
    return l ? `leader ${l.name} ${l.reachable ? l.state : 'not answering'}` : 'no leader';
  };
  const newLeader = await runner.waitFor(
    `Patroni shows ${target.expected ?? 'a new leader'} leading and running`,
    async () => {
      const l = leaderOf(await readMembers());
      const moved = l && l.name !== target.oldLeader && (target.expected === undefined || l.name === target.expected);
      return moved && l.reachable && l.state === 'running' ? l : undefined;
    },
    leaderNow,
  );
  if (!newLeader) return { after: { members: clusterState(members) }, notes };

  const after: Record<string, unknown> = { leader: newLeader.name };
  const routing = await waitForRouting(runner, config, newLeader, members);
  if (routing !== undefined) after.haproxyPrimary = routing;

  const bc = pgbouncerClient(config);
  if (bc && target.reconnectPgbouncer) {
    await runner.act('PgBouncer RECONNECT', () => bc.admin('RECONNECT', undefined, { signal: runner.signal }));
    const closed = await runner.waitFor(
      'PgBouncer has no server connection from before the change (WAIT_CLOSE)',
      async () => {
        await bc.admin('WAIT_CLOSE', undefined, { timeoutMs: runner.remainingMs, signal: runner.signal });
        return true;
      },
      () => 'server connections still to be closed: a client holds one in a long transaction',
      { informative: true },
    );
    after.pgbouncer = closed ? 'server connections renewed' : 'some server connections from before are left';
  } else if (bc) {
    notes.push(
      'PgBouncer was not reconnected (pgbouncer_reconnect false): server connections it opened before may still lead to the old leader',
    );
  }

  const followers = target.followers.filter((n) => n !== newLeader.name);
  if (followers.length) {
    await runner.waitFor(
      `${followers.join(', ')} follow ${newLeader.name} on its timeline`,
      async () => {
        const now = await readMembers();
        return followers.every((n) =>
          follows(
            now.find((m) => m.name === n),
            leaderOf(now),
          ),
        )
          ? true
          : undefined;
      },
      () =>
        followers
          .map((n) => members.find((m) => m.name === n))
          .filter((m): m is MemberView => m !== undefined && !follows(m, leaderOf(members)))
          .map((m) => `${m.name} ${m.role}, ${m.reachable ? m.state : 'not answering'}, timeline ${m.timeline}`)
          .join('; '),
      { informative: true },
    );
  }
  after.members = clusterState(members);
  return { after, notes };
}

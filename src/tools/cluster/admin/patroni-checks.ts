/**
 * Pre-checks of the Patroni actions, on what /cluster and each member's /patroni said (pure: unit-tested without a
 * cluster). Each names what is wrong and what is valid instead.
 */

import { ToolError } from '../../errors.js';
import { bytesText } from '../clients.js';
import type { MemberView } from '../patroni.js';

/** Patroni's own default for maximum_lag_on_failover (bytes). */
export const PATRONI_DEFAULT_MAX_LAG = 1_048_576;

const RUNNING = new Set(['running', 'streaming']);

/** The names of the members that answer and run. */
export function runningMembers(members: readonly MemberView[]): string[] {
  return members.filter((m) => m.reachable && RUNNING.has(m.state)).map((m) => m.name);
}

export function leaderOf(members: readonly MemberView[]): MemberView | undefined {
  return members.find((m) => m.role === 'leader' || m.role === 'standby_leader');
}

/** The member called `name`, or a ToolError listing the members there are. */
export function memberNamed(members: readonly MemberView[], name: string, field = 'member'): MemberView {
  const m = members.find((x) => x.name === name);
  if (m) return m;
  throw new ToolError(`unknown ${field} ${name}: the Patroni cluster has ${names(members)}`, {
    code: 'not_found',
    hint: `give one of: ${members.map((m) => m.name).join(', ')}`,
  });
}

function names(members: readonly MemberView[]): string {
  return members.map((m) => `${m.name} (${m.role})`).join(', ') || 'no members';
}

/** Why a replica cannot take over now, or undefined when it can (reachable, running, in sync enough, allowed). */
export function unfitCandidate(m: MemberView, leader: MemberView | undefined, maxLagBytes: number): string | undefined {
  if (m === leader) return `${m.name} is the leader`;
  if (!m.reachable) return `${m.name}'s REST API does not answer`;
  if (!RUNNING.has(m.state)) return `${m.name} is ${m.state}, not running`;
  if (m.tags.nofailover === true) return `${m.name} is tagged nofailover`;
  if (m.lagBytes === null) return `${m.name}'s replication lag is unknown (not streaming?)`;
  if (m.lagBytes > maxLagBytes) {
    return `${m.name} lags ${bytesText(m.lagBytes)}, more than maximum_lag_on_failover (${bytesText(maxLagBytes)})`;
  }
  if (leader && m.timeline !== null && leader.timeline !== null && m.timeline !== leader.timeline) {
    return `${m.name} is on timeline ${m.timeline}, the leader on ${leader.timeline}`;
  }
  return undefined;
}

export interface LeaderChange {
  leader: MemberView | undefined;
  /** The named candidate, or undefined when Patroni picks one. */
  candidate: MemberView | undefined;
  /** Replicas that could take over. */
  fit: MemberView[];
}

/**
 * Switchover: a running leader, and a candidate (when named) that exists and is fit; without a candidate, at least one
 * fit replica. Failover: a named candidate that exists, answers and runs (lag is Patroni's call then: the leader may
 * be gone).
 */
export function checkLeaderChange(
  kind: 'switchover' | 'failover',
  members: readonly MemberView[],
  candidateName: string | undefined,
  maxLagBytes: number,
): LeaderChange {
  const leader = leaderOf(members);
  const fit = members.filter((m) => unfitCandidate(m, leader, maxLagBytes) === undefined);
  if (kind === 'switchover') {
    if (!leader) {
      throw new ToolError('the cluster has no leader: a switchover needs one; use failover with a candidate', {
        code: 'no_leader',
      });
    }
    if (!leader.reachable || !RUNNING.has(leader.state)) {
      throw new ToolError(
        `leader ${leader.name} is ${leader.reachable ? leader.state : 'not answering'}: a switchover needs a running leader; use failover`,
        { code: 'leader_not_running' },
      );
    }
  }
  if (candidateName === undefined) {
    if (kind === 'failover') throw new ToolError('failover needs `candidate`', { code: 'invalid_arguments' });
    if (fit.length === 0) {
      const why = members.filter((m) => m !== leader).map((m) => unfitCandidate(m, leader, maxLagBytes));
      throw new ToolError(`no replica can take over: ${why.join('; ') || 'there are no replicas'}`, {
        code: 'no_candidate',
      });
    }
    return { leader, candidate: undefined, fit };
  }
  const candidate = memberNamed(members, candidateName, 'candidate');
  if (kind === 'failover') {
    if (candidate === leader) {
      throw new ToolError(`${candidate.name} is already the leader`, { code: 'invalid_arguments' });
    }
    if (!candidate.reachable || !RUNNING.has(candidate.state)) {
      throw new ToolError(
        `candidate ${candidate.name} is ${candidate.reachable ? candidate.state : 'not answering'}: it cannot take over`,
        { code: 'unfit_candidate', hint: otherwise(fit) },
      );
    }
    return { leader, candidate, fit };
  }
  const why = unfitCandidate(candidate, leader, maxLagBytes);
  if (why) throw new ToolError(`candidate ${why}`, { code: 'unfit_candidate', hint: otherwise(fit) });
  return { leader, candidate, fit };
}

function otherwise(fit: readonly MemberView[]): string {
  return fit.length
    ? `replicas that can take over: ${fit.map((m) => m.name).join(', ')}`
    : 'no replica can take over now';
}

/**
 * A schedule as Patroni takes it: ISO 8601 with a time zone, in the future. Returns it normalised to UTC, or a
 * ToolError saying what is wrong.
 */
export function checkSchedule(value: string, now = Date.now()): string {
  if (!/(Z|[+-]\d\d:?\d\d)$/i.test(value.trim())) {
    throw new ToolError(`scheduled_at ${value} has no time zone: give one, e.g. 2030-01-31T02:00:00Z`, {
      code: 'invalid_arguments',
    });
  }
  const t = Date.parse(value);
  if (Number.isNaN(t)) {
    throw new ToolError(`scheduled_at ${value} is not an ISO 8601 time, e.g. 2030-01-31T02:00:00Z`, {
      code: 'invalid_arguments',
    });
  }
  if (t <= now) throw new ToolError(`scheduled_at ${value} is in the past`, { code: 'invalid_arguments' });
  return new Date(t).toISOString();
}

/** The state of one member as a plan or an outcome shows it. */
export function memberState(m: MemberView): Record<string, unknown> {
  return {
    role: m.role,
    state: m.reachable ? m.state : 'not answering',
    timeline: m.timeline,
    lagBytes: m.lagBytes,
    pendingRestart: m.pendingRestart || (m.status?.pendingRestart ?? false),
    postmasterStartTime: m.status?.postmasterStartTime ?? null,
  };
}

/** Every member's state, by name. */
export function clusterState(members: readonly MemberView[]): Record<string, unknown> {
  return Object.fromEntries(members.map((m) => [m.name, memberState(m)]));
}

/** Restart and reload of Patroni members: each goes to the member's own REST URL. */
import { memberBaseUrl, type PatroniClient, type RestartRequest } from '../../../cluster/patroni.js';
import type { ToolContext } from '../../context.js';
import { ToolError } from '../../errors.js';
import { type MemberView, memberViews } from '../patroni.js';
import type { ActionPlan, PlanStep } from './action.js';
import { waitForRouting } from './leader-change.js';
import { memberState } from './patroni-checks.js';

/** The member's REST base URL, or a ToolError when it has none or does not answer. */
function memberUrl(m: MemberView): string {
  if (!m.apiUrl) throw new ToolError(`member ${m.name} publishes no REST URL (api_url)`, { code: 'unreachable' });
  if (!m.reachable) {
    throw new ToolError(`member ${m.name}'s REST API does not answer at ${memberBaseUrl(m.apiUrl)}`, {
      code: 'unreachable',
      hint: `start Patroni on ${m.name} first`,
    });
  }
  return memberBaseUrl(m.apiUrl);
}

export function memberRestartPlan(
  ctx: ToolContext,
  client: PatroniClient,
  members: readonly MemberView[],
  member: MemberView,
  req: { schedule?: string; restartPending?: boolean },
): ActionPlan {
  const url = memberUrl(member);
  const pending = member.pendingRestart || member.status?.pendingRestart === true;
  if (req.restartPending && !pending) {
    throw new ToolError(`${member.name} has no setting waiting for a restart: restart_pending would restart nothing`, {
      code: 'nothing_to_do',
    });
  }
  const isLeader = member.role === 'leader';
  const body: RestartRequest = {
    ...(req.schedule ? { schedule: req.schedule } : {}),
    ...(req.restartPending !== undefined ? { restartPending: req.restartPending } : {}),
  };
  const shownBody = JSON.stringify({
    ...(req.schedule ? { schedule: req.schedule } : {}),
    ...(req.restartPending !== undefined ? { restart_pending: req.restartPending } : {}),
  });
  const startedBefore = member.status?.postmasterStartTime ?? null;
  const steps: PlanStep[] = [
    { phase: 'check', what: `${member.name} answers (${member.role}, ${member.state})`, where: url },
    { phase: 'act', what: `POST /restart ${shownBody}`, where: url },
  ];
  if (req.schedule) {
    steps.push({ phase: 'verify', what: 'GET /patroni shows the scheduled restart', where: url });
  } else {
    steps.push({ phase: 'verify', what: `${member.name} runs again with a new postmaster start time`, where: url });
    if (isLeader && ctx.config.cluster.haproxy) {
      steps.push({
        phase: 'verify',
        what: `HAProxy's primary backend routes to ${member.name} again`,
        where: 'HAProxy',
      });
    }
  }
  return {
    target: `member ${member.name}`,
    summary: `restart PostgreSQL on ${member.name} (${member.role})${req.schedule ? ` at ${req.schedule}` : ''}`,
    reasons: [
      isLeader
        ? `${member.name} is the leader: writes fail while PostgreSQL restarts (Patroni keeps it the leader)`
        : `${member.name}'s connections are closed and reads on it fail while PostgreSQL restarts`,
    ],
    steps,
    before: { member: member.name, ...memberState(member) },
    bind: { role: member.role, postmasterStartTime: startedBefore },
    async run(runner) {
      const answer = await runner.act(`POST /restart on ${member.name}`, () =>
        client.restart(url, body, runner.remainingMs),
      );
      const notes = [`Patroni: ${answer.message}`];
      if (req.schedule) {
        const scheduled = await runner.waitFor(
          'Patroni shows the scheduled restart',
          async () => (await client.rawNodeStatus(url)).scheduled_restart ?? undefined,
          () => 'no scheduled_restart in /patroni',
          { timeoutMs: 10_000 },
        );
        return { after: { scheduledRestart: scheduled ?? null }, notes };
      }
      let now: MemberView | undefined;
      const restarted = await runner.waitFor(
        `${member.name} runs again with a new postmaster start time`,
        async () => {
          now = (await memberViews(client)).members.find((m) => m.name === member.name);
          const started = now?.status?.postmasterStartTime ?? null;
          return now?.reachable && now.state === 'running' && started !== null && started !== startedBefore
            ? now
            : undefined;
        },
        () => (now ? `${now.state}, started ${now.status?.postmasterStartTime ?? '?'}` : `${member.name} absent`),
      );
      const after: Record<string, unknown> = { member: member.name, ...(now ? memberState(now) : {}) };
      if (restarted && isLeader) {
        const routing = await waitForRouting(runner, ctx.config, restarted, members);
        if (routing !== undefined) after.haproxyPrimary = routing;
      }
      return { after, notes };
    },
  };
}

export function memberReloadPlan(client: PatroniClient, targets: readonly MemberView[]): ActionPlan {
  const answering = targets.filter((m) => m.reachable && m.apiUrl);
  const silent = targets.filter((m) => !answering.includes(m));
  if (targets.length === 1) memberUrl(targets[0] as MemberView);
  if (answering.length === 0)
    throw new ToolError('no member answers: nothing can be reloaded', { code: 'unreachable' });
  const urlOf = (m: MemberView) => memberBaseUrl(m.apiUrl as string);
  const names = answering.map((m) => m.name).join(', ');
  return {
    target: targets.length === 1 ? `member ${names}` : `members ${names}`,
    summary: `reload the configuration of ${names} (Patroni and PostgreSQL)`,
    reasons: ['changed settings take effect at once on every connection of the reloaded members'],
    steps: [
      ...answering.map((m): PlanStep => ({ phase: 'act', what: 'POST /reload', where: urlOf(m) })),
      { phase: 'verify', what: `${names} answer and run after the reload`, where: 'Patroni' },
    ],
    before: Object.fromEntries(answering.map((m) => [m.name, memberState(m)])),
    notes: silent.map((m) => `${m.name} does not answer: not reloaded`),
    async run(runner) {
      const notes: string[] = [];
      for (const m of answering) {
        const answer = await runner.act(`POST /reload on ${m.name}`, () => client.reload(urlOf(m)));
        notes.push(`${m.name}: ${answer.message}`);
      }
      const after: Record<string, unknown> = {};
      await runner.waitFor(
        `${names} run after the reload`,
        async () => {
          const states = await Promise.all(answering.map((m) => client.nodeStatus(urlOf(m))));
          states.forEach((s, i) => {
            after[(answering[i] as MemberView).name] = {
              state: s.state,
              role: s.role,
              pendingRestart: s.pendingRestart,
            };
          });
          return states.every((s) => s.state === 'running') ? true : undefined;
        },
        () => JSON.stringify(after),
      );
      const pending = Object.entries(after).filter(([, v]) => (v as { pendingRestart: boolean }).pendingRestart);
      if (pending.length) {
        notes.push(
          `a setting waits for a restart on ${pending.map(([k]) => k).join(', ')} (pg_cluster_admin restart_member)`,
        );
      }
      return { after, notes };
    },
  };
}

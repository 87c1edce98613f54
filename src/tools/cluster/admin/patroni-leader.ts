/**
 * The Patroni actions that move the leader: switchover (now or scheduled), cancel_switchover, failover. They act
 * through the DCS, so any member takes them; each is verified by leader-change.ts.
 */
import type { PatroniClient } from '../../../cluster/patroni.js';
import type { ToolContext } from '../../context.js';
import { ToolError } from '../../errors.js';
import { patroniOf, pgbouncerClient, reach } from '../clients.js';
import type { MemberView } from '../patroni.js';
import type { ActionDefinition, PlanStep } from './action.js';
import { directlyPointed, type LeaderChangeTarget, leaderChangeSteps, verifyLeaderChange } from './leader-change.js';
import {
  checkLeaderChange,
  checkSchedule,
  clusterState,
  type LeaderChange,
  PATRONI_DEFAULT_MAX_LAG,
  runningMembers,
} from './patroni-checks.js';
import { type PatroniArgs, readMembers } from './patroni-fields.js';

async function maxLagOf(ctx: ToolContext, client: PatroniClient): Promise<number> {
  const config = await reach('patroni', ctx, () => client.config());
  const v = config.maximum_lag_on_failover;
  return typeof v === 'number' ? v : PATRONI_DEFAULT_MAX_LAG;
}

async function scheduledNote(ctx: ToolContext, client: PatroniClient): Promise<string[]> {
  const scheduled = await reach('patroni', ctx, () => client.scheduledSwitchover());
  return scheduled ? [`replaces the switchover scheduled for ${scheduled.at} (from ${scheduled.from})`] : [];
}

async function pgbouncerNotes(ctx: ToolContext, members: readonly MemberView[]): Promise<string[]> {
  const bc = pgbouncerClient(ctx.config);
  if (!bc) return [];
  const databases = await reach('pgbouncer', ctx, () => bc.show('databases'));
  return directlyPointed(databases, members).map(
    (d) =>
      `PgBouncer database ${d} directly, not through HAProxy: a leader change does not move it; change its host in pgbouncer.ini and RELOAD`,
  );
}

/** What a switchover and a failover both read first: the client, the members, the lag limit, the checked change. */
async function leaderChange(
  ctx: ToolContext,
  kind: 'switchover' | 'failover',
  candidate: string | undefined,
): Promise<{ client: PatroniClient; members: MemberView[]; maxLag: number; change: LeaderChange }> {
  const client = patroniOf(ctx);
  const members = await readMembers(ctx, client);
  const maxLag = await maxLagOf(ctx, client);
  return { client, members, maxLag, change: checkLeaderChange(kind, members, candidate, maxLag) };
}

export const leaderActions: Record<string, ActionDefinition<PatroniArgs>> = {
  switchover: {
    description:
      'moves the leader to `candidate` (or the healthiest replica) now or at `scheduled_at`; waits until Patroni ' +
      'shows it running and HAProxy routes to it, renews PgBouncer’s server connections',
    optional: ['candidate', 'scheduled_at', 'pgbouncer_reconnect'],
    async plan({ args, ctx }) {
      const { client, members, maxLag, change } = await leaderChange(ctx, 'switchover', args.candidate);
      const leader = change.leader as MemberView;
      const scheduledAt = args.scheduled_at === undefined ? undefined : checkSchedule(args.scheduled_at);
      const to = change.candidate?.name;
      const body = {
        leader: leader.name,
        ...(to ? { candidate: to } : {}),
        ...(scheduledAt ? { scheduled_at: scheduledAt } : {}),
      };
      const target: LeaderChangeTarget = {
        oldLeader: leader.name,
        expected: to,
        followers: runningMembers(members),
        reconnectPgbouncer: args.pgbouncer_reconnect !== false,
      };
      const steps: PlanStep[] = [
        { phase: 'check', what: `leader ${leader.name} running`, where: 'Patroni' },
        {
          phase: 'check',
          what: to
            ? `candidate ${to} answers, runs, lags at most ${maxLag} bytes (maximum_lag_on_failover), same timeline`
            : `replicas fit to take over: ${change.fit.map((m) => m.name).join(', ')}`,
          where: 'Patroni',
        },
        { phase: 'act', what: `POST /switchover ${JSON.stringify(body)}`, where: 'Patroni REST API (any member)' },
      ];
      if (scheduledAt)
        steps.push({ phase: 'verify', what: 'GET /cluster shows the scheduled switchover', where: 'Patroni' });
      else steps.push(...leaderChangeSteps(ctx.config, target));
      return {
        target: to ? `member ${to}` : `leader ${leader.name}`,
        summary: `switchover from ${leader.name} to ${to ?? 'the healthiest replica'}${scheduledAt ? ` at ${scheduledAt}` : ''}`,
        reasons: [
          `${leader.name} stops being the primary: open transactions on it are rolled back and clients reconnect`,
          'writes fail for a few seconds until the new leader is promoted and HAProxy routes to it',
        ],
        steps,
        before: { leader: leader.name, members: clusterState(members), maximumLagOnFailover: maxLag },
        bind: { leader: leader.name },
        notes: [...(await scheduledNote(ctx, client)), ...(await pgbouncerNotes(ctx, members))],
        async run(runner) {
          const answer = await runner.act(`POST /switchover`, () =>
            client.switchover({ leader: leader.name, candidate: to, scheduledAt }, runner.remainingMs),
          );
          const notes = [`Patroni: ${answer.message}`];
          if (scheduledAt) {
            const scheduled = await runner.waitFor(
              'Patroni shows the scheduled switchover',
              async () => (await client.scheduledSwitchover()) ?? undefined,
              () => 'no scheduled_switchover in /cluster',
              { timeoutMs: 10_000 },
            );
            notes.push('pgmcp does not wait for it; cancel it with action cancel_switchover');
            return { after: { scheduledSwitchover: scheduled ?? null }, notes };
          }
          const verified = await verifyLeaderChange(runner, ctx.config, client, target);
          return { after: verified.after, notes: [...notes, ...verified.notes] };
        },
      };
    },
  },
  cancel_switchover: {
    description: 'cancels the scheduled switchover (DELETE /switchover)',
    async plan({ ctx }) {
      const client = patroniOf(ctx);
      const scheduled = await reach('patroni', ctx, () => client.scheduledSwitchover());
      if (!scheduled) throw new ToolError('no switchover is scheduled', { code: 'nothing_to_do' });
      return {
        target: `switchover at ${scheduled.at}`,
        summary: `cancel the switchover scheduled for ${scheduled.at} (from ${scheduled.from}${scheduled.to ? ` to ${scheduled.to}` : ''})`,
        reasons: ['the planned leader change will not happen'],
        steps: [
          { phase: 'check', what: 'GET /cluster shows a scheduled switchover', where: 'Patroni' },
          { phase: 'act', what: 'DELETE /switchover', where: 'Patroni REST API (any member)' },
          { phase: 'verify', what: 'GET /cluster shows no scheduled switchover', where: 'Patroni' },
        ],
        before: { scheduledSwitchover: scheduled },
        bind: { scheduledSwitchover: scheduled },
        async run(runner) {
          const answer = await runner.act('DELETE /switchover', () => client.cancelSwitchover());
          await runner.waitFor(
            'Patroni shows no scheduled switchover',
            async () => ((await client.scheduledSwitchover()) === null ? true : undefined),
            () => 'still scheduled',
            { timeoutMs: 10_000 },
          );
          return { after: { scheduledSwitchover: null }, notes: [`Patroni: ${answer.message}`] };
        },
      };
    },
  },
  failover: {
    description:
      'promotes `candidate` even when the leader is gone (a switchover is the gentler way when it runs); verified like a switchover',
    required: ['candidate'],
    optional: ['pgbouncer_reconnect'],
    async plan({ args, ctx }) {
      const { client, members, change } = await leaderChange(ctx, 'failover', args.candidate);
      const candidate = change.candidate as MemberView;
      const leader = change.leader;
      const leaderRuns = leader?.reachable === true && leader.state === 'running';
      const target: LeaderChangeTarget = {
        oldLeader: leaderRuns ? leader?.name : undefined,
        expected: candidate.name,
        followers: runningMembers(members),
        reconnectPgbouncer: args.pgbouncer_reconnect !== false,
      };
      const reasons = [
        `${candidate.name} is promoted${leader ? ` and ${leader.name} stops being the primary` : ''}: open transactions are rolled back and clients reconnect`,
      ];
      if (candidate.lagBytes === null || candidate.lagBytes > 0) {
        reasons.push(
          `${candidate.name} lags ${candidate.lagBytes === null ? 'an unknown amount' : `${candidate.lagBytes} bytes`}: writes not yet replicated to it are lost`,
        );
      }
      const notes = await pgbouncerNotes(ctx, members);
      if (leaderRuns) notes.push(`leader ${leader?.name} runs: a switchover would be the gentler way`);
      return {
        target: `member ${candidate.name}`,
        summary: `failover to ${candidate.name}${leader ? ` (leader now: ${leader.name}, ${leader.reachable ? leader.state : 'not answering'})` : ' (no leader now)'}`,
        reasons,
        steps: [
          { phase: 'check', what: `candidate ${candidate.name} answers and runs`, where: 'Patroni' },
          {
            phase: 'act',
            what: `POST /failover {"candidate":"${candidate.name}"}`,
            where: 'Patroni REST API (any member)',
          },
          ...leaderChangeSteps(ctx.config, target),
        ],
        before: { leader: leader?.name ?? null, members: clusterState(members) },
        bind: { leader: leader?.name ?? null },
        notes,
        async run(runner) {
          const answer = await runner.act('POST /failover', () => client.failover(candidate.name, runner.remainingMs));
          const verified = await verifyLeaderChange(runner, ctx.config, client, target);
          return { after: verified.after, notes: [`Patroni: ${answer.message}`, ...verified.notes] };
        },
      };
    },
  },
};

/**
 * Patroni actions of pg_cluster_admin: switchover, failover, restart, reload, config_patch. Switchover, failover and
 * configuration patches act through the DCS (any member takes them); restart and reload go to the member's own REST
 * URL. Every write carries the configured basic-auth credentials.
 */
import { z } from 'zod';
import type { PatroniClient } from '../../../cluster/patroni.js';
import type { ToolContext } from '../../context.js';
import { ToolError } from '../../errors.js';
import { patroniClient, pgbouncerClient, reach } from '../clients.js';
import { type MemberView, memberViews } from '../patroni.js';
import { defineComponent, type PlanStep } from './action.js';
import { directlyPointed, type LeaderChangeTarget, leaderChangeSteps, verifyLeaderChange } from './leader-change.js';
import {
  checkLeaderChange,
  checkSchedule,
  clusterState,
  memberNamed,
  PATRONI_DEFAULT_MAX_LAG,
  runningMembers,
} from './patroni-checks.js';
import { configPatchPlan } from './patroni-config.js';
import { memberReloadPlan, memberRestartPlan } from './patroni-member.js';

const fields = {
  candidate: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe('switchover: the replica to promote (absent: Patroni picks the healthiest); failover: required'),
  member: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe('restart_member: the Patroni member; reload_member: the member (absent: every member)'),
  scheduled_at: z
    .string()
    .max(64)
    .optional()
    .describe('switchover, restart_member: when, ISO 8601 with a time zone (e.g. 2030-01-31T02:00:00Z); absent: now'),
  restart_pending: z
    .boolean()
    .optional()
    .describe('restart_member: only if PostgreSQL has a setting waiting for a restart'),
  config: z
    .record(z.string(), z.unknown())
    .optional()
    .describe(
      'config_patch: merged into the dynamic configuration (null removes a key), e.g. ' +
        '{"ttl": 20, "postgresql": {"parameters": {"work_mem": "8MB"}}}',
    ),
  pgbouncer_reconnect: z
    .boolean()
    .optional()
    .describe(
      'switchover, failover: once HAProxy routes to the new leader, renew PgBouncer’s server connections (RECONNECT, then WAIT_CLOSE); default true when PgBouncer is configured',
    ),
};

/** The client, or the reason there is none. */
export function patroniOf(ctx: ToolContext): PatroniClient {
  const client = patroniClient(ctx.config);
  if (!client) throw new ToolError('Patroni is not configured', { hint: 'set PGMCP_PATRONI_URLS' });
  return client;
}

/** Every member with its own view; a ToolError when no member answers. */
export async function readMembers(ctx: ToolContext, client: PatroniClient): Promise<MemberView[]> {
  return (await reach('patroni', ctx, () => memberViews(client))).members;
}

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

export const patroniActions = defineComponent({
  component: 'patroni',
  fields,
  unavailable: (ctx) =>
    ctx.config.cluster.patroniUrls.length ? undefined : 'Patroni is not configured: set PGMCP_PATRONI_URLS',
  actions: {
    switchover: {
      description:
        'moves the leader to `candidate` (or the healthiest replica) now or at `scheduled_at`; waits until Patroni ' +
        'shows it running and HAProxy routes to it, renews PgBouncer’s server connections',
      optional: ['candidate', 'scheduled_at', 'pgbouncer_reconnect'],
      async plan({ args, ctx }) {
        const client = patroniOf(ctx);
        const members = await readMembers(ctx, client);
        const maxLag = await maxLagOf(ctx, client);
        const change = checkLeaderChange('switchover', members, args.candidate, maxLag);
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
        const client = patroniOf(ctx);
        const members = await readMembers(ctx, client);
        const maxLag = await maxLagOf(ctx, client);
        const change = checkLeaderChange('failover', members, args.candidate, maxLag);
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
            const answer = await runner.act('POST /failover', () =>
              client.failover(candidate.name, runner.remainingMs),
            );
            const verified = await verifyLeaderChange(runner, ctx.config, client, target);
            return { after: verified.after, notes: [`Patroni: ${answer.message}`, ...verified.notes] };
          },
        };
      },
    },
    restart_member: {
      description:
        'restarts PostgreSQL on `member` (now or at `scheduled_at`; `restart_pending`: only if a setting needs it); waits until it runs again',
      required: ['member'],
      optional: ['scheduled_at', 'restart_pending'],
      async plan({ args, ctx }) {
        const client = patroniOf(ctx);
        const members = await readMembers(ctx, client);
        const member = memberNamed(members, args.member as string);
        const schedule = args.scheduled_at === undefined ? undefined : checkSchedule(args.scheduled_at);
        return memberRestartPlan(ctx, client, members, member, { schedule, restartPending: args.restart_pending });
      },
    },
    reload_member: {
      description: 'reloads the configuration of `member` (absent: every member) through Patroni',
      optional: ['member'],
      async plan({ args, ctx }) {
        const client = patroniOf(ctx);
        const members = await readMembers(ctx, client);
        const targets = args.member === undefined ? members : [memberNamed(members, args.member)];
        return memberReloadPlan(client, targets);
      },
    },
    config_patch: {
      description: 'merges `config` into the dynamic configuration (PATCH /config); verified by reading it back',
      required: ['config'],
      async plan({ args, ctx }) {
        const client = patroniOf(ctx);
        const current = await reach('patroni', ctx, () => client.config());
        return configPatchPlan(client, current, args.config as Record<string, unknown>);
      },
    },
  },
});

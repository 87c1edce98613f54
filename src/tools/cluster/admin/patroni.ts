/**
 * Patroni actions of pg_cluster_admin: switchover, cancel_switchover and failover (patroni-leader.ts), restart_member
 * and reload_member (each on the member's own REST URL), config_patch. Every write carries the configured basic-auth
 * credentials.
 */
import { patroniOf, reach } from '../clients.js';
import { defineComponent } from './action.js';
import { checkSchedule, memberNamed } from './patroni-checks.js';
import { configPatchPlan } from './patroni-config.js';
import { fields, readMembers } from './patroni-fields.js';
import { leaderActions } from './patroni-leader.js';
import { memberReloadPlan, memberRestartPlan } from './patroni-member.js';

export const patroniActions = defineComponent({
  component: 'patroni',
  fields,
  unavailable: (ctx) =>
    ctx.config.cluster.patroniUrls.length ? undefined : 'Patroni is not configured: set PGMCP_PATRONI_URLS',
  actions: {
    ...leaderActions,
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

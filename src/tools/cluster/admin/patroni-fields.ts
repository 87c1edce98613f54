/** The input fields of the Patroni actions of pg_cluster_admin, and the client they all use. */
import { z } from 'zod';
import type { PatroniClient } from '../../../cluster/patroni.js';
import type { ToolContext } from '../../context.js';
import { reach } from '../clients.js';
import { type MemberView, memberViews } from '../patroni.js';

export const fields = {
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

export type PatroniArgs = z.infer<z.ZodObject<typeof fields>>;

/** Every member with its own view; a ToolError when no member answers. */
export async function readMembers(ctx: ToolContext, client: PatroniClient): Promise<MemberView[]> {
  return (await reach('patroni', ctx, () => memberViews(client))).members;
}

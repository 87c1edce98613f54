import { z } from 'zod';
import { confirmationRequiredSchema } from '../../../safety/confirm.js';
import { CLUSTER_COMPONENTS } from './action.js';

const record = z.record(z.string(), z.unknown());

const stepSchema = z.object({
  phase: z.enum(['check', 'act', 'verify']),
  what: z.string(),
  where: z.string().optional(),
});

/** One shape for every action of every component. */
export const clusterAdminOutput = z.object({
  action: z.string(),
  component: z.enum(CLUSTER_COMPONENTS),
  target: z.string().describe('what is acted on: a member, backend/server, database, …'),
  status: z.enum(['executed', 'dry_run', 'confirmation_required']),
  dry_run: z.boolean(),
  summary: z.string().describe('what the action does, one line'),
  plan: z.array(stepSchema).describe('checks done before, the call itself, and what is verified after, in order'),
  reasons: z.array(z.string()).describe('why it needs confirmation'),
  confirmation: confirmationRequiredSchema.optional().describe('status confirmation_required: how to confirm'),
  confirmedVia: z.enum(['elicitation', 'token', 'disabled']).optional(),
  outcome: z
    .object({ before: record, after: record.optional() })
    .describe('the state the pre-checks saw, and after acting the state verified'),
  verified: z
    .boolean()
    .nullable()
    .describe('executed: whether every required check of the outcome held; null when nothing ran'),
  checks: z
    .array(
      z.object({
        check: z.string(),
        ok: z.boolean(),
        required: z.boolean(),
        detail: z.string().optional(),
        ms: z.number(),
      }),
    )
    .describe('verifications of the outcome, each with how long it took to hold'),
  timings: z.array(z.object({ step: z.string(), ms: z.number() })).describe('each step, in milliseconds'),
  durationMs: z.number(),
  notes: z.array(z.string()),
});
export type ClusterAdminOutput = z.infer<typeof clusterAdminOutput>;

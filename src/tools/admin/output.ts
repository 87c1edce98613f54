import { z } from 'zod';
import { confirmationRequiredSchema } from '../../safety/confirm.js';
import { ADMIN_ACTIONS } from './args.js';

const changeSchema = z.object({
  object: z.string(),
  item: z.string().describe('what changed, e.g. total size, setting, SELECT'),
  before: z.string().nullable(),
  after: z.string().nullable(),
});
export type Change = z.infer<typeof changeSchema>;

const stepSchema = z.object({
  sql: z.string(),
  durationMs: z.number(),
  result: z.string().optional().describe('command tag or returned value'),
  messages: z.array(z.string()).optional().describe('INFO/NOTICE/WARNING messages PostgreSQL sent'),
});
export type Step = z.infer<typeof stepSchema>;

/** One shape for every action: the plan, what ran, and what changed. */
export const adminOutput = z.object({
  action: z.enum(ADMIN_ACTIONS),
  status: z.enum(['executed', 'dry_run', 'confirmation_required']),
  database: z.string().describe('database connected to'),
  summary: z.string().describe('what the action does, one line'),
  plan: z.array(z.string()).describe('exactly what runs, in order (a password shows as ****)'),
  destructive: z.boolean().describe('whether it needs confirmation'),
  reasons: z.array(z.string()).optional().describe('why it needs confirmation'),
  confirmation: confirmationRequiredSchema.optional().describe('status confirmation_required: how to confirm'),
  confirmedVia: z.enum(['elicitation', 'token', 'disabled']).optional(),
  durationMs: z.number(),
  steps: z.array(stepSchema).optional().describe('what ran, with timings'),
  changes: z.array(changeSchema).optional().describe('before → after (sizes, settings, privileges, counters, …)'),
  facts: z
    .record(z.string(), z.unknown())
    .optional()
    .describe('about the target: the backend (cancel/terminate), the setting (pg_settings), the database, …'),
  restartRequired: z.boolean().optional().describe('set/reset_setting, reload_config: a server restart is pending'),
  warnings: z.array(z.string()).optional(),
});
export type AdminOutput = z.infer<typeof adminOutput>;

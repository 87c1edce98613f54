import { z } from 'zod';
import { confirmTokenArg } from '../../../safety/confirm.js';
import type { ComponentActions } from './action.js';

/** How long acting and verifying may take when timeout_seconds is not given, and at most. */
export const DEFAULT_TIMEOUT_SECONDS = 60;
export const MAX_TIMEOUT_SECONDS = 600;

/** The fields every action takes. */
export const commonFields = {
  dry_run: z
    .boolean()
    .optional()
    .describe('true: run the pre-checks and return the plan (what is called where, what is checked before and after)'),
  confirm_token: confirmTokenArg,
  timeout_seconds: z
    .number()
    .int()
    .min(1)
    .max(MAX_TIMEOUT_SECONDS)
    .optional()
    .describe(
      `How long acting and verifying may take (default ${DEFAULT_TIMEOUT_SECONDS}, at most ${MAX_TIMEOUT_SECONDS}); ` +
        'a verification still unmet then is reported as not verified',
    ),
};

export interface CommonArgs {
  action: string;
  dry_run?: boolean;
  confirm_token?: string;
  timeout_seconds?: number;
}

/** A database name, shared by the components whose actions name one. */
export const databaseField = z
  .string()
  .min(1)
  .max(63)
  .optional()
  .describe('pgbouncer_* actions: a database of PgBouncer (as SHOW DATABASES lists it); absent: every database');

/** Names of the fields of the components: a name used by two must be the very same schema. */
export function mergeFields(components: readonly ComponentActions[]): z.ZodRawShape {
  const merged: Record<string, z.ZodType> = {};
  const owner: Record<string, string> = {};
  for (const c of components) {
    for (const [name, schema] of Object.entries(c.fields)) {
      if (name in commonFields || name === 'action') {
        throw new Error(`pg_cluster_admin: ${c.component} declares the common field ${name}`);
      }
      const seen = merged[name];
      if (seen && seen !== schema) {
        throw new Error(`pg_cluster_admin: field ${name} of ${c.component} differs from the one of ${owner[name]}`);
      }
      merged[name] = schema as z.ZodType;
      owner[name] = owner[name] ?? c.component;
    }
  }
  return merged;
}

/** The input of pg_cluster_admin: `action`, the common fields, then every component's fields. */
export function buildInput(components: readonly ComponentActions[], actionNames: readonly [string, ...string[]]) {
  return z.object({
    action: z.enum(actionNames).describe('what to do; the fields each action takes are in the tool description'),
    ...commonFields,
    ...mergeFields(components),
  });
}

import { z } from 'zod';
import type { ToolContext } from './context.js';
import { ToolError } from './errors.js';

export const paramsArg = z
  .array(
    z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(z.unknown()), z.record(z.string(), z.unknown())]),
  )
  .optional()
  .describe('Values for $1, $2, … bound server-side (arrays become PostgreSQL arrays, objects JSON)');

export const databaseArg = z
  .string()
  .min(1)
  .max(63)
  .optional()
  .describe('Database to use (default: the configured one)');

/** The database a call uses, checked against what the caller may reach. */
export function resolveDatabase(requested: string | undefined, ctx: ToolContext): string {
  const database = requested ?? ctx.pools.defaultDatabase;
  const allowed = ctx.caller.databases;
  if (allowed && !allowed.includes(database)) {
    throw new ToolError(`database "${database}" is not allowed for ${ctx.caller.identity}`, {
      code: 'database_not_allowed',
      hint: `allowed: ${allowed.join(', ')}`,
    });
  }
  return database;
}

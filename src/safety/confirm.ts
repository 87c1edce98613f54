import type { ElicitRequestFormParams } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { ToolContext } from '../tools/context.js';
import { ToolError } from '../tools/errors.js';
import { formatDuration, type IssuedToken } from './tokens.js';

export { canonicalArguments, canonicalJson } from './canonical.js';
export { ConfirmationTokens, formatDuration, type IssuedToken, type TokenBinding } from './tokens.js';

/** A destructive action about to run, as the user is shown it. */
export interface DestructivePlan {
  /** The tool being called (part of what a token is bound to). */
  tool: string;
  /** The call's arguments as the tool received them (`confirm_token` and `dry_run` are not bound). */
  args: Record<string, unknown>;
  /** One line, e.g. `DROP TABLE public.orders`. */
  action: string;
  /** Why it is destructive, e.g. `removes every row of orders`. */
  reasons: string[];
  /** Exactly what will run (SQL or the operation), possibly several lines. */
  details: string;
}

export type Confirmation =
  | { confirmed: true; via: 'elicitation' | 'token' | 'disabled' }
  | {
      confirmed: false;
      token: string;
      /** ISO 8601, UTC. */
      expiresAt: string;
      ttlMs: number;
      /** The `confirmation_required` text for the model (see formatConfirmationRequired). */
      message: string;
    };

/** The optional argument every tool with destructive actions takes; described the same way everywhere. */
export const confirmTokenArg = z
  .string()
  .optional()
  .describe(
    'Only to confirm a destructive call: the confirm_token a previous identical call returned with status confirmation_required (single use, short-lived)',
  );

/** The structured part of a `confirmation_required` result, the same in every tool's output. */
export const confirmationRequiredSchema = z.object({
  action: z.string(),
  reasons: z.array(z.string()),
  details: z.string(),
  confirm_token: z.string(),
  expires_at: z.string(),
});
export type ConfirmationRequired = z.infer<typeof confirmationRequiredSchema>;

/** The structured `confirmation_required` data for a plan and its token. */
export function confirmationRequiredData(plan: DestructivePlan, issued: IssuedToken): ConfirmationRequired {
  return {
    action: plan.action,
    reasons: plan.reasons,
    details: plan.details,
    confirm_token: issued.token,
    expires_at: issued.expiresAt,
  };
}

function fenced(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}\n${text}\n${fence}`;
}

/**
 * The `confirmation_required` text for the model, worded the same way by every effectful tool: nothing ran, what
 * would run, why it needs confirmation, how to confirm, until when.
 */
export function formatConfirmationRequired(plan: DestructivePlan, issued: IssuedToken, note?: string): string {
  const lines = [
    `CONFIRMATION REQUIRED: nothing was run. ${plan.tool} would run: ${plan.action}`,
    '',
    'Why it needs confirmation:',
    ...(plan.reasons.length ? plan.reasons.map((r) => `- ${r}`) : ['- it is a destructive action']),
    '',
    'Exactly what would run:',
    fenced(plan.details),
    '',
    `To run it: show this to the user and ask. Only if they agree, call ${plan.tool} again with exactly the same arguments plus "confirm_token": "${issued.token}".`,
    `The token is single use, works only for this exact call from this session, and expires at ${issued.expiresAt} (in ${formatDuration(issued.ttlMs)}). Changed arguments need a new token: call again without confirm_token.`,
  ];
  if (note) lines.push('', note);
  return lines.join('\n');
}

/** The message of the elicitation question. */
function question(plan: DestructivePlan): string {
  return [
    `${plan.tool} wants to run: ${plan.action}`,
    '',
    'This needs your confirmation because:',
    ...(plan.reasons.length ? plan.reasons.map((r) => `- ${r}`) : ['- it is a destructive action']),
    '',
    'Exactly what will run:',
    plan.details,
  ].join('\n');
}

const QUESTION_SCHEMA: ElicitRequestFormParams['requestedSchema'] = {
  type: 'object',
  properties: {
    confirm: {
      type: 'boolean',
      title: 'Run this?',
      description: 'Yes runs it now. No runs nothing.',
      default: false,
    },
  },
  required: ['confirm'],
};

function pending(ctx: ToolContext, plan: DestructivePlan, note?: string): Confirmation {
  const issued = ctx.confirmations.issue({ tool: plan.tool, args: plan.args, caller: ctx.caller });
  return {
    confirmed: false,
    token: issued.token,
    expiresAt: issued.expiresAt,
    ttlMs: issued.ttlMs,
    message: formatConfirmationRequired(plan, issued, note),
  };
}

/**
 * Confirms a destructive action before it runs. Confirmation turned off by the server setting → confirmed
 * (`disabled`, logged as a warning). A token given → redeemed (a ToolError when it is invalid, for another call,
 * expired or used) → confirmed (`token`). Otherwise, when the client can ask its user (elicitation): yes →
 * confirmed (`elicitation`); no or decline → ToolError `confirmation_declined`; dismissed → ToolError
 * `confirmation_cancelled`; the question itself failing (client error, timeout, not supported) → the token flow.
 * The token flow: not confirmed, with a new single-use token and the `confirmation_required` text; the caller
 * returns that as a normal result and runs nothing.
 *
 * An empty `token` counts as none. A redeemed token is used up even if the action then fails.
 */
export async function confirmDestructive(
  ctx: ToolContext,
  plan: DestructivePlan,
  token?: string,
): Promise<Confirmation> {
  const logged = { tool: plan.tool, action: plan.action, who: ctx.caller.identity, session: ctx.caller.sessionId };
  if (!ctx.config.confirm) {
    ctx.log.warn(logged, 'destructive action runs without confirmation (turned off by PGMCP_CONFIRM=false)');
    return { confirmed: true, via: 'disabled' };
  }
  if (token !== undefined && token !== '') {
    ctx.confirmations.redeem(token, { tool: plan.tool, args: plan.args, caller: ctx.caller });
    ctx.log.info({ ...logged, via: 'token' }, 'destructive action confirmed');
    return { confirmed: true, via: 'token' };
  }
  if (!ctx.elicit) return pending(ctx, plan);

  let answer: Awaited<ReturnType<NonNullable<ToolContext['elicit']>>>;
  try {
    answer = await ctx.elicit({
      mode: 'form',
      message: ctx.redact(question(plan)),
      requestedSchema: QUESTION_SCHEMA,
    });
  } catch (err) {
    // A call cancelled while the question was open runs nothing and needs no token.
    if (ctx.signal.aborted) {
      throw new ToolError('the call was cancelled while the user was being asked: nothing was run', {
        code: 'cancelled',
      });
    }
    const reason = ctx.redact(err instanceof Error ? err.message : String(err));
    ctx.log.warn({ ...logged, err: reason }, 'confirmation question failed; falling back to a confirmation token');
    return pending(ctx, plan, `(The client could not ask the user directly: ${reason})`);
  }
  if (answer.action === 'accept' && answer.content?.confirm === true) {
    ctx.log.info({ ...logged, via: 'elicitation' }, 'destructive action confirmed');
    return { confirmed: true, via: 'elicitation' };
  }
  if (answer.action === 'cancel') {
    throw new ToolError('the user dismissed the question: nothing was run; ask again if needed', {
      code: 'confirmation_cancelled',
    });
  }
  throw new ToolError('the user declined: nothing was run', {
    code: 'confirmation_declined',
    hint: 'do not retry this action unless the user asks for it',
  });
}

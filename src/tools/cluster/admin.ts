/**
 * pg_cluster_admin: changes to the cluster around PostgreSQL, one action per call, every one confirmed (elicitation or
 * a single-use token, as pg_admin), with `dry_run` giving the plan. Each component's actions live in
 * src/tools/cluster/admin/<component>.ts (see ComponentActions in admin/action.ts); this file runs them: pre-checks
 * (the plan), confirmation, the change, the verification of its outcome, timings.
 */
import { z } from 'zod';
import {
  type Confirmation,
  confirmationRequiredData,
  confirmDestructive,
  type DestructivePlan,
  formatDuration,
} from '../../safety/confirm.js';
import type { ToolContext } from '../context.js';
import { defineTool } from '../define.js';
import { ToolError } from '../errors.js';
import type { ActionDefinition, ActionPlan, ComponentActions } from './admin/action.js';
import { COMPONENTS } from './admin/components.js';
import { buildInput, type CommonArgs, commonFields, DEFAULT_TIMEOUT_SECONDS } from './admin/input.js';
import { type ClusterAdminOutput, clusterAdminOutput } from './admin/output.js';
import { renderResult, stateText, stepLines } from './admin/render.js';
import { ActionRunner, ms } from './admin/runner.js';

const TOOL = 'pg_cluster_admin';

interface Entry {
  component: ComponentActions;
  definition: ActionDefinition<Record<string, unknown>>;
}

/** Every action by name; a name used by two components is a bug. */
function actionTable(components: readonly ComponentActions[]): Map<string, Entry> {
  const table = new Map<string, Entry>();
  for (const component of components) {
    for (const [name, definition] of Object.entries(component.actions)) {
      const taken = table.get(name);
      if (taken)
        throw new Error(
          `${TOOL}: action ${name} of ${component.component} is also one of ${taken.component.component}`,
        );
      table.set(name, { component, definition });
    }
  }
  return table;
}

const ACTIONS = actionTable(COMPONENTS);
const input = buildInput(COMPONENTS, [...ACTIONS.keys()] as [string, ...string[]]);

function describeActions(): string {
  return COMPONENTS.map((c) => {
    const lines = Object.entries(c.actions).map(([name, d]) => {
      const takes = [...(d.required ?? []), ...(d.optional ?? []).map((f) => `${f}?`)];
      return `  ${name}${takes.length ? ` (${takes.join(', ')})` : ''}: ${d.description}`;
    });
    return `${c.component}:\n${lines.join('\n')}`;
  }).join('\n');
}

/** Refuses a call missing a field its action needs or giving one it does not take. */
export function checkFields(action: string, entry: Entry, args: Record<string, unknown>): void {
  const required = entry.definition.required ?? [];
  const taken = new Set<string>([...required, ...(entry.definition.optional ?? [])]);
  const missing = required.filter((f) => args[f] === undefined);
  if (missing.length) {
    throw new ToolError(`${action} needs ${missing.map((f) => `\`${f}\``).join(', ')}`, { code: 'invalid_arguments' });
  }
  const fieldsOfAll = new Set(COMPONENTS.flatMap((c) => Object.keys(c.fields)));
  const stray = Object.keys(args).filter((k) => fieldsOfAll.has(k) && !taken.has(k) && args[k] !== undefined);
  if (stray.length) {
    const takes = [...taken].join(', ') || 'no other field';
    throw new ToolError(`${action} does not take ${stray.join(', ')} (it takes ${takes})`, {
      code: 'invalid_arguments',
    });
  }
}

export const pgClusterAdmin = defineTool({
  name: TOOL,
  title: 'Operate the cluster',
  description:
    'Change the cluster around PostgreSQL, one action per call. Every action needs confirmation: the answer is then ' +
    'status confirmation_required with a confirm_token for the same call, after asking the user; `dry_run: true` ' +
    'returns the plan (pre-checks done, what is called where, what is verified after) and changes nothing. ' +
    'Pre-checks refuse a call that cannot work (an unknown member, server or database is named with the valid ones). ' +
    'After acting it waits (timeout_seconds, default 60) until the outcome shows, sends progress notifications, and ' +
    'reports verified, each check and timings. HAProxy actions need the runtime-API socket (PGMCP_HAPROXY as a ' +
    `socket path or host:port), not a stats URL. Actions, with their fields:\n${describeActions()}`,
  toolset: 'cluster-admin',
  readOnly: false,
  destructive: true,
  component: 'cluster',
  input,
  output: clusterAdminOutput,
  async handler(rawArgs, ctx) {
    const started = performance.now();
    const args = rawArgs as CommonArgs & Record<string, unknown>;
    const entry = ACTIONS.get(args.action);
    if (!entry) throw new Error(`${TOOL}: no action ${args.action}`);
    const why = await entry.component.unavailable(ctx);
    if (why) throw new ToolError(why, { code: 'not_configured' });
    checkFields(args.action, entry, args);
    const componentArgs = z.object({ ...commonFields, ...entry.component.fields }).parse(args);
    const timeoutMs = (args.timeout_seconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000;
    const plan = await entry.definition.plan({
      args: { ...componentArgs, action: args.action },
      ctx,
      timeoutMs,
    });
    const base: ClusterAdminOutput = {
      action: args.action,
      component: entry.component.component,
      target: plan.target,
      status: 'dry_run',
      dry_run: args.dry_run === true,
      summary: plan.summary,
      plan: plan.steps,
      reasons: plan.reasons,
      outcome: { before: plan.before },
      verified: null,
      checks: [],
      timings: [{ step: 'pre-checks', ms: ms(started) }],
      durationMs: 0,
      notes: plan.notes ?? [],
    };
    return carryOut(args, ctx, plan, base, started, timeoutMs);
  },
});

async function carryOut(
  args: CommonArgs & Record<string, unknown>,
  ctx: ToolContext,
  plan: ActionPlan,
  base: ClusterAdminOutput,
  started: number,
  timeoutMs: number,
): Promise<{ text: string; data: ClusterAdminOutput }> {
  const confirmPlan: DestructivePlan = {
    tool: TOOL,
    args: { ...args, ...(plan.bind ? { bound_to: plan.bind } : {}) },
    action: `${base.component} ${base.action}: ${plan.summary}`,
    reasons: plan.reasons,
    details: stepLines(plan.steps),
  };

  if (args.dry_run === true) {
    let tokenNote: string | undefined;
    // A client that cannot ask its user gets a token it can use for the real call, as with pg_admin.
    if (ctx.config.confirm && !ctx.elicit) {
      const issued = ctx.confirmations.issue({ tool: TOOL, args: confirmPlan.args, caller: ctx.caller });
      base.confirmation = confirmationRequiredData(confirmPlan, issued);
      tokenNote =
        `To run it: show this plan to the user and ask. Only if they agree, call ${TOOL} again with the same ` +
        `arguments without dry_run, plus "confirm_token": "${issued.token}" (single use, expires at ` +
        `${issued.expiresAt}, in ${formatDuration(issued.ttlMs)}).`;
    }
    base.durationMs = ms(started);
    return { text: renderResult(base, tokenNote), data: base };
  }

  const confirmation: Confirmation = await confirmDestructive(ctx, confirmPlan, args.confirm_token);
  if (!confirmation.confirmed) {
    const data: ClusterAdminOutput = {
      ...base,
      status: 'confirmation_required',
      confirmation: confirmationRequiredData(confirmPlan, confirmation),
      durationMs: ms(started),
    };
    return { text: [confirmation.message, '', 'Before:', stateText(plan.before)].join('\n'), data };
  }

  const runner = new ActionRunner(ctx, timeoutMs);
  const outcome = await plan.run(runner);
  const data: ClusterAdminOutput = {
    ...base,
    status: 'executed',
    confirmedVia: confirmation.via,
    outcome: { before: plan.before, after: outcome.after },
    verified: runner.verified,
    checks: runner.checks,
    timings: [...base.timings, ...runner.timings],
    durationMs: ms(started),
    notes: [...base.notes, ...(outcome.notes ?? [])],
  };
  return { text: renderResult(data), data };
}

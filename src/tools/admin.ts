import { markdownRecords } from '../format/markdown.js';
import {
  type Confirmation,
  confirmationRequiredData,
  confirmDestructive,
  type DestructivePlan,
  formatDuration,
} from '../safety/confirm.js';
import { type AdminAction, type AdminArgs, adminInput, checkActionArgs } from './admin/args.js';
import { planBackendSignal } from './admin/backends.js';
import { planCreateDatabase, planDropDatabase } from './admin/databases.js';
import { planGrant } from './admin/grants.js';
import { planAnalyze, planReindex, planVacuum } from './admin/maintenance.js';
import { type AdminOutput, adminOutput } from './admin/output.js';
import type { AdminPlan, PlanInput } from './admin/plan.js';
import { planAlterRole, planCreateRole, planDropRole } from './admin/roles.js';
import { AdminSession, ms, StepFailure, stepError } from './admin/session.js';
import { planReload, planSetting } from './admin/settings.js';
import { Catalog } from './admin/sql.js';
import { planResetStats } from './admin/stats.js';
import type { ToolContext } from './context.js';
import { defineTool } from './define.js';
import { ToolError } from './errors.js';
import { resolveDatabase } from './shared-args.js';

const TOOL = 'pg_admin';

const PLANNERS: Record<AdminAction, (input: PlanInput) => Promise<AdminPlan>> = {
  vacuum: planVacuum,
  analyze: planAnalyze,
  reindex: planReindex,
  cancel_backend: (i) => planBackendSignal(i, 'cancel'),
  terminate_backend: (i) => planBackendSignal(i, 'terminate'),
  set_setting: (i) => planSetting(i, false),
  reset_setting: (i) => planSetting(i, true),
  reload_config: planReload,
  create_database: planCreateDatabase,
  drop_database: planDropDatabase,
  create_role: planCreateRole,
  alter_role: planAlterRole,
  drop_role: planDropRole,
  grant: (i) => planGrant(i, false),
  revoke: (i) => planGrant(i, true),
  reset_stats: planResetStats,
};

export const pgAdmin = defineTool({
  name: TOOL,
  title: 'Administer PostgreSQL',
  description:
    'Maintenance and administration on the admin login: vacuum (full, freeze, analyze, verbose, …), analyze, reindex ' +
    '(CONCURRENTLY by default), cancel or terminate a backend, change a server setting (ALTER SYSTEM, checked against ' +
    'pg_settings, reloaded; says when a restart is needed), reset a setting, reload the configuration, create/drop a ' +
    'database, create/alter/drop a role (passwords are never shown back), grant/revoke privileges or role membership, ' +
    'reset statistics. `dry_run: true` returns the exact SQL without running it. Actions that lock, signal, drop, ' +
    'revoke or reconfigure (VACUUM FULL, REINDEX without CONCURRENTLY, cancel/terminate, settings, drop_database, ' +
    'drop_role, revoke, reset_stats, granting SUPERUSER/REPLICATION/BYPASSRLS) need confirmation: the answer is then ' +
    'status confirmation_required with a confirm_token for the same call, after asking the user. Vacuum, analyze and ' +
    'reindex run without the statement timeout and send progress notifications; cancelling the call stops them. ' +
    'VACUUM FULL and REINDEX without CONCURRENTLY give up when their lock is not granted within the lock timeout.',
  toolset: 'admin',
  readOnly: false,
  destructive: true,
  input: adminInput,
  output: adminOutput,
  async handler(args, ctx) {
    const started = performance.now();
    checkActionArgs(args);
    const database = resolveDatabase(args.database, ctx);
    const scrub = scrubber(args);
    try {
      const plan = await PLANNERS[args.action]({ args, ctx, database, catalog: new Catalog(ctx, database) });
      const out = await carryOut(args, ctx, plan, plan.connectTo ?? database, started);
      return { text: scrub(out.text), data: JSON.parse(scrub(JSON.stringify(out.data))) as AdminOutput };
    } catch (err) {
      if (err instanceof ToolError) {
        const e = new ToolError(scrub(err.message), { ...err.info });
        if (e.info.hint) e.info.hint = scrub(e.info.hint);
        if (e.info.pg) e.info.pg = JSON.parse(scrub(JSON.stringify(e.info.pg)));
        throw e;
      }
      throw err;
    }
  },
});

/**
 * A last guard for the password argument: wherever it might turn up (it never should: statements carry its hash and
 * show '****'), it is replaced. Short passwords are left alone: replacing them would garble every text.
 */
function scrubber(args: AdminArgs): (text: string) => string {
  const pw = args.password;
  if (typeof pw !== 'string' || pw.length < 6) return (t) => t;
  const json = JSON.stringify(pw).slice(1, -1);
  return (t) => t.split(pw).join('****').split(json).join('****');
}

async function carryOut(
  args: AdminArgs,
  ctx: ToolContext,
  plan: AdminPlan,
  database: string,
  started: number,
): Promise<{ text: string; data: AdminOutput }> {
  const base: AdminOutput = {
    action: args.action,
    status: 'dry_run',
    database,
    summary: plan.summary,
    plan: plan.sql,
    destructive: plan.destructive,
    durationMs: 0,
  };
  if (plan.reasons.length) base.reasons = plan.reasons;
  if (plan.facts && Object.keys(plan.facts).length) base.facts = plan.facts;
  if (plan.warnings?.length) base.warnings = [...plan.warnings];
  const confirmPlan: DestructivePlan = {
    tool: TOOL,
    args: { ...args, ...(plan.bind ? { bound_to: plan.bind } : {}) },
    action: plan.summary,
    reasons: plan.reasons,
    details: plan.sql.map((s) => `${s};`).join('\n'),
  };

  if (args.dry_run === true) {
    let tokenNote: string | undefined;
    // As with pg_execute: a client that cannot ask its user gets a token it can use for the real call.
    if (plan.destructive && ctx.config.confirm && !ctx.elicit) {
      const issued = ctx.confirmations.issue({ tool: TOOL, args: confirmPlan.args, caller: ctx.caller });
      base.confirmation = confirmationRequiredData(confirmPlan, issued);
      tokenNote =
        `To run it for real: show the plan to the user and ask. Only if they agree, call ${TOOL} again with the same ` +
        `arguments but without dry_run, plus "confirm_token": "${issued.token}" (single use, expires at ` +
        `${issued.expiresAt}, in ${formatDuration(issued.ttlMs)}).`;
    }
    base.durationMs = ms(started);
    return { text: renderText(base, tokenNote), data: base };
  }

  let confirmation: Confirmation | undefined;
  if (plan.destructive) {
    confirmation = await confirmDestructive(ctx, confirmPlan, args.confirm_token);
    if (!confirmation.confirmed) {
      const data: AdminOutput = {
        ...base,
        status: 'confirmation_required',
        confirmation: confirmationRequiredData(confirmPlan, confirmation),
        durationMs: ms(started),
      };
      return { text: [confirmation.message, ...aboutLines(data)].join('\n'), data };
    }
  }

  const session = await AdminSession.open(ctx, database, {
    unlimited: plan.unlimited === true,
    waitForLocks: plan.waitForLocks === true,
  });
  let outcome: Awaited<ReturnType<AdminPlan['run']>>;
  try {
    outcome = await plan.run(session);
  } catch (err) {
    if (err instanceof StepFailure) {
      const code = (err.error as { code?: unknown }).code;
      const hint = await plan.failureHint?.(typeof code === 'string' ? code : undefined);
      throw stepError(err, session.steps, database, hint);
    }
    throw err;
  } finally {
    await session.close();
  }
  const data: AdminOutput = { ...base, status: 'executed', durationMs: ms(started), steps: session.steps };
  if (confirmation?.confirmed) data.confirmedVia = confirmation.via;
  if (outcome.changes?.length) data.changes = outcome.changes;
  if (outcome.facts && Object.keys(outcome.facts).length) data.facts = { ...(data.facts ?? {}), ...outcome.facts };
  const warnings = [...(data.warnings ?? []), ...(outcome.warnings ?? [])];
  if (warnings.length) data.warnings = warnings;
  if (outcome.restartRequired !== undefined) data.restartRequired = outcome.restartRequired;
  return { text: renderText(data), data };
}

function fence(lines: readonly string[]): string {
  return ['```sql', ...lines.map((s) => `${s};`), '```'].join('\n');
}

function factValue(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** Facts and warnings, for every status. */
function aboutLines(data: AdminOutput): string[] {
  const lines: string[] = [];
  if (data.facts && Object.keys(data.facts).length) {
    lines.push('', 'About the target:');
    for (const [k, v] of Object.entries(data.facts)) {
      if (v && typeof v === 'object' && !Array.isArray(v)) {
        const parts = Object.entries(v as Record<string, unknown>)
          .filter(([, x]) => x !== null && x !== undefined && x !== '')
          .map(([kk, x]) => `${kk}=${factValue(x)}`);
        lines.push(`- ${k}: ${parts.join(', ')}`);
      } else {
        lines.push(`- ${k}: ${factValue(v)}`);
      }
    }
  }
  for (const w of data.warnings ?? []) lines.push(`WARNING: ${w}`);
  return lines;
}

function renderText(data: AdminOutput, tokenNote?: string): string {
  const lines: string[] = [];
  if (data.status === 'dry_run') {
    lines.push(`DRY RUN: nothing was run. ${TOOL} ${data.action} would run (database ${data.database}):`);
    lines.push(fence(data.plan));
    if (data.destructive) {
      lines.push(`Run for real, this needs confirmation: ${data.summary}`);
      for (const r of data.reasons ?? []) lines.push(`- ${r}`);
      if (tokenNote) lines.push(tokenNote);
    } else {
      for (const r of data.reasons ?? []) lines.push(`- ${r}`);
    }
  } else {
    const via = data.confirmedVia
      ? `; confirmed by ${data.confirmedVia === 'disabled' ? 'nobody (confirmation is off)' : data.confirmedVia}`
      : '';
    lines.push(`EXECUTED ${data.action}: ${data.summary} (database ${data.database}, ${data.durationMs} ms${via}).`);
    for (const s of data.steps ?? []) {
      lines.push(`- ${s.sql} — ${s.durationMs} ms${s.result ? ` → ${s.result}` : ''}`);
      for (const m of s.messages ?? []) lines.push(`  ${m}`);
    }
    if (data.changes?.length) {
      lines.push(
        markdownRecords(
          ['object', 'item', 'before', 'after'],
          data.changes.map((c) => ({ object: c.object, item: c.item, before: c.before, after: c.after })),
        ),
      );
    }
    if (data.restartRequired) lines.push('RESTART REQUIRED: settings are pending a server restart.');
  }
  lines.push(...aboutLines(data));
  return lines.join('\n');
}

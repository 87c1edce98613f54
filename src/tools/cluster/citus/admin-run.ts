/**
 * How pg_cluster_admin's Citus actions reach the coordinator: reads on a pooled connection of the admin login (the
 * pre-checks and the read-backs), the change on a dedicated connection of the admin login (AdminSession: cancelled on
 * the server when the call is, statement timeout = what is left of the call's time budget), progress notifications
 * while a long call runs, and waiting for a background rebalance job.
 */
import type pg from 'pg';
import { type RebalanceJob, RUNNING_JOB_STATES, readRebalanceStatus } from '../../../cluster/citus.js';
import type { SqlCall } from '../../../cluster/citus-calls.js';
import { connectionFailure } from '../../../db/connect-error.js';
import { connect } from '../../../db/read-query.js';
import { AdminSession, StepFailure, stepError } from '../../admin/session.js';
import type { ToolContext } from '../../context.js';
import { fromPgError, isPgServerError, ToolError } from '../../errors.js';
import type { ActionRunner } from '../admin/runner.js';

/** How often progress is read while a Citus call runs. */
export const POLL_MS = 1000;

/** Runs `fn` on a pooled connection of the admin login to the default database; server errors become ToolErrors. */
export async function withAdmin<T>(ctx: ToolContext, fn: (client: pg.ClientBase) => Promise<T>): Promise<T> {
  const database = ctx.pools.defaultDatabase;
  const client = await connect(ctx.pools.get(database, 'admin'), database);
  let broken: Error | undefined;
  try {
    return await fn(client);
  } catch (err) {
    if (err instanceof ToolError) throw err;
    if (isPgServerError(err)) throw fromPgError(err);
    broken = err as Error;
    throw connectionFailure(err, database);
  } finally {
    client.release(broken);
  }
}

/**
 * Runs one Citus call as the action's change, on a dedicated admin connection: while it runs, `poll` is asked every
 * POLL_MS for a progress message. A server error keeps every field PostgreSQL sent; `hint` says what to do then.
 */
export async function runCall(
  runner: ActionRunner,
  ctx: ToolContext,
  call: SqlCall,
  opts: { poll?: () => Promise<string | undefined>; hint?: string } = {},
): Promise<pg.QueryResult> {
  const database = ctx.pools.defaultDatabase;
  const session = await AdminSession.open(ctx, database, { unlimited: true });
  // The time budget: on a direct connection as the session's statement timeout (the connection is closed afterwards);
  // through a pooler a session setting would stay on a server connection other clients get next, so the call is
  // cancelled from here when the budget is spent (PostgreSQL's cancel request finds its way through the pooler).
  const budget = session.direct ? undefined : setTimeout(() => void session.cancel(), runner.remainingMs);
  try {
    if (session.direct) {
      await session.query('select pg_catalog.set_config($1, $2, false)', [
        'statement_timeout',
        String(runner.remainingMs),
      ]);
    }
    return await runner.act(
      call.shown,
      async () => {
        const work = session.run(call.text, { params: call.params, shown: call.shown });
        if (opts.poll) await pollWhile(runner, work, opts.poll);
        try {
          return await work;
        } catch (err) {
          if (err instanceof StepFailure) throw stepError(err, [], database, opts.hint ?? timeoutHint(err));
          throw err;
        }
      },
      opts.hint,
    );
  } finally {
    clearTimeout(budget);
    await session.close();
  }
}

function timeoutHint(err: StepFailure): string | undefined {
  const code = (err.error as { code?: string }).code;
  return code === '57014'
    ? 'it ran out of the time budget: give a larger timeout_seconds (at most 600); what Citus had not finished was rolled back'
    : undefined;
}

/** Sends `poll`'s message as progress every POLL_MS until `work` settles (messages that repeat are not sent again). */
async function pollWhile(runner: ActionRunner, work: Promise<unknown>, poll: () => Promise<string | undefined>) {
  let settled = false;
  const done = work.then(
    () => undefined,
    () => undefined,
  );
  void done.then(() => {
    settled = true;
  });
  let last: string | undefined;
  while (!settled) {
    await Promise.race([done, new Promise((r) => setTimeout(r, POLL_MS))]);
    if (settled) break;
    const message = await poll().catch(() => undefined);
    if (message && message !== last) {
      last = message;
      await runner.progress(message);
    }
  }
}

/** `done/total tasks` of a job. */
export function taskText(job: RebalanceJob): string {
  const total = Object.values(job.tasks).reduce((a, b) => a + b, 0);
  return `${job.tasks.done ?? 0}/${total} tasks done`;
}

/** A task retried this often with an error is stuck: Citus goes on retrying it, and waiting longer will not help. */
const STUCK_RETRIES = 3;

/** The error of a task that keeps failing, if one does. */
export function stuckTask(job: RebalanceJob): string | undefined {
  const t = job.running.find(
    (x) => Number(x.retried ?? 0) >= STUCK_RETRIES && String(x.message ?? '').startsWith('ERROR'),
  );
  return t
    ? `task ${t.task_id} failed ${t.retried} times and is retried again: ${String(t.message).split('\n')[0]} (${t.command}); rebalance_stop stops the job`
    : undefined;
}

/**
 * Waits until rebalance job `jobId` is over (finished, failed, cancelled), sending its task counts as progress.
 * Returns the job as last seen; `over` false when the time budget ran out first.
 */
export async function waitForJob(
  runner: ActionRunner,
  ctx: ToolContext,
  jobId: number,
  endStates: readonly string[] = ['finished'],
): Promise<{ job: RebalanceJob | null; over: boolean }> {
  let job: RebalanceJob | null = null;
  let stuck: string | undefined;
  let last = '';
  const seen = await runner.waitFor(
    `rebalance job ${jobId} is over (citus_rebalance_status)`,
    async () => {
      job = await withAdmin(ctx, readRebalanceStatus);
      if (!job || job.jobId !== jobId) return undefined;
      const message = `rebalance job ${jobId}: ${job.state}, ${taskText(job)}`;
      if (message !== last) {
        last = message;
        await runner.progress(message);
      }
      if (!RUNNING_JOB_STATES.has(job.state)) return job;
      stuck = stuckTask(job);
      if (stuck) return job;
      return undefined;
    },
    () => (job ? `${job.state}, ${taskText(job)}` : 'no such job'),
    { intervalMs: POLL_MS },
  );
  if (seen && stuck) {
    runner.check(`rebalance job ${jobId} makes progress`, false, stuck);
    return { job: seen, over: false };
  }
  if (seen) {
    const ok = endStates.includes(seen.state);
    runner.check(
      `rebalance job ${jobId} ended ${endStates.join(' or ')}`,
      ok,
      ok ? taskText(seen) : `it ended ${seen.state}: pg_citus rebalance_status shows its tasks`,
    );
  }
  return { job: seen ?? job, over: seen !== undefined };
}

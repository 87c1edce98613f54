/**
 * What the PgBouncer actions share: the console client, the target databases as SHOW DATABASES lists them, the plan
 * shape, and the read-backs (paused, server connections) that verify an outcome.
 */
import type { AdminCommand, ConsoleRow, PgbouncerClient } from '../../../cluster/pgbouncer.js';
import type { ToolContext } from '../../context.js';
import { ToolError } from '../../errors.js';
import { pgbouncerClient, reach } from '../clients.js';
import type { ActionOutcome, ActionPlan } from './action.js';
import { databasesView, findDatabase, isPaused, poolDatabases } from './pgbouncer-checks.js';
import type { ActionRunner } from './runner.js';

const WHERE = 'PgBouncer admin console';

function consoleOf(ctx: ToolContext): PgbouncerClient {
  const client = pgbouncerClient(ctx.config);
  if (!client) throw new ToolError('PgBouncer is not configured', { hint: 'set PGMCP_PGBOUNCER_URL' });
  return client;
}

export interface Current {
  client: PgbouncerClient;
  /** SHOW DATABASES of the target (one database, or every pooled one). */
  targets: ConsoleRow[];
  database: string | undefined;
}

export async function current(ctx: ToolContext, database: string | undefined): Promise<Current> {
  const client = consoleOf(ctx);
  const rows = await reach('pgbouncer', ctx, () => client.show('databases'));
  const targets = database === undefined ? poolDatabases(rows) : [findDatabase(rows, database)];
  return { client, targets, database };
}

export const scope = (c: Current) => (c.database === undefined ? 'every database' : `database ${c.database}`);
export const commandText = (command: AdminCommand, database: string | undefined) =>
  database === undefined ? command : `${command} ${database}`;

export async function serverConnections(client: PgbouncerClient, database: string | undefined): Promise<number> {
  const servers = await client.show('servers');
  return servers.filter((s) => database === undefined || s.database === database).length;
}

/** Waits until SHOW DATABASES says `database` is (or is not) paused. */
export function waitPaused(runner: ActionRunner, c: Current, paused: boolean) {
  const db = c.database as string;
  let seen: ConsoleRow | undefined;
  return runner.waitFor(
    `SHOW DATABASES: ${db} ${paused ? 'paused' : 'not paused'}`,
    async () => {
      seen = (await c.client.show('databases')).find((r) => r.name === db);
      return isPaused(seen) === paused ? seen : undefined;
    },
    () => (seen ? `paused ${seen.paused}` : `${db} is not listed`),
    { timeoutMs: 10_000 },
  );
}

export function waitNoServers(runner: ActionRunner, c: Current) {
  let left = 0;
  return runner.waitFor(
    `SHOW SERVERS: no server connection of ${scope(c)}`,
    async () => {
      left = await serverConnections(c.client, c.database);
      return left === 0 ? true : undefined;
    },
    () => `${left} server connections`,
    { timeoutMs: 10_000 },
  );
}

export async function databasesAfter(c: Current): Promise<Record<string, unknown>> {
  const rows = await c.client.show('databases');
  const names = new Set(c.targets.map((t) => t.name));
  return databasesView(rows.filter((r) => names.has(r.name)));
}

export function consolePlan(
  c: Current,
  command: AdminCommand,
  change: { summary: string; reasons: string[]; verify: string[]; notes?: string[]; bind?: Record<string, unknown> },
  run: (runner: ActionRunner) => Promise<ActionOutcome>,
): ActionPlan {
  const text = commandText(command, c.database);
  return {
    target: c.database === undefined ? 'every database' : `database ${c.database}`,
    summary: change.summary,
    reasons: change.reasons,
    steps: [
      { phase: 'check', what: `SHOW DATABASES: ${scope(c)}`, where: WHERE },
      { phase: 'act', what: text, where: WHERE },
      ...change.verify.map((what) => ({ phase: 'verify' as const, what, where: WHERE })),
    ],
    before: databasesView(c.targets),
    ...(change.bind ? { bind: change.bind } : {}),
    notes: change.notes ?? [],
    run,
  };
}

/** Runs the command itself, bounded by the call's time budget and cancellation. */
export function send(runner: ActionRunner, c: Current, command: AdminCommand) {
  return runner.act(commandText(command, c.database), () =>
    c.client.admin(command, c.database, { timeoutMs: runner.remainingMs, signal: runner.signal }),
  );
}

/**
 * PAUSE is done when no server connection of the target is left (PgBouncer 1.18 answers a PAUSE of one database at
 * once and goes on pausing while a transaction holds a server connection). When that does not happen in time, or the
 * call is cancelled, every new query of the target would hang behind a pause nobody waits for: it is undone (RESUME)
 * and the error says so.
 */
export async function pauseOrUndo(runner: ActionRunner, c: Current): Promise<void> {
  const text = commandText('PAUSE', c.database);
  try {
    await send(runner, c, 'PAUSE');
    if (!(await waitNoServers(runner, c))) {
      throw new Error(`a transaction still held a server connection after ${Math.round(runner.timeoutMs / 1000)} s`);
    }
  } catch (err) {
    let undone: string;
    try {
      await c.client.admin('RESUME', c.database);
      undone = 'the pause was undone (RESUME): nothing stays paused';
    } catch (resumeErr) {
      undone = `undoing it (RESUME) failed too (${(resumeErr as Error).message}): resume it with pgbouncer_resume`;
    }
    const cancelled = err instanceof ToolError && err.info.code === 'cancelled';
    throw new ToolError(`${text} did not complete: ${(err as Error).message}; ${undone}`, {
      code: cancelled ? 'cancelled' : 'action_failed',
      hint: 'find the long transaction (pg_pgbouncer servers, pg_monitor activity) or give a longer timeout_seconds',
    });
  }
}

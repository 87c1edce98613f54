/**
 * PgBouncer actions of pg_cluster_admin: pause, resume, reload, reconnect, kill, on the admin console (a login listed
 * in admin_users). `database` names one database of SHOW DATABASES; without it pause, resume and reconnect act on
 * every database. The outcome is read back from SHOW DATABASES (paused), SHOW SERVERS and SHOW CONFIG.
 */
import type { AdminCommand, ConsoleRow, PgbouncerClient } from '../../../cluster/pgbouncer.js';
import type { ToolContext } from '../../context.js';
import { ToolError } from '../../errors.js';
import { pgbouncerClient, reach } from '../clients.js';
import { type ActionOutcome, type ActionPlan, defineComponent } from './action.js';
import { databaseField } from './input.js';
import { databasesView, findDatabase, isPaused, poolDatabases } from './pgbouncer-checks.js';
import type { ActionRunner } from './runner.js';

const WHERE = 'PgBouncer admin console';

function consoleOf(ctx: ToolContext): PgbouncerClient {
  const client = pgbouncerClient(ctx.config);
  if (!client) throw new ToolError('PgBouncer is not configured', { hint: 'set PGMCP_PGBOUNCER_URL' });
  return client;
}

interface Current {
  client: PgbouncerClient;
  /** SHOW DATABASES of the target (one database, or every pooled one). */
  targets: ConsoleRow[];
  database: string | undefined;
}

async function current(ctx: ToolContext, database: string | undefined): Promise<Current> {
  const client = consoleOf(ctx);
  const rows = await reach('pgbouncer', ctx, () => client.show('databases'));
  const targets = database === undefined ? poolDatabases(rows) : [findDatabase(rows, database)];
  return { client, targets, database };
}

const scope = (c: Current) => (c.database === undefined ? 'every database' : `database ${c.database}`);
const commandText = (command: AdminCommand, database: string | undefined) =>
  database === undefined ? command : `${command} ${database}`;

async function serverConnections(client: PgbouncerClient, database: string | undefined): Promise<number> {
  const servers = await client.show('servers');
  return servers.filter((s) => database === undefined || s.database === database).length;
}

/** Waits until SHOW DATABASES says `database` is (or is not) paused. */
function waitPaused(runner: ActionRunner, c: Current, paused: boolean) {
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

function waitNoServers(runner: ActionRunner, c: Current) {
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

async function databasesAfter(c: Current): Promise<Record<string, unknown>> {
  const rows = await c.client.show('databases');
  const names = new Set(c.targets.map((t) => t.name));
  return databasesView(rows.filter((r) => names.has(r.name)));
}

function consolePlan(
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
function send(runner: ActionRunner, c: Current, command: AdminCommand, hint?: string) {
  const text = commandText(command, c.database);
  return runner.act(
    text,
    () => c.client.admin(command, c.database, { timeoutMs: runner.remainingMs, signal: runner.signal }),
    hint,
  );
}

/**
 * PAUSE is done when no server connection of the target is left (PgBouncer 1.18 answers a PAUSE of one database at
 * once and goes on pausing while a transaction holds a server connection). When that does not happen in time, or the
 * call is cancelled, every new query of the target would hang behind a pause nobody waits for: it is undone (RESUME)
 * and the error says so.
 */
async function pauseOrUndo(runner: ActionRunner, c: Current): Promise<void> {
  const text = commandText('PAUSE', c.database);
  try {
    await runner.act(text, () =>
      c.client.admin('PAUSE', c.database, { timeoutMs: runner.remainingMs, signal: runner.signal }),
    );
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

export const pgbouncerActions = defineComponent({
  component: 'pgbouncer',
  fields: { database: databaseField },
  unavailable: (ctx) =>
    ctx.config.cluster.pgbouncerUrl
      ? undefined
      : 'PgBouncer is not configured: set PGMCP_PGBOUNCER_URL (its admin console)',
  actions: {
    pgbouncer_pause: {
      description:
        'PAUSE `database` (absent: every database): waits for running queries, closes the server connections; new queries wait until resume',
      optional: ['database'],
      async plan({ args, ctx }) {
        const c = await current(ctx, args.database);
        if (c.database !== undefined && isPaused(c.targets[0])) {
          throw new ToolError(`database ${c.database} is already paused`, { code: 'nothing_to_do' });
        }
        const verify = [
          `SHOW SERVERS: no server connection of ${scope(c)} (not within timeout_seconds: the pause is undone)`,
        ];
        if (c.database !== undefined) verify.push(`SHOW DATABASES: ${c.database} paused`);
        return consolePlan(
          c,
          'PAUSE',
          {
            summary: `pause ${scope(c)}`,
            reasons: [
              `clients of ${scope(c)} hang on their next query until resume`,
              'the pause waits until running transactions finish (at most timeout_seconds)',
            ],
            verify,
            notes:
              c.database === undefined
                ? [
                    'PgBouncer 1.18 shows no global pause state: the pause is verified by its server connections being closed',
                  ]
                : [],
          },
          async (runner) => {
            await pauseOrUndo(runner, c);
            if (c.database !== undefined) await waitPaused(runner, c, true);
            return { after: await databasesAfter(c) };
          },
        );
      },
    },
    pgbouncer_resume: {
      description: 'RESUME `database` after a pause or kill (absent: ends a pause of every database)',
      optional: ['database'],
      async plan({ args, ctx }) {
        const c = await current(ctx, args.database);
        if (c.database !== undefined && !isPaused(c.targets[0])) {
          throw new ToolError(`database ${c.database} is not paused`, { code: 'nothing_to_do' });
        }
        const paused = c.targets.filter((t) => isPaused(t)).map((t) => String(t.name));
        return consolePlan(
          c,
          'RESUME',
          {
            summary: `resume ${scope(c)}`,
            reasons: [`clients waiting on ${scope(c)} go on; new server connections are opened`],
            verify: c.database === undefined ? [] : [`SHOW DATABASES: ${c.database} not paused`],
            notes:
              c.database === undefined && paused.length
                ? [`paused one by one, these stay paused after a RESUME of every database: ${paused.join(', ')}`]
                : [],
          },
          async (runner) => {
            await send(runner, c, 'RESUME');
            if (c.database !== undefined) await waitPaused(runner, c, false);
            else runner.check('PgBouncer took RESUME (1.18 shows no global pause state)', true);
            return { after: await databasesAfter(c) };
          },
        );
      },
    },
    pgbouncer_reload: {
      description: 'RELOAD: PgBouncer re-reads pgbouncer.ini and its auth_file; the settings that changed are listed',
      async plan({ ctx }) {
        const c = await current(ctx, undefined);
        const before = await reach('pgbouncer', ctx, () => c.client.show('config'));
        return consolePlan(
          c,
          'RELOAD',
          {
            summary: 'reload the PgBouncer configuration',
            reasons: ['changed settings take effect at once; changed database entries reconnect their pools'],
            verify: ['SHOW CONFIG answers; the settings that changed are listed'],
          },
          async (runner) => {
            await send(runner, c, 'RELOAD');
            const after = await runner.waitFor(
              'PgBouncer answers SHOW CONFIG after the reload',
              () => c.client.show('config'),
              () => 'no answer',
              { timeoutMs: 10_000 },
            );
            const changed: Record<string, unknown> = {};
            for (const row of after ?? []) {
              const old = before.find((b) => b.key === row.key);
              if (old?.value !== row.value) changed[String(row.key)] = { before: old?.value ?? null, after: row.value };
            }
            const notes = Object.keys(changed).length ? [] : ['no setting changed'];
            return { after: { changedSettings: changed }, notes };
          },
        );
      },
    },
    pgbouncer_reconnect: {
      description:
        'RECONNECT `database` (absent: every database): server connections close once released; then WAIT_CLOSE',
      optional: ['database'],
      async plan({ args, ctx }) {
        const c = await current(ctx, args.database);
        return consolePlan(
          c,
          'RECONNECT',
          {
            summary: `reconnect the server connections of ${scope(c)}`,
            reasons: ['each server connection is closed when its client releases it and opened again on demand'],
            verify: [`${commandText('WAIT_CLOSE', c.database)}: no server connection from before is left`],
          },
          async (runner) => {
            await send(runner, c, 'RECONNECT');
            await runner.waitFor(
              `${commandText('WAIT_CLOSE', c.database)}: no server connection from before is left`,
              async () => {
                await c.client.admin('WAIT_CLOSE', c.database, {
                  timeoutMs: runner.remainingMs,
                  signal: runner.signal,
                });
                return true;
              },
              () => 'a client holds a server connection in a long transaction',
            );
            return { after: await databasesAfter(c) };
          },
        );
      },
    },
    pgbouncer_kill: {
      description:
        'KILL `database`: drops its client and server connections at once; new connections wait until resume',
      required: ['database'],
      async plan({ args, ctx }) {
        const c = await current(ctx, args.database);
        const servers = await reach('pgbouncer', ctx, () => serverConnections(c.client, c.database));
        return consolePlan(
          c,
          'KILL',
          {
            summary: `kill every connection of database ${c.database}`,
            reasons: [
              `every client and server connection of ${c.database} is dropped at once: running transactions are rolled back (${servers} server connections now)`,
              `new connections to ${c.database} wait until resume`,
            ],
            verify: [
              `SHOW SERVERS: no server connection of ${scope(c)}`,
              `SHOW DATABASES: whether ${c.database} stays paused`,
            ],
          },
          async (runner) => {
            await send(runner, c, 'KILL');
            await waitNoServers(runner, c);
            const after = await databasesAfter(c);
            const row = after[c.database as string] as { paused: boolean } | undefined;
            const note = !row
              ? `PgBouncer dropped ${c.database} (a database made from a \`*\` entry): the next connection makes it again, not paused`
              : row.paused
                ? `${c.database} stays paused: new connections wait until pg_cluster_admin pgbouncer_resume`
                : `${c.database} is not paused: new connections are served at once`;
            return { after, notes: [note] };
          },
        );
      },
    },
  },
});

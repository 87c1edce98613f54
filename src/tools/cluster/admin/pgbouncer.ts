/**
 * PgBouncer actions of pg_cluster_admin: pause, resume, reload, reconnect, kill, on the admin console (a login listed
 * in admin_users). `database` names one database of SHOW DATABASES; without it pause, resume and reconnect act on
 * every database. The outcome is read back from SHOW DATABASES (paused), SHOW SERVERS and SHOW CONFIG.
 */
import { ToolError } from '../../errors.js';
import { reach } from '../clients.js';
import { defineComponent } from './action.js';
import { databaseField } from './input.js';
import { isPaused } from './pgbouncer-checks.js';
import {
  commandText,
  consolePlan,
  current,
  databasesAfter,
  pauseOrUndo,
  scope,
  send,
  serverConnections,
  waitNoServers,
  waitPaused,
} from './pgbouncer-run.js';

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

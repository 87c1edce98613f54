/** Pre-checks of the PgBouncer actions on SHOW DATABASES rows (pure: unit-tested on captured output). */
import type { ConsoleRow } from '../../../cluster/pgbouncer.js';
import { ToolError } from '../../errors.js';

/** The admin console's own virtual database: never paused, killed or reconnected. */
export const CONSOLE_DATABASE = 'pgbouncer';

/** The databases an action may name (the console's own left out). */
export function poolDatabases(rows: readonly ConsoleRow[]): ConsoleRow[] {
  return rows.filter((r) => r.name !== CONSOLE_DATABASE);
}

/** The row of `name`, or a ToolError naming the databases there are (PgBouncer would create one from a `*` entry). */
export function findDatabase(rows: readonly ConsoleRow[], name: string): ConsoleRow {
  if (name === CONSOLE_DATABASE) {
    throw new ToolError('pgbouncer is the admin console itself: name a pooled database', { code: 'invalid_arguments' });
  }
  const row = rows.find((r) => r.name === name);
  if (row) return row;
  const names = poolDatabases(rows).map((r) => String(r.name));
  throw new ToolError(
    `unknown database ${name}: PgBouncer has ${names.length ? names.join(', ') : 'no pooled database yet'}`,
    {
      code: 'not_found',
      hint: 'a database served by a `*` entry appears in SHOW DATABASES once a client has used it (pg_pgbouncer databases)',
    },
  );
}

export const isPaused = (row: ConsoleRow | undefined) => Number(row?.paused ?? 0) === 1;

/** The state of the databases an action is about, by name. */
export function databasesView(rows: readonly ConsoleRow[]): Record<string, unknown> {
  return Object.fromEntries(
    rows.map((r) => [
      String(r.name),
      {
        target: `${r.host ?? ''}:${r.port ?? ''}/${r.database ?? ''}`,
        paused: isPaused(r),
        disabled: Number(r.disabled ?? 0) === 1,
        connections: r.current_connections ?? null,
      },
    ]),
  );
}

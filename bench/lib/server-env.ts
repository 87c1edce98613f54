import { type PgConnectionInfo, pgEnv } from '../../test/support/postgres-server.js';

/** What every spawned server gets from this process: nothing else of its environment leaks into the measurements. */
export const BASE_ENV: Record<string, string> = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: process.env.HOME ?? '/tmp',
};

/** The environment of a pgmcp server spawned against `server`: BASE_ENV, its PG* variables, then `extra`. */
export function serverEnv(server: PgConnectionInfo, extra: Record<string, string> = {}): Record<string, string> {
  return { ...BASE_ENV, ...pgEnv(server), ...extra };
}

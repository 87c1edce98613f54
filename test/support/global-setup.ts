/**
 * vitest globalSetup: makes sure PostgreSQL 15 (+ contrib, hypopg) is installed, starts one shared throwaway server
 * for the whole run and hands its connection to the tests as `inject('pg')`. Test files that change global state
 * should work in their own database: `createTestDatabase(inject('pg'), 'name')`.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { pgDepsPresent, startPostgres } from './postgres-server.js';

const ensureScript = fileURLToPath(new URL('../../scripts/ensure-test-deps.sh', import.meta.url));

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (!pgDepsPresent()) {
    const r = spawnSync('bash', [ensureScript], { stdio: 'inherit' });
    if (r.status !== 0 || !pgDepsPresent()) {
      throw new Error(`PostgreSQL 15 test dependencies are missing and ${ensureScript} could not install them`);
    }
  }
  const started = Date.now();
  const server = await startPostgres({ name: 'shared' });
  try {
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    try {
      await client.query('create extension if not exists pg_stat_statements');
    } finally {
      await client.end();
    }
  } catch (err) {
    await server.stop();
    throw err;
  }
  if (process.env.PGMCP_TEST_VERBOSE) {
    console.error(`[global-setup] PostgreSQL on 127.0.0.1:${server.port} in ${Date.now() - started} ms`);
  }
  project.provide('pg', {
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    database: server.database,
    url: server.url,
    dataDir: server.dataDir,
    logFile: server.logFile,
  });
  return () => server.stop();
}

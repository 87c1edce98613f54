/**
 * A pooled connection that the server ends while it is idle is logged as a warning; once pgmcp is closing its pools,
 * that is expected (pg-pool's end() settles before its clients' connections are gone; an embedded server stopped
 * right after ends them) and is only a debug line.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { resolveConfig } from '../../src/config/resolve.js';
import { PoolManager } from '../../src/db/pools.js';
import { captureLog } from '../support/log-capture.js';
import { createTestDatabase, pgEnv, type TestDatabase } from '../support/postgres-server.js';
import { until } from './http-helpers.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase(inject('pg'), 'pools_closing');
});

afterAll(async () => {
  await db?.drop();
});

describe('idle connection errors', () => {
  it('warns when the server ends an idle pooled connection while pgmcp runs', async () => {
    const { config } = resolveConfig({ env: pgEnv(db) });
    const { log, lines } = captureLog('debug');
    const pools = new PoolManager(config, log);
    try {
      const pool = pools.get();
      const { rows } = await pool.query<{ pid: number }>('select pg_backend_pid() as pid');
      const killer = new pg.Client({
        host: db.host,
        port: db.port,
        user: db.user,
        password: db.password,
        database: db.database,
      });
      await killer.connect();
      try {
        await killer.query('select pg_terminate_backend($1)', [rows[0]?.pid]);
      } finally {
        await killer.end();
      }
      await until(() => lines.some((l) => l.msg === 'idle connection error'));
      expect(lines.find((l) => l.msg === 'idle connection error')?.level).toBe(40);
    } finally {
      await pools.close();
    }
  });

  it('logs it at debug level only once the pools are closing', async () => {
    const { config } = resolveConfig({ env: pgEnv(db) });
    const { log, lines } = captureLog('debug');
    const pools = new PoolManager(config, log);
    const pool = pools.get();
    await pool.query('select 1');
    const closing = pools.close();
    // What a client ended by the server during the close delivers to the pool.
    pool.emit('error', new Error('terminating connection due to administrator command'));
    await closing;
    expect(lines.filter((l) => l.level >= 40)).toEqual([]);
    expect(lines.find((l) => l.msg === 'idle connection error while closing')?.level).toBe(20);
  });
});

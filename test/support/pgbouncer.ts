/**
 * A throwaway PgBouncer for tests, in front of a test PostgreSQL: its own configuration in a temporary directory, a
 * free loopback port, SCRAM authentication with the given logins, run as the `postgres` OS user when we are root
 * (PgBouncer refuses root), stopped by its pid (also when the test process exits without calling stop()).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ensureClusterDeps } from './cluster.js';
import { freePort } from './postgres-server.js';

const PGBOUNCER = '/usr/sbin/pgbouncer';

export interface BouncerOptions {
  /** The PostgreSQL server every database is routed to. */
  server: { host: string; port: number };
  /** Logins PgBouncer accepts (and uses towards the server). */
  logins: { user: string; password: string }[];
  /** Default `transaction`. */
  poolMode?: 'transaction' | 'session';
  /** `ignore_startup_parameters`; default none (a stock PgBouncer). */
  ignoreStartupParameters?: string[];
  /** A short label for the directory name. */
  name?: string;
  /** The loopback port to listen on; default a free one. */
  port?: number;
}

export interface TestBouncer {
  host: '127.0.0.1';
  port: number;
  /** PgBouncer's own log. */
  logFile: string;
  /** Stops it (SIGTERM: immediate shutdown; SIGKILL after 3 s) and deletes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

/** The postgres OS user's ids when we are root (PgBouncer refuses to run as root), else undefined. */
function postgresIds(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const uid = id('-u');
  const gid = id('-g');
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error('cannot resolve the postgres OS user');
  return { uid, gid };
}

function writeOwned(file: string, text: string, ids: { uid: number; gid: number } | undefined): void {
  writeFileSync(file, text, { mode: 0o600 });
  if (ids) chownSync(file, ids.uid, ids.gid);
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Starts a PgBouncer (installing it first when missing) and waits until it accepts connections. */
export async function startPgBouncer(opts: BouncerOptions): Promise<TestBouncer> {
  if (!existsSync(PGBOUNCER)) ensureClusterDeps();
  const ids = postgresIds();
  const dir = mkdtempSync(`/tmp/pgmcp-bouncer-${(opts.name ?? 'test').replace(/[^A-Za-z0-9_-]/g, '_')}-`);
  if (ids) chownSync(dir, ids.uid, ids.gid);
  const port = opts.port ?? (await freePort());
  const logFile = path.join(dir, 'pgbouncer.log');
  const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;
  writeOwned(
    path.join(dir, 'userlist.txt'),
    opts.logins.map((l) => `${quote(l.user)} ${quote(l.password)}\n`).join(''),
    ids,
  );
  const ignored = opts.ignoreStartupParameters ?? [];
  writeOwned(
    path.join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=${opts.server.host} port=${opts.server.port}`,
      '',
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = scram-sha-256',
      `auth_file = ${path.join(dir, 'userlist.txt')}`,
      `pool_mode = ${opts.poolMode ?? 'transaction'}`,
      'max_client_conn = 100',
      // Above pgmcp's own pool: in session pooling each of its connections holds a server connection.
      'default_pool_size = 20',
      'server_login_retry = 1',
      ...(ignored.length > 0 ? [`ignore_startup_parameters = ${ignored.join(',')}`] : []),
      `logfile = ${logFile}`,
      '',
    ].join('\n'),
    ids,
  );
  const out = openSync(path.join(dir, 'pgbouncer.out'), 'a', 0o600);
  const child = spawn(PGBOUNCER, [path.join(dir, 'pgbouncer.ini')], {
    cwd: dir,
    stdio: ['ignore', out, out],
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: dir, LC_ALL: 'C.UTF-8', TZ: 'UTC' },
    ...(ids ?? {}),
  });
  const onExit = () => child.kill('SIGKILL');
  process.on('exit', onExit);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.off('exit', onExit);
    const gone = exited(child);
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await gone;
    clearTimeout(timer);
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      const said = [logFile, path.join(dir, 'pgbouncer.out')]
        .filter((f) => existsSync(f))
        .map((f) => readFileSync(f, 'utf8'))
        .join('\n')
        .trim();
      await stop();
      throw new Error(`PgBouncer did not start on 127.0.0.1:${port}${said ? `:\n${said}` : ''}`);
    }
    await sleep(50);
  }
  return { host: '127.0.0.1', port, logFile, stop };
}

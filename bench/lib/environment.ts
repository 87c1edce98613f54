/** What the numbers were measured on. */
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BINARY, BUNDLE, root } from './paths.js';

export interface Environment {
  date: string;
  host: {
    cpuModel: string;
    cores: number;
    /** The CPUs this run (and every process it starts) may use, as Linux lists them: fewer than `cores` when pinned. */
    cpusAllowed?: string | null;
    memTotalMb: number;
    kernel: string;
    loadAvgAtStart: number[];
  };
  runner: { runtime: string; version: string };
  versions: {
    node: string;
    bun: string | null;
    postgres: string | null;
    mcpSdk: string | null;
    pg: string | null;
    referenceServer: string | null;
  };
  pgmcp: {
    version: string | null;
    commit: string | null;
    dirty: boolean | null;
    bundleBytes: number | null;
    binaryBytes: number | null;
  };
}

function tryRun(cmd: string, args: string[], cwd?: string): string | null {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

function pkgVersion(file: string): string | null {
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? null;
  } catch {
    return null;
  }
}

function size(file: string): number | null {
  try {
    return statSync(file).size;
  } catch {
    return null;
  }
}

function cpuModel(): string {
  const fromOs = os.cpus()[0]?.model;
  if (fromOs) return fromOs.trim();
  try {
    return /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The CPUs this process may run on (`taskset -c 0 npm run bench` pins the whole run, children included). */
function cpusAllowed(): string | null {
  try {
    return /^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]?.trim() ?? null;
  } catch {
    return null;
  }
}

export interface EnvironmentInput {
  root: string;
  bun: string;
  bundle: string;
  binary: string;
  referencePackageJson: string;
  postgresVersion: string | null;
}

export function describeEnvironment(input: EnvironmentInput): Environment {
  const { root } = input;
  // The bench's own outputs (a previous run's summary.md) are not changes to what is measured.
  const status = tryRun('git', ['status', '--porcelain', '--untracked-files=no', '--', '.', ':!bench/results'], root);
  const bunVersion = (globalThis as { Bun?: { version: string } }).Bun?.version;
  return {
    date: new Date().toISOString(),
    host: {
      cpuModel: cpuModel(),
      cores: os.cpus().length,
      cpusAllowed: cpusAllowed(),
      memTotalMb: Math.round(os.totalmem() / 1048576),
      kernel: `${os.type()} ${os.release()}`,
      loadAvgAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
    },
    runner: bunVersion ? { runtime: 'bun', version: bunVersion } : { runtime: 'node', version: process.version },
    versions: {
      node: tryRun('node', ['--version']) ?? process.version,
      bun: tryRun(input.bun, ['--version']),
      postgres: input.postgresVersion,
      mcpSdk: pkgVersion(path.join(root, 'node_modules/@modelcontextprotocol/sdk/package.json')),
      pg: pkgVersion(path.join(root, 'node_modules/pg/package.json')),
      referenceServer: pkgVersion(input.referencePackageJson),
    },
    pgmcp: {
      version: pkgVersion(path.join(root, 'package.json')),
      commit: tryRun('git', ['rev-parse', '--short', 'HEAD'], root),
      dirty: status === null ? null : status.length > 0,
      bundleBytes: size(input.bundle),
      binaryBytes: size(input.binary),
    },
  };
}

/**
 * The environment of a bench that measures pgmcp alone (no reference server): the server version asked from
 * `client`, the repository's executables.
 */
export async function describePgmcpEnvironment(client: {
  query<R>(sql: string): Promise<{ rows: R[] }>;
}): Promise<Environment> {
  const version = (await client.query<{ v: string }>("select current_setting('server_version') as v")).rows[0]?.v;
  return describeEnvironment({
    root,
    bun: path.join(root, 'node_modules/.bin/bun'),
    bundle: BUNDLE,
    binary: BINARY,
    referencePackageJson: path.join(root, 'bench/.cache/none/package.json'),
    postgresVersion: version ?? null,
  });
}

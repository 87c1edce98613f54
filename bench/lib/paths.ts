/** Where the bench finds the repository, the built executables and its results directory. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The pgmcp repository around the working directory (the benches are run from inside it). */
function findRoot(): string {
  let dir = process.cwd();
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'pgmcp') return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('run from inside the pgmcp repository');
    dir = up;
  }
}

export const root = findRoot();
export const BINARY = path.join(root, 'dist/pgmcp-linux-x64');
export const BUNDLE = path.join(root, 'dist/pgmcp.cjs');
export const RESULTS_DIR = path.join(root, 'bench/results');

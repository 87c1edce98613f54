/** The repository's built executables as the spawn tests run them, and a promise-returning execFile to run them with. */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

export const root = path.resolve(import.meta.dirname, '../..');
/** The npm package's entry (the launcher running dist/pgmcp-main.cjs). */
export const BUNDLE = path.join(root, 'dist/pgmcp.cjs');
export const BINARY = path.join(root, 'dist/pgmcp-linux-x64');

export const run = promisify(execFile);

/** Throws, naming the first missing file and how to make it, unless every file exists. */
export function requireFiles(files: readonly string[], how = '`npm test` builds it (npm run build:all)'): void {
  for (const f of files) {
    if (!existsSync(f)) throw new Error(`${f} is missing: ${how}`);
  }
}

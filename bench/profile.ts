/**
 * Where a pgmcp call (or start) spends its CPU time: runs pgmcp from source under the project's bun (the binary's
 * runtime, with readable function names, unlike the minified binary) with `--cpu-prof`, drives it with the SDK
 * client, and sums the samples by code area and function.
 *
 *   node <bundled profile.mjs> [--mode calls|startup] [--calls 3000] [--starts 10]
 *
 * (bundled like run.ts: esbuild bench/profile.ts --bundle --platform=node --format=esm --packages=external
 *  --outfile=node_modules/.cache/pgmcp-bench/profile.mjs). Writes bench/results/profile-MODE.md and prints it.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startPostgres } from '../test/support/postgres-server.js';
import { type CpuProfile, type ProfileSummary, type Row, summarizeProfile } from './lib/cpuprofile.js';
import { root } from './lib/paths.js';
import { cpuMs } from './lib/proc.js';
import { serverEnv } from './lib/server-env.js';
import { startServer } from './lib/spawn-server.js';

const { values: opts } = parseArgs({
  options: {
    mode: { type: 'string', default: 'calls' },
    calls: { type: 'string', default: '3000' },
    starts: { type: 'string', default: '10' },
  },
});

const log = (line: string) => process.stderr.write(`${line}\n`);

/** Rows with self and total time per unit (a call: µs; a start: ms). */
function table(rows: Row[], units: number, unit: 'call' | 'start'): string[] {
  const scale = unit === 'call' ? 1000 : 1;
  const label = unit === 'call' ? 'µs' : 'ms';
  const per = (v: number) => ((v * scale) / units).toFixed(1);
  return [
    `| self ${label}/${unit} | total ${label}/${unit} | where |`,
    '|---:|---:|---|',
    ...rows.map((r) => `| ${per(r.selfMs)} | ${per(r.totalMs)} | \`${r.name}\` |`),
  ];
}

function merge(summaries: ProfileSummary[]): ProfileSummary {
  const sum = (pick: (s: ProfileSummary) => Row[]) => {
    const m = new Map<string, Row>();
    for (const s of summaries) {
      for (const r of pick(s)) {
        const cur = m.get(r.name) ?? { name: r.name, selfMs: 0, totalMs: 0 };
        cur.selfMs += r.selfMs;
        cur.totalMs += r.totalMs;
        m.set(r.name, cur);
      }
    }
    return [...m.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, 25);
  };
  return {
    busyMs: summaries.reduce((a, s) => a + s.busyMs, 0),
    idleMs: summaries.reduce((a, s) => a + s.idleMs, 0),
    byFunction: sum((s) => s.byFunction),
    byArea: sum((s) => s.byArea),
  };
}

async function main(): Promise<void> {
  const mode = opts.mode === 'startup' ? 'startup' : 'calls';
  const calls = Number(opts.calls);
  const starts = Number(opts.starts);
  const bun = path.join(root, 'node_modules/.bin/bun');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgmcp-prof-'));
  const pgServer = await startPostgres({ name: 'prof', preload: [] });
  try {
    const env = serverEnv(pgServer);
    const spec = {
      id: 'source',
      label: 'pgmcp from source under bun',
      command: bun,
      args: ['--cpu-prof', '--cpu-prof-interval=250', `--cpu-prof-dir=${dir}`, path.join(root, 'src/cli.ts'), 'serve'],
      env,
      tool: 'pg_query',
      toolArgs: (sql: string) => ({ sql }),
    };
    const lines: string[] = [];
    if (mode === 'calls') {
      const s = await startServer(spec);
      for (let i = 0; i < 300; i++) await s.query('select 1');
      const cpu0 = cpuMs(s.pid);
      const t0 = performance.now();
      for (let i = 0; i < calls; i++) await s.query('select 1');
      const wall = performance.now() - t0;
      const cpu1 = cpuMs(s.pid);
      await s.close();
      const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
      const file = files[0];
      if (!file) throw new Error(`no profile written in ${dir}`);
      const summary = summarizeProfile(JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as CpuProfile, root);
      const serverCpu = cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null;
      lines.push(
        '## Profile: one `pg_query select 1` call, pgmcp from source under bun',
        '',
        `${calls} calls after 300 warm-up (the profile covers the whole process: start, warm-up and calls; ${calls + 300} calls in all). ` +
          `Wall time per call ${(wall / calls).toFixed(3)} ms; server CPU per call (utime+stime) ` +
          `${serverCpu === null ? '?' : (serverCpu / calls).toFixed(3)} ms. Profile: ${summary.busyMs.toFixed(0)} ms busy, ${summary.idleMs.toFixed(0)} ms idle.`,
        '',
        '### By code area (self time; total = inclusive)',
        '',
        ...table(summary.byArea, calls + 300, 'call'),
        '',
        '### By function',
        '',
        ...table(summary.byFunction, calls + 300, 'call'),
        '',
      );
    } else {
      const summaries: ProfileSummary[] = [];
      const ready: number[] = [];
      for (let i = 0; i < starts; i++) {
        const s = await startServer(spec);
        ready.push(s.readyMs);
        await s.close();
      }
      for (const f of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
        summaries.push(summarizeProfile(JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as CpuProfile, root));
      }
      const summary = merge(summaries);
      ready.sort((a, b) => a - b);
      lines.push(
        '## Profile: start-up (spawn → initialize → tools/list → stdin closed), pgmcp from source under bun',
        '',
        `${summaries.length} starts; median spawn→tools/list ${ready[Math.floor(ready.length / 2)]?.toFixed(1)} ms from source ` +
          '(bun transpiles the TypeScript on load here, which the bytecode-compiled binary does not: treat "native" as inflated).',
        '',
        '### By code area (self time summed over all starts; total = inclusive)',
        '',
        ...table(summary.byArea, summaries.length, 'start'),
        '',
        '### By function',
        '',
        ...table(summary.byFunction, summaries.length, 'start'),
        '',
      );
    }
    const text = lines.join('\n');
    mkdirSync(path.join(root, 'bench/results'), { recursive: true });
    writeFileSync(path.join(root, `bench/results/profile-${mode}.md`), text);
    process.stdout.write(text);
  } finally {
    await pgServer.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(`profile failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);

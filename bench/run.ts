/**
 * pgmcp benchmarks: startup, per-call latency, server memory and a 5,000,000-row statement, for the node bundle
 * (dist/pgmcp.cjs), the compiled binary (dist/pgmcp-linux-x64) and the archived reference server
 * (@modelcontextprotocol/server-postgres), against direct node-postgres baselines measured in the same run.
 *
 *   npm run bench [-- --name NAME] [-- --quick]
 *
 * Runs under node (the usual runtime of MCP clients): the npm script bundles this file with esbuild into
 * node_modules/.cache/pgmcp-bench/run.mjs (dependencies external; not under bench/, which biome lints) and runs that.
 * Starts and stops its own throwaway PostgreSQL 15. Installs the reference server
 * into bench/.cache/ref (gitignored) on first use. Writes bench/results/NAME.json and bench/results/summary.md and
 * prints the summary on stdout (progress goes to stderr).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { loadModule, parseSync } from 'libpg-query';
import pg from 'pg';
import { ReadFlight } from '../src/db/read-flight.js';
import { startInProcess } from '../test/support/mcp-client.js';
import { startPostgres } from '../test/support/postgres-server.js';
import { pagedBigResults, wholeBigResultRaw, wholeBigResultSdk } from './lib/big-result.js';
import { describeEnvironment } from './lib/environment.js';
import { type LatencyPlan, measureLatency, type Target } from './lib/latency.js';
import { BINARY, BUNDLE, RESULTS_DIR, root } from './lib/paths.js';
import { cpuMs, jitCpuMs, readMem } from './lib/proc.js';
import { type RawSession, rawStart } from './lib/raw-stdio.js';
import { type LatencyKind, type LatencyResult, type Results, renderSummary } from './lib/report.js';
import { BASE_ENV, serverEnv } from './lib/server-env.js';
import { type RunningServer, type ServerSpec, startServer } from './lib/spawn-server.js';
import { measureStartup } from './lib/startup.js';
import { ratio, round, summarize } from './lib/stats.js';

const REFERENCE_PACKAGE = '@modelcontextprotocol/server-postgres';
const REFERENCE_VERSION = '0.6.2';
const BIG_SQL = 'select g, md5(g::text) from generate_series(1, 5000000) g';

const { values: opts } = parseArgs({
  options: {
    name: { type: 'string' },
    quick: { type: 'boolean', default: false },
  },
});

const log = (line: string) => process.stderr.write(`${line}\n`);

const BUN = path.join(root, 'node_modules/.bin/bun');
/** The floor of the per-call series (bench/lib/relay-server.ts), run under BUN. */
const RELAY = path.join(root, 'bench/lib/relay-server.ts');
const RELAY_ID = 'raw-relay';
const REF_DIR = path.join(root, 'bench/.cache/ref');
const REF_PKG_DIR = path.join(REF_DIR, 'node_modules', REFERENCE_PACKAGE);
const NODE = (globalThis as { Bun?: unknown }).Bun ? 'node' : process.execPath;

/** The reference server, installed with npm into bench/.cache/ref (outside the project's dependency tree). */
function ensureReference(): string {
  const pkgJson = path.join(REF_PKG_DIR, 'package.json');
  const installed = existsSync(pkgJson) && JSON.parse(readFileSync(pkgJson, 'utf8')).version === REFERENCE_VERSION;
  if (!installed) {
    log(`installing ${REFERENCE_PACKAGE}@${REFERENCE_VERSION} into ${path.relative(root, REF_DIR)} …`);
    mkdirSync(REF_DIR, { recursive: true });
    // --prefix with --no-save/--no-package-lock: only REF_DIR/node_modules is written (no manifest for linters to see).
    execFileSync(
      'npm',
      [
        'install',
        '--prefix',
        REF_DIR,
        '--no-save',
        '--no-package-lock',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
        `${REFERENCE_PACKAGE}@${REFERENCE_VERSION}`,
      ],
      { cwd: REF_DIR, stdio: ['ignore', 'ignore', 'inherit'] },
    );
  }
  const bin = (JSON.parse(readFileSync(pkgJson, 'utf8')) as { bin: Record<string, string> }).bin;
  const entry = Object.values(bin)[0];
  if (!entry) throw new Error(`${REFERENCE_PACKAGE} has no bin`);
  return path.join(REF_PKG_DIR, entry);
}

function defaultName(): string {
  const d = new Date().toISOString().replace(/:/g, '').replace(/\..*$/, 'Z');
  return `linux-x64-${d}`;
}

async function main(): Promise<void> {
  const started = performance.now();
  const name = opts.name ?? defaultName();
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`--name: letters, digits, . _ - only: ${name}`);
  for (const f of [BUNDLE, BINARY]) {
    if (!existsSync(f)) throw new Error(`${f} is missing: build first (npm run build:all)`);
  }
  const referenceEntry = ensureReference();
  const quick = opts.quick ?? false;
  const startupRuns = quick ? 3 : 20;
  const plan: LatencyPlan & { draws: number } = quick
    ? { draws: 1, warmup: 30, rounds: 2, perRound: 50, roundWarmup: 5 }
    : { draws: 4, warmup: 2500, rounds: 7, perRound: 40, roundWarmup: 5 };
  const bigRepeats = quick ? 1 : 5;
  const bigTimeoutMs = quick ? 120_000 : 300_000;

  log('starting PostgreSQL 15 …');
  const server = await startPostgres({ name: 'bench', preload: [] });
  const running: RunningServer[] = [];
  const rawSessions: RawSession[] = [];
  const direct = new pg.Client({ connectionString: server.url });
  /** The per-call series' direct connections, new in each draw. */
  const drawConnections: (pg.Client | pg.Pool)[] = [];
  try {
    await direct.connect();
    const pgVersion =
      (await direct.query<{ v: string }>("select current_setting('server_version') as v")).rows[0]?.v ?? null;
    const environment = describeEnvironment({
      root,
      bun: BUN,
      bundle: BUNDLE,
      binary: BINARY,
      referencePackageJson: path.join(REF_PKG_DIR, 'package.json'),
      postgresVersion: pgVersion,
    });

    const pgEnv = serverEnv(server);
    const pgQueryArgs = (sql: string) => ({ sql });
    const specs: ServerSpec[] = [
      {
        id: 'binary',
        label: 'pgmcp binary (bun)',
        command: BINARY,
        args: ['serve'],
        env: pgEnv,
        tool: 'pg_query',
        toolArgs: pgQueryArgs,
      },
      {
        id: 'bundle',
        label: 'pgmcp node bundle',
        command: NODE,
        args: [BUNDLE, 'serve'],
        env: pgEnv,
        tool: 'pg_query',
        toolArgs: pgQueryArgs,
      },
      {
        id: 'reference',
        label: `reference server-postgres ${REFERENCE_VERSION} (node)`,
        command: NODE,
        args: [referenceEntry, server.url],
        env: BASE_ENV,
        tool: 'query',
        toolArgs: (sql: string) => ({ sql }),
      },
    ];
    const spec = (id: string) => specs.find((s) => s.id === id) as ServerSpec;

    // 1. Startup -------------------------------------------------------------------------------------------------
    log(`startup: ${startupRuns} runs × ${specs.length} servers × (SDK client, raw line reader)`);
    const startupSamples = await measureStartup(specs, startupRuns, log);
    const refSamples = startupSamples.get('reference');
    const refSdkReady = summarize(refSamples?.readyMs ?? []).median;
    const refRawReady = summarize(refSamples?.rawReadyMs ?? []).median;
    const startup: Results['startup'] = {};
    for (const s of specs) {
      const o = startupSamples.get(s.id);
      if (!o) continue;
      const rawReady = summarize(o.rawReadyMs, 2);
      const sdkReady = summarize(o.readyMs, 2);
      startup[s.id] = {
        label: s.label,
        serverReady: {
          initializeMs: summarize(o.rawInitializeMs, 2),
          readyMs: rawReady,
          tools: o.rawToolCount,
          toolsWithOutputSchema: o.rawOutputSchemas,
          listBytes: o.rawListBytes,
          errors: o.rawErrors,
          ratioToReference: ratio(rawReady.median, refRawReady),
        },
        sdkClient: {
          initializeMs: summarize(o.initializeMs, 2),
          listToolsMs: summarize(o.listToolsMs, 2),
          readyMs: sdkReady,
          tools: o.toolCount,
          errors: o.errors,
          ratioToReference: ratio(sdkReady.median, refSdkReady),
        },
        rssAfterStartMb: summarize(o.rssMb, 1),
        hwmAfterStartMb: summarize(o.hwmMb, 1),
      };
    }

    // 2. Per-call latency + 3. memory --------------------------------------------------------------------------------
    // In draws: each draw starts every server anew and opens new direct connections, then runs the interleaved rounds.
    // Where the scheduler puts a process or a backend relative to the others (the same core or not) stays for its
    // lifetime and moves a round trip by tens of percent on this 2-core machine (two direct connections measured in
    // the same rounds differ by up to 40%): one set of processes is one draw of that, and the series pools several.
    // Each draw warms every path up first: the binary's per-call median falls from ≈ 0.74 ms over its first 500 calls
    // to ≈ 0.40 ms after 2,500 while bun's JIT compiles its hot path; the JIT goes on compiling after that (its threads'
    // CPU is kept apart below).
    const memory: Results['memory'] = {};
    const kinds = new Map<string, LatencyKind>();
    const labels = new Map<string, string>();
    /** Every draw's timed samples, per path. */
    const all = new Map<string, number[]>();
    /** The bench process's CPU per timed call, summed over the draws (divided by their number below). */
    const clientCpuSum = new Map<string, number>();
    /** Server CPU over the timed rounds and the requests answered in them, summed over the draws. */
    const serverCpu = new Map<string, { ms: number; jitMs: number; requests: number }>();
    const draws: Results['draws'] = [];
    // The same server code in this process, SDK Client ↔ McpServer over an in-memory transport: the tool pipeline
    // without the process boundary (audit lines to /dev/null so that they do not flood this process's stderr).
    const inProcess = await startInProcess(serverEnv(server, { PGMCP_AUDIT_FILE: '/dev/null' }));
    await loadModule();
    const specIds = specs.map((s) => s.id);
    /** The SDK-client server of a spec in the current draw (the last draw's once the loop is over). */
    const srv = (id: string) => running.find((r) => r.spec.id === id) as RunningServer;
    for (let d = 0; d < plan.draws; d++) {
      const lastDraw = d === plan.draws - 1;
      log(`per-call latency, draw ${d + 1}/${plan.draws}: starting servers and connections`);
      for (const s of specs) {
        const r = await startServer(s);
        running.push(r);
        await r.query('select 1');
        if (d === 0) memory[s.id] = { label: s.label, afterStartup: readMem(r.pid), afterCalls: null };
      }
      // The same servers once more, each driven by the minimal line client (no client-side validation).
      const raw = new Map<string, RawSession>();
      for (const s of specs) {
        const session = await rawStart(s.command, s.args, s.env);
        raw.set(s.id, session);
        rawSessions.push(session);
      }
      const rawCall = async (s: ServerSpec) => {
        const { line } = await (raw.get(s.id) as RawSession).request(
          'tools/call',
          { name: s.tool, arguments: s.toolArgs('select 1') },
          30_000,
        );
        if (!line.head.includes('"result"') || line.head.includes('"isError":true')) {
          throw new Error(`${s.label}: select 1 failed: ${line.head.slice(0, 300)}`);
        }
      };
      // The floor: a bare relay under the binary's runtime (bench/lib/relay-server.ts), driven like the raw sessions.
      const relay = await rawStart(BUN, [RELAY], serverEnv(server));
      rawSessions.push(relay);
      const client = new pg.Client({ connectionString: server.url });
      const pool1 = new pg.Pool({ connectionString: server.url, max: 1 });
      drawConnections.push(client, pool1);
      await client.connect();
      const flight = async () => {
        const f = new ReadFlight({ sql: 'select 1', params: [], offset: 0, limit: 100, maxBytes: 1 << 20 });
        client.query(f as unknown as pg.QueryConfig);
        await f.done;
      };
      /** Requests each spawned server answered in this draw's timed rounds, for CPU time per request. */
      const served = new Map<string, number>();
      const target = (id: string, label: string, kind: LatencyKind, call: () => Promise<unknown>): Target => {
        kinds.set(id, kind);
        labels.set(id, label);
        served.set(id, 0);
        return {
          id,
          label,
          call: () => {
            served.set(id, (served.get(id) ?? 0) + 1);
            return call();
          },
        };
      };
      const cpuBefore = new Map<string, { all: number | null; jit: number | null }>();
      /**
       * CPU time per request is taken over the timed rounds, after the warm-up; bun's JIT still compiles then (its
       * threads' share is kept apart).
       */
      const pidOf = (id: string) => (id === RELAY_ID ? relay.pid : srv(id).pid);
      const startCpuCount = (counted: (id: string) => string, ids: string[]) => () => {
        for (const id of ids) {
          cpuBefore.set(id, { all: cpuMs(pidOf(id)), jit: jitCpuMs(pidOf(id)) });
          served.set(counted(id), 0);
        }
      };
      const addServerCpu = (counted: (id: string) => string, ids: string[]) => {
        for (const id of ids) {
          const before = cpuBefore.get(id);
          const after = cpuMs(pidOf(id));
          const jitAfter = jitCpuMs(pidOf(id));
          const key = counted(id);
          const n = served.get(key) ?? 0;
          if (before?.all == null || after === null || n === 0) continue;
          const jit = before.jit === null || jitAfter === null ? 0 : jitAfter - before.jit;
          const sum = serverCpu.get(key) ?? { ms: 0, jitMs: 0, requests: 0 };
          serverCpu.set(key, { ms: sum.ms + (after - before.all), jitMs: sum.jitMs + jit, requests: sum.requests + n });
        }
      };
      const callTargets: Target[] = [
        target('direct-pg', "direct pg: Client.query('select 1')", 'baseline', () => client.query('select 1')),
        target('direct-pg-pool', "direct pg: Pool(max 1).query('select 1')", 'baseline', () => pool1.query('select 1')),
        target(
          'direct-pg-read-flight',
          "direct pg: pgmcp's read batch (BEGIN READ ONLY; select 1; ROLLBACK; unlock; DEALLOCATE; 1 round trip)",
          'component',
          flight,
        ),
        target('parse', "libpg-query parseSync('select 1') (in this node process)", 'component', async () =>
          parseSync('select 1'),
        ),
        target(
          'in-process',
          'pgmcp in this node process: SDK Client ↔ McpServer in memory, pg_query select 1 (no stdio)',
          'component',
          () => inProcess.call('pg_query', { sql: 'select 1' }),
        ),
        ...specs.map((s) =>
          target(s.id, `${s.label}: ${s.tool} select 1`, 'server', () => srv(s.id).query('select 1')),
        ),
        ...specs.map((s) =>
          target(`raw-${s.id}`, `${s.label}: ${s.tool} select 1, raw client`, 'raw', () => rawCall(s)),
        ),
        target(
          RELAY_ID,
          "floor: a bare stdio relay under bun (line in → pg Client.query('select 1') → line out; no MCP, no checks), raw client",
          'raw',
          () => relay.request('tools/call', {}, 30_000),
        ),
      ];
      log(`per-call latency: ${plan.rounds} rounds × ${plan.perRound} calls × ${callTargets.length} paths`);
      const callSamples = await measureLatency(
        callTargets,
        plan,
        log,
        startCpuCount((id) => id, [...specIds, RELAY_ID]),
      );
      addServerCpu((id) => id, [...specIds, RELAY_ID]);
      if (lastDraw) {
        for (const s of specs) {
          const m = memory[s.id];
          if (m) m.afterCalls = readMem(srv(s.id).pid);
        }
      }
      const pingTargets = [
        ...specs.map((s) =>
          target(`ping-${s.id}`, `${s.label}: MCP ping (transport floor)`, 'ping', () => srv(s.id).client.ping()),
        ),
        ...specs.map((s) =>
          target(`raw-ping-${s.id}`, `${s.label}: MCP ping, raw client`, 'raw-ping', () =>
            (raw.get(s.id) as RawSession).request('ping', {}, 30_000),
          ),
        ),
      ];
      log('MCP ping over stdio');
      const pingSamples = await measureLatency(
        pingTargets,
        plan,
        log,
        startCpuCount((id) => `ping-${id}`, specIds),
      );
      addServerCpu((id) => `ping-${id}`, specIds);
      for (const measured of [callSamples, pingSamples]) {
        for (const [id, samples] of measured.samples) all.set(id, [...(all.get(id) ?? []), ...samples]);
        for (const [id, cpu] of measured.clientCpuMs) clientCpuSum.set(id, (clientCpuSum.get(id) ?? 0) + cpu);
      }
      const median = (id: string) => summarize(callSamples.samples.get(id) ?? []).median;
      const drawn = {
        directPgMs: round(median('direct-pg'), 3),
        directPoolMs: round(median('direct-pg-pool'), 3),
        binaryMs: round(median('binary'), 3),
        rawBinaryMs: round(median('raw-binary'), 3),
        referenceMs: round(median('reference'), 3),
        relayMs: round(median(RELAY_ID), 3),
      };
      draws.push(drawn);
      log(
        `  draw ${d + 1}: direct ${drawn.directPgMs} ms, binary ${ratio(drawn.binaryMs, drawn.directPgMs)}× (SDK client), ` +
          `${ratio(drawn.rawBinaryMs, drawn.directPgMs)}× (raw client)`,
      );
      if (!lastDraw) {
        // The last draw's servers stay up for the warm 5M-row statement below.
        for (const r of running.splice(0)) await r.close();
        for (const r of rawSessions.splice(0)) await r.close();
      }
    }
    await inProcess.close();
    // The big statement once more on the last draw's warm servers (≈ 1,100 requests served): memory after a realistic
    // session.
    const bigWarm: Results['bigResult']['warm'] = {};
    for (const id of ['binary', 'bundle']) {
      log(`5M rows on the warm ${spec(id).label}`);
      const r = srv(id);
      const t0 = performance.now();
      try {
        const res = await r.query(BIG_SQL, bigTimeoutMs);
        const data = res.structuredContent as { rowCount?: number } | undefined;
        bigWarm[id] = {
          label: spec(id).label,
          ms: round(performance.now() - t0, 1),
          rowsInPage: data?.rowCount ?? null,
          mem: readMem(r.pid),
        };
      } catch (err) {
        bigWarm[id] = {
          label: spec(id).label,
          ms: null,
          rowsInPage: null,
          mem: readMem(r.pid),
          error: (err as Error).message,
        };
      }
    }
    for (const r of running.splice(0)) await r.close();
    for (const r of rawSessions.splice(0)) await r.close();

    const clientCpu = new Map([...clientCpuSum].map(([id, sum]) => [id, sum / plan.draws]));
    const cpuPerRequest = new Map([...serverCpu].map(([id, c]) => [id, c.ms / c.requests]));
    const jitPerRequest = new Map([...serverCpu].map(([id, c]) => [id, c.jitMs / c.requests]));
    const directMedian = summarize(all.get('direct-pg') ?? []).median;
    const poolMedian = summarize(all.get('direct-pg-pool') ?? []).median;
    const latency: Record<string, LatencyResult> = {};
    for (const [id, samples] of all) {
      const s = summarize(samples);
      const cpu = cpuPerRequest.get(id);
      const jit = jitPerRequest.get(id);
      const client = clientCpu.get(id);
      latency[id] = {
        label: labels.get(id) ?? id,
        kind: kinds.get(id) ?? 'server',
        ms: s,
        ratioToDirectPg: ratio(s.median, directMedian),
        ratioToPool: ratio(s.median, poolMedian),
        clientCpuMsPerRequest: client === undefined ? null : round(client, 3),
        ...(cpu === undefined ? {} : { serverCpuMsPerRequest: round(cpu, 3) }),
        ...(jit ? { serverJitCpuMsPerRequest: round(jit, 3) } : {}),
      };
    }

    // 4. 5,000,000 rows ------------------------------------------------------------------------------------------------
    log(
      `5M rows: fresh pgmcp binary and bundle, ${bigRepeats} rounds, with direct pg (the same read batch) as baseline`,
    );
    const big = await pagedBigResults([spec('binary'), spec('bundle')], BIG_SQL, bigRepeats, bigTimeoutMs, async () => {
      const f = new ReadFlight({ sql: BIG_SQL, params: [], offset: 0, limit: 100, maxBytes: 1 << 20 });
      direct.query(f as unknown as pg.QueryConfig);
      await f.done;
    });
    const bigPgmcp: Results['bigResult']['pgmcp'] = {};
    for (const [id, b] of big.servers) {
      bigPgmcp[id] = { label: spec(id).label, ...b, firstPage: summarize(b.firstPageMs, 1) };
    }
    const bigFlightMs = big.baselineMs;
    const ref = spec('reference');
    log(`5M rows: ${ref.label}, SDK client with default settings (timeout ${bigTimeoutMs / 1000} s)`);
    const refSdk = await wholeBigResultSdk(ref, BIG_SQL, bigTimeoutMs);
    log(`5M rows: ${ref.label}, raw line reader (timeout ${bigTimeoutMs / 1000} s)`);
    const refRaw = await wholeBigResultRaw(
      ref.command,
      ref.args,
      ref.env,
      ref.tool,
      ref.toolArgs(BIG_SQL),
      bigTimeoutMs,
    );

    const bin = latency.binary?.ms.median;
    const rawBin = latency['raw-binary']?.ms.median;
    const rawRef = latency['raw-reference']?.ms.median;
    const results: Results = {
      name,
      environment,
      plan: { startupRuns, latency: plan, bigRepeats, bigSql: BIG_SQL, bigTimeoutMs },
      startup,
      latency,
      draws,
      memory,
      bigResult: {
        baseline: {
          label: "direct pg: pgmcp's read batch, first 100 rows (+1) through a row-limited portal",
          ms: summarize(bigFlightMs, 1),
        },
        pgmcp: bigPgmcp,
        warm: bigWarm,
        reference: { label: ref.label, runs: [refSdk, refRaw] },
      },
      verdicts: {
        binaryPerCallMedianWithin3xDirectPg: bin === undefined ? null : bin <= 3 * directMedian,
        binaryPerCallMedianBelowReference:
          bin === undefined || !latency.reference ? null : bin < latency.reference.ms.median,
        binaryPerCallMedianWithin3xDirectPgRawClient: rawBin === undefined ? null : rawBin <= 3 * directMedian,
        binaryPerCallMedianBelowReferenceRawClient:
          rawBin === undefined || rawRef === undefined ? null : rawBin < rawRef,
        ...startupVerdicts(startup),
        binaryBigResultPeakUnder200Mb: underCap(bigPgmcp.binary),
        bundleBigResultPeakUnder200Mb: underCap(bigPgmcp.bundle),
        binaryWarmPeakUnder200Mb: bigWarm.binary?.mem ? bigWarm.binary.mem.hwmMb < 200 : null,
        bundleWarmPeakUnder200Mb: bigWarm.bundle?.mem ? bigWarm.bundle.mem.hwmMb < 200 : null,
      },
      durationS: Math.round((performance.now() - started) / 1000),
    };
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(path.join(RESULTS_DIR, `${name}.json`), `${JSON.stringify(results, null, 2)}\n`);
    const summary = renderSummary(results);
    writeFileSync(path.join(RESULTS_DIR, 'summary.md'), summary);
    process.stdout.write(summary);
    log(`wrote bench/results/${name}.json and bench/results/summary.md (${results.durationS} s)`);
  } finally {
    for (const r of running) await r.close();
    for (const r of rawSessions) await r.close();
    await direct.end().catch(() => undefined);
    for (const c of drawConnections) await c.end().catch(() => undefined);
    await server.stop();
  }
}

/** Startup medians below the reference server's: server readiness (raw reader) and through the SDK client. */
function startupVerdicts(startup: Results['startup']) {
  const ref = startup.reference;
  const below = (id: string, way: 'serverReady' | 'sdkClient') => {
    const s = startup[id];
    return s && ref ? s[way].readyMs.median < ref[way].readyMs.median : null;
  };
  return {
    binaryServerReadyMedianBelowReference: below('binary', 'serverReady'),
    bundleServerReadyMedianBelowReference: below('bundle', 'serverReady'),
    binarySdkStartupMedianBelowReference: below('binary', 'sdkClient'),
    bundleSdkStartupMedianBelowReference: below('bundle', 'sdkClient'),
  };
}

function underCap(b: { after: { hwmMb: number } | null; error?: string } | undefined): boolean | null {
  if (!b || b.error || !b.after) return null;
  return b.after.hwmMb < 200;
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);

/** The results file's shape and its markdown summary. */
import type { PagedBigResult, WholeBigResult } from './big-result.js';
import type { Environment } from './environment.js';
import type { LatencyPlan } from './latency.js';
import type { Mem } from './proc.js';
import { ratio, type Summary } from './stats.js';

export interface StartupResult {
  label: string;
  /**
   * Server readiness, raw line reader: initialize, notifications/initialized and tools/list written right after the
   * spawn; spawn → the initialize answer read (initializeMs), spawn → the tools/list answer read (readyMs).
   */
  serverReady: {
    initializeMs: Summary;
    readyMs: Summary;
    tools: number | null;
    /** Tools in the tools/list answer that declare an outputSchema (the SDK client compiles a validator for each). */
    toolsWithOutputSchema: number | null;
    /** Size of the tools/list answer, bytes. */
    listBytes: number | null;
    errors: string[];
    /** readyMs median / the reference server's. */
    ratioToReference: number | null;
  };
  /**
   * The SDK Client + StdioClientTransport: spawn → connect() returned (initialize answered, initialized sent;
   * initializeMs), then listTools() (listToolsMs, including the client compiling a validator for every tool's
   * outputSchema), spawn → listTools() returned (readyMs).
   */
  sdkClient: {
    initializeMs: Summary;
    listToolsMs: Summary;
    readyMs: Summary;
    tools: number | null;
    errors: string[];
    /** readyMs median / the reference server's. */
    ratioToReference: number | null;
  };
  /** VmRSS / VmHWM right after the SDK client's listTools(). */
  rssAfterStartMb: Summary;
  hwmAfterStartMb: Summary;
}

/**
 * server / ping: through the SDK Client (client-side validation included); raw / raw-ping: through a minimal JSON-RPC
 * line client (bench/lib/raw-stdio.ts), which leaves out client-side work: the server's own latency.
 */
export type LatencyKind = 'baseline' | 'component' | 'server' | 'ping' | 'raw' | 'raw-ping';

export interface LatencyResult {
  label: string;
  kind: LatencyKind;
  ms: Summary;
  /** median / direct pg Client median. */
  ratioToDirectPg: number | null;
  /** median / direct pg Pool(1) median. */
  ratioToPool: number | null;
  /**
   * Spawned servers: CPU time (user + system, all threads) the server process used per request it answered, from
   * /proc/<pid>/stat over the timed rounds of every draw (10 ms tick resolution over ≥ 1000 requests).
   */
  serverCpuMsPerRequest?: number | null;
  /** Of serverCpuMsPerRequest, what bun's JIT compiler threads used (absent when none: node, older runs). */
  serverJitCpuMsPerRequest?: number;
  /**
   * CPU time of the bench process itself per timed call (the client side: SDK client, stdio, result validation; for
   * direct pg the driver; for the in-process path client and server together).
   */
  clientCpuMsPerRequest: number | null;
}

export interface DrawResult {
  directPgMs: number;
  directPoolMs: number;
  /** pgmcp binary through the SDK client / the raw line client. */
  binaryMs: number;
  rawBinaryMs: number;
  referenceMs: number;
  /** The bare relay (bench/lib/relay-server.ts) through the raw line client; absent in runs before it was measured. */
  relayMs?: number;
}

export interface MemoryResult {
  label: string;
  afterStartup: Mem | null;
  afterCalls: Mem | null;
}

export interface Results {
  name: string;
  environment: Environment;
  plan: {
    startupRuns: number;
    /** draws: the per-call series runs once per draw, on servers and direct connections started anew. */
    latency: LatencyPlan & { draws: number };
    bigRepeats: number;
    bigSql: string;
    bigTimeoutMs: number;
  };
  startup: Record<string, StartupResult>;
  latency: Record<string, LatencyResult>;
  /** Medians of each draw of the per-call series on its own (`latency` pools every draw's samples). */
  draws: DrawResult[];
  memory: Record<string, MemoryResult>;
  bigResult: {
    /** PostgreSQL's own time to the first page, without MCP. */
    baseline: { label: string; ms: Summary };
    /** pgmcp on fresh servers (one `select 1` before). */
    pgmcp: Record<string, PagedBigResult & { label: string; firstPage: Summary }>;
    /**
     * pgmcp once on the servers of the per-call series' last draw, after their ≈ 1,100 requests (calls and pings);
     * mem.hwmMb = peak over the session.
     */
    warm: Record<
      string,
      { label: string; ms: number | null; rowsInPage: number | null; mem: Mem | null; error?: string }
    >;
    reference: { label: string; runs: WholeBigResult[] };
  };
  verdicts: {
    /** Through the SDK Client (its own request/result validation included). */
    binaryPerCallMedianWithin3xDirectPg: boolean | null;
    binaryPerCallMedianBelowReference: boolean | null;
    /** Through the minimal line client: the server's latency without client-side work. */
    binaryPerCallMedianWithin3xDirectPgRawClient: boolean | null;
    binaryPerCallMedianBelowReferenceRawClient: boolean | null;
    /** Server readiness (raw line reader) median below the reference server's. */
    binaryServerReadyMedianBelowReference: boolean | null;
    bundleServerReadyMedianBelowReference: boolean | null;
    /** spawn → initialize → listTools() through the SDK client, median below the reference server's. */
    binarySdkStartupMedianBelowReference: boolean | null;
    bundleSdkStartupMedianBelowReference: boolean | null;
    binaryBigResultPeakUnder200Mb: boolean | null;
    bundleBigResultPeakUnder200Mb: boolean | null;
    binaryWarmPeakUnder200Mb: boolean | null;
    bundleWarmPeakUnder200Mb: boolean | null;
  };
  durationS: number;
}

const ms = (v: number | null | undefined, digits = 3) =>
  v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits);
const x = (v: number | null | undefined) => (v === null || v === undefined ? '–' : `${v.toFixed(2)}×`);
const mbs = (v: number | null | undefined) => (v === null || v === undefined ? '–' : `${v.toFixed(1)}`);
const yes = (v: boolean | null) => (v === null ? 'n/a' : v ? 'yes' : 'no');

/** Two baselines that do the same work (pg Client and Pool(max 1), one `select 1`) within this much of each other. */
const STEADY_WITHIN = 0.1;

/**
 * Whether the per-call series ran steadily: its two direct baselines do almost the same work, so their medians differ
 * by a few percent when nothing else competes for the CPUs and their processes land alike. When they do not, other
 * work competed, or the connections landed on different cores (the draws show how much that moves a round trip):
 * the ratios of the run say more about the machine than about the servers.
 */
function steadiness(r: Results): string {
  const client = r.latency['direct-pg']?.ms.median;
  const pool = r.latency['direct-pg-pool']?.ms.median;
  if (client === undefined || pool === undefined) return '- steadiness of the per-call series: n/a';
  const apart = Math.abs(pool / client - 1);
  const verdict =
    apart <= STEADY_WITHIN
      ? 'steady'
      : '**not steady**: other work competed for the CPUs or the connections landed on different cores (see the draws): the ratios above are less reliable';
  return `- steadiness of the per-call series: the two direct baselines (Client, Pool(max 1): the same query) are ${Math.round(apart * 100)}% apart (steady within ${STEADY_WITHIN * 100}%): ${verdict}`;
}

/** Each draw's own medians: how far apart fresh sets of processes and connections land. */
function drawTable(r: Results): string[] {
  return [
    "Each draw on its own (medians, ms; × = ÷ that draw's direct pg Client):",
    '',
    '| draw | direct pg Client | direct pg Pool(1) | bare relay, raw client | binary, SDK client | binary, raw client | reference, SDK client |',
    '|---:|---:|---:|---:|---:|---:|---:|',
    ...r.draws.map((d, i) => {
      const vsDirect = (v: number) => `${ms(v)} (${x(ratio(v, d.directPgMs))})`;
      const relay = d.relayMs === undefined ? '–' : vsDirect(d.relayMs);
      return `| ${i + 1} | ${ms(d.directPgMs)} | ${ms(d.directPoolMs)} | ${relay} | ${vsDirect(d.binaryMs)} | ${vsDirect(d.rawBinaryMs)} | ${vsDirect(d.referenceMs)} |`;
    }),
  ];
}

/** Text safe inside a markdown table cell: one line, no column separators. */
const cell = (text: string, max = 160) => (text.split('\n')[0] ?? '').replace(/\|/g, '/').slice(0, max);

/** One verdict line on startup: both pgmcp builds against the reference server, medians and ratios. */
function startupVerdict(
  r: Results,
  way: 'serverReady' | 'sdkClient',
  what: string,
  binaryBelow: boolean | null,
  bundleBelow: boolean | null,
): string {
  const med = (id: string) => ms(r.startup[id]?.[way].readyMs.median, 0);
  const rat = (id: string) => x(r.startup[id]?.[way].ratioToReference);
  return (
    `- startup, ${what}, median below the reference server (${med('reference')} ms): ` +
    `binary **${yes(binaryBelow)}** (${med('binary')} ms, ${rat('binary')}), ` +
    `node bundle **${yes(bundleBelow)}** (${med('bundle')} ms, ${rat('bundle')})`
  );
}

export function renderSummary(r: Results): string {
  const e = r.environment;
  const lines: string[] = [];
  const allCpus = e.host.cores === 1 ? '0' : `0-${e.host.cores - 1}`;
  const pinned = e.host.cpusAllowed && e.host.cpusAllowed !== allCpus ? e.host.cpusAllowed : undefined;
  lines.push(`## Performance (bench run \`${r.name}\`)`, '');
  lines.push(
    `Measured ${e.date.slice(0, 10)} on ${e.host.cpuModel}, ${e.host.cores} cores, ${e.host.kernel}; ` +
      `${pinned ? `**the whole run pinned to CPU${/[-,]/.test(pinned) ? 's' : ''} ${pinned}** (client, servers and PostgreSQL share it); ` : ''}` +
      `node ${e.versions.node}, bun ${e.versions.bun ?? '?'}, PostgreSQL ${e.versions.postgres ?? '?'} on the same host ` +
      `(loopback TCP); client: @modelcontextprotocol/sdk ${e.versions.mcpSdk ?? '?'} \`Client\` + ` +
      `\`StdioClientTransport\` under ${e.runner.runtime} ${e.runner.version}; pgmcp ${e.pgmcp.version ?? '?'} @ ${e.pgmcp.commit ?? '?'}` +
      `${e.pgmcp.dirty ? ' (working tree had uncommitted changes)' : ''}; reference: @modelcontextprotocol/server-postgres ` +
      `${e.versions.referenceServer ?? '?'}.`,
    '',
    '> This is a shared, noisy 2-core machine: absolute times move from run to run (and PostgreSQL shares the cores). ' +
      'Compare the ratios, which are taken against baselines measured in the same run, interleaved with the servers.',
    '',
  );

  const schemas = (id: string) => {
    const w = r.startup[id]?.serverReady;
    const kb = w?.listBytes == null ? '?' : (w.listBytes / 1024).toFixed(1);
    return `${w?.toolsWithOutputSchema ?? '?'} of ${w?.tools ?? '?'} tools, ${kb} KB of tools/list`;
  };
  lines.push(
    `### Startup (${r.plan.startupRuns} runs per server and way, all interleaved)`,
    '',
    '**Server readiness** is spawn → `initialize`, `notifications/initialized` and `tools/list` written at once as ' +
      'JSON lines → the `tools/list` answer read off the pipe (raw line reader); **through the SDK client** is what an ' +
      'SDK-based client waits for: `connect()` (spawn → `initialize` answered), then `listTools()`, which also ' +
      "compiles an AJV validator for every tool's `outputSchema` in the client before it returns " +
      `(output schemas: pgmcp ${schemas('binary')}; reference server ${schemas('reference')}), so that column ` +
      "includes client-side work that grows with the server's schemas.",
    '',
    '| server | ready median ms | p90 ms | min ms | initialize answered, median ms | vs reference |',
    '|---|---:|---:|---:|---:|---:|',
  );
  for (const s of Object.values(r.startup)) {
    const w = s.serverReady;
    lines.push(
      `| ${s.label} | ${ms(w.readyMs.median, 1)} | ${ms(w.readyMs.p90, 1)} | ${ms(w.readyMs.min, 1)} | ${ms(w.initializeMs.median, 1)} | ${x(w.ratioToReference)} |`,
    );
    if (w.errors.length > 0)
      lines.push(`|  ↳ ${w.errors.length} failed start(s): ${cell(w.errors[0] ?? '')} | | | | | |`);
  }
  lines.push(
    '',
    '| server (SDK client) | total median ms | p90 ms | min ms | connect (initialize) median ms | listTools median ms | vs reference | RSS after start (MB) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const s of Object.values(r.startup)) {
    const w = s.sdkClient;
    lines.push(
      `| ${s.label} | ${ms(w.readyMs.median, 1)} | ${ms(w.readyMs.p90, 1)} | ${ms(w.readyMs.min, 1)} | ${ms(w.initializeMs.median, 1)} | ${ms(w.listToolsMs.median, 1)} | ${x(w.ratioToReference)} | ${mbs(s.rssAfterStartMb.median)} |`,
    );
    if (w.errors.length > 0)
      lines.push(`|  ↳ ${w.errors.length} failed start(s): ${cell(w.errors[0] ?? '')} | | | | | | | |`);
  }
  lines.push('');

  const p = r.plan.latency;
  const n = p.draws * p.rounds * p.perRound;
  lines.push(
    `### Per call: \`select 1\` (${n} timed calls each: ${p.draws} draws of fresh servers and connections, each ${p.warmup} warm-up calls then ${p.rounds} interleaved rounds of ${p.perRound})`,
    '',
    '| path | median ms | p90 ms | p99 ms | × direct pg | × pg.Pool(1) | client CPU ms/call | server CPU ms/call |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  );
  const order: LatencyKind[] = ['baseline', 'component', 'server', 'ping', 'raw', 'raw-ping'];
  for (const kind of order) {
    for (const l of Object.values(r.latency).filter((v) => v.kind === kind)) {
      lines.push(
        `| ${l.label} | ${ms(l.ms.median)} | ${ms(l.ms.p90)} | ${ms(l.ms.p99)} | ${x(l.ratioToDirectPg)} | ${x(l.ratioToPool)} | ${ms(l.clientCpuMsPerRequest)} | ${ms(l.serverCpuMsPerRequest)} |`,
      );
    }
  }
  lines.push(
    '',
    'CPU columns: the bench process (client side) and the spawned server process (all threads, from /proc/<pid>/stat, ' +
      '10 ms ticks over ≥ 1000 requests) per timed request; CPU above the wall time means work on other threads ' +
      '(JIT, GC) or in the kernel. Rows marked "raw client" are the same servers (separate processes) driven by a ' +
      'minimal JSON-RPC line client instead of the SDK Client: what is left is the server, the pipes and PostgreSQL.',
    '',
  );
  lines.push(...drawTable(r), '');
  const L = r.latency;
  const direct = L['direct-pg']?.ms.median;
  const flight = L['direct-pg-read-flight']?.ms.median;
  const inProcess = L['in-process']?.ms.median;
  for (const id of ['binary', 'bundle']) {
    const call = L[id];
    const ping = L[`ping-${id}`];
    if (!call || !ping || flight === undefined) continue;
    const rest = call.ms.median - ping.ms.median - flight;
    lines.push(
      `- Where ${call.label.split(':')[0]}'s ${ms(call.ms.median)} ms go (medians, so only roughly additive): ` +
        `${ms(ping.ms.median)} ms stdio + JSON-RPC round trip (MCP ping), ${ms(flight)} ms PostgreSQL work ` +
        `(pgmcp's read batch, direct; a bare \`select 1\` is ${ms(direct)} ms), ≈${ms(rest)} ms the tool pipeline in ` +
        'JavaScript on both sides (SDK request/result validation, zod input/output schemas, parse + read guard + ' +
        `fingerprint, result shaping, audit line). CPU per pg_query: server ${ms(call.serverCpuMsPerRequest)} ms ` +
        (call.serverJitCpuMsPerRequest
          ? `(of which ${ms(call.serverJitCpuMsPerRequest)} ms on the JIT compiler's threads) `
          : '') +
        `(per ping ${ms(ping.serverCpuMsPerRequest)}), client ${ms(call.clientCpuMsPerRequest)} ms ` +
        `(per ping ${ms(ping.clientCpuMsPerRequest)}).`,
    );
  }
  if (inProcess !== undefined) {
    lines.push(
      `- The same pipeline in one node process without stdio (in-memory transport) takes ${ms(inProcess)} ms per call.`,
    );
  }
  const relay = L['raw-relay'];
  const rawBinary = L['raw-binary'];
  if (relay && rawBinary) {
    lines.push(
      `- The floor: a bare stdio relay under bun (one line in, \`pg.Client.query('select 1')\`, one line out; no MCP, ` +
        `no checks, no transaction) takes ${ms(relay.ms.median)} ms, ${x(relay.ratioToDirectPg)} direct pg, with ` +
        `${ms(relay.serverCpuMsPerRequest)} ms CPU per call: what a process between client and database costs on this ` +
        `machine before it does anything. pgmcp binary over the same raw client: ${ms(rawBinary.ms.median)} ms, ` +
        `${x(ratio(rawBinary.ms.median, relay.ms.median))} the relay.`,
    );
  }
  lines.push('');

  lines.push('### Server memory (VmRSS / VmHWM of the spawned process, MB)', '');
  lines.push(
    '| server | RSS after startup (+1 call) | RSS after the calls | peak (HWM) after the calls |',
    '|---|---:|---:|---:|',
  );
  for (const m of Object.values(r.memory)) {
    lines.push(
      `| ${m.label} | ${mbs(m.afterStartup?.rssMb)} | ${mbs(m.afterCalls?.rssMb)} | ${mbs(m.afterCalls?.hwmMb)} |`,
    );
  }
  lines.push('');

  lines.push(
    `### 5,000,000 rows: \`${r.plan.bigSql}\``,
    '',
    '| server | what comes back | time (median) ms | server peak RSS (VmHWM) MB | outcome |',
    '|---|---|---:|---:|---|',
  );
  const base = r.bigResult.baseline;
  lines.push(`| ${base.label} | first page | ${ms(base.ms.median, 0)} | – | baseline (${base.ms.n} runs) |`);
  for (const b of Object.values(r.bigResult.pgmcp)) {
    const what =
      b.rowsInPage === null ? '–' : `first page: ${b.rowsInPage} rows${b.truncated ? ', truncated + nextOffset' : ''}`;
    const outcome = b.error
      ? `error: ${cell(b.error)}`
      : `ok (${b.firstPage.n} runs, p90 ${ms(b.firstPage.p90, 0)} ms)`;
    lines.push(
      `| ${b.label}, fresh process | ${what} | ${ms(b.firstPage.median, 0)} | ${mbs(b.after?.hwmMb)} | ${outcome} |`,
    );
  }
  for (const w of Object.values(r.bigResult.warm)) {
    const what = w.rowsInPage === null ? '–' : `first page: ${w.rowsInPage} rows`;
    const outcome = w.error ? `error: ${cell(w.error)}` : 'ok (1 run; peak is over the whole session)';
    lines.push(
      `| ${w.label}, after the per-call series | ${what} | ${ms(w.ms, 0)} | ${mbs(w.mem?.hwmMb)} | ${outcome} |`,
    );
  }
  for (const w of r.bigResult.reference.runs) {
    const how =
      w.client === 'sdk-default'
        ? 'all rows as one JSON text, read by the SDK client (defaults)'
        : 'all rows as one JSON text, read by a raw line reader';
    const size = w.responseBytes ? ` (${(w.responseBytes / 1048576).toFixed(0)} MB answer)` : '';
    const outcome = w.outcome === 'ok' ? `ok${size}` : `${w.outcome}: ${cell(w.error ?? '')}`;
    lines.push(`| ${r.bigResult.reference.label} | ${how} | ${ms(w.ms, 0)} | ${mbs(w.hwmMb)} | ${outcome} |`);
  }
  lines.push('');

  const v = r.verdicts;
  lines.push(
    '### Verdicts',
    '',
    `- binary per-call median ≤ 3× direct pg, SDK client: **${yes(v.binaryPerCallMedianWithin3xDirectPg)}**; raw client: **${yes(v.binaryPerCallMedianWithin3xDirectPgRawClient)}**`,
    `- binary per-call median below the reference server, SDK client: **${yes(v.binaryPerCallMedianBelowReference)}**; raw client: **${yes(v.binaryPerCallMedianBelowReferenceRawClient)}**`,
    startupVerdict(
      r,
      'serverReady',
      'server readiness (raw reader)',
      v.binaryServerReadyMedianBelowReference,
      v.bundleServerReadyMedianBelowReference,
    ),
    startupVerdict(
      r,
      'sdkClient',
      'through the SDK client (connect + listTools)',
      v.binarySdkStartupMedianBelowReference,
      v.bundleSdkStartupMedianBelowReference,
    ),
    `- peak RSS under 200 MB on the 5M-row statement, fresh process: binary **${yes(v.binaryBigResultPeakUnder200Mb)}**, node bundle **${yes(v.bundleBigResultPeakUnder200Mb)}**; ` +
      `after the per-call series: binary **${yes(v.binaryWarmPeakUnder200Mb)}**, node bundle **${yes(v.bundleWarmPeakUnder200Mb)}**`,
    steadiness(r),
    '',
    `Raw numbers: \`bench/results/${r.name}.json\`; reproduce with \`npm run bench\` (about ${Math.ceil(r.durationS / 60)} min).`,
    '',
  );
  return lines.join('\n');
}

/**
 * The HTTP gateway under load: 32 concurrent MCP sessions (real SDK clients over StreamableHTTPClientTransport), each
 * making 500 sequential `pg_query` calls, against direct node-postgres with a pool of the same size (32 workers × 500
 * `pool.query` calls) in the same run. Throughput, per-call p50/p90/p99, errors, the gateway's RSS before, during and
 * after, its CPU per call, and what is left on the server afterwards (connections, transactions, sessions).
 *
 *   npm run build:all
 *   esbuild bench/http.ts --bundle --platform=node --format=esm --packages=external \
 *     --outfile=node_modules/.cache/pgmcp-bench/http.mjs --log-level=warning \
 *     && node node_modules/.cache/pgmcp-bench/http.mjs [--name NAME] [--quick] [--sessions 32] [--calls 500]
 *
 * Starts and stops its own throwaway PostgreSQL 15 and the compiled binary (`serve --transport http`, pool size =
 * sessions). Rounds alternate (gateway, direct, gateway, direct) after a warm-up of both, so that a noisy moment on the
 * shared 2-core machine hits both. The clients run in this node process: on 2 cores they compete with the gateway and
 * PostgreSQL for CPU, which the report shows (client CPU per call). Writes bench/results/http-NAME.json and .md and
 * prints the markdown on stdout (progress on stderr).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import pg from 'pg';
import { type SpawnedGateway, spawnGateway } from '../test/integration/http-helpers.js';
import { startPostgres } from '../test/support/postgres-server.js';
import { describePgmcpEnvironment, type Environment } from './lib/environment.js';
import { BINARY, RESULTS_DIR } from './lib/paths.js';
import { cpuMs, readMem, watchMem } from './lib/proc.js';
import { serverEnv } from './lib/server-env.js';
import { ratio, round, type Summary, summarize } from './lib/stats.js';

const { values: opts } = parseArgs({
  options: {
    name: { type: 'string' },
    quick: { type: 'boolean', default: false },
    sessions: { type: 'string' },
    calls: { type: 'string' },
  },
});

const log = (line: string) => process.stderr.write(`${line}\n`);

const SQL = 'select 1 as one';

const PATHS = ['sdk', 'raw', 'direct'] as const;
type PathId = (typeof PATHS)[number];

interface RoundResult {
  path: PathId;
  round: number;
  calls: number;
  errors: number;
  wallMs: number;
  callsPerSecond: number;
  ms: Summary;
  clientCpuMsPerCall: number;
  serverCpuMsPerCall: number | null;
}

interface Session {
  client: Client;
  transport: StreamableHTTPClientTransport;
}

/**
 * A minimal MCP client over Streamable HTTP, to load the gateway without the SDK client's own cost: node:http with a
 * keep-alive agent of one socket, JSON-RPC bodies written by hand, the answer's `data:` line parsed from the SSE (or
 * JSON) body. Checks what the SDK client would (the result is a result, not an error or isError).
 */
class RawSession {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  private sessionId = '';
  private nextId = 1;

  constructor(private readonly url: URL) {}

  private post(body: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        this.url,
        {
          method: 'POST',
          agent: this.agent,
          headers: {
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            'content-length': Buffer.byteLength(body),
            ...(this.sessionId ? { 'mcp-session-id': this.sessionId, 'mcp-protocol-version': '2025-11-25' } : {}),
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            text += c;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  private static message(text: string): { result?: { isError?: boolean }; error?: unknown } {
    const data = text.startsWith('{') ? text : /^data: (.*)$/m.exec(text)?.[1];
    if (!data) throw new Error(`no message in the answer: ${text.slice(0, 200)}`);
    return JSON.parse(data) as { result?: { isError?: boolean }; error?: unknown };
  }

  async open(): Promise<void> {
    const init = await this.post(
      JSON.stringify({
        jsonrpc: '2.0',
        id: this.nextId++,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench-raw', version: '0' } },
      }),
    );
    this.sessionId = String(init.headers['mcp-session-id'] ?? '');
    if (init.status !== 200 || !this.sessionId)
      throw new Error(`initialize: ${init.status} ${init.text.slice(0, 200)}`);
    const note = await this.post(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
    if (note.status !== 202) throw new Error(`initialized: ${note.status}`);
  }

  async call(name: string, args: Record<string, unknown>): Promise<void> {
    const r = await this.post(
      JSON.stringify({ jsonrpc: '2.0', id: this.nextId++, method: 'tools/call', params: { name, arguments: args } }),
    );
    if (r.status !== 200) throw new Error(`tools/call: HTTP ${r.status} ${r.text.slice(0, 200)}`);
    const m = RawSession.message(r.text);
    if (!m.result || m.result.isError) throw new Error(`tools/call failed: ${r.text.slice(0, 300)}`);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      const req = http.request(
        this.url,
        {
          method: 'DELETE',
          agent: this.agent,
          headers: { 'mcp-session-id': this.sessionId, 'mcp-protocol-version': '2025-11-25' },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve());
        },
      );
      req.on('error', () => resolve());
      req.end();
    });
    this.agent.destroy();
  }
}

/** `workers` loops of `perWorker` sequential calls at once; per-call latencies, errors, wall time, client CPU. */
async function load(
  workers: number,
  perWorker: number,
  call: (worker: number) => Promise<void>,
): Promise<{ samples: number[]; errors: number; wallMs: number; clientCpuMs: number; firstError?: string }> {
  const samples: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (let i = 0; i < perWorker; i++) {
        const s = performance.now();
        try {
          await call(w);
          samples.push(performance.now() - s);
        } catch (err) {
          errors++;
          firstError ??= err instanceof Error ? err.message : String(err);
        }
      }
    }),
  );
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return {
    samples,
    errors,
    wallMs,
    clientCpuMs: (cpu.user + cpu.system) / 1000,
    ...(firstError ? { firstError } : {}),
  };
}

async function main(): Promise<void> {
  const started = performance.now();
  const name = opts.name ?? `linux-x64-${new Date().toISOString().replace(/:/g, '').replace(/\..*$/, 'Z')}`;
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`--name: letters, digits, . _ - only: ${name}`);
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: build first (npm run build:all)`);
  const sessions = Number(opts.sessions ?? 32);
  const calls = Number(opts.calls ?? (opts.quick ? 100 : 500));
  const rounds = opts.quick ? 1 : 2;
  const warmup = opts.quick ? 20 : 50;
  // Each round gives every session calls/rounds calls: `calls` per session in all.
  const perRound = Math.ceil(calls / rounds);

  log('starting PostgreSQL 15 …');
  const server = await startPostgres({ name: 'bench-http', preload: [], settings: { max_connections: '200' } });
  const verify = new pg.Client({ connectionString: server.url, application_name: 'bench-verify' });
  const direct = new pg.Pool({
    connectionString: server.url,
    max: sessions,
    application_name: 'bench-direct',
  });
  const auditDir = await mkdtemp(path.join(tmpdir(), 'pgmcp-bench-http-'));
  let gw: SpawnedGateway | undefined;
  const clients: Session[] = [];
  const raws: RawSession[] = [];
  try {
    await verify.connect();
    const environment = await describePgmcpEnvironment(verify);

    gw = await spawnGateway(
      BINARY,
      [],
      serverEnv(server, {
        PGMCP_POOL_SIZE: String(sessions),
        PGMCP_HTTP_MAX_SESSIONS: String(sessions * 2),
        PGMCP_AUDIT_FILE: path.join(auditDir, 'audit.log'),
      }),
    );
    const pid = gw.child.pid as number;
    const rssIdle = readMem(pid);
    log(`gateway ${gw.url} (pid ${pid}, RSS ${rssIdle?.rssMb} MB idle); ${sessions} sessions × ${calls} calls`);

    // The same number of sessions through each client: the SDK's (what MCP clients use) and a minimal raw one.
    for (let i = 0; i < sessions; i++) {
      const transport = new StreamableHTTPClientTransport(new URL(gw.url));
      const client = new Client({ name: `bench-http-${i}`, version: '0' });
      await client.connect(transport);
      clients.push({ client, transport });
      const raw = new RawSession(new URL(gw.url));
      await raw.open();
      raws.push(raw);
    }
    const rssSessions = readMem(pid);
    const callers: Record<PathId, (w: number) => Promise<void>> = {
      sdk: async (w) => {
        const r = await (clients[w] as Session).client.callTool({ name: 'pg_query', arguments: { sql: SQL } });
        if (r.isError) throw new Error(`pg_query failed: ${JSON.stringify(r.content).slice(0, 300)}`);
      },
      raw: (w) => (raws[w] as RawSession).call('pg_query', { sql: SQL }),
      direct: async () => {
        await direct.query(SQL);
      },
    };

    log(`warm-up: ${warmup} calls per session on every path`);
    for (const id of PATHS) {
      const warm = await load(sessions, warmup, callers[id]);
      if (warm.errors) throw new Error(`errors in warm-up (${id}): ${warm.firstError}`);
    }
    const rssBefore = readMem(pid);

    const results: RoundResult[] = [];
    const all: Record<PathId, number[]> = { sdk: [], raw: [], direct: [] };
    let errorsTotal = 0;
    const firstErrors: string[] = [];
    const mem = watchMem(pid, 100);
    for (let r = 1; r <= rounds; r++) {
      // Rotating order: a noisy moment does not always hit the same path.
      const order = PATHS.map((_, i) => PATHS[(i + r - 1) % PATHS.length] as PathId);
      for (const which of order) {
        log(`round ${r}/${rounds}: ${which} ${sessions} × ${perRound}`);
        const viaGateway = which !== 'direct';
        const cpu0 = viaGateway ? cpuMs(pid) : null;
        const out = await load(sessions, perRound, callers[which]);
        const cpu1 = viaGateway ? cpuMs(pid) : null;
        const n = out.samples.length + out.errors;
        errorsTotal += out.errors;
        if (out.firstError) firstErrors.push(out.firstError);
        all[which].push(...out.samples);
        results.push({
          path: which,
          round: r,
          calls: n,
          errors: out.errors,
          wallMs: round(out.wallMs, 1),
          callsPerSecond: round((n / out.wallMs) * 1000, 0),
          ms: summarize(out.samples, 3),
          clientCpuMsPerCall: round(out.clientCpuMs / n, 3),
          serverCpuMsPerCall: cpu0 !== null && cpu1 !== null ? round((cpu1 - cpu0) / n, 3) : null,
        });
      }
    }
    const peak = mem.stop();
    const rssAfterLoad = readMem(pid);

    // What the gateway holds after the load, then after every session is ended with DELETE.
    const pgmcpConnections = async () =>
      (
        await verify.query<{ state: string | null; n: number }>(
          "select state, count(*)::int as n from pg_stat_activity where application_name = 'pgmcp' group by state",
        )
      ).rows;
    const heldUnderLoad = await pgmcpConnections();
    await Promise.all(clients.map((c) => c.transport.terminateSession().then(() => c.client.close())));
    await Promise.all(raws.map((c) => c.close()));
    clients.length = 0;
    raws.length = 0;
    const metrics = await (await fetch(`${gw.base}/metrics`)).text();
    const metric = (re: RegExp) => Number(re.exec(metrics)?.[1] ?? Number.NaN);
    const afterSessions = {
      sessionsOpen: metric(/^pgmcp_sessions_open (\d+)$/m),
      transactionsOpen: metric(/^pgmcp_transactions_open (\d+)$/m),
      toolCallsOk: metric(/^pgmcp_tool_calls_total\{tool="pg_query",outcome="ok"\} (\d+)$/m),
      toolCallsError: metric(/^pgmcp_tool_calls_total\{tool="pg_query",outcome="error"\} (\d+)$/m) || 0,
      connections: await pgmcpConnections(),
    };
    const rssAfterSessions = readMem(pid);
    gw.signal('SIGTERM');
    const exit = await gw.exited;
    await direct.end();
    // A backend ends a moment after its client disconnects: wait for them (up to 5 s).
    const backends = async () =>
      (
        await verify.query<{ n: number }>(
          "select count(*)::int as n from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid()",
        )
      ).rows[0]?.n ?? -1;
    const waitStart = performance.now();
    let leftAfterStop = await backends();
    while (leftAfterStop > 0 && performance.now() - waitStart < 5000) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      leftAfterStop = await backends();
    }

    const summary = (which: PathId) => {
      const rs = results.filter((r) => r.path === which);
      const callsN = rs.reduce((a, r) => a + r.calls, 0);
      const wall = rs.reduce((a, r) => a + r.wallMs, 0);
      const cpu = (pick: (r: RoundResult) => number | null) =>
        rs.every((r) => pick(r) !== null)
          ? round(rs.reduce((a, r) => a + (pick(r) as number) * r.calls, 0) / callsN, 3)
          : null;
      return {
        label: PATH_LABELS[which],
        calls: callsN,
        errors: rs.reduce((a, r) => a + r.errors, 0),
        callsPerSecond: round((callsN / wall) * 1000, 0),
        ms: summarize(all[which], 3),
        clientCpuMsPerCall: cpu((r) => r.clientCpuMsPerCall),
        gatewayCpuMsPerCall: cpu((r) => r.serverCpuMsPerCall),
      };
    };
    const paths = { sdk: summary('sdk'), raw: summary('raw'), direct: summary('direct') };
    const out: Out = {
      name,
      kind: 'http gateway load',
      durationS: round((performance.now() - started) / 1000, 1),
      plan: {
        sessions,
        callsPerSession: perRound * rounds,
        rounds,
        warmupPerSession: warmup,
        sql: SQL,
        poolSize: sessions,
      },
      environment,
      paths,
      ratios: {
        throughputDirectToSdk: ratio(paths.direct.callsPerSecond, paths.sdk.callsPerSecond),
        throughputDirectToRaw: ratio(paths.direct.callsPerSecond, paths.raw.callsPerSecond),
        p50SdkToDirect: ratio(paths.sdk.ms.median, paths.direct.ms.median),
        p99SdkToDirect: ratio(paths.sdk.ms.p99, paths.direct.ms.p99),
        p50RawToDirect: ratio(paths.raw.ms.median, paths.direct.ms.median),
        p99RawToDirect: ratio(paths.raw.ms.p99, paths.direct.ms.p99),
      },
      rounds: results,
      errors: { total: errorsTotal, first: firstErrors.slice(0, 3) },
      memoryMb: {
        idle: rssIdle?.rssMb ?? null,
        withSessions: rssSessions?.rssMb ?? null,
        beforeLoad: rssBefore?.rssMb ?? null,
        peakDuringLoad: peak.peakRssMb,
        afterLoad: rssAfterLoad?.rssMb ?? null,
        afterSessionsEnded: rssAfterSessions?.rssMb ?? null,
        hwm: peak.hwmMb,
      },
      leftBehind: {
        pgmcpConnectionsUnderLoad: heldUnderLoad,
        afterSessionsEnded: afterSessions,
        gatewayExit: { code: exit.code, signal: exit.signal, ms: round(exit.msSinceSignal, 0) },
        clientBackendsAfterStop: leftAfterStop,
      },
    };
    writeFileSync(path.join(RESULTS_DIR, `http-${name}.json`), `${JSON.stringify(out, null, 2)}\n`);
    const md = render(out);
    writeFileSync(path.join(RESULTS_DIR, `http-${name}.md`), md);
    process.stdout.write(md);
  } finally {
    await Promise.allSettled(clients.map((c) => c.client.close()));
    await Promise.allSettled(raws.map((c) => c.close()));
    if (gw && gw.child.exitCode === null) gw.child.kill('SIGKILL');
    await direct.end().catch(() => undefined);
    await verify.end().catch(() => undefined);
    await server.stop();
    await rm(auditDir, { recursive: true, force: true });
  }
}

const PATH_LABELS: Record<PathId, string> = {
  sdk: 'gateway, SDK client (StreamableHTTPClientTransport)',
  raw: 'gateway, minimal raw HTTP client',
  direct: 'direct pg, pool of the same size',
};

interface PathSummary {
  label: string;
  calls: number;
  errors: number;
  callsPerSecond: number;
  ms: Summary;
  clientCpuMsPerCall: number | null;
  gatewayCpuMsPerCall: number | null;
}

interface Conn {
  state: string | null;
  n: number;
}

interface Out {
  name: string;
  kind: string;
  durationS: number;
  plan: {
    sessions: number;
    callsPerSession: number;
    rounds: number;
    warmupPerSession: number;
    sql: string;
    poolSize: number;
  };
  environment: Environment;
  paths: Record<PathId, PathSummary>;
  ratios: Record<string, number | null>;
  rounds: RoundResult[];
  errors: { total: number; first: string[] };
  memoryMb: Record<string, number | null>;
  leftBehind: {
    pgmcpConnectionsUnderLoad: Conn[];
    afterSessionsEnded: {
      sessionsOpen: number;
      transactionsOpen: number;
      toolCallsOk: number;
      toolCallsError: number;
      connections: Conn[];
    };
    gatewayExit: { code: number | null; signal: string | null; ms: number };
    clientBackendsAfterStop: number;
  };
}

function render(r: Out): string {
  const e = r.environment;
  const f = (v: number | null | undefined, d = 2) => (v === null || v === undefined ? '–' : v.toFixed(d));
  const x = (v: number | null | undefined) => (v === null || v === undefined ? '–' : `${v.toFixed(2)}×`);
  const conns = (rows: Conn[]) =>
    rows.length ? rows.map((c) => `${c.n} ${c.state ?? 'no state'}`).join(', ') : 'none';
  const m = r.memoryMb;
  const after = r.leftBehind.afterSessionsEnded;
  const lines = [
    `## HTTP gateway under load — ${r.name}`,
    '',
    `${e.host.cpuModel}, ${e.host.cores} cores shared by the gateway, PostgreSQL and the clients (load average at start ${e.host.loadAvgAtStart.join(' ')}); node ${e.versions.node}, bun ${e.versions.bun ?? '–'}, PostgreSQL ${e.versions.postgres ?? '–'}; pgmcp ${e.pgmcp.commit ?? '?'}${e.pgmcp.dirty ? ' (dirty)' : ''}, compiled binary.`,
    `${r.plan.sessions} concurrent sessions × ${r.plan.callsPerSession} \`pg_query\` calls (\`${r.plan.sql}\`) per client kind, each session's calls one after another; direct pg: \`Pool({max: ${r.plan.sessions}})\`, ${r.plan.sessions} workers × ${r.plan.callsPerSession} \`pool.query\`. ${r.plan.warmupPerSession} warm-up calls per worker on every path, then ${r.plan.rounds} rounds, paths in rotating order. Gateway pool size ${r.plan.poolSize}.`,
    '',
    '| path | calls | errors | calls/s | p50 ms | p90 | p99 | max | client CPU ms/call | gateway CPU ms/call |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...PATHS.map((id) => {
      const p = r.paths[id];
      return `| ${p.label} | ${p.calls} | ${p.errors} | **${p.callsPerSecond}** | ${f(p.ms.median)} | ${f(p.ms.p90)} | ${f(p.ms.p99)} | ${f(p.ms.max)} | ${f(p.clientCpuMsPerCall, 3)} | ${f(p.gatewayCpuMsPerCall, 3)} |`;
    }),
    '',
    `- direct / gateway throughput: ${x(r.ratios.throughputDirectToSdk)} with the SDK client, ${x(r.ratios.throughputDirectToRaw)} with the raw client; p50 ${x(r.ratios.p50SdkToDirect)} / ${x(r.ratios.p50RawToDirect)} of direct, p99 ${x(r.ratios.p99SdkToDirect)} / ${x(r.ratios.p99RawToDirect)}`,
    `- errors: ${r.errors.total}${r.errors.first.length ? ` (${r.errors.first.join('; ')})` : ''}`,
    `- gateway RSS (MB): idle ${f(m.idle, 1)}, with ${r.plan.sessions * 2} sessions ${f(m.withSessions, 1)}, after warm-up ${f(m.beforeLoad, 1)}, peak during the load ${f(m.peakDuringLoad, 1)}, after it ${f(m.afterLoad, 1)}, after every session ended ${f(m.afterSessionsEnded, 1)}`,
    `- pgmcp's connections under load: ${conns(r.leftBehind.pgmcpConnectionsUnderLoad)}; after every session was ended with DELETE: ${conns(after.connections)} (the pool), ${after.sessionsOpen} sessions and ${after.transactionsOpen} transactions open; /metrics counted ${after.toolCallsOk} ok and ${after.toolCallsError} failed pg_query calls`,
    `- SIGTERM: exit ${r.leftBehind.gatewayExit.code ?? r.leftBehind.gatewayExit.signal} after ${r.leftBehind.gatewayExit.ms} ms; client backends left on PostgreSQL afterwards (direct pool ended too): ${r.leftBehind.clientBackendsAfterStop}`,
    '',
    '| round | path | calls/s | p50 ms | p99 ms | client CPU ms/call | gateway CPU ms/call |',
    '|---:|---|---:|---:|---:|---:|---:|',
    ...r.rounds.map(
      (x) =>
        `| ${x.round} | ${x.path} | ${x.callsPerSecond} | ${f(x.ms.median)} | ${f(x.ms.p99)} | ${f(x.clientCpuMsPerCall, 3)} | ${f(x.serverCpuMsPerCall, 3)} |`,
    ),
    '',
  ];
  return lines.join('\n');
}

main().catch((err: unknown) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});

/**
 * pg_execute per-call latency: an INSERT through the compiled binary over stdio (PGMCP_ACCESS=write), against the same
 * INSERT sent directly with node-postgres, in the same run and the same interleaved rounds (bench/lib/latency.ts).
 * For context, in the same rounds: pgmcp's write batch sent directly (BEGIN; INSERT; COMMIT in one round trip,
 * src/db/write-flight.ts), `pg_query select 1` through a second binary, and MCP ping (the stdio floor).
 *
 *   npm run build:all
 *   esbuild bench/execute.ts --bundle --platform=node --format=esm --packages=external \
 *     --outfile=node_modules/.cache/pgmcp-bench/execute.mjs --log-level=warning \
 *     && node node_modules/.cache/pgmcp-bench/execute.mjs [--name NAME] [--quick]
 *
 * Starts and stops its own throwaway PostgreSQL 15. Writes bench/results/execute-NAME.json and
 * bench/results/execute-NAME.md and prints the markdown on stdout (progress goes to stderr).
 */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { WriteFlight } from '../src/db/write-flight.js';
import { startPostgres } from '../test/support/postgres-server.js';
import { describePgmcpEnvironment, type Environment } from './lib/environment.js';
import { type LatencyPlan, measureLatency, type Target } from './lib/latency.js';
import { BINARY, RESULTS_DIR } from './lib/paths.js';
import { cpuMs } from './lib/proc.js';
import { serverEnv } from './lib/server-env.js';
import { type RunningServer, type ServerSpec, startServer } from './lib/spawn-server.js';
import { ratio, round, type Summary, summarize } from './lib/stats.js';

const { values: opts } = parseArgs({
  options: { name: { type: 'string' }, quick: { type: 'boolean', default: false } },
});

const log = (line: string) => process.stderr.write(`${line}\n`);

const INSERT = 'insert into bench_insert (n, note) values ($1, $2)';

interface Series {
  label: string;
  ms: Summary;
  clientCpuMsPerCall: number | null;
  serverCpuMsPerCall?: number | null;
}

async function main(): Promise<void> {
  const started = performance.now();
  const name = opts.name ?? `linux-x64-${new Date().toISOString().replace(/:/g, '').replace(/\..*$/, 'Z')}`;
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`--name: letters, digits, . _ - only: ${name}`);
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: build first (npm run build:all)`);
  const plan: LatencyPlan = opts.quick
    ? { warmup: 30, rounds: 2, perRound: 50, roundWarmup: 5 }
    : { warmup: 200, rounds: 5, perRound: 250, roundWarmup: 20 };

  log('starting PostgreSQL 15 …');
  const server = await startPostgres({ name: 'bench-execute', preload: [] });
  const running: RunningServer[] = [];
  const direct = new pg.Client({ connectionString: server.url });
  const batchClient = new pg.Client({ connectionString: server.url });
  try {
    await direct.connect();
    await batchClient.connect();
    await direct.query('create table bench_insert (id bigserial primary key, n int not null, note text not null)');
    const environment = await describePgmcpEnvironment(direct);

    const env = serverEnv(server, { PGMCP_ACCESS: 'write' });
    const spec = (id: string, tool: string): ServerSpec => ({
      id,
      label: `pgmcp binary (bun) for ${tool}`,
      command: BINARY,
      args: ['serve'],
      env,
      tool,
      toolArgs: (sql) => ({ sql }),
    });
    // One server per path, so that each one's CPU time per call is that path's alone.
    const writer = await startServer(spec('execute', 'pg_execute'));
    running.push(writer);
    const reader = await startServer(spec('query', 'pg_query'));
    running.push(reader);
    const pinger = await startServer(spec('ping', 'ping'));
    running.push(pinger);
    if (!writer.toolNames.includes('pg_execute')) throw new Error('pg_execute is not listed at PGMCP_ACCESS=write');

    let n = 0;
    const callExecute = async () => {
      n++;
      const r = await writer.client.callTool({ name: 'pg_execute', arguments: { sql: INSERT, params: [n, 'mcp'] } });
      if (r.isError) throw new Error(`pg_execute failed: ${JSON.stringify(r.content).slice(0, 300)}`);
    };
    const served = new Map<string, number>();
    const count = (id: string, call: () => Promise<unknown>) => () => {
      served.set(id, (served.get(id) ?? 0) + 1);
      return call();
    };
    const targets: Target[] = [
      {
        id: 'pg-execute',
        label: 'pgmcp binary over stdio: pg_execute INSERT ($1, $2)',
        call: count('execute', callExecute),
      },
      {
        id: 'direct-insert',
        label: 'direct pg: Client.query(INSERT, [$1, $2]) (autocommit, 1 round trip)',
        call: () => direct.query(INSERT, [++n, 'direct']),
      },
      {
        id: 'direct-write-batch',
        label: "direct pg: pgmcp's write batch (BEGIN; INSERT; COMMIT; 1 round trip)",
        call: async () => {
          const f = new WriteFlight({
            steps: [
              { kind: 'control', text: 'BEGIN' },
              { kind: 'statement', index: 0, text: INSERT, params: [++n, 'batch'] },
              { kind: 'control', text: 'COMMIT' },
            ],
            limit: 100,
            maxBytes: 1 << 20,
          });
          batchClient.query(f as unknown as pg.QueryConfig);
          await f.done;
        },
      },
      {
        id: 'pg-query',
        label: 'pgmcp binary over stdio: pg_query select 1',
        call: count('query', () => reader.query('select 1')),
      },
      { id: 'ping', label: 'pgmcp binary over stdio: MCP ping (transport floor)', call: () => pinger.client.ping() },
    ];

    const cpuBefore = new Map<string, number | null>();
    const startCpu = () => {
      for (const [id, s] of [
        ['execute', writer],
        ['query', reader],
      ] as const) {
        cpuBefore.set(id, cpuMs(s.pid));
        served.set(id, 0);
      }
    };
    log(`per-call latency: ${plan.rounds} rounds × ${plan.perRound} calls × ${targets.length} paths`);
    const { samples, clientCpuMs } = await measureLatency(targets, plan, log, startCpu);
    const serverCpu = (id: string, s: RunningServer) => {
      const before = cpuBefore.get(id);
      const after = cpuMs(s.pid);
      const calls = served.get(id) ?? 0;
      return before != null && after !== null && calls > 0 ? round((after - before) / calls, 3) : null;
    };
    const cpuExecute = serverCpu('execute', writer);
    const cpuQuery = serverCpu('query', reader);

    const inserted = (
      await direct.query<{ n: number }>("select count(*)::int as n from bench_insert where note = 'mcp'")
    ).rows[0]?.n;

    const series: Record<string, Series> = {};
    for (const t of targets) {
      series[t.id] = {
        label: t.label,
        ms: summarize(samples.get(t.id) ?? []),
        clientCpuMsPerCall: clientCpuMs.has(t.id) ? round(clientCpuMs.get(t.id) as number, 3) : null,
      };
    }
    (series['pg-execute'] as Series).serverCpuMsPerCall = cpuExecute;
    (series['pg-query'] as Series).serverCpuMsPerCall = cpuQuery;
    const med = (id: string) => series[id]?.ms.median;
    const results = {
      name,
      kind: 'pg_execute insert per call',
      durationS: round((performance.now() - started) / 1000, 1),
      plan: { ...plan, statement: INSERT, timedCallsPerPath: plan.rounds * plan.perRound },
      environment,
      series,
      ratios: {
        pgExecuteToDirectInsert: ratio(med('pg-execute'), med('direct-insert')),
        pgExecuteToDirectWriteBatch: ratio(med('pg-execute'), med('direct-write-batch')),
        directWriteBatchToDirectInsert: ratio(med('direct-write-batch'), med('direct-insert')),
        pgExecuteToPgQuery: ratio(med('pg-execute'), med('pg-query')),
      },
      rowsInsertedThroughPgExecute: inserted ?? null,
    };
    writeFileSync(path.join(RESULTS_DIR, `execute-${name}.json`), `${JSON.stringify(results, null, 2)}\n`);
    const md = render(results);
    writeFileSync(path.join(RESULTS_DIR, `execute-${name}.md`), md);
    process.stdout.write(md);
  } finally {
    for (const r of running) await r.close();
    await direct.end().catch(() => undefined);
    await batchClient.end().catch(() => undefined);
    await server.stop();
  }
}

function render(r: {
  name: string;
  plan: LatencyPlan & { statement: string; timedCallsPerPath: number };
  environment: Environment;
  series: Record<string, Series>;
  ratios: Record<string, number | null>;
}): string {
  const ms = (v: number | null | undefined, d = 3) => (v === null || v === undefined ? '–' : v.toFixed(d));
  const e = r.environment;
  const lines = [
    `## pg_execute INSERT per call — ${r.name}`,
    '',
    `${e.host.cpuModel}, ${e.host.cores} cores; node ${e.versions.node}, bun ${e.versions.bun ?? '–'}, PostgreSQL ${e.versions.postgres ?? '–'}; pgmcp ${e.pgmcp.commit ?? '?'}${e.pgmcp.dirty ? ' (dirty)' : ''}.`,
    `\`${r.plan.statement}\`; ${r.plan.warmup} warm-up calls per path, then ${r.plan.rounds} rounds × ${r.plan.perRound} timed calls (${r.plan.timedCallsPerPath} per path), paths interleaved.`,
    '',
    '| path | median ms | p90 | p99 | client CPU ms/call | server CPU ms/call |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const s of Object.values(r.series)) {
    lines.push(
      `| ${s.label} | ${ms(s.ms.median)} | ${ms(s.ms.p90)} | ${ms(s.ms.p99)} | ${ms(s.clientCpuMsPerCall)} | ${ms(s.serverCpuMsPerCall)} |`,
    );
  }
  const x = (v: number | null | undefined) => (v === null || v === undefined ? '–' : `${v.toFixed(2)}×`);
  lines.push(
    '',
    `- **pg_execute INSERT / direct pg INSERT (median): ${x(r.ratios.pgExecuteToDirectInsert)}**`,
    `- pg_execute / pgmcp's write batch sent directly: ${x(r.ratios.pgExecuteToDirectWriteBatch)}; the write batch (BEGIN; INSERT; COMMIT) / a bare INSERT: ${x(r.ratios.directWriteBatchToDirectInsert)}`,
    `- pg_execute INSERT / pg_query select 1 (both through the binary): ${x(r.ratios.pgExecuteToPgQuery)}`,
    '',
  );
  return lines.join('\n');
}

main().catch((err: unknown) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});

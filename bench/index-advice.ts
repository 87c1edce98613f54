/**
 * pg_perf index_advice on a 50-statement workload: wall time of the whole call through the compiled binary over
 * stdio (what an MCP client waits for), over several runs; with the server's own numbers (plans run, search time,
 * candidates, recommendations, workload cost before/after) from the structured result.
 *
 *   npm run build:all
 *   esbuild bench/index-advice.ts --bundle --platform=node --format=esm --packages=external \
 *     --outfile=node_modules/.cache/pgmcp-bench/index-advice.mjs --log-level=warning \
 *     && node node_modules/.cache/pgmcp-bench/index-advice.mjs [--name NAME] [--runs N] [--quick]
 *
 * Starts and stops its own throwaway PostgreSQL 15 with hypopg (test/support/postgres-server.ts) and a schema of five
 * tables (1.1M rows in all, vacuumed and analysed). Writes bench/results/index-advice-NAME.json and .md and prints
 * the markdown on stdout (progress goes to stderr).
 */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import pg from 'pg';
import { startPostgres } from '../test/support/postgres-server.js';
import { describePgmcpEnvironment, type Environment } from './lib/environment.js';
import { BINARY, RESULTS_DIR } from './lib/paths.js';
import { cpuMs } from './lib/proc.js';
import { serverEnv } from './lib/server-env.js';
import { startServer } from './lib/spawn-server.js';
import { round, type Summary, summarize } from './lib/stats.js';

const { values: opts } = parseArgs({
  options: {
    name: { type: 'string' },
    runs: { type: 'string' },
    quick: { type: 'boolean', default: false },
  },
});

const log = (line: string) => process.stderr.write(`${line}\n`);

const SCHEMA = `
  create extension hypopg;
  create table customers (id int primary key, email text not null, name text not null, country text not null,
                          segment int not null, created_at timestamptz not null);
  insert into customers
    select g, 'user' || g || '@example.org', 'name ' || g, (array['de','fr','us','uk','jp','br'])[1 + g % 6],
           g % 12, timestamptz '2026-01-01' - g * interval '17 minutes'
      from generate_series(1, 50000) g;
  create table products (id int primary key, sku text not null, category int not null, price numeric(10,2) not null,
                         active boolean not null);
  insert into products select g, 'SKU-' || g, g % 40, (g % 500) + 0.99, g % 10 <> 0 from generate_series(1, 5000) g;
  create table orders (id bigint primary key, customer_id int not null references customers, status int not null,
                       region int not null, total numeric(10,2) not null, created_at timestamptz not null,
                       shipped_at timestamptz, note text);
  insert into orders
    select g, 1 + (g::int8 * 7919) % 50000, g % 8, (g / 8) % 60, (g % 1000) / 10.0,
           timestamptz '2026-01-01' - g * interval '3 minutes',
           case when g % 8 > 3 then timestamptz '2026-01-01' - g * interval '3 minutes' + interval '2 days' end,
           md5(g::text)
      from generate_series(1, 300000) g;
  create table order_items (order_id bigint not null references orders, line_no int not null,
                            product_id int not null references products, quantity int not null,
                            price numeric(10,2) not null, primary key (order_id, line_no));
  insert into order_items
    select 1 + g / 2, g % 2, 1 + (g::int8 * 31) % 5000, 1 + g % 5, (g % 300) + 0.5 from generate_series(0, 499999) g;
  create table events (id bigint primary key, customer_id int not null, kind int not null, at timestamptz not null,
                       payload text not null);
  insert into events
    select g, 1 + (g::int8 * 104729) % 50000, g % 25, timestamptz '2026-01-01' - g * interval '1 minute', repeat('x', 40)
      from generate_series(1, 250000) g;
`;

/** 50 statements: filters, multi-column filters, ranges, joins, ordering, grouping, DML; most with $n. */
const WORKLOAD: readonly string[] = [
  'select * from orders where customer_id = $1',
  'select * from orders where customer_id = $1 order by created_at desc limit 20',
  'select id, total from orders where status = $1 and region = $2',
  'select count(*) from orders where status = $1 and region = $2 and created_at > $3',
  'select * from orders where created_at between $1 and $2',
  'select * from orders where shipped_at is null and status = $1',
  'select sum(total) from orders where region = $1',
  'select * from orders where note = $1',
  'select * from orders where customer_id = $1 and status = $2',
  'select id from orders where status in (1, 2, 3) and region = $1 order by created_at limit 50',
  'select * from customers where email = $1',
  'select * from customers where lower(email) = lower($1)',
  'select id, name from customers where country = $1 and segment = $2',
  'select * from customers where created_at > $1 order by created_at limit 100',
  'select country, count(*) from customers group by country',
  'select * from products where sku = $1',
  'select * from products where category = $1 and active order by price',
  'select id, price from products where price between $1 and $2',
  'select * from order_items where product_id = $1',
  'select * from order_items where order_id = $1',
  'select sum(quantity) from order_items where product_id = $1 and quantity > $2',
  'select * from events where customer_id = $1 order by at desc limit 10',
  'select * from events where kind = $1 and at > $2',
  'select count(*) from events where customer_id = $1 and kind = $2',
  'select kind, count(*) from events group by kind',
  'select o.id, o.total, c.name from orders o join customers c on c.id = o.customer_id where c.email = $1',
  'select o.* from orders o join customers c on c.id = o.customer_id where c.country = $1 and o.status = $2 limit 100',
  'select c.name, sum(o.total) from customers c join orders o on o.customer_id = c.id where c.id = $1 group by c.name',
  'select p.sku, sum(i.quantity) from order_items i join products p on p.id = i.product_id where p.category = $1 group by p.sku',
  'select i.* from order_items i join orders o on o.id = i.order_id where o.customer_id = $1',
  'select o.id from orders o where exists (select 1 from order_items i where i.order_id = o.id and i.product_id = $1)',
  'select * from orders where customer_id in (select id from customers where email = $1)',
  'select e.* from events e join customers c on c.id = e.customer_id where c.email = $1 order by e.at desc limit 20',
  'select o.id, o.created_at from orders o join customers c on c.id = o.customer_id where c.segment = $1 and o.created_at > $2 order by o.created_at desc limit 50',
  'select count(*) from orders o join order_items i on i.order_id = o.id where o.status = $1 and i.product_id = $2',
  'select * from orders where region = $1 order by total desc limit 10',
  'select * from orders where status = $1 order by created_at desc limit 25',
  'select customer_id, count(*) from orders where created_at > $1 group by customer_id',
  'select * from events where at > $1 and at < $2 and kind = $3',
  'select * from customers where name = $1',
  'update orders set status = $1 where id = $2',
  'update orders set shipped_at = now() where customer_id = $1 and status = $2',
  'delete from events where customer_id = $1 and at < $2',
  'update products set price = price * 1.1 where category = $1',
  'select count(*) from orders',
  'select region, status, count(*), sum(total) from orders group by region, status',
  "select * from orders where note like '%abc%'",
  'select max(created_at) from orders where customer_id = $1',
  'select * from order_items where order_id = $1 and line_no = $2',
  'select c.* from customers c where not exists (select 1 from orders o where o.customer_id = c.id) limit 100',
];

interface Run {
  wallMs: number;
  serverElapsedMs: number;
  plans: number;
  recommendations: number;
  considered: number;
  stoppedBy: string;
  workloadFactor: number;
  progressNotifications: number;
  serverCpuMs: number | null;
}

async function main(): Promise<void> {
  const started = performance.now();
  const name = opts.name ?? `linux-x64-${new Date().toISOString().replace(/:/g, '').replace(/\..*$/, 'Z')}`;
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`--name: letters, digits, . _ - only: ${name}`);
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: build first (npm run build:all)`);
  const runs = Number(opts.runs ?? (opts.quick ? 2 : 5));
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs: a positive integer');
  if (WORKLOAD.length !== 50) throw new Error(`the workload has ${WORKLOAD.length} statements, not 50`);

  log('starting PostgreSQL 15 …');
  const server = await startPostgres({ name: 'bench-advice', preload: [] });
  const direct = new pg.Client({ connectionString: server.url });
  try {
    await direct.connect();
    log('loading 1.1M rows …');
    const t0 = performance.now();
    await direct.query(SCHEMA);
    await direct.query('vacuum analyze');
    const setupS = round((performance.now() - t0) / 1000, 1);
    const indexesBefore = (await direct.query<{ n: number }>('select count(*)::int as n from pg_indexes')).rows[0]?.n;
    const environment = await describePgmcpEnvironment(direct);
    const app = await startServer({
      id: 'binary',
      label: 'pgmcp binary (bun)',
      command: BINARY,
      args: ['serve'],
      env: serverEnv(server, { PGMCP_STATEMENT_TIMEOUT: '120s' }),
      tool: 'pg_perf',
      toolArgs: () => ({}),
    });
    const results: Run[] = [];
    let last: Record<string, unknown> | undefined;
    let lastText = '';
    try {
      // One untimed call first: the server's parser, pools and PostgreSQL's caches warm up.
      for (let i = 0; i <= runs; i++) {
        let notifications = 0;
        const cpuBefore = cpuMs(app.pid);
        const t = performance.now();
        const r = (await app.client.callTool(
          { name: 'pg_perf', arguments: { action: 'index_advice', statements: [...WORKLOAD], time_budget_s: 300 } },
          undefined,
          { timeout: 600_000, onprogress: () => notifications++ },
        )) as CallToolResult;
        const wallMs = performance.now() - t;
        const cpuAfter = cpuMs(app.pid);
        if (r.isError) throw new Error(`index_advice failed: ${JSON.stringify(r.content).slice(0, 500)}`);
        const advice = (r.structuredContent as { advice: Record<string, unknown> }).advice as {
          elapsedMs: number;
          plans: number;
          recommendations: unknown[];
          considered: unknown[];
          consideredTotal: number;
          stoppedBy: string;
          workloadCost: { factor: number };
        };
        const run: Run = {
          wallMs: round(wallMs, 1),
          serverElapsedMs: advice.elapsedMs,
          plans: advice.plans,
          recommendations: advice.recommendations.length,
          considered: advice.consideredTotal,
          stoppedBy: advice.stoppedBy,
          workloadFactor: advice.workloadCost.factor,
          progressNotifications: notifications,
          serverCpuMs: cpuBefore !== null && cpuAfter !== null ? round(cpuAfter - cpuBefore, 1) : null,
        };
        log(
          `${i === 0 ? 'warm-up' : `run ${i}/${runs}`}: ${run.wallMs} ms, ${run.plans} plans, ${run.recommendations} recommended`,
        );
        if (i > 0) results.push(run);
        last = advice;
        lastText = (r.content as { type: string; text?: string }[]).map((c) => c.text ?? '').join('\n');
      }
    } finally {
      await app.close();
    }
    const indexesAfter = (await direct.query<{ n: number }>('select count(*)::int as n from pg_indexes')).rows[0]?.n;
    if (indexesAfter !== indexesBefore) throw new Error(`index count changed: ${indexesBefore} → ${indexesAfter}`);

    const wall = summarize(
      results.map((r) => r.wallMs),
      1,
    );
    const serverElapsed = summarize(
      results.map((r) => r.serverElapsedMs),
      1,
    );
    const first = results[0] as Run;
    const out = {
      name,
      kind: 'pg_perf index_advice, 50 given statements',
      durationS: round((performance.now() - started) / 1000, 1),
      setupS,
      runs,
      environment,
      wallMs: wall,
      serverElapsedMs: serverElapsed,
      perPlanMs: round(serverElapsed.median / first.plans, 3),
      plans: first.plans,
      recommendations: first.recommendations,
      considered: first.considered,
      stoppedBy: first.stoppedBy,
      workloadFactor: first.workloadFactor,
      progressNotifications: first.progressNotifications,
      serverCpuMsPerCall: summarize(
        results.flatMap((r) => (r.serverCpuMs === null ? [] : [r.serverCpuMs])),
        1,
      ),
      sameResultEveryRun: results.every((r) => r.recommendations === first.recommendations && r.plans === first.plans),
      runsDetail: results,
      lastAdvice: last,
    };
    writeFileSync(path.join(RESULTS_DIR, `index-advice-${name}.json`), `${JSON.stringify(out, null, 2)}\n`);
    const md = render(out, lastText);
    writeFileSync(path.join(RESULTS_DIR, `index-advice-${name}.md`), md);
    process.stdout.write(md);
  } finally {
    await direct.end().catch(() => undefined);
    await server.stop();
  }
}

function render(
  r: {
    name: string;
    runs: number;
    setupS: number;
    environment: Environment;
    wallMs: Summary;
    serverElapsedMs: Summary;
    serverCpuMsPerCall: Summary;
    perPlanMs: number;
    plans: number;
    recommendations: number;
    considered: number;
    stoppedBy: string;
    workloadFactor: number;
    progressNotifications: number;
    sameResultEveryRun: boolean;
  },
  text: string,
): string {
  const e = r.environment;
  const lines = text.split('\n');
  const end = lines.findIndex((l) => l.startsWith('Statements:'));
  const head = lines.slice(0, end === -1 ? lines.length : end);
  return [
    `## pg_perf index_advice, 50-statement workload — ${r.name}`,
    '',
    `${e.host.cpuModel}, ${e.host.cores} cores (load ${e.host.loadAvgAtStart.join(' ')}); node ${e.versions.node}, bun ${e.versions.bun ?? '–'}, PostgreSQL ${e.versions.postgres ?? '–'} + hypopg; pgmcp ${e.pgmcp.commit ?? '?'}${e.pgmcp.dirty ? ' (dirty)' : ''}.`,
    `Five tables, 1.1M rows (setup ${r.setupS} s); the compiled binary over stdio; one warm-up call, then ${r.runs} timed calls.`,
    '',
    '| | median | min | max |',
    '|---|---:|---:|---:|',
    `| wall time of the call, ms | ${r.wallMs.median} | ${r.wallMs.min} | ${r.wallMs.max} |`,
    `| search time reported by the server, ms | ${r.serverElapsedMs.median} | ${r.serverElapsedMs.min} | ${r.serverElapsedMs.max} |`,
    `| server CPU per call, ms | ${r.serverCpuMsPerCall.median} | ${r.serverCpuMsPerCall.min} | ${r.serverCpuMsPerCall.max} |`,
    '',
    `- ${r.plans} EXPLAINs per call (${r.perPlanMs} ms each, median search time / plans), ${r.considered + r.recommendations} candidate indexes, ${r.recommendations} recommended; stopped: ${r.stoppedBy}; workload cost ${r.workloadFactor}× lower; ${r.progressNotifications} progress notifications; same result every run: ${r.sameResultEveryRun ? 'yes' : 'NO'}.`,
    '',
    '```',
    ...head,
    '```',
    '',
  ].join('\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

/**
 * `npm run demo`: the main job end to end with nothing configured. Spawns the built pgmcp with an embedded PostgreSQL
 * (a throwaway demo shop database), connects a real MCP client over stdio, and prints what the tools answer.
 */
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { resultText as textOf } from '../src/tools/result-text.js';

const bundle = path.resolve(import.meta.dirname, '../dist/pgmcp.cjs');
const transport = new StdioClientTransport({
  command: 'node',
  args: [bundle, '--embedded', 'serve'],
  env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', PGMCP_LOG_LEVEL: 'warn' },
  stderr: 'pipe',
});
// The server's stderr: progress of the embedded PostgreSQL is shown; audit lines (one per call) are counted.
let auditLines = 0;
transport.stderr?.on('data', (chunk: Buffer) => {
  for (const line of chunk.toString().split('\n')) {
    if (line.includes('"pgmcp-audit"')) auditLines++;
    else if (line.trim()) process.stderr.write(`${line}\n`);
  }
});
const client = new Client({ name: 'pgmcp-demo', version: '1' });

async function show(title: string, name: string, args: Record<string, unknown>): Promise<void> {
  process.stdout.write(`\n## ${title}\n> ${name} ${JSON.stringify(args)}\n`);
  const result = await client.callTool({ name, arguments: args });
  process.stdout.write(`${result.isError ? '(refused) ' : ''}${textOf(result)}\n`);
}

await client.connect(transport);
try {
  const { tools } = await client.listTools();
  process.stdout.write(
    `Connected to ${client.getServerVersion()?.name} ${client.getServerVersion()?.version} over stdio.\n`,
  );
  process.stdout.write(`Tools: ${tools.map((t) => t.name).join(', ')}\n`);
  if (tools.some((t) => t.name === 'pg_schema')) {
    await show('Tables of the demo database', 'pg_schema', { action: 'list_tables', schema: 'public' });
  }
  await show('Best customers (a read-only query with a parameter)', 'pg_query', {
    sql: `select c.full_name, c.country_code, count(*) as orders, sum(t.total) as spent
            from customers c join order_totals t on t.customer_id = c.customer_id
           where t.status <> $1 group by c.customer_id order by spent desc`,
    params: ['cancelled'],
    limit: 5,
  });
  await show('A write is refused on the read path', 'pg_query', { sql: 'delete from orders' });
} finally {
  await client.close();
}
process.stdout.write(`\n(${auditLines} audit lines went to the server's stderr; the embedded PostgreSQL is gone)\n`);

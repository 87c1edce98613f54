/**
 * The floor of the per-call series: the least any stdio server in front of PostgreSQL can do. One JSON-RPC line in,
 * `pg.Client.query('select 1')` (the direct baseline's own query, one connection from the PG* variables), one line
 * out — no MCP SDK, no schemas, no checks, no transaction, no audit. Run under the project's bun (the binary's
 * runtime) by bench/run.ts and driven by the raw line client like the servers: what it costs above direct pg is what
 * the process hop itself costs on this machine (two more wake-ups per call, the pipes, JSON).
 *
 *   bun bench/lib/relay-server.ts      (PG* variables set)
 */
import pg from 'pg';

interface Request {
  id?: number | string;
  method?: string;
}

const client = new pg.Client();
await client.connect();

async function answer(request: Request): Promise<unknown> {
  if (request.method === 'initialize') {
    return {
      protocolVersion: '2024-11-05',
      capabilities: { tools: {} },
      serverInfo: { name: 'pgmcp-bench-relay', version: '0' },
    };
  }
  if (request.method === 'tools/call') {
    const { rows } = await client.query('select 1');
    return { content: [{ type: 'text', text: JSON.stringify(rows) }] };
  }
  return {};
}

let pending = '';
process.stdin.on('data', (chunk: Buffer) => {
  pending += chunk.toString('utf8');
  for (let nl = pending.indexOf('\n'); nl !== -1; nl = pending.indexOf('\n')) {
    const request = JSON.parse(pending.slice(0, nl)) as Request;
    pending = pending.slice(nl + 1);
    if (request.id === undefined) continue;
    void answer(request).then((result) => {
      process.stdout.write(`${JSON.stringify({ jsonrpc: '2.0', id: request.id, result })}\n`);
    });
  }
});
process.stdin.on('end', () => {
  void client.end().finally(() => process.exit(0));
});

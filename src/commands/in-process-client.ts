import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { App } from '../app.js';
import { createMcpServer } from '../server.js';
import { VERSION } from '../version.js';

/** An MCP client wired to a server in the same process: `pgmcp call` goes through exactly the server's code. */
export async function connectInProcess(
  app: App,
  identity = 'cli',
): Promise<{ client: Client; close(): Promise<void> }> {
  const server = createMcpServer(app, { sessionId: `in-process-${process.pid}`, identity });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: 'pgmcp-cli', version: VERSION });
  await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
  return {
    client,
    async close() {
      await client.close();
      await server.close();
    },
  };
}

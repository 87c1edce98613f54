import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { type ElicitRequest, ElicitRequestSchema, type ElicitResult } from '@modelcontextprotocol/sdk/types.js';
import type { App } from '../app.js';
import { createMcpServer } from '../server.js';
import { VERSION } from '../version.js';

/** How the CLI answers the server's questions (confirmation of destructive actions). */
export type Asker = (params: ElicitRequest['params']) => Promise<ElicitResult>;

/**
 * An MCP client wired to a server in the same process: `pgmcp call` goes through exactly the server's code. With an
 * `asker`, the client declares elicitation, so the server asks it (the person at the terminal) to confirm.
 */
export async function connectInProcess(
  app: App,
  identity = 'cli',
  asker?: Asker,
): Promise<{ client: Client; close(): Promise<void> }> {
  const server = createMcpServer(app, { sessionId: `in-process-${process.pid}`, identity });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const client = new Client(
    { name: 'pgmcp-cli', version: VERSION },
    asker ? { capabilities: { elicitation: { form: {} } } } : {},
  );
  if (asker) client.setRequestHandler(ElicitRequestSchema, (request) => asker(request.params));
  await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
  return {
    client,
    async close() {
      await client.close();
      await server.close();
    },
  };
}

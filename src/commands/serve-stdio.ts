import type { Started } from '../bootstrap.js';
import { createMcpServer } from '../server.js';
import { protocolRequestEntry } from './request-entry.js';
import { StdioTransport } from './stdio-transport.js';

/** Serves MCP over stdin/stdout until the client closes stdin or a signal arrives. */
export async function serveStdio(started: Started): Promise<void> {
  const { app, log } = started;
  const server = createMcpServer(app, { sessionId: 'stdio', identity: 'local' });
  const transport = new StdioTransport();
  let closing = false;
  const stop = async (reason: string) => {
    if (closing) return;
    closing = true;
    log.info({ reason }, 'shutting down');
    if (!(await transport.answered(10_000))) log.warn('requests still unanswered after 10 s; closing anyway');
    await server.close().catch(() => undefined);
    await started.shutdown();
    process.exit(0);
  };
  process.stdin.on('end', () => void stop('stdin closed'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  await server.connect(transport);
  transport.requestEntry = protocolRequestEntry(server);
  log.info({ access: app.config.access, embedded: started.embedded !== undefined }, 'pgmcp serving MCP on stdio');
}

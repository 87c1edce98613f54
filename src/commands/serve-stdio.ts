import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { Started } from '../bootstrap.js';
import { createMcpServer } from '../server.js';

type Id = string | number;

/**
 * The stdio transport, keeping count of requests received and not yet answered, so that a client that sends its
 * requests and closes stdin (`printf … | pgmcp`) still gets every answer before the server exits.
 */
class AnsweringStdioTransport extends StdioServerTransport {
  private readonly pending = new Set<Id>();
  private idle: (() => void) | undefined;

  override async send(message: JSONRPCMessage): Promise<void> {
    await super.send(message);
    if (('result' in message || 'error' in message) && message.id !== undefined && message.id !== null) {
      this.pending.delete(message.id);
      if (this.pending.size === 0) this.idle?.();
    }
  }

  /** Called for each incoming message before the server sees it. */
  noteIncoming(message: JSONRPCMessage): void {
    if ('method' in message && 'id' in message && message.id !== undefined) this.pending.add(message.id);
  }

  /** Resolves once every request received so far is answered (or after `timeoutMs`); true when all were. */
  answered(timeoutMs: number): Promise<boolean> {
    if (this.pending.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.idle = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }
}

/** Serves MCP over stdin/stdout until the client closes stdin or a signal arrives. */
export async function serveStdio(started: Started): Promise<void> {
  const { app, log } = started;
  const server = createMcpServer(app, { sessionId: 'stdio', identity: 'local' });
  const transport = new AnsweringStdioTransport();
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
  const deliver = transport.onmessage;
  transport.onmessage = (message: JSONRPCMessage) => {
    transport.noteIncoming(message);
    deliver?.(message);
  };
  log.info({ access: app.config.access, embedded: started.embedded !== undefined }, 'pgmcp serving MCP on stdio');
}

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import {
  type CallToolResult,
  type ElicitRequest,
  ElicitRequestSchema,
  type ElicitResult,
} from '@modelcontextprotocol/sdk/types.js';
import { type App, createApp } from '../../src/app.js';
import { resolveConfig } from '../../src/config/resolve.js';
import { createLogger, type Logger } from '../../src/log.js';
import { createMcpServer } from '../../src/server.js';
import { initParser } from '../../src/sql/parser.js';
import { resultText } from '../../src/tools/result-text.js';

export interface InProcess {
  app: App;
  client: Client;
  /** Calls a tool; returns the result with its text joined. */
  call(name: string, args?: Record<string, unknown>): Promise<CallToolResult & { text: string }>;
  close(): Promise<void>;
}

export { pgEnv } from './postgres-server.js';

export interface InProcessOptions {
  /** The caller's identity (audit lines). */
  identity?: string;
  /** Replaces the stderr logger (to read what pgmcp logs). */
  log?: Logger;
  /** Makes the client one that can ask its user (MCP elicitation): this answers each question. */
  ask?: (params: ElicitRequest['params']) => ElicitResult | Promise<ElicitResult>;
}

/** A real SDK Client connected in-process to a real pgmcp server built from `env` (PG* plus PGMCP_*). */
export async function startInProcess(env: Record<string, string>, opts: InProcessOptions = {}): Promise<InProcess> {
  await initParser();
  const { config } = resolveConfig({ env: { PGMCP_LOG_LEVEL: 'warn', ...env } });
  const app = createApp(config, opts.log ?? createLogger(config.log.level));
  const server = createMcpServer(app, {
    sessionId: `test-${Math.random().toString(36).slice(2)}`,
    identity: opts.identity ?? 'test',
  });
  const [a, b] = InMemoryTransport.createLinkedPair();
  const { ask } = opts;
  const client = new Client({ name: 'pgmcp-test', version: '0' }, ask ? { capabilities: { elicitation: {} } } : {});
  if (ask) client.setRequestHandler(ElicitRequestSchema, (request) => ask(request.params));
  await Promise.all([server.connect(b), client.connect(a)]);
  return {
    app,
    client,
    async call(name, args = {}) {
      const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
      return { ...result, text: resultText(result) };
    },
    async close() {
      await client.close();
      await server.close();
      await app.close();
    },
  };
}

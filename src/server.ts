import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { App } from './app.js';
import { fingerprintStatement } from './sql/fingerprint.js';
import { initParser } from './sql/parser.js';
import type { Caller, ToolContext } from './tools/context.js';
import { annotationsFor } from './tools/define.js';
import { dispatchTool } from './tools/dispatch.js';
import { toolsFor } from './tools/registry.js';
import { VERSION } from './version.js';

function instructions(app: App): string {
  const { access } = app.config;
  return [
    `pgmcp gives access to PostgreSQL at access level "${access}".`,
    'Use pg_schema to find tables and columns before writing SQL, and pg_query for read-only SELECTs (paged, with $1 parameters).',
    access === 'read' ? 'Writes are not available at this access level.' : '',
  ].join(' ');
}

function fingerprintArgs(args: Record<string, unknown>): string | undefined {
  return typeof args.sql === 'string' ? fingerprintStatement(args.sql) : undefined;
}

/** One MCP server (one per session): the tools of the configuration, each dispatched through the same path. */
export function createMcpServer(app: App, caller: Caller): McpServer {
  const server = new McpServer(
    { name: 'pgmcp', version: VERSION },
    { capabilities: { tools: {} }, instructions: instructions(app) },
  );
  for (const def of toolsFor(app.config, app.components)) {
    server.registerTool(
      def.name,
      {
        title: def.title,
        description: def.description,
        inputSchema: def.input,
        outputSchema: def.output,
        annotations: annotationsFor(def),
      },
      async (args: Record<string, unknown>, extra) => {
        await initParser();
        const progressToken = extra._meta?.progressToken;
        const ctx: ToolContext = {
          config: app.config,
          pools: app.pools,
          log: app.log,
          caller,
          signal: extra.signal,
          redact: app.redact,
          progress: async (progress, total, message) => {
            if (progressToken === undefined) return;
            await extra.sendNotification({
              method: 'notifications/progress',
              params: {
                progressToken,
                progress,
                ...(total !== undefined ? { total } : {}),
                ...(message ? { message } : {}),
              },
            });
          },
        };
        return app.track(dispatchTool(def, args, ctx, app.audit, fingerprintArgs));
      },
    );
  }
  return server;
}

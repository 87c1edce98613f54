import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { type CallToolResult, ErrorCode, ListToolsRequestSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv-provider.js';
import type { JsonSchemaType, jsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/types.js';
import type { App } from './app.js';
import { fingerprintStatement } from './sql/fingerprint.js';
import { initParser, parserLoaded } from './sql/parser.js';
import { readCallRequest } from './tools/call-request.js';
import { followTools } from './tools/citus-detection.js';
import type { Caller, ToolContext } from './tools/context.js';
import { type AccessLevel, accessAllows, requiredAccess, type ToolDefinition } from './tools/define.js';
import { dispatchTool, effectiveAccess } from './tools/dispatch.js';
import { parseArguments, toolListing } from './tools/listing.js';
import { VERSION } from './version.js';

function instructions(access: AccessLevel): string {
  return [
    `pgmcp gives access to PostgreSQL at access level "${access}".`,
    'Use pg_schema to find tables and columns before writing SQL, and pg_query for read-only SELECTs (paged, with $1 parameters).',
    access === 'read' ? 'Writes are not available at this access level.' : '',
  ].join(' ');
}

/** The audit fingerprint of a call's SQL: of `sql`, or of each of `statements` joined with `+`. */
export function fingerprintArgs(args: Record<string, unknown>): string | undefined {
  if (typeof args.sql === 'string') return fingerprintStatement(args.sql);
  if (Array.isArray(args.statements)) {
    return args.statements.map((s) => (typeof s === 'string' ? fingerprintStatement(s) : '?')).join('+');
  }
  return undefined;
}

/** JSON Schema validation (used by the SDK only for elicitation answers) built on first use, not at start-up. */
function lazyValidator(): jsonSchemaValidator {
  let ajv: AjvJsonSchemaValidator | undefined;
  return {
    getValidator<T>(schema: JsonSchemaType) {
      ajv ??= new AjvJsonSchemaValidator();
      return ajv.getValidator<T>(schema);
    },
  };
}

/**
 * One MCP server (one per session) on the SDK's protocol layer: tools/list answers from listings worked out once,
 * tools/call validates the arguments once and runs every tool through the same dispatcher. An unknown tool is a
 * protocol error; bad arguments and expected failures are `isError` results; bugs are protocol errors.
 */
export function createMcpServer(app: App, caller: Caller, definitions?: readonly ToolDefinition[]): Server {
  // tools/list shows what this caller's scope allows; a call naming another tool is refused by the dispatcher.
  const granted = effectiveAccess(app.config.access, caller);
  const server = new Server(
    { name: 'pgmcp', version: VERSION },
    {
      capabilities: { tools: { listChanged: true } },
      instructions: instructions(granted),
      jsonSchemaValidator: lazyValidator(),
    },
  );
  const warmParser = () =>
    initParser().catch((err: unknown) => app.log.error({ err: String(err) }, 'SQL parser failed to load'));
  let tools = new Map<string, ToolDefinition>();
  let visible: ToolDefinition[] = [];
  let listed = false;
  // The tools follow Citus detection (unless fixed): a client that has listed them hears of a change.
  const unfollow = followTools(app, definitions, (defs) => {
    tools = new Map(defs.map((d) => [d.name, d]));
    visible = defs.filter((d) => accessAllows(granted, requiredAccess(d)));
    if (listed) server.sendToolListChanged().catch(() => undefined);
  });
  server.setRequestHandler(ListToolsRequestSchema, async () => {
    await app.citus.settled();
    listed = true;
    // The SQL parser's WASM loads once the listing has gone out: it never delays the handshake, and is usually ready
    // before the first call (which waits for it otherwise).
    setImmediate(warmParser);
    return { tools: visible.map(toolListing) };
  });
  // tools/call is served by the fallback handler rather than setRequestHandler: the SDK's Server wraps a tools/call
  // handler so that every request is parsed twice and every result once more with zod (tens of microseconds a call).
  // readCallRequest checks the params by hand; results are built in one place (dispatchTool) and tested against the
  // SDK's CallToolResult schema.
  server.fallbackRequestHandler = async (request, extra): Promise<CallToolResult> => {
    if (request.method !== 'tools/call') throw new McpError(ErrorCode.MethodNotFound, 'Method not found');
    const call = readCallRequest(request.params);
    const def = tools.get(call.name);
    if (!def) {
      throw new McpError(
        ErrorCode.InvalidParams,
        `unknown tool ${call.name}; this server has ${[...tools.keys()].join(', ')}`,
      );
    }
    const parsed = parseArguments(def, call.arguments);
    if (!parsed.ok) return { isError: true, content: [{ type: 'text', text: parsed.message }] };
    if (!parserLoaded()) await initParser();
    const { progressToken } = call;
    const canElicit = server.getClientCapabilities()?.elicitation !== undefined;
    const ctx: ToolContext = {
      config: app.config,
      components: app.components,
      pools: app.pools,
      log: app.log,
      caller,
      signal: extra.signal,
      redact: app.redact,
      confirmations: app.confirmations,
      transactions: app.transactions,
      ...(canElicit ? { elicit: (params) => server.elicitInput(params, { signal: extra.signal }) } : {}),
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
    return app.track(dispatchTool(def, parsed.args, ctx, app.audit, fingerprintArgs));
  };
  // However the session ends (transport closed, client gone), what it holds is released.
  server.onclose = () => {
    unfollow();
    void app.sessionEnded(caller.sessionId);
  };
  return server;
}

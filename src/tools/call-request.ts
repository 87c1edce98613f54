import { ErrorCode, McpError, type ProgressToken } from '@modelcontextprotocol/sdk/types.js';

/** What pgmcp needs of a tools/call request's params. */
export interface CallRequest {
  name: string;
  arguments: Record<string, unknown>;
  progressToken?: ProgressToken;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function invalid(what: string): McpError {
  return new McpError(ErrorCode.InvalidParams, `Invalid tools/call request: ${what}`);
}

/**
 * The params of a tools/call request, checked by hand for exactly what the protocol requires of them (a tool name, an
 * arguments object when given, a string or number progress token when given): the same rules as the SDK's zod schema
 * for the request, at a fraction of its cost per call. Anything else in params (_meta fields, extensions) is ignored.
 */
export function readCallRequest(params: unknown): CallRequest {
  if (!isRecord(params)) throw invalid('params must be an object');
  const { name, arguments: args, _meta: meta } = params;
  if (typeof name !== 'string') throw invalid('params.name must be a string (the tool to call)');
  if (args !== undefined && !isRecord(args)) throw invalid('params.arguments must be an object');
  if (meta !== undefined && !isRecord(meta)) throw invalid('params._meta must be an object');
  const token = meta?.progressToken;
  if (token !== undefined && typeof token !== 'string' && !(typeof token === 'number' && Number.isInteger(token))) {
    throw invalid('params._meta.progressToken must be a string or an integer');
  }
  return { name, arguments: args ?? {}, ...(token !== undefined ? { progressToken: token } : {}) };
}

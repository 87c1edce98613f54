import type { JSONRPCRequest } from '@modelcontextprotocol/sdk/types.js';

/**
 * The SDK protocol layer's own entry for an incoming request (what its transport message handler calls once it has
 * told a request from a response or a notification by parsing the message against three zod schemas, two of which
 * fail for every request): handlers, cancellation, progress and the answer all work as before. pgmcp's stdio transport
 * has already checked the request's envelope to the same rules (readLine), so it hands requests here directly.
 *
 * The entry is not part of the SDK's typed API: it is looked up at run time, and when an SDK version does not have it
 * this returns undefined and requests go through the transport's onmessage as usual (a test says which one the
 * installed SDK takes).
 */
export function protocolRequestEntry(protocol: object): ((request: JSONRPCRequest) => void) | undefined {
  const entry = (protocol as unknown as { _onrequest?: unknown })._onrequest;
  if (typeof entry !== 'function') return undefined;
  return (request) => {
    entry.call(protocol, request, undefined);
  };
}

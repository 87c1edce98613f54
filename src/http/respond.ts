/** Small helpers to read request bodies with a limit and to answer in JSON or JSON-RPC. */
import type { IncomingMessage, ServerResponse } from 'node:http';

export type BodyResult = { ok: true; text: string } | { ok: false; status: 413 | 400; message: string };

/**
 * Reads a request body up to `limit` bytes. A declared Content-Length over the limit is refused without reading;
 * otherwise reading stops as soon as more than the limit has arrived (413 either way).
 */
export function readBody(req: IncomingMessage, limit: number): Promise<BodyResult> {
  const tooLarge: BodyResult = {
    ok: false,
    status: 413,
    message: `request body larger than ${limit} bytes (http.bodyLimit)`,
  };
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    // Not buffered: read and dropped while the 413 goes out, so the connection stays usable.
    req.resume();
    return Promise.resolve(tooLarge);
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (result: BodyResult) => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        // Stop buffering; what is still coming is read and dropped while the 413 goes out.
        chunks.length = 0;
        finish(tooLarge);
        req.resume();
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => finish({ ok: true, text: Buffer.concat(chunks).toString('utf8') }));
    req.on('error', (err) => finish({ ok: false, status: 400, message: `request body: ${err.message}` }));
    req.on('aborted', () => finish({ ok: false, status: 400, message: 'request aborted' }));
  });
}

/** Parses a JSON body; an empty body is `undefined`. */
export function parseJson(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  if (text.trim() === '') return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, message: `invalid JSON: ${(err as Error).message}` };
  }
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string | number> = {},
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** JSON-RPC error codes the gateway answers with outside the protocol layer. */
export const RPC = { parseError: -32700, invalidRequest: -32600, serverError: -32000, sessionNotFound: -32001 };

/** A JSON-RPC error object as the /mcp endpoint answers refusals (like the SDK's transport does). */
export function sendRpcError(
  res: ServerResponse,
  status: number,
  code: number,
  message: string,
  headers: Record<string, string | number> = {},
): void {
  sendJson(res, status, { jsonrpc: '2.0', error: { code, message }, id: null }, headers);
}

import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage, JSONRPCRequest } from '@modelcontextprotocol/sdk/types.js';

type Id = string | number;

/** A line longer than this is refused (the SDK's own stdio transport uses the same cap). */
export const MAX_LINE_BYTES = 10 * 1024 * 1024;

const PARSE_ERROR = -32700;
const INVALID_REQUEST = -32600;

/** What one line of input is: a message to deliver, or the error answer to send back. */
export type LineVerdict =
  | { message: JSONRPCMessage }
  | { reply: { jsonrpc: '2.0'; id: Id | null; error: { code: number; message: string } } };

/** The members a request or notification may have (the protocol's schema for them is strict). */
const REQUEST_MEMBERS = new Set(['jsonrpc', 'id', 'method', 'params']);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function refuse(id: unknown, code: number, message: string): LineVerdict {
  const usable = typeof id === 'string' || typeof id === 'number' ? id : null;
  return { reply: { jsonrpc: '2.0', id: usable, error: { code, message } } };
}

/**
 * One line of stdin as JSON-RPC: parsed, and its envelope checked (a 2.0 object that is a request, a notification or a
 * response; a request or notification with nothing but jsonrpc, id, method and params, as the protocol's schema has
 * it). What a method's params must look like is checked by the server for that method, so the envelope check is all
 * that is needed here. A line that is not JSON or not JSON-RPC gets the JSON-RPC error answer (parse error,
 * invalid request) instead of being dropped without a word.
 */
export function readLine(line: string): LineVerdict {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    return refuse(null, PARSE_ERROR, `Parse error: ${(err as Error).message}`);
  }
  if (!isRecord(value)) return refuse(null, INVALID_REQUEST, 'Invalid Request: a JSON-RPC message is a JSON object');
  if (value.jsonrpc !== '2.0') return refuse(value.id, INVALID_REQUEST, 'Invalid Request: jsonrpc must be "2.0"');
  const id = value.id;
  const idOk = typeof id === 'string' || (typeof id === 'number' && Number.isInteger(id));
  if ('method' in value) {
    if (typeof value.method !== 'string')
      return refuse(id, INVALID_REQUEST, 'Invalid Request: method must be a string');
    if ('id' in value && !idOk)
      return refuse(null, INVALID_REQUEST, 'Invalid Request: id must be a string or an integer');
    if ('params' in value && !isRecord(value.params)) {
      return refuse(id, INVALID_REQUEST, 'Invalid Request: params must be an object');
    }
    for (const key in value) {
      if (!REQUEST_MEMBERS.has(key)) return refuse(id, INVALID_REQUEST, `Invalid Request: unknown member "${key}"`);
    }
    return { message: value as JSONRPCMessage };
  }
  if (('result' in value || 'error' in value) && (idOk || id === null)) return { message: value as JSONRPCMessage };
  return refuse(id, INVALID_REQUEST, 'Invalid Request: neither a request, a notification nor a response');
}

/**
 * MCP over stdin/stdout, one JSON-RPC message per line. Unlike the SDK's stdio transport it does not run every incoming
 * message through the zod schema of the whole JSON-RPC union (tens of microseconds per message, repeated by the
 * protocol layer's own checks); it answers malformed lines with JSON-RPC errors; and it keeps count of the requests
 * not yet answered, so that a client that sends its requests and closes stdin (`printf … | pgmcp`) still gets every
 * answer before the server exits.
 */
export class StdioTransport implements Transport {
  onmessage?: (message: JSONRPCMessage) => void;
  onerror?: (error: Error) => void;
  onclose?: () => void;
  /**
   * When set, requests are handed here instead of to onmessage: the protocol layer's own entry for requests (see
   * request-entry.ts), past the type checks its onmessage runs on every message, which readLine has already made.
   */
  requestEntry?: (request: JSONRPCRequest) => void;

  private pendingChunks: Buffer[] = [];
  private pendingBytes = 0;
  private started = false;
  private closed = false;
  private readonly unanswered = new Set<Id>();
  private idle: (() => void) | undefined;

  constructor(
    private readonly input: NodeJS.ReadableStream = process.stdin,
    private readonly output: NodeJS.WritableStream = process.stdout,
  ) {}

  private readonly onData = (chunk: Buffer): void => {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl === -1) {
        this.keep(chunk.subarray(start));
        return;
      }
      let line: Buffer = chunk.subarray(start, nl);
      if (this.pendingChunks.length > 0) {
        line = Buffer.concat([...this.pendingChunks, line]);
        this.pendingChunks = [];
        this.pendingBytes = 0;
      }
      start = nl + 1;
      this.deliver(line);
    }
  };

  private readonly onInputError = (err: Error): void => this.onerror?.(err);

  private keep(part: Buffer): void {
    if (part.length === 0) return;
    this.pendingBytes += part.length;
    if (this.pendingBytes > MAX_LINE_BYTES) {
      this.pendingChunks = [];
      this.pendingBytes = 0;
      this.onerror?.(new Error(`a message longer than ${MAX_LINE_BYTES} bytes was discarded`));
      return;
    }
    // The stream may reuse its buffer: keep a copy.
    this.pendingChunks.push(Buffer.from(part));
  }

  private deliver(bytes: Buffer): void {
    const end = bytes.length > 0 && bytes[bytes.length - 1] === 13 ? bytes.length - 1 : bytes.length;
    if (end === 0) return;
    if (end > MAX_LINE_BYTES) {
      this.onerror?.(new Error(`a message longer than ${MAX_LINE_BYTES} bytes was discarded`));
      return;
    }
    const verdict = readLine(bytes.toString('utf8', 0, end));
    if ('reply' in verdict) {
      this.onerror?.(new Error(verdict.reply.error.message));
      void this.send(verdict.reply as JSONRPCMessage);
      return;
    }
    const message = verdict.message as { method?: unknown; id?: Id };
    if (typeof message.method === 'string' && message.id !== undefined) {
      this.unanswered.add(message.id);
      if (this.requestEntry) {
        this.requestEntry(verdict.message as JSONRPCRequest);
        return;
      }
    }
    this.onmessage?.(verdict.message);
  }

  async start(): Promise<void> {
    if (this.started) throw new Error('the stdio transport is already started');
    this.started = true;
    this.input.on('data', this.onData);
    this.input.on('error', this.onInputError);
  }

  send(message: JSONRPCMessage): Promise<void> {
    const m = message as { id?: Id | null; result?: unknown; error?: unknown };
    if (('result' in m || 'error' in m) && m.id !== undefined && m.id !== null && this.unanswered.delete(m.id)) {
      if (this.unanswered.size === 0) queueMicrotask(() => this.idle?.());
    }
    if (this.closed) return Promise.resolve();
    const text = `${JSON.stringify(message)}\n`;
    return new Promise((resolve) => {
      if (this.output.write(text)) resolve();
      else this.output.once('drain', () => resolve());
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.input.off('data', this.onData);
    this.input.off('error', this.onInputError);
    if (this.input.listenerCount('data') === 0) this.input.pause();
    this.pendingChunks = [];
    this.onclose?.();
  }

  /** Resolves once every request received so far is answered (or after `timeoutMs`); true when all were. */
  answered(timeoutMs: number): Promise<boolean> {
    if (this.unanswered.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.idle = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }
}

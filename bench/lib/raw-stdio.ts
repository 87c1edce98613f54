/**
 * A minimal stdio JSON-RPC client, for what the SDK client cannot measure cleanly: a server's own start-up (no
 * client-side work on the answers, such as the SDK compiling validators for every tool's output schema) and one huge
 * response (the SDK's StdioClientTransport caps one message at 10 MiB and grows its buffer with Buffer.concat per
 * chunk, quadratic for a message of hundreds of MB). It keeps only the head and tail of each line and its length, so
 * what it measures is the server: the time until the last byte of the answer arrived.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';

export interface RawLine {
  bytes: number;
  /** The whole line when it is short, else its first bytes. */
  head: string;
  /** The last bytes of a long line ('' for a short one). */
  tail: string;
}

const KEEP = 512;
const WHOLE = 1 << 20;

/** Splits a byte stream into lines, keeping each short line whole and only the ends of a long one. */
class LineSink {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private tailBuf: Buffer = Buffer.alloc(0);

  constructor(private readonly onLine: (line: RawLine) => void) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      const part = chunk.subarray(start, nl === -1 ? chunk.length : nl);
      this.take(part);
      if (nl === -1) return;
      this.flush();
      start = nl + 1;
    }
  }

  private take(part: Buffer): void {
    if (part.length === 0) return;
    if (this.bytes < WHOLE) this.chunks.push(Buffer.from(part));
    this.bytes += part.length;
    this.tailBuf = Buffer.concat([this.tailBuf, part]).subarray(-KEEP);
  }

  private flush(): void {
    const joined = Buffer.concat(this.chunks);
    const line: RawLine =
      this.bytes <= WHOLE
        ? { bytes: this.bytes, head: joined.toString('utf8'), tail: '' }
        : { bytes: this.bytes, head: joined.subarray(0, KEEP).toString('utf8'), tail: this.tailBuf.toString('utf8') };
    this.chunks = [];
    this.bytes = 0;
    this.tailBuf = Buffer.alloc(0);
    this.onLine(line);
  }
}

export interface RawSession {
  pid: number;
  /** Resolves once the process runs; rejects when it could not be started. */
  spawned: Promise<void>;
  /** Sends a request and resolves with its answer line and the time from send to its last byte. */
  request(method: string, params: unknown, timeoutMs: number): Promise<{ line: RawLine; ms: number }>;
  notify(method: string, params?: unknown): void;
  close(): Promise<void>;
}

/**
 * Spawns a stdio MCP server without waiting for anything: requests may be written at once (they wait in the pipe
 * until the server reads them).
 */
export function rawSpawn(command: string, args: string[], env: Record<string, string>): RawSession {
  const child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stderr.resume();
  // A server that exits early (or never started) must not turn a pending write into an uncaught EPIPE.
  child.stdin.on('error', () => undefined);
  let nextId = 1;
  const waiting = new Map<number, (line: RawLine) => void>();
  const sink = new LineSink((line) => {
    // The id may come first or last in the object (SDK versions differ): look at both ends of a long line.
    const ids = [...`${line.head}\n${line.tail}`.matchAll(/"id"\s*:\s*(\d+)/g)].map((m) => Number(m[1]));
    const isResponse = /"(result|error)"\s*:/.test(line.head) || line.bytes > WHOLE;
    if (!isResponse) return;
    for (const id of ids) {
      const done = waiting.get(id);
      if (done) {
        waiting.delete(id);
        done(line);
        return;
      }
    }
  });
  child.stdout.on('data', (d: Buffer) => sink.push(d));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', reject);
  });
  // A failed spawn also rejects every request (the child closes); keep the rejection from going unhandled.
  spawned.catch(() => undefined);
  const send = (msg: unknown) => child.stdin.write(`${JSON.stringify(msg)}\n`);
  return {
    pid: child.pid ?? 0,
    spawned,
    request(method, params, timeoutMs) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`no answer to ${method} within ${timeoutMs} ms`));
        }, timeoutMs);
        const gone = () => reject(new Error(`server exited before answering ${method}`));
        child.once('close', gone);
        const t0 = performance.now();
        waiting.set(id, (line) => {
          clearTimeout(timer);
          child.off('close', gone);
          resolve({ line, ms: performance.now() - t0 });
        });
        send({ jsonrpc: '2.0', id, method, params });
      });
    },
    notify(method, params) {
      send({ jsonrpc: '2.0', method, ...(params === undefined ? {} : { params }) });
    },
    async close() {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export const INITIALIZE_PARAMS = {
  protocolVersion: '2024-11-05',
  capabilities: {},
  clientInfo: { name: 'pgmcp-bench-raw', version: '0' },
};

/** Spawns a stdio MCP server and runs initialize on it. */
export async function rawStart(command: string, args: string[], env: Record<string, string>): Promise<RawSession> {
  const session = rawSpawn(command, args, env);
  await session.spawned;
  await session.request('initialize', INITIALIZE_PARAMS, 30_000);
  session.notify('notifications/initialized');
  return session;
}

/** Helpers of the HTTP gateway tests: a gateway on a random loopback port, SDK clients, tokens files. */

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { App } from '../../src/app.js';
import { start } from '../../src/bootstrap.js';
import { type RunningGateway, startGateway } from '../../src/commands/serve-http.js';
import { hashSecret, newSecret } from '../../src/http/auth.js';
import { resultText } from '../../src/tools/result-text.js';

export interface TestGateway {
  app: App;
  running: RunningGateway;
  /** http://127.0.0.1:PORT */
  base: string;
  /** http://127.0.0.1:PORT/mcp */
  url: string;
  /** The audit file's records so far. */
  audit(): Record<string, unknown>[];
  stop(): Promise<void>;
}

const dirs: string[] = [];

export function tempDir(prefix = 'pgmcp-http-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** Starts the gateway in this process the way `pgmcp serve --transport http` does, on a random port. */
export async function startTestGateway(env: Record<string, string>): Promise<TestGateway> {
  const auditFile = path.join(tempDir('pgmcp-http-audit-'), 'audit.log');
  const started = await start({
    flags: {},
    env: {
      PGMCP_LOG_LEVEL: 'error',
      PGMCP_TRANSPORT: 'http',
      PGMCP_HTTP_PORT: '0',
      PGMCP_AUDIT_FILE: auditFile,
      ...env,
    },
  });
  const running = await startGateway(started);
  const base = `http://127.0.0.1:${running.listening.port}`;
  return {
    app: started.app,
    running,
    base,
    url: `${base}/mcp`,
    audit() {
      let text = '';
      try {
        text = readFileSync(auditFile, 'utf8');
      } catch {
        return [];
      }
      return text
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { audit: Record<string, unknown> }).audit);
    },
    stop: () => running.stop(),
  };
}

export interface TokenSpec {
  name: string;
  scope: 'read' | 'write' | 'admin';
  databases?: string[];
}

/** Writes a tokens file (YAML) with a fresh secret per token; returns its path and the secrets by name. */
export function writeTokensFile(
  tokens: TokenSpec[],
  identities: { login: string; scope: string; databases?: string[] }[] = [],
): { file: string; secrets: Record<string, string> } {
  const secrets: Record<string, string> = {};
  const lines = ['tokens:'];
  for (const t of tokens) {
    const secret = newSecret();
    secrets[t.name] = secret;
    lines.push(`  - name: ${t.name}`, `    sha256: ${hashSecret(secret)}`, `    scope: ${t.scope}`);
    if (t.databases) lines.push(`    databases: [${t.databases.join(', ')}]`);
  }
  if (identities.length > 0) {
    lines.push('identities:');
    for (const i of identities) {
      lines.push(`  - login: "${i.login}"`, `    scope: ${i.scope}`);
      if (i.databases) lines.push(`    databases: [${i.databases.join(', ')}]`);
    }
  }
  const file = path.join(tempDir('pgmcp-http-tokens-'), 'tokens.yaml');
  writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o600 });
  return { file, secrets };
}

export type Result = CallToolResult & { text: string };

export interface McpSession<T = StreamableHTTPClientTransport> {
  client: Client;
  transport: T;
  call(name: string, args?: Record<string, unknown>): Promise<Result>;
  ok(name: string, args?: Record<string, unknown>): Promise<Result>;
  close(): Promise<void>;
}

/** Connects a real SDK client over `transport` and gives it `call` (text joined) and `ok` (throws on isError). */
export async function sessionOver<T extends Transport>(transport: T, name: string): Promise<McpSession<T>> {
  const client = new Client({ name, version: '0' });
  await client.connect(transport);
  const call = async (tool: string, args: Record<string, unknown> = {}): Promise<Result> => {
    const result = (await client.callTool({ name: tool, arguments: args })) as CallToolResult;
    return { ...result, text: resultText(result) };
  };
  return {
    client,
    transport,
    call,
    async ok(tool, args = {}) {
      const r = await call(tool, args);
      if (r.isError) throw new Error(`${tool} ${JSON.stringify(args)} failed: ${r.text}`);
      return r;
    },
    close: () => client.close(),
  };
}

/** A real SDK client over Streamable HTTP, with a bearer token and extra headers when given. */
export function connect(url: string, token?: string, headers: Record<string, string> = {}): Promise<McpSession> {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}) } },
  });
  return sessionOver(transport, 'pgmcp-http-test');
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it is true, or throws after `timeoutMs`. */
export async function until(check: () => Promise<boolean> | boolean, timeoutMs = 5000): Promise<void> {
  const started = performance.now();
  for (;;) {
    if (await check()) return;
    if (performance.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** An initialize request body as a client sends it. */
export function initializeBody(id = 1): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
  });
}

export const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json<T = Record<string, unknown>>(): T;
}

/**
 * One HTTP request through node:http (fetch cannot set Host). `body` may be a string, or a number of bytes to send
 * (chunked, without Content-Length, when `chunked` is set).
 */
export function raw(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; chunked?: boolean } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text,
          json: <T>() => JSON.parse(text) as T,
        });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (options.body !== undefined) {
      if (options.chunked) {
        // Several writes without Content-Length: node sends it chunked.
        const body = options.body;
        const step = 16 * 1024;
        for (let i = 0; i < body.length; i += step) req.write(body.slice(i, i + step));
      } else {
        req.setHeader('content-length', Buffer.byteLength(options.body));
        req.write(options.body);
      }
    }
    req.end();
  });
}

export interface SpawnedGateway {
  child: ChildProcess;
  base: string;
  url: string;
  stderr(): string;
  /** Settles when the process ends: exit code or signal, and milliseconds since `signal()` was called. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; msSinceSignal: number }>;
  signal(sig: NodeJS.Signals): void;
}

/**
 * Spawns `command args… serve --transport http --port 0` and waits for the log line with its URL. Rejects with the
 * process's stderr when it exits first.
 */
export function spawnGateway(
  command: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs = 20_000,
): Promise<SpawnedGateway> {
  return spawnServing(
    command,
    [...args, 'serve', '--transport', 'http', '--port', '0'],
    { PGMCP_LOG_LEVEL: 'info', ...env },
    timeoutMs,
  );
}

/** Spawns `command argv…` with exactly `env` and waits for the gateway's log line with its URL, as spawnGateway. */
export function spawnServing(
  command: string,
  argv: string[],
  env: Record<string, string>,
  timeoutMs = 20_000,
): Promise<SpawnedGateway> {
  const child = spawn(command, argv, {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  let signalledAt = 0;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; msSinceSignal: number }>(
    (resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal, msSinceSignal: performance.now() - signalledAt }));
    },
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no URL logged within ${timeoutMs} ms:\n${err}`));
    }, timeoutMs);
    let found = false;
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      const m = found ? null : /"url":"(http:\/\/[^"]+\/mcp)"/.exec(err);
      if (m?.[1]) {
        found = true;
        clearTimeout(timer);
        const url = m[1];
        resolve({
          child,
          url,
          base: url.replace(/\/mcp$/, ''),
          stderr: () => err,
          exited,
          signal(sig) {
            signalledAt = performance.now();
            child.kill(sig);
          },
        });
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`exited (${signal ?? code}) before serving:\n${err}`));
    });
  });
}

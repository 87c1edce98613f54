/**
 * MCP servers spawned the way an MCP client spawns them: the real SDK `Client` over `StdioClientTransport`, stderr
 * piped and drained (pgmcp writes an audit line per call there; an undrained pipe would stall the server).
 */
import { performance } from 'node:perf_hooks';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { resultText } from '../../src/tools/result-text.js';

export interface ServerSpec {
  /** Short key used in the JSON results, e.g. `binary`. */
  id: string;
  /** Human label, e.g. `pgmcp binary (bun)`. */
  label: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  /** The tool that runs SQL and how its arguments are built. */
  tool: string;
  toolArgs(sql: string): Record<string, unknown>;
}

export interface RunningServer {
  spec: ServerSpec;
  client: Client;
  transport: StdioClientTransport;
  pid: number;
  /** spawn → initialize answered (and `notifications/initialized` sent), ms. */
  initializeMs: number;
  /** spawn → tools/list answered, ms. */
  readyMs: number;
  toolNames: string[];
  /** Calls the SQL tool; throws when the result is a tool error. */
  query(sql: string, timeoutMs?: number): Promise<CallToolResult>;
  /** The last few KB of the server's stderr (for error reports). */
  stderrTail(): string;
  close(): Promise<void>;
}

export interface StartOptions {
  /** StdioClientTransport's cap on one incoming message (SDK default 10 MiB). */
  maxBufferSize?: number;
}

const STDERR_KEEP = 4096;

/** Spawns the server, runs initialize and tools/list, and measures both from just before the spawn. */
export async function startServer(spec: ServerSpec, opts: StartOptions = {}): Promise<RunningServer> {
  const transport = new StdioClientTransport({
    command: spec.command,
    args: spec.args,
    env: spec.env,
    stderr: 'pipe',
    ...(opts.maxBufferSize ? { maxBufferSize: opts.maxBufferSize } : {}),
  });
  let stderr = '';
  transport.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-STDERR_KEEP);
  });
  const client = new Client({ name: 'pgmcp-bench', version: '0' });
  const t0 = performance.now();
  try {
    await client.connect(transport);
  } catch (err) {
    await client.close().catch(() => undefined);
    throw new Error(`${spec.label}: initialize failed: ${(err as Error).message}\n${stderr}`);
  }
  const t1 = performance.now();
  const { tools } = await client.listTools();
  const t2 = performance.now();
  const pid = transport.pid;
  if (!pid) throw new Error(`${spec.label}: no pid after start`);
  return {
    spec,
    client,
    transport,
    pid,
    initializeMs: t1 - t0,
    readyMs: t2 - t0,
    toolNames: tools.map((t) => t.name),
    async query(sql, timeoutMs = 60_000) {
      const result = (await client.callTool({ name: spec.tool, arguments: spec.toolArgs(sql) }, undefined, {
        timeout: timeoutMs,
      })) as CallToolResult;
      if (result.isError) {
        throw new Error(`${spec.label}: ${spec.tool} failed: ${resultText(result).slice(0, 500)}`);
      }
      return result;
    },
    stderrTail: () => stderr,
    async close() {
      await client.close().catch(() => undefined);
    },
  };
}

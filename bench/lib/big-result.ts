/**
 * One statement with millions of rows. pgmcp fetches a page through a row-limited portal, so it should answer fast
 * and stay small; the reference server reads every row into memory and returns them all as one JSON text.
 */
import { performance } from 'node:perf_hooks';
import { type MemWatch, readMem, watchMem } from './proc.js';
import { rawStart } from './raw-stdio.js';
import { type RunningServer, type ServerSpec, startServer } from './spawn-server.js';

export interface PagedBigResult {
  /** Time from tools/call to the answer with the first page, per repeat, ms. */
  firstPageMs: number[];
  rowsInPage: number | null;
  truncated: boolean | null;
  /** Before the first big statement (after one `select 1`), MiB. */
  before: { rssMb: number; hwmMb: number } | null;
  /** After the last one. VmHWM here is the process's peak over the whole run. */
  after: { rssMb: number; hwmMb: number } | null;
  peakRssSampledMb: number | null;
  error?: string;
}

/**
 * pgmcp on fresh servers (one `select 1` first, so the connection exists), the statement run `repeats` times on each,
 * interleaved with `baseline` (PostgreSQL's own time to the first page) so that noise hits all of them alike.
 */
export async function pagedBigResults(
  specs: readonly ServerSpec[],
  sql: string,
  repeats: number,
  timeoutMs: number,
  baseline: () => Promise<void>,
): Promise<{ servers: Map<string, PagedBigResult>; baselineMs: number[] }> {
  const servers = new Map<string, PagedBigResult>();
  const live: { id: string; s: RunningServer; watch: MemWatch | undefined; out: PagedBigResult }[] = [];
  const baselineMs: number[] = [];
  try {
    for (const spec of specs) {
      const out: PagedBigResult = {
        firstPageMs: [],
        rowsInPage: null,
        truncated: null,
        before: null,
        after: null,
        peakRssSampledMb: null,
      };
      servers.set(spec.id, out);
      const s = await startServer(spec);
      await s.query('select 1');
      out.before = readMem(s.pid);
      live.push({ id: spec.id, s, watch: watchMem(s.pid, 20), out });
    }
    for (let i = 0; i < repeats; i++) {
      for (const l of live) {
        if (l.out.error) continue;
        try {
          const t0 = performance.now();
          const r = await l.s.query(sql, timeoutMs);
          l.out.firstPageMs.push(performance.now() - t0);
          const data = r.structuredContent as { rowCount?: number; truncated?: boolean } | undefined;
          l.out.rowsInPage = data?.rowCount ?? null;
          l.out.truncated = data?.truncated ?? null;
        } catch (err) {
          l.out.error = `${(err as Error).message.slice(0, 500)}\n${l.s.stderrTail().slice(-1000)}`;
        }
      }
      const t0 = performance.now();
      await baseline();
      baselineMs.push(performance.now() - t0);
    }
    for (const l of live) {
      l.out.peakRssSampledMb = l.watch?.stop().peakRssMb ?? null;
      l.watch = undefined;
      l.out.after = readMem(l.s.pid);
    }
  } finally {
    for (const l of live) {
      l.watch?.stop();
      await l.s.close();
    }
  }
  return { servers, baselineMs };
}

export interface WholeBigResult {
  /** How the answer was received. */
  client: 'sdk-default' | 'raw-line-reader';
  outcome: 'ok' | 'error' | 'timeout';
  /** tools/call → answer complete (or → failure), ms. */
  ms: number | null;
  responseBytes: number | null;
  /** Peak resident memory of the server (last VmHWM read while it lived), MiB. */
  hwmMb: number | null;
  peakRssSampledMb: number | null;
  error?: string;
}

/**
 * The reference server on the big statement through the SDK client with its default settings: what an SDK-based
 * MCP client gets. Expected to fail on the SDK's 10 MiB message cap; the time and memory until then are recorded.
 */
export async function wholeBigResultSdk(spec: ServerSpec, sql: string, timeoutMs: number): Promise<WholeBigResult> {
  const s = await startServer(spec);
  let watch: ReturnType<typeof watchMem> | undefined;
  const t0 = performance.now();
  const result: WholeBigResult = {
    client: 'sdk-default',
    outcome: 'ok',
    ms: null,
    responseBytes: null,
    hwmMb: null,
    peakRssSampledMb: null,
  };
  const transportErrors: string[] = [];
  s.client.onerror = (err) => {
    if (!transportErrors.includes(err.message)) transportErrors.push(err.message);
  };
  try {
    await s.query('select 1');
    watch = watchMem(s.pid, 20);
    const started = performance.now();
    try {
      const r = await s.query(sql, timeoutMs);
      result.ms = performance.now() - started;
      const text = r.content.map((c) => (c.type === 'text' ? c.text : '')).join('');
      result.responseBytes = Buffer.byteLength(text);
    } catch (err) {
      result.ms = performance.now() - started;
      const message = (err as Error).message;
      result.outcome = /timed out|timeout/i.test(message) ? 'timeout' : 'error';
      result.error = [message, ...transportErrors].join('; ').slice(0, 500);
    }
  } catch (err) {
    result.outcome = 'error';
    result.ms = performance.now() - t0;
    result.error = (err as Error).message.slice(0, 500);
  } finally {
    const m = watch?.stop();
    result.hwmMb = m?.hwmMb ?? null;
    result.peakRssSampledMb = m?.peakRssMb ?? null;
    await s.close();
  }
  return result;
}

/** The reference server on the big statement, answer read by a line reader that keeps only its ends. */
export async function wholeBigResultRaw(
  command: string,
  args: string[],
  env: Record<string, string>,
  tool: string,
  toolArgs: Record<string, unknown>,
  timeoutMs: number,
): Promise<WholeBigResult> {
  const result: WholeBigResult = {
    client: 'raw-line-reader',
    outcome: 'ok',
    ms: null,
    responseBytes: null,
    hwmMb: null,
    peakRssSampledMb: null,
  };
  const session = await rawStart(command, args, env);
  const watch = watchMem(session.pid, 20);
  try {
    await session.request('tools/call', { name: tool, arguments: { ...toolArgs, sql: 'select 1' } }, 30_000);
    const { line, ms } = await session.request('tools/call', { name: tool, arguments: toolArgs }, timeoutMs);
    result.ms = ms;
    result.responseBytes = line.bytes;
    const ends = `${line.head}${line.tail}`;
    if (/"error"\s*:\s*\{/.test(line.head) || /"isError"\s*:\s*true/.test(ends)) {
      result.outcome = 'error';
      result.error = `${line.head.slice(0, 300)} … ${line.tail.slice(-200)}`;
    }
  } catch (err) {
    const message = (err as Error).message;
    result.outcome = /no answer/.test(message) ? 'timeout' : 'error';
    if (result.outcome === 'timeout') result.ms = timeoutMs;
    result.error = message.slice(0, 500);
  } finally {
    const m = watch.stop();
    result.hwmMb = m.hwmMb;
    result.peakRssSampledMb = m.peakRssMb;
    await session.close();
  }
  return result;
}

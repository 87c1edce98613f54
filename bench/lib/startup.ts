/**
 * Startup, two ways, repeated, servers and ways interleaved run by run:
 * - sdk: spawn → initialize → tools/list with the SDK client, what an SDK-based MCP client waits for (its listTools()
 *   also compiles a validator for every tool's outputSchema before it returns);
 * - raw: server readiness: spawn → initialize, notifications/initialized and tools/list written at once as JSON
 *   lines → the tools/list answer read off the pipe, with no client-side work on it.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Mem, readMem } from './proc.js';
import { INITIALIZE_PARAMS, rawSpawn } from './raw-stdio.js';
import { type ServerSpec, startServer } from './spawn-server.js';

export interface StartupSamples {
  /** SDK client: spawn → initialize answered (connect), ms. */
  initializeMs: number[];
  /** SDK client: initialize answered → listTools() returned, ms. */
  listToolsMs: number[];
  /** SDK client: spawn → listTools() returned, ms. */
  readyMs: number[];
  rssMb: number[];
  hwmMb: number[];
  toolCount: number | null;
  errors: string[];
  /** Raw line reader: spawn → the initialize answer read, ms. */
  rawInitializeMs: number[];
  /** Raw line reader: spawn → the tools/list answer read, ms (server readiness). */
  rawReadyMs: number[];
  rawToolCount: number | null;
  /** Tools in the tools/list answer that declare an outputSchema, and the answer's size in bytes. */
  rawOutputSchemas: number | null;
  rawListBytes: number | null;
  rawErrors: string[];
}

const TIMEOUT_MS = 30_000;

/** Server readiness through the raw line reader: the three messages written right after the spawn. */
async function rawReadiness(
  spec: ServerSpec,
): Promise<{ initializeMs: number; readyMs: number; tools: number; outputSchemas: number; bytes: number }> {
  const t0 = performance.now();
  const s = rawSpawn(spec.command, spec.args, spec.env);
  try {
    let initializeMs = Number.NaN;
    const init = s.request('initialize', INITIALIZE_PARAMS, TIMEOUT_MS).then((r) => {
      initializeMs = performance.now() - t0;
      return r;
    });
    s.notify('notifications/initialized');
    const list = s.request('tools/list', {}, TIMEOUT_MS);
    const [, { line }] = await Promise.all([init, list]);
    const readyMs = performance.now() - t0;
    const answer = JSON.parse(line.head) as {
      result?: { tools?: { outputSchema?: unknown }[] };
      error?: { message?: string };
    };
    const tools = answer.result?.tools;
    if (!Array.isArray(tools)) {
      throw new Error(`${spec.label}: tools/list failed: ${answer.error?.message ?? line.head.slice(0, 300)}`);
    }
    const outputSchemas = tools.filter((t) => t.outputSchema !== undefined).length;
    return { initializeMs, readyMs, tools: tools.length, outputSchemas, bytes: line.bytes };
  } finally {
    await s.close();
  }
}

export async function measureStartup(
  specs: readonly ServerSpec[],
  runs: number,
  log: (line: string) => void,
): Promise<Map<string, StartupSamples>> {
  const out = new Map<string, StartupSamples>(
    specs.map((s) => [
      s.id,
      {
        initializeMs: [],
        listToolsMs: [],
        readyMs: [],
        rssMb: [],
        hwmMb: [],
        toolCount: null,
        errors: [],
        rawInitializeMs: [],
        rawReadyMs: [],
        rawToolCount: null,
        rawOutputSchemas: null,
        rawListBytes: null,
        rawErrors: [],
      },
    ]),
  );
  const sdk = async (spec: ServerSpec, o: StartupSamples, record: boolean) => {
    try {
      const s = await startServer(spec);
      const mem: Mem | null = readMem(s.pid);
      await s.close();
      if (!record) return;
      o.initializeMs.push(s.initializeMs);
      o.listToolsMs.push(s.readyMs - s.initializeMs);
      o.readyMs.push(s.readyMs);
      if (mem) {
        o.rssMb.push(mem.rssMb);
        o.hwmMb.push(mem.hwmMb);
      }
      o.toolCount = s.toolNames.length;
    } catch (err) {
      o.errors.push((err as Error).message.slice(0, 500));
    }
  };
  const raw = async (spec: ServerSpec, o: StartupSamples, record: boolean) => {
    try {
      const r = await rawReadiness(spec);
      if (!record) return;
      o.rawInitializeMs.push(r.initializeMs);
      o.rawReadyMs.push(r.readyMs);
      o.rawToolCount = r.tools;
      o.rawOutputSchemas = r.outputSchemas;
      o.rawListBytes = r.bytes;
    } catch (err) {
      o.rawErrors.push((err as Error).message.slice(0, 500));
    }
  };
  const steps = specs.flatMap((spec) => [sdk, raw].map((way) => ({ spec, way })));
  const once = async (step: (typeof steps)[number], record: boolean) => {
    await step.way(step.spec, out.get(step.spec.id) as StartupSamples, record);
    // Let the previous process's teardown finish before the next spawn.
    await sleep(150);
  };
  // One untimed start each way: page cache, first-run effects.
  for (const step of steps) await once(step, false);
  for (let r = 0; r < runs; r++) {
    for (let i = 0; i < steps.length; i++) await once(steps[(i + r) % steps.length] as (typeof steps)[number], true);
    if ((r + 1) % 5 === 0 || r + 1 === runs) log(`  startup run ${r + 1}/${runs}`);
  }
  return out;
}

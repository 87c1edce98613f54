/** Startup: spawn → initialize → tools/list with the SDK client, repeated, servers interleaved run by run. */
import { setTimeout as sleep } from 'node:timers/promises';
import { type Mem, readMem } from './proc.js';
import { type ServerSpec, startServer } from './spawn-server.js';

export interface StartupSamples {
  initializeMs: number[];
  readyMs: number[];
  rssMb: number[];
  hwmMb: number[];
  toolCount: number | null;
  errors: string[];
}

export async function measureStartup(
  specs: readonly ServerSpec[],
  runs: number,
  log: (line: string) => void,
): Promise<Map<string, StartupSamples>> {
  const out = new Map<string, StartupSamples>(
    specs.map((s) => [s.id, { initializeMs: [], readyMs: [], rssMb: [], hwmMb: [], toolCount: null, errors: [] }]),
  );
  const once = async (spec: ServerSpec, record: boolean) => {
    const o = out.get(spec.id) as StartupSamples;
    try {
      const s = await startServer(spec);
      const mem: Mem | null = readMem(s.pid);
      await s.close();
      if (record) {
        o.initializeMs.push(s.initializeMs);
        o.readyMs.push(s.readyMs);
        if (mem) {
          o.rssMb.push(mem.rssMb);
          o.hwmMb.push(mem.hwmMb);
        }
        o.toolCount = s.toolNames.length;
      }
    } catch (err) {
      o.errors.push((err as Error).message.slice(0, 500));
    }
    // Let the previous process's teardown finish before the next spawn.
    await sleep(150);
  };
  // One untimed start each: page cache, first-run effects.
  for (const spec of specs) await once(spec, false);
  for (let r = 0; r < runs; r++) {
    for (let i = 0; i < specs.length; i++) await once(specs[(i + r) % specs.length] as ServerSpec, true);
    if ((r + 1) % 5 === 0 || r + 1 === runs) log(`  startup run ${r + 1}/${runs}`);
  }
  return out;
}

/**
 * Reads a .cpuprofile (Chrome DevTools format, as written by `bun --cpu-prof` and `node --cpu-prof`) and sums sample
 * time by function and by code area (a src/ file, an npm package, the runtime).
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface Row {
  name: string;
  selfMs: number;
  totalMs: number;
}

export interface ProfileSummary {
  /** Time in samples that were not waiting (samples × the median sampling interval), ms. */
  busyMs: number;
  /** Idle time: samples in a wait frame plus the gaps where the sampler took no samples, ms. */
  idleMs: number;
  byFunction: Row[];
  byArea: Row[];
}

/** Frames that mean "waiting", not "working" (node: (idle); bun: the native read wait under internalRead). */
function isIdle(frame: CallFrame): boolean {
  return frame.functionName === '(idle)' || (frame.url === '' && frame.functionName === 'disown');
}

/** The code area of a frame: `src/db/read-query.ts`, `npm:zod`, `runtime:node:events`, `native`. */
export function areaOf(url: string, root: string): string {
  if (!url) return 'native';
  const path = url.replace(/^file:\/\//, '');
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path);
  if (nm) return `npm:${nm[1]}`;
  if (path.startsWith(`${root}/`)) return path.slice(root.length + 1);
  return `runtime:${path.replace(/:\d+$/, '')}`;
}

export function summarizeProfile(p: CpuProfile, root: string, top = 25): ProfileSummary {
  const byId = new Map<number, ProfileNode>(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const fnKey = (f: CallFrame) => {
    const where = f.url ? `${areaOf(f.url, root)}:${f.lineNumber + 1}` : 'native';
    return `${f.functionName || '(anonymous)'} @ ${where}`;
  };
  const fnSelf = new Map<string, number>();
  const fnTotal = new Map<string, number>();
  const areaSelf = new Map<string, number>();
  const areaTotal = new Map<string, number>();
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
  // A sampler that skips samples while the thread sleeps in the event loop leaves long gaps between samples: weigh
  // every sample with the usual (median) interval instead of the gap that follows it, and count the rest as idle.
  const gaps = p.timeDeltas.slice(1).filter((d) => d > 0);
  const interval = median(gaps) / 1000;
  const span = gaps.reduce((a, b) => a + b, 0) / 1000;
  let busy = 0;
  p.samples.forEach((id) => {
    const dt = interval;
    const leaf = byId.get(id);
    if (!leaf) return;
    if (isIdle(leaf.callFrame)) return;
    busy += dt;
    add(fnSelf, fnKey(leaf.callFrame), dt);
    add(areaSelf, areaOf(leaf.callFrame.url, root), dt);
    const seenFn = new Set<string>();
    const seenArea = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur);
      if (!n || n.callFrame.functionName === '(root)') continue;
      const k = fnKey(n.callFrame);
      if (!seenFn.has(k)) {
        seenFn.add(k);
        add(fnTotal, k, dt);
      }
      const a = areaOf(n.callFrame.url, root);
      if (n.callFrame.url && !seenArea.has(a)) {
        seenArea.add(a);
        add(areaTotal, a, dt);
      }
    }
  });
  const rows = (self: Map<string, number>, total: Map<string, number>): Row[] =>
    [...new Set([...self.keys(), ...total.keys()])]
      .map((name) => ({ name, selfMs: round(self.get(name) ?? 0), totalMs: round(total.get(name) ?? 0) }))
      .sort((a, b) => b.selfMs - a.selfMs || b.totalMs - a.totalMs)
      .slice(0, top);
  return {
    busyMs: round(busy),
    idleMs: round(Math.max(0, span - busy)),
    byFunction: rows(fnSelf, fnTotal),
    byArea: rows(areaSelf, areaTotal),
  };
}

const round = (v: number) => Math.round(v * 10) / 10;

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length === 0 ? 0 : (s[Math.floor(s.length / 2)] as number);
}

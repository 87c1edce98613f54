/** Memory of a process from /proc/<pid>/status (Linux): VmRSS (resident now) and VmHWM (peak resident so far). */
import { readdirSync, readFileSync } from 'node:fs';

export interface Mem {
  /** Resident set size now, MiB. */
  rssMb: number;
  /** Peak resident set size since the process started ("high water mark"), MiB. */
  hwmMb: number;
}

function field(status: string, name: string): number | undefined {
  const m = new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
  return m ? Number(m[1]) : undefined;
}

const mb = (kb: number) => Math.round((kb / 1024) * 10) / 10;

/** The process's memory now, or null when it is gone. */
export function readMem(pid: number | null | undefined): Mem | null {
  if (!pid) return null;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = field(status, 'VmRSS');
    const hwm = field(status, 'VmHWM');
    if (rss === undefined || hwm === undefined) return null;
    return { rssMb: mb(rss), hwmMb: mb(hwm) };
  } catch {
    return null;
  }
}

export interface MemWatch {
  /** Stops sampling; returns the highest VmRSS sampled and the last VmHWM read (null when never readable). */
  stop(): { peakRssMb: number | null; hwmMb: number | null };
}

/**
 * Samples a process's memory every `intervalMs` until stopped. VmHWM is monotonic, so the last value read before the
 * process ended is its peak up to then, even when the process is killed before `stop()`.
 */
export function watchMem(pid: number, intervalMs = 50): MemWatch {
  let peakRss: number | null = null;
  let hwm: number | null = null;
  const sample = () => {
    const m = readMem(pid);
    if (!m) return;
    peakRss = Math.max(peakRss ?? 0, m.rssMb);
    hwm = m.hwmMb;
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { peakRssMb: peakRss, hwmMb: hwm };
    },
  };
}

/** Clock ticks per second for /proc/<pid>/stat times (USER_HZ; 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** user + system time in a /proc …/stat text, ms. */
function statCpuMs(stat: string): number {
  // Fields after the command name (which is in parentheses and may contain spaces): state is field 3.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(rest[11]) + Number(rest[12])) * 1000) / TICKS_PER_SECOND;
}

/** CPU time (user + system) the process has used so far, ms (10 ms resolution), or null when it is gone. */
export function cpuMs(pid: number | null | undefined): number | null {
  if (!pid) return null;
  try {
    return statCpuMs(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/**
 * CPU time of the process's JIT compiler threads so far, ms: JavaScriptCore's (bun) are named JITWorker. 0 for a
 * process without such threads (node's V8 does not name its compiler threads apart); null when it is gone.
 */
export function jitCpuMs(pid: number | null | undefined): number | null {
  if (!pid) return null;
  try {
    let sum = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).startsWith('JIT')) sum += statCpuMs(stat);
    }
    return sum;
  } catch {
    return null;
  }
}

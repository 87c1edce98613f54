/**
 * Per-call latency of several call paths, measured in interleaved rounds: every target gets a warm-up, then each
 * round runs a short warm-up and a block of timed calls per target, one target after the other (never in parallel),
 * with the order rotated from round to round. A burst of noise from the shared machine then lands on all targets
 * alike instead of on whichever series happened to run at that moment.
 */
import { performance } from 'node:perf_hooks';

export interface Target {
  id: string;
  label: string;
  call(): Promise<unknown>;
}

export interface LatencyPlan {
  /** Untimed calls per target before the first round. */
  warmup: number;
  rounds: number;
  /** Timed calls per target per round. */
  perRound: number;
  /** Untimed calls per target at the start of each of its blocks. */
  roundWarmup: number;
}

export interface LatencySamples {
  /** Per target: the timed calls' durations, ms. */
  samples: Map<string, number[]>;
  /** Per target: CPU time (user + system) of this process per timed call, ms: the client side of the call. */
  clientCpuMs: Map<string, number>;
}

/** `afterWarmup` runs once every target is warm, before the first timed round. */
export async function measureLatency(
  targets: readonly Target[],
  plan: LatencyPlan,
  log: (line: string) => void,
  afterWarmup?: () => void,
): Promise<LatencySamples> {
  const samples = new Map<string, number[]>(targets.map((t) => [t.id, []]));
  const cpuMicros = new Map<string, number>(targets.map((t) => [t.id, 0]));
  for (const t of targets) {
    for (let i = 0; i < plan.warmup; i++) await t.call();
  }
  afterWarmup?.();
  for (let r = 0; r < plan.rounds; r++) {
    const order = targets.map((_, i) => targets[(i + r) % targets.length] as Target);
    for (const t of order) {
      for (let i = 0; i < plan.roundWarmup; i++) await t.call();
      const out = samples.get(t.id) as number[];
      const cpu0 = process.cpuUsage();
      for (let i = 0; i < plan.perRound; i++) {
        const t0 = performance.now();
        await t.call();
        out.push(performance.now() - t0);
      }
      const cpu = process.cpuUsage(cpu0);
      cpuMicros.set(t.id, (cpuMicros.get(t.id) ?? 0) + cpu.user + cpu.system);
    }
    log(`  round ${r + 1}/${plan.rounds} done`);
  }
  const clientCpuMs = new Map<string, number>();
  for (const [id, micros] of cpuMicros) {
    const n = samples.get(id)?.length ?? 0;
    if (n > 0) clientCpuMs.set(id, micros / 1000 / n);
  }
  return { samples, clientCpuMs };
}

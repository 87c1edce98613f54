/**
 * What an action's `run` works with: the change itself (timed, failures reported with what ran), checks of the
 * outcome (timed, required or informative), bounded waits that honour the call's cancellation, and progress
 * notifications.
 */
import type { ToolContext } from '../../context.js';
import { ToolError } from '../../errors.js';

/** One timed step of a run. */
export interface Timing {
  step: string;
  ms: number;
}

/** One verification of the outcome. */
export interface Check {
  check: string;
  ok: boolean;
  /** A required check that fails makes the call not verified; an informative one is reported only. */
  required: boolean;
  detail?: string;
  /** How long it took to hold (or to give up). */
  ms: number;
}

export interface WaitOptions {
  /** Informative: its failure does not make the call unverified. */
  informative?: boolean;
  /** At most this long (default: what is left of the call's time budget). */
  timeoutMs?: number;
  intervalMs?: number;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

export const ms = (since: number) => Math.round(performance.now() - since);

export class ActionRunner {
  readonly timings: Timing[] = [];
  readonly checks: Check[] = [];
  /** What has changed so far, for the error of a later failure. */
  readonly done: string[] = [];
  #progress = 0;
  readonly #deadline: number;

  constructor(
    private readonly ctx: ToolContext,
    readonly timeoutMs: number,
  ) {
    this.#deadline = performance.now() + timeoutMs;
  }

  get signal(): AbortSignal {
    return this.ctx.signal;
  }

  /** Milliseconds left of the call's time budget (at least 1). */
  get remainingMs(): number {
    return Math.max(1, Math.round(this.#deadline - performance.now()));
  }

  /** A progress notification (when the client asked for them). */
  async progress(message: string): Promise<void> {
    this.#progress += 1;
    await this.ctx.progress(this.#progress, undefined, this.ctx.redact(message));
  }

  /** Fails with `cancelled` when the call was cancelled, saying what had already changed. */
  throwIfCancelled(): void {
    if (!this.ctx.signal.aborted) return;
    const changed = this.done.length ? `already done: ${this.done.join('; ')}` : 'nothing was changed';
    throw new ToolError(`the call was cancelled: ${changed}`, {
      code: 'cancelled',
      hint: 'look at the state with the read tools (pg_cluster) before acting again',
    });
  }

  /** Times one step (a read or a call) under `step`. */
  async timed<T>(step: string, fn: () => Promise<T>): Promise<T> {
    this.throwIfCancelled();
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      this.timings.push({ step, ms: ms(t0) });
    }
  }

  /**
   * The change itself: timed, announced by a progress notification, remembered as done when it worked. A failure
   * becomes a ToolError with the component's own words, what had already been done, and `hint` (what to do now).
   */
  async act<T>(step: string, fn: () => Promise<T>, hint?: string): Promise<T> {
    await this.progress(step);
    try {
      const out = await this.timed(step, fn);
      this.done.push(step);
      return out;
    } catch (err) {
      if (err instanceof ToolError) throw err;
      const before = this.done.length ? ` (already done: ${this.done.join('; ')})` : '';
      throw new ToolError(this.ctx.redact(`${step} failed: ${(err as Error).message}${before}`), {
        code: 'action_failed',
        hint: hint ?? 'look at the state with the read tools (pg_cluster) before trying again',
      });
    }
  }

  /** Records a check decided at once from what was read. */
  check(check: string, ok: boolean, detail?: string, informative = false): void {
    this.checks.push({ check, ok, required: !informative, ms: 0, ...(detail ? { detail } : {}) });
  }

  /**
   * Polls `probe` until it returns a value other than undefined (the check holds), within the time budget. `describe`
   * says what was last seen when it does not hold. Errors of a probe count as "not yet". Returns the value, or
   * undefined when the check failed.
   */
  async waitFor<T>(
    check: string,
    probe: () => Promise<T | undefined>,
    describe: () => string | undefined,
    opts: WaitOptions = {},
  ): Promise<T | undefined> {
    const t0 = performance.now();
    const limit = Math.min(opts.timeoutMs ?? this.remainingMs, this.remainingMs);
    const interval = opts.intervalMs ?? 250;
    let lastError: string | undefined;
    await this.progress(`waiting: ${check}`);
    for (;;) {
      this.throwIfCancelled();
      try {
        const v = await probe();
        if (v !== undefined) {
          this.settle(check, t0, true, undefined, opts.informative);
          return v;
        }
        lastError = undefined;
      } catch (err) {
        lastError = (err as Error).message;
      }
      if (performance.now() - t0 >= limit) break;
      await sleep(Math.min(interval, Math.max(1, limit - (performance.now() - t0))), this.ctx.signal);
    }
    const seen = lastError ?? describe();
    const detail = `not within ${Math.round(limit / 100) / 10} s${seen ? `; last seen: ${seen}` : ''}`;
    this.settle(check, t0, false, this.ctx.redact(detail), opts.informative);
    return undefined;
  }

  /** A wait is over: its check, and its time among the steps. */
  private settle(check: string, t0: number, ok: boolean, detail: string | undefined, informative = false): void {
    const took = ms(t0);
    this.checks.push({ check, ok, required: !informative, ms: took, ...(detail ? { detail } : {}) });
    this.timings.push({ step: `wait: ${check}`, ms: took });
  }

  /** True when every required check held. */
  get verified(): boolean {
    return this.checks.every((c) => c.ok || !c.required);
  }
}

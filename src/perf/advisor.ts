/**
 * The index search. Every statement of the workload is planned (generic plans for $n statements), each candidate is
 * tried alone as a hypothetical index, then a greedy search adds, round by round, the candidate with the best
 * workload cost improvement per byte of index, under a size budget, a count cap and a time budget, until no candidate
 * improves the workload by the threshold. The search is lazy (a candidate's benefit from an earlier round bounds it
 * now: only the leader is re-planned, and taken when it still leads). A backward pass then drops any chosen index
 * whose work the later ones took over (so `(a)` does not stay beside `(a, b)`). Costs are the planner's own, weighted
 * by how often each statement runs. Nothing is ever created for real.
 */
import type { Candidate } from './candidates.js';
import { type Hypopg, hypoOid } from './hypopg.js';
import { planCost, planIndexes } from './plan.js';
import { type PerfSession, StatementFailure } from './session.js';

export interface WorkItem {
  text: string;
  paramCount: number;
  /** How much this statement counts: calls from pg_stat_statements, 1 for given statements. */
  weight: number;
  /** Tables it reads, by oid. */
  reads: ReadonlySet<number>;
  /**
   * Columns it uses of each table it reads (null: all of them, `*`). An index can serve the statement only when its
   * leading column is one of them: only then is the statement planned with it.
   */
  columns?: ReadonlyMap<number, ReadonlySet<string> | null>;
  /** Not planned at all (reported as skipped by the caller). */
  skip?: boolean;
}

export interface AdvisorOptions {
  sizeBudgetBytes: number;
  timeBudgetMs: number;
  maxIndexes: number;
  /** A candidate must lower the workload's baseline cost by this fraction (0.01 = 1%). */
  minImprovement: number;
  /** A statement counts as helped when its cost drops by at least this fraction. */
  statementGain: number;
  progress: (done: number, total: number | undefined, message: string) => Promise<void>;
  signal?: AbortSignal;
}

export type Verdict =
  | 'recommended'
  | 'no_improvement'
  | 'below_threshold'
  | 'over_budget'
  | 'superseded'
  | 'failed'
  | 'not_evaluated';

export interface Chosen {
  candidate: Candidate;
  bytes: number;
  /** Weighted workload cost the index saves with the others in place (removing it costs this much). */
  benefit: number;
  /** Statements whose final plan uses it (0-based). */
  statements: number[];
}

export interface AdvisorResult {
  /** Per statement: cost without new indexes; null when it could not be planned. */
  before: (number | null)[];
  after: (number | null)[];
  /** Per statement: why it could not be planned. */
  failures: Map<number, string>;
  /** Per statement: ids of the chosen candidates its final plan uses. */
  uses: number[][];
  chosen: Chosen[];
  verdicts: Map<number, { verdict: Verdict; detail: string; bytes?: number; benefit?: number }>;
  stoppedBy: 'no_improvement' | 'size_budget' | 'max_indexes' | 'time_budget' | 'no_candidates';
  explains: number;
  rounds: number;
}

interface Entry {
  c: Candidate;
  bytes: number;
  benefit: number;
  helps: number[];
  costs: Map<number, number>;
  /** An index chosen or dropped since it was evaluated changed the cost of one of its statements. */
  stale: boolean;
}

/** Sends progress at most every 250 ms (the last one of a phase always). */
class Progress {
  private last = 0;
  done = 0;
  constructor(private readonly send: AdvisorOptions['progress']) {}
  async step(total: number | undefined, message: string, force = false): Promise<void> {
    this.done++;
    const now = performance.now();
    if (!force && now - this.last < 250) return;
    this.last = now;
    await this.send(this.done, total, message);
  }
}

export async function searchIndexes(
  session: PerfSession,
  hypo: Hypopg,
  work: readonly WorkItem[],
  candidates: readonly Candidate[],
  opts: AdvisorOptions,
): Promise<AdvisorResult> {
  const started = performance.now();
  const progress = new Progress(opts.progress);
  const failures = new Map<number, string>();
  let explains = 0;

  const plan = async (i: number, baseline = false): Promise<{ cost: number; indexes: string[] } | undefined> => {
    const item = work[i] as WorkItem;
    explains++;
    try {
      const { root } = await session.explain({ text: item.text, paramCount: item.paramCount });
      return { cost: planCost(root), indexes: planIndexes(root) };
    } catch (err) {
      if (!(err instanceof StatementFailure)) throw err;
      if (session.aborted) await session.restart();
      if (baseline) failures.set(i, err.message);
      return undefined;
    }
  };

  // Baseline.
  const before: (number | null)[] = [];
  for (let i = 0; i < work.length; i++) {
    const p = work[i]?.skip ? undefined : await plan(i, true);
    before.push(p ? p.cost : null);
    await progress.step(work.length + candidates.length, `baseline: planned ${i + 1} of ${work.length} statements`);
  }
  const current = before.map((c) => c ?? 0);
  const weightOf = (i: number) => (work[i] as WorkItem).weight;
  const baselineTotal = current.reduce((s, c, i) => s + c * weightOf(i), 0);
  const minGain = Math.max(baselineTotal * opts.minImprovement, 1e-9);
  const relevant = (c: Candidate) => {
    const lead = c.keys[0]?.column;
    return work.flatMap((w, i) => {
      if (!w.reads.has(c.table.oid) || before[i] === null) return [];
      const cols = w.columns?.get(c.table.oid);
      return cols === undefined || cols === null || lead === undefined || cols.has(lead) ? [i] : [];
    });
  };

  const verdicts: AdvisorResult['verdicts'] = new Map();

  /** Plans the candidate's statements with it added to what is chosen. */
  const evaluate = async (c: Candidate): Promise<Entry | undefined> => {
    let h: Awaited<ReturnType<Hypopg['create']>>;
    try {
      h = await hypo.create(c.hypoSql);
    } catch (err) {
      if (!(err instanceof StatementFailure)) throw err;
      if (session.aborted) await session.restart();
      verdicts.set(c.id, { verdict: 'failed', detail: `hypopg could not create it: ${err.message}` });
      return undefined;
    }
    const costs = new Map<number, number>();
    try {
      for (const i of relevant(c)) {
        const p = await plan(i);
        costs.set(i, p ? Math.min(p.cost, current[i] as number) : (current[i] as number));
      }
    } finally {
      await hypo.drop(h.oid);
    }
    let benefit = 0;
    const helps: number[] = [];
    for (const [i, cost] of costs) {
      const was = current[i] as number;
      benefit += (was - cost) * weightOf(i);
      if (was > 0 && cost <= was * (1 - opts.statementGain)) helps.push(i);
    }
    return { c, bytes: Math.max(h.bytes, 8192), benefit, helps, costs, stale: false };
  };

  const overTime = () => performance.now() - started > opts.timeBudgetMs;
  let stoppedBy: AdvisorResult['stoppedBy'] = candidates.length === 0 ? 'no_candidates' : 'no_improvement';

  // Round 0: every candidate alone.
  const entries: Entry[] = [];
  let evaluated = 0;
  for (const c of candidates) {
    if (overTime()) {
      stoppedBy = 'time_budget';
      break;
    }
    const e = await evaluate(c);
    evaluated++;
    await progress.step(
      work.length + candidates.length,
      `tried ${evaluated} of ${candidates.length} candidate indexes alone`,
      evaluated === candidates.length,
    );
    if (!e) continue;
    // Kept while it lowers any cost: with other indexes in place it may do more (a join's other side).
    if (e.benefit <= 0) {
      verdicts.set(c.id, {
        verdict: 'no_improvement',
        detail: 'the planner would not use it, or it lowers no cost',
        bytes: e.bytes,
        benefit: 0,
      });
      continue;
    }
    entries.push(e);
  }
  for (const c of candidates.slice(evaluated))
    verdicts.set(c.id, { verdict: 'not_evaluated', detail: 'the time budget ran out before it was tried' });

  // Greedy rounds.
  const chosen: { entry: Entry; oid: number; benefit: number }[] = [];
  /**
   * The chosen set changed the costs of `statements`: evaluations that planned any of them are stale. Others stay
   * exact (their statements cost what they did), so only those are planned again.
   */
  const invalidate = (statements: Iterable<number>) => {
    const changed = new Set(statements);
    for (const e of entries) if ([...e.costs.keys()].some((i) => changed.has(i))) e.stale = true;
  };

  /**
   * Plans the statements of a chosen index without it: when that costs the workload less than the threshold, the
   * index is dropped for good (superseded) and true returned; otherwise it is made again and its benefit noted.
   */
  const dropIfSuperseded = async (k: (typeof chosen)[number]): Promise<boolean> => {
    await hypo.drop(k.oid);
    const without = new Map<number, number>();
    for (const i of relevant(k.entry.c)) {
      const p = await plan(i);
      without.set(i, p ? Math.max(p.cost, current[i] as number) : (current[i] as number));
    }
    let loss = 0;
    for (const [i, cost] of without) loss += (cost - (current[i] as number)) * weightOf(i);
    if (loss < minGain) {
      for (const [i, cost] of without) current[i] = cost;
      chosen.splice(chosen.indexOf(k), 1);
      invalidate(without.keys());
      verdicts.set(k.entry.c.id, {
        verdict: 'superseded',
        detail: `once the other recommended indexes exist it saves only ${pct(loss, baselineTotal)} of the workload cost`,
        bytes: k.entry.bytes,
        benefit: loss,
      });
      return true;
    }
    k.oid = (await hypo.create(k.entry.c.hypoSql)).oid;
    k.benefit = loss;
    return false;
  };

  let budget = opts.sizeBudgetBytes;
  let rounds = 0;
  while (entries.length > 0 && stoppedBy !== 'time_budget') {
    if (chosen.length >= opts.maxIndexes) {
      stoppedBy = 'max_indexes';
      break;
    }
    if (overTime()) {
      stoppedBy = 'time_budget';
      break;
    }
    const fits = entries.filter((e) => e.bytes <= budget);
    const eligible = fits.filter((e) => e.benefit >= minGain && e.helps.length > 0);
    const stale = fits.filter((e) => e.stale && e.benefit > 0);
    if (eligible.length === 0 && stale.length > 0) {
      // What helped too little alone may help enough beside what was chosen since: try those again once.
      for (const e of stale) {
        if (overTime()) break;
        const fresh = await evaluate(e.c);
        await progress.step(
          undefined,
          `round ${rounds + 1}: re-planned candidate ${e.c.id} with ${chosen.length} chosen`,
        );
        entries.splice(entries.indexOf(e), 1);
        if (fresh) entries.push(fresh);
      }
      continue;
    }
    if (eligible.length === 0) {
      stoppedBy =
        fits.length < entries.length && entries.some((e) => e.benefit >= minGain) ? 'size_budget' : 'no_improvement';
      break;
    }
    const best = eligible.reduce((b, e) => (e.benefit / e.bytes > b.benefit / b.bytes ? e : b));
    if (best.stale) {
      const fresh = await evaluate(best.c);
      await progress.step(
        undefined,
        `round ${rounds + 1}: re-planned candidate ${best.c.id} with ${chosen.length} chosen`,
      );
      entries.splice(entries.indexOf(best), 1);
      if (fresh) entries.push(fresh);
      continue;
    }
    // Take it: its hypothetical index stays for the next rounds.
    const h = await hypo.create(best.c.hypoSql);
    chosen.push({ entry: best, oid: h.oid, benefit: best.benefit });
    invalidate(best.costs.keys());
    for (const [i, cost] of best.costs) current[i] = cost;
    budget -= best.bytes;
    entries.splice(entries.indexOf(best), 1);
    rounds++;
    await progress.step(undefined, `round ${rounds}: chose ${best.c.hypoSql}`, true);
    // An earlier choice on the same table may now be superseded (`(a)` once `(a, b)` is in): it goes, and frees
    // its share of the budget and its place.
    for (const k of chosen.filter((x) => x.entry !== best && x.entry.c.table.oid === best.c.table.oid)) {
      if (await dropIfSuperseded(k)) budget += k.entry.bytes;
    }
  }
  for (const e of entries) {
    if (verdicts.has(e.c.id)) continue;
    const over = e.bytes > budget;
    verdicts.set(e.c.id, {
      verdict: over ? 'over_budget' : 'below_threshold',
      detail: over
        ? `${mb(e.bytes)} does not fit in what is left of the size budget (${mb(Math.max(budget, 0))})`
        : stoppedBy === 'time_budget' || stoppedBy === 'max_indexes'
          ? `not reached: the search stopped (${stoppedBy.replace('_', ' ')})`
          : e.benefit >= minGain
            ? `it lowers no statement's cost by ${Math.round(opts.statementGain * 100)}% or more${chosen.length ? ' beside the recommended indexes' : ''}`
            : `${chosen.length ? 'beside the recommended indexes it' : 'it'} saves ${pct(Math.max(e.benefit, 0), baselineTotal)} of the workload cost, below the threshold of ${pct(minGain, baselineTotal)}`,
      bytes: e.bytes,
      benefit: e.benefit,
    });
  }

  // Backward pass: every index must still pay for itself beside all the others; its marginal benefit is measured.
  for (const k of [...chosen]) await dropIfSuperseded(k);
  const kept = chosen;
  await progress.step(undefined, 'planning the workload with the recommended indexes', true);

  // Final plans with what is recommended.
  const byOid = new Map(kept.map((k) => [k.oid, k.entry.c.id]));
  const after: (number | null)[] = [];
  const uses: number[][] = [];
  for (let i = 0; i < work.length; i++) {
    if (before[i] === null) {
      after.push(null);
      uses.push([]);
      continue;
    }
    const p = await plan(i);
    after.push(p ? Math.min(p.cost, before[i] as number) : (before[i] ?? null));
    const ids = new Set<number>();
    for (const name of p?.indexes ?? []) {
      const oid = hypoOid(name);
      const id = oid === undefined ? undefined : byOid.get(oid);
      if (id !== undefined) ids.add(id);
    }
    uses.push([...ids]);
  }
  const result: Chosen[] = kept.map((k) => ({
    candidate: k.entry.c,
    bytes: k.entry.bytes,
    benefit: k.benefit,
    statements: uses.flatMap((ids, i) => (ids.includes(k.entry.c.id) ? [i] : [])),
  }));
  for (const k of result)
    verdicts.set(k.candidate.id, { verdict: 'recommended', detail: '', bytes: k.bytes, benefit: k.benefit });
  return { before, after, failures, uses, chosen: result, verdicts, stoppedBy, explains, rounds };
}

function pct(part: number, whole: number): string {
  if (whole <= 0) return '0%';
  const p = (100 * part) / whole;
  return `${p >= 10 ? p.toFixed(0) : p >= 1 ? p.toFixed(1) : p.toFixed(2)}%`;
}

function mb(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MB`;
}

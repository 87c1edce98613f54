import { prettyBytes } from '../schema/values.js';
import type { Check, Duration, Size, Verdict } from './output.js';

/** Bytes as a number plus the pg_size_pretty style text; null stays null. */
export function sizeOf(v: unknown): Size | null {
  const n = toNumber(v);
  return n === null ? null : { bytes: n, pretty: prettyBytes(n) };
}

/** A size that is never null (0 when unknown). */
export function sizeOr0(v: unknown): Size {
  return sizeOf(v) ?? { bytes: 0, pretty: '0 bytes' };
}

export function toNumber(v: unknown): number | null {
  if (v === null || v === undefined || v === '') return null;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : null;
}

export function toInt(v: unknown): number | null {
  const n = toNumber(v);
  return n === null ? null : Math.round(n);
}

export function toStr(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

/** Readable text of a number of seconds: `850 ms`, `42 s`, `3 min 5 s`, `2 h 10 min`, `3 d 4 h`. */
export function durationText(seconds: number): string {
  if (seconds < 1) return `${Math.max(0, Math.round(seconds * 1000))} ms`;
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 === 0 ? `${m} min` : `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 === 0 ? `${h} h` : `${h} h ${m % 60} min`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d} d` : `${d} d ${h % 24} h`;
}

/** Seconds as a number (3 decimals, never negative) plus readable text; null stays null. */
export function durationOf(v: unknown): Duration | null {
  const n = toNumber(v);
  if (n === null) return null;
  const seconds = Math.max(0, Math.round(n * 1000) / 1000);
  return { seconds, text: durationText(seconds) };
}

/** Thousands separators: 1,234,567. */
export function countText(n: number | null | undefined): string {
  return n === null || n === undefined ? 'unknown' : Math.round(n).toLocaleString('en-US');
}

/** A ratio as a percentage with one decimal: `97.3%`. */
export function percentText(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined) return 'unknown';
  return `${(Math.round(ratio * 1000) / 10).toFixed(1)}%`;
}

/** Whitespace collapsed, cut at `max` characters with how long it was. */
export function cutQuery(query: string | null, max: number): string | null {
  if (query === null) return null;
  const flat = query.replace(/\s+/g, ' ').trim();
  if (flat.length <= max) return flat;
  return `${flat.slice(0, max)}… [${flat.length} chars]`;
}

/** A SQL string literal. */
export function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

const RANK: Record<Verdict, number> = { ok: 0, warn: 1, critical: 2 };

/** The worse of verdicts. */
export function worst(verdicts: readonly Verdict[]): Verdict {
  return verdicts.reduce<Verdict>((a, b) => (RANK[b] > RANK[a] ? b : a), 'ok');
}

/** Checks ordered critical first, then warn, then ok (stable within a verdict). */
export function byVerdict(checks: Check[]): Check[] {
  return checks
    .map((c, i) => [c, i] as const)
    .sort((a, b) => RANK[b[0].verdict] - RANK[a[0].verdict] || a[1] - b[1])
    .map(([c]) => c);
}

export function check(
  name: string,
  verdict: Verdict,
  evidence: string,
  opts: { object?: string | null; threshold?: string | null; fix?: string | null } = {},
): Check {
  return {
    check: name,
    verdict,
    object: opts.object ?? null,
    evidence,
    threshold: opts.threshold ?? null,
    fix: opts.fix ?? null,
  };
}

/**
 * At most `perKind` findings of one kind (the worst first); the rest are summed up in one more finding, so that a
 * pile-up (hundreds of idle sessions, thousands of bloated tables) does not drown the answer.
 */
export function capChecks(checks: Check[], perKind = 20): Check[] {
  const seen = new Map<string, number>();
  const dropped = new Map<string, Check[]>();
  const out: Check[] = [];
  for (const c of byVerdict(checks)) {
    const n = (seen.get(c.check) ?? 0) + 1;
    seen.set(c.check, n);
    if (n <= perKind) out.push(c);
    else dropped.set(c.check, [...(dropped.get(c.check) ?? []), c]);
  }
  for (const [name, rest] of dropped) {
    out.push(
      check(name, worst(rest.map((c) => c.verdict)), `${rest.length} more finding(s) of this kind not listed`, {
        object:
          rest
            .slice(0, 10)
            .map((c) => c.object)
            .filter(Boolean)
            .join('; ') || null,
        threshold: rest[0]?.threshold ?? null,
        fix: 'narrow the call (database, schema, pattern, user, application) to see each one',
      }),
    );
  }
  return byVerdict(out);
}

const MARK: Record<Verdict, string> = { ok: 'ok', warn: 'WARN', critical: 'CRITICAL' };

/** Checks as a markdown list: one line each, verdict first; ok checks left out unless `withOk`. */
export function checksText(checks: readonly Check[], withOk = false): string[] {
  return checks
    .filter((c) => withOk || c.verdict !== 'ok')
    .map((c) => {
      const parts = [`- ${MARK[c.verdict]} ${c.check}${c.object ? ` — ${c.object}` : ''}: ${c.evidence}`];
      if (c.threshold) parts.push(`(threshold: ${c.threshold})`);
      if (c.fix) parts.push(`→ fix: ${c.fix}`);
      return parts.join(' ');
    });
}

/** PostgreSQL's 2^31 transaction-ID horizon: past it, old rows would look like they are in the future. */
export const XID_LIMIT = 2 ** 31;

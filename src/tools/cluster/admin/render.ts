/** The compact markdown text of a pg_cluster_admin result. */
import { markdownTable } from '../../../format/markdown.js';
import type { PlanStep } from './action.js';
import type { ClusterAdminOutput } from './output.js';

/** The plan's steps, one per line, as a confirmation shows them. */
export function stepLines(steps: readonly PlanStep[]): string {
  return steps.map((s, i) => `${i + 1}. [${s.phase}] ${s.what}${s.where ? ` — ${s.where}` : ''}`).join('\n');
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A state as text: objects of objects (members, servers) as a table, the rest as `key: value` lines. */
export function stateText(state: Record<string, unknown>): string {
  const lines: string[] = [];
  for (const [k, v] of Object.entries(state)) {
    const rows = isRecord(v) ? Object.entries(v) : [];
    if (rows.length > 1 && rows.every(([, r]) => isRecord(r))) {
      const columns = [...new Set(rows.flatMap(([, r]) => Object.keys(r as object)))];
      lines.push(
        `${k}:`,
        markdownTable(
          ['', ...columns],
          rows.map(([name, r]) => [name, ...columns.map((c) => cell((r as Record<string, unknown>)[c]))]),
        ),
      );
    } else lines.push(`- ${k}: ${cell(v)}`);
  }
  return lines.join('\n');
}

function seconds(msValue: number): string {
  return msValue < 1000 ? `${msValue} ms` : `${(msValue / 1000).toFixed(1)} s`;
}

/** The text of a dry run or an executed action (a confirmation_required result uses the confirmation's text). */
export function renderResult(data: ClusterAdminOutput, tokenNote?: string): string {
  const lines: string[] = [];
  const name = `${data.component} ${data.action}`;
  if (data.status === 'dry_run') {
    lines.push(`DRY RUN: nothing was changed. ${name}: ${data.summary}. Plan:`, stepLines(data.plan));
    if (data.reasons.length)
      lines.push('Run for real, it needs confirmation because:', ...data.reasons.map((r) => `- ${r}`));
    if (tokenNote) lines.push(tokenNote);
    lines.push('Before:', stateText(data.outcome.before));
  } else {
    const failed = data.checks.filter((c) => c.required && !c.ok);
    const via = data.confirmedVia
      ? `, confirmed by ${data.confirmedVia === 'disabled' ? 'nobody (confirmation is off)' : data.confirmedVia}`
      : '';
    lines.push(
      data.verified
        ? `EXECUTED and VERIFIED: ${name}: ${data.summary} (${seconds(data.durationMs)}${via}).`
        : `EXECUTED but NOT VERIFIED: ${name}: ${data.summary} (${seconds(data.durationMs)}${via}). Not seen: ${failed.map((c) => c.check).join('; ')}. Check with pg_cluster before acting again.`,
    );
    if (data.checks.length) {
      lines.push(
        markdownTable(
          ['check', 'held', 'after', 'detail'],
          data.checks.map((c) => [
            c.check,
            c.ok ? 'yes' : c.required ? 'NO' : 'no (informative)',
            seconds(c.ms),
            c.detail ?? '',
          ]),
        ),
      );
    }
    lines.push(`Timings: ${data.timings.map((t) => `${t.step} ${seconds(t.ms)}`).join(', ')}`);
    if (data.outcome.after) lines.push('After:', stateText(data.outcome.after));
  }
  for (const n of data.notes) lines.push(`NOTE: ${n}`);
  return lines.join('\n');
}

/** The compact markdown pg_perf answers with (the structured result carries the same data). */
import { markdownTable } from '../../format/markdown.js';
import { normaliseQueryText } from '../../perf/stat-statements.js';
import type { AdviceOutput, ExplainOutput, HealthOutput, TopQueriesOutput } from './output.js';

const MAX_TEXT_NODES = 60;

function n2(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(2);
}

function bytes(b: number): string {
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB'];
  let v = b;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

function factor(before: number, after: number): string {
  if (after <= 0 || before <= 0) return '';
  const f = before / after;
  return f >= 1.05
    ? ` (${f >= 10 ? f.toFixed(0) : f.toFixed(1)}× lower)`
    : f <= 0.95
      ? ` (${(1 / f).toFixed(1)}× higher)`
      : ' (about the same)';
}

export function explainText(e: ExplainOutput, database: string): string {
  const lines: string[] = [];
  const how = e.analyzed
    ? e.rolledBack
      ? 'EXPLAIN ANALYZE (the statement ran in a transaction that was rolled back: nothing was kept)'
      : 'EXPLAIN ANALYZE (read-only, rolled back)'
    : 'EXPLAIN (planned, not executed)';
  lines.push(`${how} in database ${database}: ${normaliseQueryText(e.statement, 300)}`);
  if (e.genericPlan) lines.push(`Generic plan: ${e.genericPlan}`);
  const totals = [`total cost ${n2(e.totalCost)}`, `${n2(e.rows)} rows estimated`];
  if (e.actualRows !== undefined) totals.push(`${n2(e.actualRows)} rows actual`);
  if (e.planningMs !== undefined) totals.push(`planning ${e.planningMs} ms`);
  if (e.executionMs !== undefined) totals.push(`execution ${e.executionMs} ms`);
  lines.push(totals.join(', '));
  if (e.hypothetical) {
    const h = e.hypothetical;
    lines.push(
      `With hypothetical indexes: cost ${n2(h.costBefore)} → ${n2(h.costAfter)}${factor(h.costBefore, h.costAfter)}`,
    );
    for (const i of h.indexes)
      lines.push(`- ${i.used ? 'USED' : 'not used'}: ${i.definition} (~${bytes(i.bytes)}, shown as ${i.name})`);
  }
  lines.push('Plan:');
  for (const node of e.nodes.slice(0, MAX_TEXT_NODES)) {
    const what = [node.role ? `${node.role}: ` : '', node.node];
    if (node.join) what.push(` (${node.join})`);
    if (node.index) what.push(` using ${node.index}`);
    if (node.relation) what.push(` on ${node.relation}${node.alias ? ` ${node.alias}` : ''}`);
    let stats = `cost ${n2(node.startupCost)}..${n2(node.cost)} rows ${n2(node.rows)}`;
    if (node.loops !== undefined) {
      stats += ` | actual rows ${n2(node.actualRows ?? 0)}${node.loops !== 1 ? ` ×${node.loops} loops` : ''}, ${node.timeMs} ms`;
    }
    const detail = node.detail ? ` | ${node.detail}` : '';
    lines.push(`${'  '.repeat(node.depth)}#${node.id} ${what.join('')} — ${stats}${detail}`);
  }
  const hidden = e.nodes.length - Math.min(e.nodes.length, MAX_TEXT_NODES) + e.omittedNodes;
  if (hidden > 0) lines.push(`(${hidden} more nodes not shown)`);
  if (e.costliest.length) {
    const byId = new Map(e.nodes.map((n) => [n.id, n]));
    const parts = e.costliest.map((id) => {
      const n = byId.get(id);
      if (!n) return `#${id}`;
      const share = e.analyzed
        ? `${n.selfMs ?? 0} ms own time`
        : `own cost ${n2(n.selfCost)}${e.totalCost > 0 ? ` = ${((100 * n.selfCost) / e.totalCost).toFixed(0)}%` : ''}`;
      return `#${id} ${n.node}${n.relation ? ` on ${n.relation}` : ''} (${share})`;
    });
    lines.push(`Costliest: ${parts.join('; ')}`);
  }
  if (e.warnings.length) {
    lines.push('Warnings:');
    for (const w of e.warnings) lines.push(`- ${w.severity} [${w.kind}]${w.node ? ` #${w.node}` : ''}: ${w.message}`);
  } else {
    lines.push('No warnings.');
  }
  if (e.triggers?.length) {
    lines.push(`Triggers: ${e.triggers.map((t) => `${t.name} ${t.timeMs} ms ×${t.calls}`).join(', ')}`);
  }
  if (e.settings && Object.keys(e.settings).length) {
    lines.push(
      `Non-default planner settings: ${Object.entries(e.settings)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}`,
    );
  }
  return lines.join('\n');
}

export function topQueriesText(t: TopQueriesOutput, database: string): string {
  const lines: string[] = [];
  const since = t.statsSince ? ` since ${t.statsSince}` : '';
  lines.push(
    `Top ${t.queries.length} statements of database ${database} by ${t.orderBy} (pg_stat_statements ${t.extensionVersion}${since}):`,
  );
  if (t.queries.length === 0) {
    lines.push('(none recorded yet)');
  } else {
    lines.push(
      markdownTable(
        ['#', 'total ms', '% time', 'calls', 'mean ms', 'rows', 'hit %', 'read blks', 'temp blks', 'query'],
        t.queries.map((q, i) => [
          i + 1,
          q.totalMs,
          q.percent,
          q.calls,
          q.meanMs,
          q.rows,
          q.hitRatio === null ? '' : (q.hitRatio * 100).toFixed(1),
          q.sharedRead,
          q.tempBlocks,
          normaliseQueryText(q.query, 160),
        ]),
      ),
    );
  }
  if (t.evicted) {
    lines.push(
      `${t.evicted} entries were evicted since the reset: raise pg_stat_statements.max if the statements of interest come and go`,
    );
  }
  lines.push('Next: pg_perf explain on a statement above, or index_advice for the workload.');
  return lines.join('\n');
}

const VERDICT_TEXT: Record<string, string> = {
  superseded: 'superseded',
  below_threshold: 'too little gain',
  over_budget: 'over the size budget',
  no_improvement: 'no gain',
  exists: 'already exists',
  failed: 'hypopg refused it',
  not_evaluated: 'not tried (time budget)',
};

const STOPPED_TEXT: Record<string, string> = {
  no_improvement: 'no further candidate improves the workload by the threshold',
  size_budget: 'the size budget is used up',
  max_indexes: 'max_indexes reached',
  time_budget: 'the time budget ran out (the best found so far is shown)',
  no_candidates:
    'the statements give no candidate index (no indexable predicate, join, ORDER BY or GROUP BY on a table)',
};

export function adviceText(a: AdviceOutput, database: string): string {
  const lines: string[] = [];
  const active = a.statements.filter((s) => !s.skipped).length;
  lines.push(
    `Index advice for database ${database}: ${active} statement${active === 1 ? '' : 's'} from ${a.source === 'statements' ? 'the given list' : 'pg_stat_statements (weighted by calls)'}, ${a.consideredTotal + a.recommendations.length} candidate indexes, ${a.recommendations.length} recommended.`,
  );
  const w = a.workloadCost;
  lines.push(
    `Workload cost (planner units${a.source === 'pg_stat_statements' ? ' × calls' : ''}): ${n2(w.before)} → ${n2(w.after)}${factor(w.before, w.after)}. Search: ${a.plans} plans in ${(a.elapsedMs / 1000).toFixed(1)} s; stopped: ${STOPPED_TEXT[a.stoppedBy] ?? a.stoppedBy}.`,
  );
  if (a.genericPlans) lines.push(a.genericPlans);
  if (a.recommendations.length) {
    lines.push('Recommended (hypothetical indexes only: run these yourself; pgmcp created nothing):');
    a.recommendations.forEach((r, i) => {
      lines.push(
        `${i + 1}. ${r.create}  — ~${bytes(r.bytes)}; saves ${r.benefitPercent}% of the workload cost; used by statement${r.statements.length === 1 ? '' : 's'} ${r.statements.join(', ') || '–'}; from ${r.reason}`,
      );
      for (const note of r.notes ?? []) lines.push(`   note: ${note}`);
    });
  } else {
    lines.push('Recommended: nothing — no candidate index lowers the workload cost enough.');
  }
  lines.push('Statements:');
  lines.push(
    markdownTable(
      ['#', 'calls', 'cost before', 'cost after', '×', 'uses', 'statement'],
      a.statements.map((s) => [
        s.n,
        s.calls ?? '',
        s.costBefore ?? '',
        s.costAfter ?? '',
        s.factor ?? '',
        s.uses.join(', '),
        s.skipped ? `(skipped: ${s.skipped}) ${normaliseQueryText(s.query, 100)}` : normaliseQueryText(s.query, 140),
      ]),
    ),
  );
  if (a.considered.length) {
    lines.push(
      `Considered, not recommended (${a.consideredTotal}${a.consideredTotal > a.considered.length ? `, first ${a.considered.length} shown` : ''}):`,
    );
    for (const c of a.considered.slice(0, 25)) {
      lines.push(`- ${c.definition} — ${VERDICT_TEXT[c.verdict] ?? c.verdict}${c.detail ? `: ${c.detail}` : ''}`);
    }
    if (a.considered.length > 25) lines.push(`(${a.considered.length - 25} more in the structured result)`);
  }
  return lines.join('\n');
}

export function healthText(h: HealthOutput, database: string): string {
  const lines: string[] = [];
  const count = (s: string) => h.findings.filter((f) => f.severity === s).length;
  lines.push(
    `Health of database ${database}: ${h.verdict.toUpperCase()} — ${count('critical')} critical, ${count('warning')} warning, ${count('info')} note${count('info') === 1 ? '' : 's'}. pgmcp runs none of the fixes.`,
  );
  lines.push(
    `Checks: ${h.checks.map((c) => `${c.name} ${c.status === 'ok' ? 'ok' : c.status.toUpperCase()} (${c.summary})`).join('; ')}`,
  );
  h.findings.forEach((f, i) => {
    lines.push(`${i + 1}. [${f.severity}] ${f.check} — ${f.object}: ${f.evidence}`);
    if (f.fix) lines.push(`   fix: ${f.fix.replace(/\n/g, '\n        ')}`);
  });
  return lines.join('\n');
}

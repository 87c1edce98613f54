import type { JsonValue } from '../db/values.js';

function cellText(v: JsonValue | undefined): string {
  if (v === null || v === undefined) return 'NULL';
  const text = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, '\\n');
}

/** A compact markdown table (the text the model reads). */
export function markdownTable(
  headers: readonly string[],
  rows: readonly (readonly (JsonValue | undefined)[])[],
): string {
  if (headers.length === 0) return '(no columns)';
  const head = `| ${headers.map((h) => cellText(h)).join(' | ')} |`;
  const rule = `|${headers.map(() => '---').join('|')}|`;
  const body = rows.map((r) => `| ${headers.map((_, i) => cellText(r[i])).join(' | ')} |`);
  return [head, rule, ...body].join('\n');
}

/** A table from row objects, in the given column order. */
export function markdownRecords(columns: readonly string[], rows: readonly Record<string, JsonValue>[]): string {
  return markdownTable(
    columns,
    rows.map((r) => columns.map((c) => r[c])),
  );
}

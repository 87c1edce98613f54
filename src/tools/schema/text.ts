import type { JsonValue } from '../../db/values.js';
import { markdownTable } from '../../format/markdown.js';

/** A markdown table where an absent value is an empty cell (schema output has many, and NULL would be noise). */
export function compactTable(
  headers: readonly string[],
  rows: readonly (readonly (JsonValue | undefined)[])[],
): string {
  return markdownTable(
    headers,
    rows.map((r) => r.map((v) => (v === null || v === undefined ? '' : v))),
  );
}

/**
 * Turns JSON parameters into the text PostgreSQL binds server-side: numbers and booleans as text, objects as JSON,
 * arrays as PostgreSQL array literals (for JSON, pass an object or a JSON string and cast `$1::jsonb`).
 */
export type ParamValue = string | number | boolean | null | readonly unknown[] | { [k: string]: unknown };

function arrayElement(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (Array.isArray(v)) return arrayLiteral(v);
  const text = typeof v === 'object' ? JSON.stringify(v) : String(v);
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function arrayLiteral(values: readonly unknown[]): string {
  return `{${values.map(arrayElement).join(',')}}`;
}

export function toParamText(v: ParamValue): string | null {
  if (v === null) return null;
  if (Array.isArray(v)) return arrayLiteral(v);
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

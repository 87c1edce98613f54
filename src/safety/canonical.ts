/**
 * Stable JSON: object keys sorted (recursively), so that `{a, b}` and `{b, a}` give the same text. Otherwise it
 * follows JSON.stringify: `undefined`, functions and symbols are left out of objects and become null in arrays,
 * `toJSON()` is honoured (dates), non-finite numbers become null.
 */
export function canonicalJson(value: unknown): string {
  return encode(value) ?? 'null';
}

function encode(value: unknown): string | undefined {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'bigint':
      throw new TypeError('canonicalJson: bigint values have no JSON form');
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  const withJson = value as { toJSON?: () => unknown };
  if (typeof withJson.toJSON === 'function') return encode(withJson.toJSON());
  if (Array.isArray(value)) return `[${value.map((v) => encode(v) ?? 'null').join(',')}]`;
  const obj = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of Object.keys(obj).sort()) {
    const v = encode(obj[key]);
    if (v !== undefined) parts.push(`${JSON.stringify(key)}:${v}`);
  }
  return `{${parts.join(',')}}`;
}

/**
 * Arguments about the confirmation itself (the token; whether to show the plan only), not about the action: a token
 * is not bound to them, so the plan of a dry run can be confirmed by the real call.
 */
export const UNBOUND_ARGUMENTS: readonly string[] = ['confirm_token', 'dry_run'];

/** A tool's arguments as a confirmation token binds them: canonical JSON without `confirm_token` and `dry_run`. */
export function canonicalArguments(args: Record<string, unknown>): string {
  const bound: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(args)) if (!UNBOUND_ARGUMENTS.includes(k)) bound[k] = v;
  return canonicalJson(bound);
}

/** Removes secrets from texts; also tells whether a JSON text may hold one. */
export interface Redactor {
  (text: string): string;
  /**
   * Whether a JSON text may hold a secret: as it is, as JSON escapes it (a secret with a quote or a backslash), or
   * as a URL's password. False means certainly not; true means look closer (see redactData).
   */
  mayHoldInJson(json: string): boolean;
}

const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#\s@]*:)[^@\s/]*@/gi;

/** Builds a function that removes every secret (and any password inside a URL) from a text. */
export function makeRedactor(secrets: readonly string[]): Redactor {
  const sorted = [...secrets].filter((s) => s.length >= 3).sort((a, b) => b.length - a.length);
  const inJson = [...new Set(sorted.flatMap((s) => [s, JSON.stringify(s).slice(1, -1)]))];
  const redact = (text: string) => {
    // The URL pattern only where a URL can be: most texts (query results) have none, and the scan is the costly part.
    let out = text.includes('://') ? text.replace(URL_PASSWORD, '$1****@') : text;
    for (const s of sorted) if (out.includes(s)) out = out.split(s).join('****');
    return out;
  };
  return Object.assign(redact, {
    mayHoldInJson: (json: string) => json.includes('://') || inJson.some((s) => json.includes(s)),
  });
}

/**
 * A structured result with secrets removed from every string in it, object keys included (a column can be named
 * after anything). Each string is redacted as it is, not inside the result's JSON text, where a secret with a quote
 * or a backslash appears escaped. The JSON text only tells whether there can be anything to remove (the common case:
 * no, and the result goes out as it is); parts with nothing to remove stay the same objects.
 */
export function redactData(value: unknown, redact: (text: string) => string): unknown {
  const screen = (redact as Partial<Redactor>).mayHoldInJson;
  if (screen && !screen(JSON.stringify(value))) return value;
  return redactValue(value, redact);
}

function redactValue(value: unknown, redact: (text: string) => string): unknown {
  if (typeof value === 'string') return redact(value);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      const clean = redactValue(item, redact);
      if (clean !== item) {
        out ??= value.slice();
        out[i] = clean;
      }
    }
    return out ?? value;
  }
  const record = value as Record<string, unknown>;
  let out: Record<string, unknown> | undefined;
  for (const k in record) {
    const v = record[k];
    const key = redact(k);
    const item = redactValue(v, redact);
    if (out === undefined && (key !== k || item !== v)) {
      out = {};
      for (const before in record) {
        if (before === k) break;
        put(out, before, record[before]);
      }
    }
    if (out !== undefined) put(out, key, item);
  }
  return out ?? value;
}

/** Sets an own property, also one named __proto__ (a column can be). */
function put(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

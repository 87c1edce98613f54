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

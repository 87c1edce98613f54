/** Builds a function that removes every secret (and any password inside a URL) from a text. */
export function makeRedactor(secrets: readonly string[]): (text: string) => string {
  const sorted = [...secrets].filter((s) => s.length >= 3).sort((a, b) => b.length - a.length);
  return (text: string) => {
    // The URL pattern only where a URL can be: most texts (query results) have none, and the scan is the costly part.
    let out = text.includes('://')
      ? text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#\s@]*:)[^@\s/]*@/gi, '$1****@')
      : text;
    for (const s of sorted) if (out.includes(s)) out = out.split(s).join('****');
    return out;
  };
}

/** Near-miss suggestions for a name that was not found, without pg_trgm: a few cheap similarity rules. */

export interface Candidate {
  schema: string;
  name: string;
}

/** Edit distance (insert, delete, substitute), giving up early above `max`. */
export function editDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const v = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      cur.push(v);
      rowMin = Math.min(rowMin, v);
    }
    if (rowMin > max) return max + 1;
    prev = cur;
  }
  return prev[b.length] as number;
}

function singular(word: string): string {
  return word.endsWith('s') && !word.endsWith('ss') ? word.slice(0, -1) : word;
}

/** How close `candidate` is to `wanted` (lower is closer), or undefined when it is not worth suggesting. */
export function closeness(wanted: string, candidate: string): number | undefined {
  const w = wanted.toLowerCase();
  const c = candidate.toLowerCase();
  if (w === c) return 0;
  if (w.length >= 3 && c.length >= 3 && (c.includes(w) || w.includes(c))) {
    return 1 + Math.abs(c.length - w.length) / 100;
  }
  // Singular and plural: `orders` finds `order_log`, `order` finds `orders_archive`.
  const ws = singular(w);
  const cs = singular(c);
  if (ws.length >= 3 && cs.length >= 3 && (c.includes(ws) || w.includes(cs))) {
    return 1.5 + Math.abs(c.length - w.length) / 100;
  }
  const max = Math.max(1, Math.floor(w.length / 3));
  const d = editDistance(w, c, max);
  return d <= max ? 2 + d : undefined;
}

/** The closest candidates, best first: same name elsewhere, then names containing the text, then typos. */
export function suggest(
  wanted: { schema?: string; name: string },
  candidates: readonly Candidate[],
  max = 5,
): Candidate[] {
  const scored: { c: Candidate; score: number }[] = [];
  for (const c of candidates) {
    let score = closeness(wanted.name, c.name);
    if (score === undefined) continue;
    if (wanted.schema !== undefined && c.schema !== wanted.schema) score += 0.5;
    if (score === 0 && wanted.schema === c.schema) continue; // the very object asked for: not a suggestion
    scored.push({ c, score });
  }
  scored.sort((a, b) => a.score - b.score || a.c.schema.localeCompare(b.c.schema) || a.c.name.localeCompare(b.c.name));
  const seen = new Set<string>();
  const out: Candidate[] = [];
  for (const { c } of scored) {
    const key = `${c.schema}\u0000${c.name}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(c);
    if (out.length >= max) break;
  }
  return out;
}

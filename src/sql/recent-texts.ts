/**
 * A small cache keyed by statement text, most recently used last: values worked out from the text alone (a read
 * verdict, an audit fingerprint) are not worked out again when the same SQL comes back (paging, repeated reads). Only
 * short texts are kept; a computation that throws keeps nothing.
 */
export class RecentTexts<V> {
  private readonly values = new Map<string, V>();

  constructor(
    private readonly maxEntries: number,
    private readonly maxChars: number,
  ) {}

  get(text: string, compute: (text: string) => V): V {
    const known = this.values.get(text);
    if (known !== undefined) {
      this.values.delete(text);
      this.values.set(text, known);
      return known;
    }
    const value = compute(text);
    if (text.length <= this.maxChars) {
      if (this.values.size >= this.maxEntries) this.values.delete(this.values.keys().next().value as string);
      this.values.set(text, value);
    }
    return value;
  }
}

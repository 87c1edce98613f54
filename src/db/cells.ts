import type { JsonValue } from './values.js';

/** Caps one cell: long text, JSON and bytea are cut to `maxBytes` characters and marked. */
export function capCell(value: JsonValue, maxBytes: number): { value: JsonValue; cut: boolean } {
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return { value, cut: false };
  if (typeof value === 'string') {
    if (value.length <= maxBytes) return { value, cut: false };
    return { value: `${value.slice(0, maxBytes)}…[cut: ${value.length} characters in all]`, cut: true };
  }
  if (!Array.isArray(value) && typeof value.$bytea === 'string' && typeof value.bytes === 'number') {
    const hex = value.$bytea;
    if (hex.length <= maxBytes) return { value, cut: false };
    return { value: { $bytea: hex.slice(0, maxBytes), bytes: value.bytes, cut: true }, cut: true };
  }
  const text = JSON.stringify(value);
  if (text.length <= maxBytes) return { value, cut: false };
  return { value: `${text.slice(0, maxBytes)}…[cut: JSON of ${text.length} characters in all]`, cut: true };
}

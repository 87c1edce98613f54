import { convertValue } from '../../db/values.js';

/**
 * Catalog values as they come from node-postgres (default type parsing) turned into JSON: bigint and numeric
 * arrive as text and become numbers when they are exact integers below 2^53, otherwise stay text.
 */
export function big(v: unknown): number | string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return v;
  const text = String(v);
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : text;
}

/** A number (sizes, counts, float estimates); null stays null. */
export function num(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : null;
}

export function str(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

export function bool(v: unknown): boolean {
  return v === true;
}

export function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.map((x) => String(x)) : [];
}

/** A timestamptz selected as `::text`, as ISO 8601 (the same form pg_query gives). */
export function time(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  const converted = convertValue(1184, String(v));
  return typeof converted === 'string' ? converted : String(v);
}

/** Bytes in the style of pg_size_pretty: `812 bytes`, `16 kB`, `2.4 MB`. */
export function prettyBytes(bytes: number): string {
  const units = ['kB', 'MB', 'GB', 'TB', 'PB'];
  if (Math.abs(bytes) < 1024) return `${bytes} bytes`;
  let value = bytes;
  let unit = 'bytes';
  for (const u of units) {
    if (Math.abs(value) < 1024) break;
    value /= 1024;
    unit = u;
  }
  const shown = value >= 100 ? Math.round(value) : Math.round(value * 10) / 10;
  return `${shown} ${unit}`;
}

export interface Size {
  bytes: number;
  pretty: string;
}

export function size(v: unknown): Size | null {
  const bytes = num(v);
  return bytes === null ? null : { bytes, pretty: prettyBytes(bytes) };
}

/**
 * A row estimate from pg_class.reltuples: -1 (PostgreSQL 14+) means never vacuumed or analysed, which is null here.
 */
export function rowEstimate(v: unknown): number | null {
  const n = num(v);
  return n === null || n < 0 ? null : Math.round(n);
}

/** Thousands separators for counts in text. */
export function count(n: number | null): string {
  return n === null ? 'unknown' : n.toLocaleString('en-US');
}

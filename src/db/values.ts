import { parse as parseArray } from 'postgres-array';

/**
 * Type-faithful JSON values from PostgreSQL's text output: integers that fit stay numbers, bigint and numeric stay
 * strings (full precision), timestamps become ISO 8601, bytea is marked, arrays and json become JSON.
 */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

/** Built-in type OIDs pgmcp converts (pg_type.oid). */
const OID = {
  bool: 16,
  bytea: 17,
  int8: 20,
  int2: 21,
  int4: 23,
  oid: 26,
  json: 114,
  float4: 700,
  float8: 701,
  money: 790,
  date: 1082,
  timestamp: 1114,
  timestamptz: 1184,
  numeric: 1700,
  jsonb: 3802,
} as const;

/** Array type OID → element type OID, for the built-in array types. */
const ARRAY_ELEMENT: Record<number, number> = {
  1000: OID.bool,
  1001: OID.bytea,
  1005: OID.int2,
  1007: OID.int4,
  1016: OID.int8,
  1028: OID.oid,
  199: OID.json,
  3807: OID.jsonb,
  1021: OID.float4,
  1022: OID.float8,
  1182: OID.date,
  1115: OID.timestamp,
  1185: OID.timestamptz,
  1231: OID.numeric,
  1009: 25,
  1015: 1043,
  1014: 1042,
  2951: 2950,
  1183: 1083,
  1270: 1266,
  1187: 1186,
  1041: 869,
  651: 650,
  1040: 829,
};

export function isArrayType(oid: number, extraArrays?: ReadonlyMap<number, number>): boolean {
  return oid in ARRAY_ELEMENT || (extraArrays?.has(oid) ?? false);
}

/** "2024-01-02 03:04:05.123456+05:30" → "2024-01-02T03:04:05.123456+05:30"; infinity and BC dates stay text. */
function isoTimestamp(text: string): string {
  const m = /^(\d{4,}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?)([+-]\d{2})(?::?(\d{2}))?(?::(\d{2}))?$/.exec(text);
  if (m) return `${m[1]}T${m[2]}${m[3]}:${m[4] ?? '00'}${m[5] ? `:${m[5]}` : ''}`;
  const local = /^(\d{4,}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?)$/.exec(text);
  if (local) return `${local[1]}T${local[2]}`;
  return text;
}

export interface ByteaValue {
  $bytea: string;
  bytes: number;
}

function convertScalar(oid: number, text: string): JsonValue {
  switch (oid) {
    case OID.bool:
      return text === 't';
    case OID.int2:
    case OID.int4:
    case OID.oid:
      return Number(text);
    case OID.float4:
    case OID.float8: {
      const n = Number(text);
      return Number.isFinite(n) ? n : text;
    }
    case OID.json:
    case OID.jsonb:
      return JSON.parse(text) as JsonValue;
    case OID.timestamp:
    case OID.timestamptz:
      return isoTimestamp(text);
    case OID.bytea: {
      const hex = text.startsWith('\\x') ? text.slice(2) : text;
      return { $bytea: `\\x${hex}`, bytes: hex.length / 2 } satisfies ByteaValue;
    }
    default:
      // int8, numeric, money, date, time, interval, uuid, text, enums and everything else: exact text.
      return text;
  }
}

/** Converts one raw text value of type `oid`; `extraArrays` maps user array types (e.g. of enums) to their element. */
export function convertValue(oid: number, text: string | null, extraArrays?: ReadonlyMap<number, number>): JsonValue {
  if (text === null) return null;
  const element = ARRAY_ELEMENT[oid] ?? extraArrays?.get(oid);
  if (element !== undefined) {
    return parseArray(text, (item: string) => convertScalar(element, item)) as JsonValue[];
  }
  return convertScalar(oid, text);
}

/** node-postgres type parsing that keeps every value as PostgreSQL's exact text. */
export const RAW_TEXT_TYPES = {
  getTypeParser: () => (value: string) => value,
};

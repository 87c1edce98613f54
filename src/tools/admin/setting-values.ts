/**
 * Checks a new setting value against its pg_settings row (vartype, unit, min_val/max_val, enumvals) the way the
 * server parses it, and gives the SQL for the right-hand side of ALTER SYSTEM SET. Pure: no server round trip.
 */
import { ToolError } from '../errors.js';
import { quoteLiteral } from './sql.js';

export interface SettingRow {
  name: string;
  setting: string | null;
  unit: string | null;
  vartype: 'bool' | 'integer' | 'real' | 'string' | 'enum';
  min_val: string | null;
  max_val: string | null;
  enumvals: string[] | null;
  context: string;
}

export interface CheckedValue {
  /** The right-hand side of `ALTER SYSTEM SET name = …`, quoted. */
  sql: string;
  /** The value as people read it: `8MB`, `on`, `'a', 'b'`. */
  shown: string;
  /** Numeric settings: the value in the setting's own unit, as pg_settings.setting will show it. */
  inSettingUnit?: number;
}

/**
 * Settings whose value is a list where each element is quoted on its own (GUC_LIST_QUOTE in the server): one
 * string 'a, b' would become a single element "a, b", so each element goes as its own literal.
 */
const LIST_QUOTED = new Set([
  'search_path',
  'shared_preload_libraries',
  'session_preload_libraries',
  'local_preload_libraries',
  'temp_tablespaces',
  'unix_socket_directories',
]);

const MEMORY_UNITS: Record<string, number> = { B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };
const TIME_UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** `8kB` → [8, 'kB']: a setting's unit as a multiple of a base unit. */
function settingUnit(unit: string): { family: 'memory' | 'time'; factor: number } | undefined {
  const m = /^(\d*)\s*([a-zA-Z]+)$/.exec(unit);
  if (!m) return undefined;
  const times = m[1] ? Number(m[1]) : 1;
  const u = m[2] as string;
  if (u in MEMORY_UNITS) return { family: 'memory', factor: times * (MEMORY_UNITS[u] as number) };
  if (u in TIME_UNITS) return { family: 'time', factor: times * (TIME_UNITS[u] as number) };
  return undefined;
}

const TRUE_WORDS = ['on', 'true', 'yes', '1'];
const FALSE_WORDS = ['off', 'false', 'no', '0'];

/** PostgreSQL's boolean spelling: on/off, true/false, yes/no, 1/0 and unique prefixes of them, any case. */
export function parseBool(text: string): boolean | undefined {
  const t = text.trim().toLowerCase();
  if (t === '') return undefined;
  if (t === 'o') return undefined; // on or off: ambiguous
  if (TRUE_WORDS.some((w) => w.startsWith(t)) && !FALSE_WORDS.some((w) => w.startsWith(t))) return true;
  if (FALSE_WORDS.some((w) => w.startsWith(t)) && !TRUE_WORDS.some((w) => w.startsWith(t))) return false;
  return undefined;
}

function invalid(row: SettingRow, message: string, hint?: string): ToolError {
  return new ToolError(`${row.name}: ${message}`, {
    code: 'invalid_setting_value',
    ...(hint ? { hint } : {}),
  });
}

function rangeText(row: SettingRow): string {
  const u = row.unit ? ` ${row.unit}` : '';
  return `${row.min_val}${u} … ${row.max_val}${u}`;
}

function unitsHint(row: SettingRow): string {
  const su = row.unit ? settingUnit(row.unit) : undefined;
  if (!su) return `a number between ${row.min_val} and ${row.max_val}`;
  const units = Object.keys(su.family === 'memory' ? MEMORY_UNITS : TIME_UNITS).join(', ');
  return `a number in ${row.unit} (${rangeText(row)}), or with a unit: ${units}`;
}

function checkNumber(row: SettingRow, value: string | number): CheckedValue {
  const text = String(value).trim();
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([a-zA-Z]+)?$/.exec(text);
  if (!m) throw invalid(row, `${JSON.stringify(text)} is not a number`, unitsHint(row));
  let n = Number(m[1]);
  const given = m[2];
  if (given !== undefined) {
    const su = row.unit ? settingUnit(row.unit) : undefined;
    if (!su) throw invalid(row, `takes no unit, and ${JSON.stringify(text)} has one`, unitsHint(row));
    const table = su.family === 'memory' ? MEMORY_UNITS : TIME_UNITS;
    const factor = table[given];
    if (factor === undefined) {
      throw invalid(
        row,
        `unit ${JSON.stringify(given)} is not a ${su.family} unit (units are case-sensitive)`,
        unitsHint(row),
      );
    }
    n = (n * factor) / su.factor;
  }
  if (row.vartype === 'integer') {
    // The server rounds a value that is not a whole number of the setting's unit.
    n = Math.round(n);
  }
  const min = row.min_val === null ? undefined : Number(row.min_val);
  const max = row.max_val === null ? undefined : Number(row.max_val);
  if ((min !== undefined && n < min) || (max !== undefined && n > max)) {
    const inUnit = given !== undefined ? ` (${n} ${row.unit})` : '';
    throw invalid(row, `${text}${inUnit} is outside the allowed range ${rangeText(row)}`, unitsHint(row));
  }
  const shown = given !== undefined ? `${m[1]}${given}` : String(m[1]);
  return { sql: quoteLiteral(shown), shown, inSettingUnit: n };
}

/** The checked value for ALTER SYSTEM SET, or a ToolError naming what is wrong and what is allowed. */
export function checkSettingValue(row: SettingRow, value: string | number | boolean | string[]): CheckedValue {
  if (Array.isArray(value) && row.vartype !== 'string') {
    throw invalid(row, `is a single ${row.vartype} value, not a list`);
  }
  switch (row.vartype) {
    case 'bool': {
      const b = typeof value === 'boolean' ? value : parseBool(String(value));
      if (b === undefined) throw invalid(row, `${JSON.stringify(value)} is not a boolean`, 'use on or off');
      const shown = b ? 'on' : 'off';
      return { sql: quoteLiteral(shown), shown };
    }
    case 'integer':
    case 'real': {
      if (typeof value === 'boolean') throw invalid(row, 'takes a number, not a boolean', unitsHint(row));
      return checkNumber(row, value as string | number);
    }
    case 'enum': {
      const text = String(value).trim().toLowerCase();
      const found = (row.enumvals ?? []).find((v) => v.toLowerCase() === text);
      if (found === undefined) {
        throw invalid(
          row,
          `${JSON.stringify(value)} is not one of its values`,
          `one of: ${(row.enumvals ?? []).join(', ')}`,
        );
      }
      return { sql: quoteLiteral(found), shown: found };
    }
    case 'string': {
      let items: string[];
      if (Array.isArray(value)) items = value;
      else if (LIST_QUOTED.has(row.name) && typeof value === 'string' && value.includes(',')) {
        items = value.split(',').map((v) => v.trim());
      } else items = [String(value)];
      if (items.length > 1 && !LIST_QUOTED.has(row.name)) items = [items.join(',')];
      const sql = items.map((v) => quoteLiteral(v)).join(', ');
      return { sql, shown: items.length > 1 ? sql : (items[0] as string) };
    }
  }
}

import { type Config, ConfigSchema, SETTINGS, type Setting } from './settings.js';

export type ConfigSource = 'default' | 'file' | 'env' | 'flag';

/** Bad configuration: names the key, the value and what was expected. The CLI exits 2 with it. */
export class ConfigError extends Error {
  constructor(
    readonly key: string,
    readonly value: string,
    readonly expected: string,
    readonly source: ConfigSource | 'file-key',
  ) {
    super(`invalid configuration ${key}=${value} (from ${source}): expected ${expected}`);
    this.name = 'ConfigError';
  }
}

export interface ConfigInputs {
  /** Parsed config file (JSON or YAML object), nested by setting key. */
  file?: Record<string, unknown> | undefined;
  env?: Record<string, string | undefined>;
  /** Flag values by setting key (what the CLI collected). */
  flags?: Record<string, unknown>;
}

export interface ResolvedConfig {
  config: Config;
  /** Where each set key came from. */
  sources: Record<string, ConfigSource>;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, sec: 1000, min: 60000, m: 60000, h: 3600000 };

function expectedOf(s: Setting): string {
  switch (s.type) {
    case 'int':
      return `an integer${s.min !== undefined ? ` >= ${s.min}` : ''}${s.max !== undefined ? ` and <= ${s.max}` : ''}`;
    case 'duration':
      return 'a duration such as 500ms, 30s, 5min or a number of milliseconds';
    case 'bool':
      return 'true or false (also 1/0, yes/no, on/off)';
    case 'enum':
      return `one of ${s.values?.join(', ')}`;
    case 'list':
      return s.values ? `a comma list of ${s.values.join(', ')}` : 'a comma list';
    default:
      return 'a string';
  }
}

function shown(s: Setting, raw: unknown): string {
  if (s.secret) return '****';
  return typeof raw === 'string' ? JSON.stringify(raw) : (JSON.stringify(raw) ?? String(raw));
}

/** Turns one raw value (string from env/flags, or a native value from a file) into the setting's type. */
export function parseSettingValue(s: Setting, raw: unknown, source: ConfigSource): unknown {
  const fail = (): never => {
    throw new ConfigError(s.env && source === 'env' ? s.env : s.key, shown(s, raw), expectedOf(s), source);
  };
  switch (s.type) {
    case 'string':
      if (typeof raw !== 'string' && typeof raw !== 'number') fail();
      return String(raw);
    case 'int': {
      const n =
        typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isInteger(n)) fail();
      if (s.min !== undefined && n < s.min) fail();
      if (s.max !== undefined && n > s.max) fail();
      return n;
    }
    case 'duration': {
      if (typeof raw === 'number' && Number.isInteger(raw) && raw >= 0) return raw;
      if (typeof raw !== 'string') return fail();
      const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|min|m|h)?\s*$/.exec(raw);
      if (!m) return fail();
      return Math.round(Number(m[1]) * (DURATION_UNITS[m[2] ?? 'ms'] ?? 1));
    }
    case 'bool': {
      if (typeof raw === 'boolean') return raw;
      const v = String(raw).trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(v)) return true;
      if (['0', 'false', 'no', 'off'].includes(v)) return false;
      return fail();
    }
    case 'enum': {
      const v = typeof raw === 'string' ? raw.trim() : raw;
      if (typeof v !== 'string' || !s.values?.includes(v)) fail();
      return v;
    }
    case 'list': {
      const items = Array.isArray(raw)
        ? raw.map(String)
        : typeof raw === 'string'
          ? raw
              .split(',')
              .map((x) => x.trim())
              .filter(Boolean)
          : fail();
      if (s.values && items.some((x) => !s.values?.includes(x))) fail();
      return items;
    }
  }
}

function getPath(obj: Record<string, unknown> | undefined, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = obj;
  for (const part of parts.slice(0, -1)) {
    cur[part] ??= {};
    cur = cur[part] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1] as string] = value;
}

/** Every leaf key of a config file, to refuse keys pgmcp does not know. */
function leafKeys(obj: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(obj).flatMap(([k, v]) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? leafKeys(v as Record<string, unknown>, `${prefix}${k}.`)
      : [`${prefix}${k}`],
  );
}

/**
 * Resolves the configuration: defaults < file < environment < flags. Pure: everything it reads is passed in.
 * Throws ConfigError naming the key, the value and what is expected.
 */
export function resolveConfig(inputs: ConfigInputs): ResolvedConfig {
  const known = new Set(SETTINGS.map((s) => s.key));
  for (const key of leafKeys(inputs.file ?? {})) {
    if (!known.has(key))
      throw new ConfigError(key, '(in config file)', `one of the known keys: ${[...known].join(', ')}`, 'file-key');
  }
  const out: Record<string, unknown> = {};
  const sources: Record<string, ConfigSource> = {};
  for (const s of SETTINGS) {
    const layers: [ConfigSource, unknown][] = [
      ['default', s.default],
      ['file', getPath(inputs.file, s.key)],
      ['env', s.env ? inputs.env?.[s.env] : undefined],
      ['flag', inputs.flags?.[s.key]],
    ];
    for (const [source, raw] of layers) {
      if (raw === undefined || raw === null || (source === 'env' && raw === '')) continue;
      setPath(out, s.key, source === 'default' ? raw : parseSettingValue(s, raw, source));
      sources[s.key] = source;
    }
  }
  // Groups with no defaults (connection, audit) still exist in the resolved object.
  for (const group of ['connection', 'audit', 'cluster', 'limits', 'log']) out[group] ??= {};
  const limits = out.limits as Config['limits'];
  if (limits.defaultRows > limits.maxRows) {
    throw new ConfigError(
      'limits.defaultRows',
      String(limits.defaultRows),
      `at most limits.maxRows (${limits.maxRows})`,
      sources['limits.defaultRows'] ?? 'default',
    );
  }
  return { config: ConfigSchema.parse(out), sources };
}

function maskUrl(value: string): string {
  try {
    const u = new URL(value);
    if (u.password) u.password = '****';
    for (const k of [...u.searchParams.keys()]) if (/pass|secret|token/i.test(k)) u.searchParams.set(k, '****');
    return u.toString();
  } catch {
    return '****';
  }
}

/** The configuration as it may be shown (doctor, logs): every secret replaced by ****. */
export function describeConfig(resolved: ResolvedConfig): { key: string; value: string; source: ConfigSource }[] {
  const rows: { key: string; value: string; source: ConfigSource }[] = [];
  for (const s of SETTINGS) {
    const v = getPath(resolved.config as unknown as Record<string, unknown>, s.key);
    if (v === undefined) continue;
    const text = Array.isArray(v) ? v.join(',') : String(v);
    const value = s.secret ? (/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? maskUrl(text) : '****') : text;
    rows.push({ key: s.key, value, source: resolved.sources[s.key] ?? 'default' });
  }
  return rows;
}

/** Every secret value in the configuration, for redaction from error texts and logs. */
export function secretsOf(config: Config): string[] {
  const out: string[] = [];
  for (const s of SETTINGS) {
    if (!s.secret) continue;
    const v = getPath(config as unknown as Record<string, unknown>, s.key);
    if (typeof v !== 'string' || v.length < 3) continue;
    out.push(v);
    try {
      const u = new URL(v);
      if (u.password) out.push(decodeURIComponent(u.password), u.password);
    } catch {
      // not a URL: the whole value is the secret
    }
  }
  return [...new Set(out)].filter((x) => x.length >= 3);
}

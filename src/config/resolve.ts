import { type Config, ConfigSchema, SETTINGS, type Setting, type SettingAlias } from './settings.js';

export type ConfigSource = 'default' | 'file' | 'env' | 'flag';

/** Bad configuration: names the key, the value and what was expected. The CLI exits 2 with it. */
export class ConfigError extends Error {
  constructor(
    readonly key: string,
    readonly value: string,
    readonly expected: string,
    readonly source: ConfigSource | 'file-key',
    /** When `key` is an alias (POSTGRES_URL …): the pgmcp name it stands for. */
    readonly aliasOf?: string,
  ) {
    super(
      `invalid configuration ${key}=${value} (from ${source}${aliasOf ? `, alias of ${aliasOf}` : ''}): expected ${expected}`,
    );
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

/** The environment variable a key was read from: pgmcp's own, or an alias of it. */
export interface EnvOrigin {
  name: string;
  /** Set when `name` is an alias: the pgmcp variable it stands for. */
  aliasOf?: string;
}

/** An alias that was set but not used: pgmcp's own name (or a file key, or a flag) set the same setting. */
export interface IgnoredAlias {
  alias: string;
  key: string;
  /** What set the value instead, e.g. `env DATABASE_URL`, `flag --port`, `config file`. */
  by: string;
}

export interface ResolvedConfig {
  config: Config;
  /** Where each set key came from. */
  sources: Record<string, ConfigSource>;
  /** For keys from the environment: which variable. */
  envVars: Record<string, EnvOrigin>;
  ignoredAliases: IgnoredAlias[];
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

/**
 * Turns one raw value (string from env/flags, or a native value from a file) into the setting's type. `via` names
 * the environment variable when it is not the setting's own (an alias), for the error.
 */
export function parseSettingValue(s: Setting, raw: unknown, source: ConfigSource, via?: EnvOrigin): unknown {
  const fail = (): never => {
    const name = via?.name ?? (s.env && source === 'env' ? s.env : s.key);
    throw new ConfigError(name, shown(s, raw), expectedOf(s), source, via?.aliasOf);
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
      const word = typeof raw === 'string' ? raw.trim() : raw;
      const v = typeof word === 'string' ? (s.synonyms?.[word.toLowerCase()] ?? word) : word;
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

/** An alias's value as the setting's: through its value map when it has one (refusing other values), else as is. */
function parseAliasValue(s: Setting, alias: SettingAlias, raw: string): unknown {
  const via: EnvOrigin = { name: alias.env, aliasOf: s.env ?? s.key };
  if (!alias.values) return parseSettingValue(s, raw, 'env', via);
  const word = raw.trim().toLowerCase();
  const mapped = Object.hasOwn(alias.values, word) ? alias.values[word] : undefined;
  if (mapped === undefined) {
    const words = Object.keys(alias.values);
    const expected = words.length === 2 ? `${words[0]} or ${words[1]}` : `one of ${words.join(', ')}`;
    throw new ConfigError(alias.env, shown(s, raw), expected, 'env', via.aliasOf);
  }
  return parseSettingValue(s, mapped, 'env', via);
}

/** The environment variable that sets `s`: its own when set (non-empty), else the first alias set. */
function envFor(
  s: Setting,
  env: Record<string, string | undefined> | undefined,
): { name: string; raw: string; alias?: SettingAlias } | undefined {
  const own = s.env ? env?.[s.env] : undefined;
  if (s.env && own !== undefined && own !== '') return { name: s.env, raw: own };
  for (const alias of s.aliases ?? []) {
    const raw = env?.[alias.env];
    if (raw !== undefined && raw !== '') return { name: alias.env, raw, alias };
  }
  return undefined;
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
  const envVars: Record<string, EnvOrigin> = {};
  const ignoredAliases: IgnoredAlias[] = [];
  for (const s of SETTINGS) {
    const env = envFor(s, inputs.env);
    const layers: [ConfigSource, unknown][] = [
      ['default', s.default],
      ['file', getPath(inputs.file, s.key)],
      ['env', env?.raw],
      ['flag', inputs.flags?.[s.key]],
    ];
    for (const [source, raw] of layers) {
      if (raw === undefined || raw === null) continue;
      const value =
        source === 'default'
          ? raw
          : source === 'env' && env?.alias
            ? parseAliasValue(s, env.alias, String(raw))
            : parseSettingValue(s, raw, source);
      setPath(out, s.key, value);
      sources[s.key] = source;
    }
    if (sources[s.key] === 'env' && env) {
      envVars[s.key] = env.alias ? { name: env.name, aliasOf: s.env ?? s.key } : { name: env.name };
    }
    for (const alias of s.aliases ?? []) {
      const raw = inputs.env?.[alias.env];
      if (raw === undefined || raw === '' || envVars[s.key]?.name === alias.env) continue;
      const source = sources[s.key];
      const by =
        source === 'flag'
          ? `flag ${s.flag ?? s.key}`
          : source === 'file'
            ? 'config file'
            : `env ${envVars[s.key]?.name}`;
      ignoredAliases.push({ alias: alias.env, key: s.key, by });
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
  return { config: ConfigSchema.parse(out), sources, envVars, ignoredAliases };
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

export interface ConfigRow {
  key: string;
  value: string;
  source: ConfigSource;
  /** Where the value came from, in words: `env POSTGRES_URL (alias of DATABASE_URL)`, `flag --port`, `default`. */
  from: string;
}

function fromOf(s: Setting, resolved: ResolvedConfig): string {
  const source = resolved.sources[s.key] ?? 'default';
  if (source === 'env') {
    const v = resolved.envVars[s.key];
    if (!v) return 'env';
    return v.aliasOf ? `env ${v.name} (alias of ${v.aliasOf})` : `env ${v.name}`;
  }
  if (source === 'flag') return s.flag ? `flag ${s.flag}` : 'flag';
  return source === 'file' ? 'config file' : source;
}

/** The configuration as it may be shown (doctor, logs): every secret replaced by ****. */
export function describeConfig(resolved: ResolvedConfig): ConfigRow[] {
  const rows: ConfigRow[] = [];
  for (const s of SETTINGS) {
    const v = getPath(resolved.config as unknown as Record<string, unknown>, s.key);
    if (v === undefined) continue;
    const text = Array.isArray(v) ? v.join(',') : String(v);
    const value = s.secret ? (/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? maskUrl(text) : '****') : text;
    rows.push({ key: s.key, value, source: resolved.sources[s.key] ?? 'default', from: fromOf(s, resolved) });
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

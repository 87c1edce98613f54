import type pg from 'pg';
import { compactTable } from '../schema/text.js';
import { check, toStr } from './format.js';
import type { Check, SettingsPart } from './output.js';
import type { ServerInfo } from './sessions.js';

type Row = Record<string, unknown>;

const MEMORY_UNITS: Record<string, number> = { B: 1, kB: 1024, MB: 1024 ** 2, '8kB': 8 * 1024, '16MB': 16 * 1024 ** 2 };
const TIME_UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** A value in a unit the way SHOW prints it: the largest unit that divides it exactly (`128MB`, `5min`). */
export function showValue(setting: string | null, unit: string | null): string | null {
  if (setting === null) return null;
  if (!unit) return setting;
  const n = Number(setting);
  // SHOW prints a negative value (usually -1: disabled or use another setting) without its unit.
  if (Number.isFinite(n) && n < 0) return setting;
  if (!Number.isFinite(n) || !Number.isInteger(n)) return `${setting}${unit}`;
  if (unit in MEMORY_UNITS) {
    const bytes = n * (MEMORY_UNITS[unit] as number);
    if (bytes === 0) return '0';
    for (const [u, f] of [
      ['TB', 1024 ** 4],
      ['GB', 1024 ** 3],
      ['MB', 1024 ** 2],
      ['kB', 1024],
    ] as const) {
      if (bytes % f === 0) return `${bytes / f}${u}`;
    }
    return `${bytes}B`;
  }
  if (unit in TIME_UNITS) {
    const ms = n * (TIME_UNITS[unit] as number);
    if (ms === 0) return '0';
    for (const [u, f] of [
      ['d', 86_400_000],
      ['h', 3_600_000],
      ['min', 60_000],
      ['s', 1000],
      ['ms', 1],
    ] as const) {
      if (ms % f === 0) return `${ms / f}${u}`;
    }
    return `${n}${unit}`;
  }
  return `${setting}${unit}`;
}

const BYTES: Record<string, number> = { B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };

function boolOf(text: string): boolean | null {
  const t = text.trim().toLowerCase();
  if (t === '') return null;
  if (t === 'on' || t === '1' || 'true'.startsWith(t) || 'yes'.startsWith(t)) return true;
  if (t === 'off' || t === 'of' || t === '0' || 'false'.startsWith(t) || 'no'.startsWith(t)) return false;
  return null;
}

/**
 * Whether a value written in a configuration file equals the running value (pg_settings.setting, in `unit`):
 * true, false, or null when it cannot tell.
 */
export function sameValue(fileText: string, current: string, unit: string | null, vartype: string): boolean | null {
  if (vartype === 'bool') {
    const a = boolOf(fileText);
    const b = boolOf(current);
    return a === null || b === null ? null : a === b;
  }
  if (vartype === 'integer' || vartype === 'real') {
    const m = /^\s*(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)\s*([a-zA-Z]+)?\s*$/.exec(fileText);
    if (!m) return null;
    const n = Number(m[1]);
    const cur = Number(current);
    const suffix = m[2];
    if (!suffix || !unit) return Math.abs(n - cur) <= 1e-9 * Math.max(1, Math.abs(cur));
    const memory = unit in MEMORY_UNITS;
    const from = (memory ? BYTES : TIME_UNITS)[suffix];
    const base = memory ? MEMORY_UNITS[unit] : TIME_UNITS[unit];
    if (from === undefined || base === undefined) return null;
    // The server rounds to its unit.
    return Math.abs((n * from) / base - cur) < 0.5 + 1e-9 * Math.abs(cur);
  }
  const norm = (t: string) => t.trim().replace(/^'|'$/g, '').replace(/\s+/g, '').toLowerCase();
  return norm(fileText) === norm(current);
}

/** Sources that describe pgmcp's own connection rather than the server's configuration. */
const SESSION_SOURCES = ['client', 'session', 'interactive'];

export async function settings(
  client: pg.ClientBase,
  info: ServerInfo,
  opts: { pattern: string | null; category: string | null; includeDefaults: boolean; limit: number },
): Promise<{ part: SettingsPart; checks: Check[]; notes: string[] }> {
  const rows = (
    await client.query(
      `select s.name, s.setting, s.unit, s.boot_val, s.reset_val, s.source, s.sourcefile, s.sourceline, s.category,
          s.context, s.pending_restart, s.short_desc, s.vartype, current_setting(s.name) as shown,
          count(*) over () as matched
        from pg_catalog.pg_settings s
        where ($1::text is null or s.name ilike $1::text) and ($2::text is null or s.category ilike $2::text)
          and ($3::boolean or s.pending_restart
               or (s.source not in ('default', 'override') and not (s.source = any($4::text[]))
                   and s.setting is distinct from s.boot_val))
        order by s.pending_restart desc, s.category, s.name limit $5`,
      [opts.pattern, opts.category, opts.includeDefaults, SESSION_SOURCES, opts.limit],
    )
  ).rows as Row[];

  const items = rows.map((r) => {
    const unit = toStr(r.unit);
    const file = r.sourcefile ? `${r.sourcefile}${r.sourceline ? `:${r.sourceline}` : ''}` : null;
    return {
      name: String(r.name),
      value: String(r.shown),
      setting: String(r.setting),
      unit,
      default: r.vartype === 'integer' || r.vartype === 'real' ? showValue(toStr(r.boot_val), unit) : toStr(r.boot_val),
      source: String(r.source),
      file,
      category: String(r.category),
      context: String(r.context),
      pendingRestart: r.pending_restart === true,
      description: String(r.short_desc),
    };
  });

  const checks: Check[] = [];
  /** What the configuration files say now, for settings pending a restart. */
  const inFiles = new Map<string, string>();

  // pg_file_settings (superusers and pg_read_all_settings) reads the files now: entries in error, and entries whose
  // value differs from the running one (a reload, or for postmaster settings a restart, is still to come).
  const notes: string[] = [];
  const fileProblems: SettingsPart['fileProblems'] = [];
  const canReadFiles = (
    await client.query(
      "select pg_catalog.has_function_privilege('pg_catalog.pg_show_all_file_settings()', 'execute') as ok",
    )
  ).rows[0] as Row;
  if (canReadFiles.ok === true) {
    const fr = (
      await client.query(
        `select f.name, f.setting as file_value, f.sourcefile, f.sourceline, f.applied, f.error,
            s.setting as current, s.unit, s.vartype, s.source, s.context, s.pending_restart
          from pg_catalog.pg_file_settings f left join pg_catalog.pg_settings s on s.name = f.name
          where (f.error is not null
                 or f.seqno = (select max(g.seqno) from pg_catalog.pg_file_settings g where g.name = f.name))
            and ($1::text is null or f.name ilike $1::text)
          order by f.seqno`,
        [opts.pattern],
      )
    ).rows as Row[];
    for (const f of fr) {
      const where = f.sourcefile ? `${f.sourcefile}${f.sourceline ? `:${f.sourceline}` : ''}` : null;
      const object = f.name ? `setting ${f.name} at ${where ?? '?'}` : (where ?? 'configuration file');
      // A postmaster setting changed and reloaded reads "setting could not be applied": that is the pending restart.
      if (f.pending_restart === true) {
        if (f.name) inFiles.set(String(f.name), `'${f.file_value}' (${where ?? '?'})`);
        continue;
      }
      if (f.error) {
        fileProblems.push({ name: toStr(f.name), file: where, applied: false, error: toStr(f.error) });
        checks.push(
          check('configuration file', 'critical', `${f.error}${f.name ? ` (${f.name} = '${f.file_value}')` : ''}`, {
            object,
            threshold: 'every entry valid',
            fix: 'correct the entry; the server keeps its old value until then, and may not start with it',
          }),
        );
        continue;
      }
      if (f.current === null || f.current === undefined) continue;
      // A value set on the command line, per database or per role wins over the file anyway.
      if (f.source !== 'configuration file' && f.source !== 'default') continue;
      const same = sameValue(String(f.file_value), String(f.current), toStr(f.unit), String(f.vartype));
      if (same !== false) continue;
      const restart = f.context === 'postmaster';
      fileProblems.push({ name: toStr(f.name), file: where, applied: false, error: null });
      checks.push(
        check(
          'configuration file',
          'warn',
          `the file says ${f.name} = '${f.file_value}', the server runs with ${showValue(toStr(f.current), toStr(f.unit))}: ${restart ? 'it takes effect only after a restart' : 'the file changed since the last reload'}`,
          {
            object,
            threshold: 'running values match the configuration files',
            fix: restart ? 'restart the server in a maintenance window' : 'SELECT pg_reload_conf();',
          },
        ),
      );
    }
  } else {
    notes.push(
      'pg_file_settings is not readable by this login: configuration file errors and changes not yet reloaded are not checked',
    );
  }
  for (const s of items.filter((i) => i.pendingRestart)) {
    const now = inFiles.get(s.name);
    checks.unshift(
      check(
        'pending restart',
        'warn',
        `running with ${s.value}${now ? `; the configuration says ${now}` : '; the configuration says otherwise'}: it takes effect only after a restart`,
        {
          object: `setting ${s.name}`,
          threshold: 'no pending restart',
          fix: 'restart the server in a maintenance window (or revert the change in the configuration)',
        },
      ),
    );
  }
  if (!info.superuser)
    notes.push('source files and lines of settings show only to superusers and pg_read_all_settings members');
  if (!opts.includeDefaults) {
    notes.push(
      "left out: settings at their built-in default (even when a configuration file repeats it) and those set by pgmcp's own connection (source client/session: application_name, timeouts …); include_defaults lists everything",
    );
  }
  const total = Number(rows[0]?.matched ?? 0);
  return { part: { items, total, truncated: total > items.length, fileProblems }, checks, notes };
}

export function settingsText(part: SettingsPart, includeDefaults: boolean): string[] {
  const lines = [
    `${includeDefaults ? 'settings' : 'non-default settings'}: ${part.items.length}${part.truncated ? ` of ${part.total} (raise limit or filter)` : ''}`,
  ];
  if (part.items.length > 0) {
    lines.push(
      compactTable(
        ['name', 'value', 'default', 'source', 'context', 'category'],
        part.items.map((s) => [
          `${s.name}${s.pendingRestart ? ' (PENDING RESTART)' : ''}`,
          s.value,
          s.default,
          s.file ? `${s.source} (${s.file})` : s.source,
          s.context,
          s.category,
        ]),
      ),
    );
  }
  return lines;
}

/**
 * set_setting / reset_setting (ALTER SYSTEM, then pg_reload_conf) and reload_config. Values are checked against
 * pg_settings before anything runs. Settings are read on a fresh connection that sets nothing itself (pgmcp's own
 * connections set timeouts that would hide the server's values): what a new session sees.
 */
import pg from 'pg';
import { connectionFailure } from '../../db/connect-error.js';
import type { ToolContext } from '../context.js';
import { fromPgError, isPgServerError, ToolError } from '../errors.js';
import type { Change } from './output.js';
import type { AdminPlan, PlanInput, RunOutcome } from './plan.js';
import type { AdminSession } from './session.js';
import { type CheckedValue, checkSettingValue, type SettingRow } from './setting-values.js';
import type { Catalog } from './sql.js';

interface SettingInfo extends SettingRow {
  current: string | null;
  source: string | null;
  boot_val: string | null;
  reset_val: string | null;
  pending_restart: boolean;
  short_desc: string | null;
}

const SETTING_SQL = `
  select name, setting, unit, vartype, min_val, max_val, enumvals, context, source, boot_val, reset_val,
         pending_restart, short_desc, pg_catalog.current_setting(name) as current
    from pg_catalog.pg_settings where name = $1`;

/** A short query on a new connection of the admin login that sets no settings of its own. */
async function onFreshConnection<T>(ctx: ToolContext, database: string, sql: string, params: unknown[]): Promise<T[]> {
  const {
    statement_timeout: _st,
    lock_timeout: _lt,
    idle_in_transaction_session_timeout: _it,
    options: _o,
    ...base
  } = ctx.pools.clientOptions(database, 'admin');
  const client = new pg.Client(base);
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.query(sql, params)).rows as T[];
  } catch (err) {
    throw isPgServerError(err) ? fromPgError(err) : connectionFailure(err, database);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function settingInfo(ctx: ToolContext, database: string, name: string): Promise<SettingInfo | undefined> {
  return (await onFreshConnection<SettingInfo>(ctx, database, SETTING_SQL, [name]))[0];
}

interface FileError {
  sourcefile: string | null;
  sourceline: number | null;
  name: string | null;
  error: string;
}

/** Errors in the configuration files as the server reads them now (needs superuser or pg_read_all_settings). */
async function fileErrors(session: AdminSession): Promise<{ errors: FileError[]; unreadable?: string }> {
  try {
    const errors = await session.query<FileError>(
      `select sourcefile, sourceline, name, error from pg_catalog.pg_file_settings where error is not null
        order by seqno`,
    );
    return { errors };
  } catch (err) {
    return { errors: [], unreadable: err instanceof Error ? err.message : String(err) };
  }
}

/** The value the setting has in postgresql.auto.conf now (undefined: not there). */
async function autoConfValue(session: AdminSession, name: string): Promise<string | undefined> {
  try {
    const rows = await session.query<{ setting: string }>(
      `select setting from pg_catalog.pg_file_settings
        where name = $1 and sourcefile ~ 'postgresql\\.auto\\.conf$' order by seqno desc limit 1`,
      [name],
    );
    return rows[0]?.setting;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * pg_reload_conf() only signals the postmaster: waits until this session has loaded the new configuration (after
 * the postmaster, which signals its children once it has read the files). False when it did not within 5 s.
 */
async function waitForReload(session: AdminSession, before: string): Promise<boolean> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const [r] = await session.query<{ t: string }>('select pg_catalog.pg_conf_load_time()::text as t');
    if (r && r.t !== before) return true;
    await sleep(25);
  }
  return false;
}

async function loadTime(session: AdminSession): Promise<string> {
  const [r] = await session.query<{ t: string }>('select pg_catalog.pg_conf_load_time()::text as t');
  return r?.t ?? '';
}

/** What a setting falls back to without postgresql.auto.conf: its value in the other files, or the built-in default. */
async function valueWithoutAutoConf(catalog: Catalog, name: string, row: SettingInfo | undefined): Promise<string> {
  const builtIn =
    row?.boot_val !== undefined && row?.boot_val !== null
      ? `${row.boot_val}${row.unit ? ` ${row.unit}` : ''}`
      : undefined;
  try {
    const r = await catalog.one<{ setting: string; sourcefile: string }>(
      `select setting, sourcefile from pg_catalog.pg_file_settings
        where name = $1 and sourcefile !~ 'postgresql\\.auto\\.conf$' and error is null order by seqno desc limit 1`,
      [name],
    );
    if (r) return `${r.setting} (from ${r.sourcefile})`;
    return builtIn ? `the built-in default ${builtIn}` : 'the built-in default';
  } catch {
    return `the value in postgresql.conf or the built-in default${builtIn ? ` (${builtIn})` : ''}`;
  }
}

function contextNote(row: SettingRow): string {
  switch (row.context) {
    case 'postmaster':
      return `${row.name} changes only when the server restarts (context postmaster): until then the running value stays and pending_restart is flagged`;
    case 'sighup':
      return `${row.name} applies to every session when the configuration is reloaded (context sighup)`;
    case 'backend':
    case 'superuser-backend':
      return `${row.name} applies to sessions started after the reload (context ${row.context}); existing ones keep their value`;
    default:
      return `${row.name} becomes the default of every session after the reload; sessions that SET it themselves keep theirs (context ${row.context})`;
  }
}

function settingFacts(row: SettingInfo): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) if (v !== null && v !== undefined) out[k] = v;
  return out;
}

export async function planSetting(input: PlanInput, reset: boolean): Promise<AdminPlan> {
  const { args, ctx, database, catalog } = input;
  const name = (args.name as string).trim().toLowerCase();
  const row = await settingInfo(ctx, database, name);
  const warnings: string[] = [];
  let value: CheckedValue | undefined;
  if (!row) {
    if (!name.includes('.')) {
      throw new ToolError(`there is no setting named ${args.name}`, {
        code: 'unknown_setting',
        hint: 'pg_monitor (settings) lists them; extension settings are written prefix.name',
      });
    }
    warnings.push(
      `${name} is not known to the server (an extension setting whose library is not loaded): its value cannot be checked`,
    );
    if (!reset) {
      const v = args.value;
      if (v === undefined) throw new ToolError('set_setting needs value', { code: 'invalid_arguments' });
      value = checkSettingValue(
        {
          name,
          setting: null,
          unit: null,
          vartype: 'string',
          min_val: null,
          max_val: null,
          enumvals: null,
          context: 'user',
        },
        Array.isArray(v) ? v : String(v),
      );
    }
  } else {
    if (row.context === 'internal') {
      throw new ToolError(
        `${row.name} is read-only: it is fixed when PostgreSQL is built or the cluster is initialised`,
        { code: 'read_only_setting' },
      );
    }
    if (!reset) value = checkSettingValue(row, args.value as string | number | boolean | string[]);
  }
  const keywords = await catalog.keywords();
  const ident = name
    .split('.')
    .map((p) => (/^[a-z_][a-z0-9_$]*$/.test(p) && !keywords.has(p) ? p : `"${p.replace(/"/g, '""')}"`))
    .join('.');
  const alter = reset ? `ALTER SYSTEM RESET ${ident}` : `ALTER SYSTEM SET ${ident} = ${value?.sql}`;
  const reload = 'SELECT pg_reload_conf()';
  const before = row?.current ?? null;
  const fallback = reset ? await valueWithoutAutoConf(catalog, name, row) : undefined;
  const reasons = [
    reset
      ? `removes ${name} from postgresql.auto.conf and reloads the configuration: the server goes back to ${fallback}, server-wide`
      : `writes ${name} = ${value?.shown} (now ${before ?? 'unset'}) to postgresql.auto.conf and reloads the configuration: it applies server-wide, to every database`,
  ];
  if (row) reasons.push(contextNote(row));
  return {
    summary: reset ? `reset ${name} (ALTER SYSTEM RESET) and reload` : `set ${name} = ${value?.shown} and reload`,
    sql: [alter, reload],
    destructive: true,
    reasons,
    facts: {
      ...(row ? { setting: settingFacts(row) } : {}),
      ...(value
        ? { new_value: value.shown, ...(value.inSettingUnit !== undefined ? { new_setting: value.inSettingUnit } : {}) }
        : {}),
    },
    warnings,
    async run(session): Promise<RunOutcome> {
      const loaded = await loadTime(session);
      const configuredBefore = await autoConfValue(session, name);
      await session.run(alter);
      await session.run(reload, { result: (r) => String(Object.values(r.rows[0] ?? {})[0]) });
      const out = await afterReload(session, loaded);
      const after = await settingInfo(ctx, database, name);
      const configured = await autoConfValue(session, name);
      const changes: Change[] = [
        { object: name, item: 'postgresql.auto.conf', before: configuredBefore ?? null, after: configured ?? null },
        { object: name, item: 'value', before, after: after?.current ?? null },
      ];
      const pending = after?.pending_restart === true;
      if (pending) {
        out.warnings.push(
          `${name} is pending restart: the running value stays ${after?.current} until the server restarts`,
        );
      }
      return {
        changes,
        facts: { ...(after ? { setting: settingFacts(after) } : {}), ...out.facts },
        warnings: out.warnings,
        restartRequired: pending || out.restartRequired,
      };
    },
  };
}

/** After pg_reload_conf: waits for it, then what is pending restart and what the files hold that is wrong. */
async function afterReload(
  session: AdminSession,
  loaded: string,
): Promise<{ warnings: string[]; facts: Record<string, unknown>; restartRequired: boolean }> {
  const warnings: string[] = [];
  const reloaded = await waitForReload(session, loaded);
  if (!reloaded)
    warnings.push('the server had not reloaded its configuration 5 s after pg_reload_conf(): check its log');
  const files = await fileErrors(session);
  const pending = await session.query<{ name: string }>(
    'select name from pg_catalog.pg_settings where pending_restart order by name',
  );
  const pendingNames = new Set(pending.map((p) => p.name));
  for (const e of files.errors) {
    // How pg_file_settings marks a changed setting that waits for a restart: reported as pending restart instead.
    if (e.name && pendingNames.has(e.name) && e.error === 'setting could not be applied') continue;
    warnings.push(
      `configuration file error${e.sourcefile ? ` in ${e.sourcefile}${e.sourceline ? ` line ${e.sourceline}` : ''}` : ''}${e.name ? ` (${e.name})` : ''}: ${e.error}${e.error === 'setting could not be applied' ? ' (the server log says why)' : ''}`,
    );
  }
  if (files.unreadable) warnings.push(`could not read pg_file_settings: ${files.unreadable}`);
  return {
    warnings,
    facts: {
      reloaded,
      pending_restart: pending.map((p) => p.name),
      file_errors: files.errors,
    },
    restartRequired: pending.length > 0,
  };
}

interface Snapshot {
  name: string;
  value: string | null;
}

const SNAPSHOT_SQL = `select name, case when unit is null then setting else setting || ' ' || unit end as value
                        from pg_catalog.pg_settings`;

export async function planReload(input: PlanInput): Promise<AdminPlan> {
  const { ctx, database } = input;
  const sql = 'SELECT pg_reload_conf()';
  return {
    summary: 'reload the server configuration (pg_reload_conf)',
    sql: [sql],
    destructive: false,
    reasons: [],
    async run(session): Promise<RunOutcome> {
      const before = new Map(
        (await onFreshConnection<Snapshot>(ctx, database, SNAPSHOT_SQL, [])).map((r) => [r.name, r.value]),
      );
      const loaded = await loadTime(session);
      await session.run(sql, { result: (r) => String(Object.values(r.rows[0] ?? {})[0]) });
      const out = await afterReload(session, loaded);
      const after = await onFreshConnection<Snapshot>(ctx, database, SNAPSHOT_SQL, []);
      const changes: Change[] = [];
      for (const a of after) {
        const b = before.get(a.name);
        if (b !== a.value) changes.push({ object: a.name, item: 'value', before: b ?? null, after: a.value });
      }
      return { changes, facts: out.facts, warnings: out.warnings, restartRequired: out.restartRequired };
    },
  };
}

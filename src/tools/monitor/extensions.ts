import type pg from 'pg';
import { compactTable } from '../schema/text.js';
import { check, toStr } from './format.js';
import type { Check, ExtensionsPart } from './output.js';

type Row = Record<string, unknown>;

/**
 * Extensions whose library must be in shared_preload_libraries to work (they hook into the server at start-up or
 * run background workers). Installing one without preloading it fails or leaves it inert.
 */
const NEEDS_PRELOAD: Record<string, string> = {
  pg_stat_statements: 'pg_stat_statements',
  pg_cron: 'pg_cron',
  timescaledb: 'timescaledb',
  citus: 'citus',
  pgaudit: 'pgaudit',
  pg_partman: 'pg_partman_bgw',
  pg_wait_sampling: 'pg_wait_sampling',
  pg_qualstats: 'pg_qualstats',
  pg_stat_kcache: 'pg_stat_kcache',
  pg_squeeze: 'pg_squeeze',
  pg_hint_plan: 'pg_hint_plan',
  pglogical: 'pglogical',
  pg_prewarm: 'pg_prewarm',
  pgsentinel: 'pgsentinel',
};
/** Of those, the ones that work without preloading (preloading adds a feature). */
const PRELOAD_OPTIONAL = new Set(['pg_partman', 'pg_prewarm', 'pg_hint_plan']);

export async function extensions(
  client: pg.ClientBase,
  pattern: string | null,
): Promise<{ part: ExtensionsPart; checks: Check[]; notes: string[] }> {
  // shared_preload_libraries is visible to superusers and pg_read_all_settings only (pg_settings hides the row).
  const row = (await client.query("select setting from pg_catalog.pg_settings where name = 'shared_preload_libraries'"))
    .rows[0] as Row | undefined;
  const preload =
    row === undefined
      ? null
      : String(row.setting)
          .split(',')
          .map((s) => s.trim().replace(/^"|"$/g, '').replace(/^.*\//, ''))
          .filter(Boolean);
  const installed = (
    await client.query(
      `select e.extname::text as name, e.extversion as version, a.default_version, n.nspname::text as schema,
          coalesce(a.comment, pg_catalog.obj_description(e.oid, 'pg_extension')) as description,
          quote_ident(e.extname) as qname
        from pg_catalog.pg_extension e
        left join pg_catalog.pg_available_extensions a on a.name = e.extname
        left join pg_catalog.pg_namespace n on n.oid = e.extnamespace
        where $1::text is null or e.extname ilike $1::text
        order by e.extname`,
      [pattern],
    )
  ).rows as Row[];
  const available = (
    await client.query(
      `select a.name::text as name, a.default_version, a.comment as description,
          (select bool_or(v.trusted) from pg_catalog.pg_available_extension_versions v
            where v.name = a.name and v.version = a.default_version) as trusted
        from pg_catalog.pg_available_extensions a
        where a.installed_version is null and ($1::text is null or a.name ilike $1::text)
        order by a.name`,
      [pattern],
    )
  ).rows as Row[];

  const checks: Check[] = [];
  const part: ExtensionsPart = {
    installed: installed.map((r) => {
      const name = String(r.name);
      const version = String(r.version);
      const def = toStr(r.default_version);
      const lib = NEEDS_PRELOAD[name];
      const preloadState: ExtensionsPart['installed'][number]['preload'] =
        lib === undefined || PRELOAD_OPTIONAL.has(name)
          ? 'not needed'
          : preload === null
            ? 'unknown'
            : preload.includes(lib)
              ? 'loaded'
              : 'needed';
      const updateAvailable = def !== null && def !== version;
      if (updateAvailable) {
        checks.push(
          check('extension update', 'warn', `installed ${version}, the server has ${def}`, {
            object: `extension ${name}`,
            threshold: 'the default version installed',
            fix: `ALTER EXTENSION ${r.qname} UPDATE; -- read its release notes first`,
          }),
        );
      }
      if (preloadState === 'needed') {
        checks.push(
          check(
            'extension not preloaded',
            'critical',
            `${name} is installed but its library ${lib} is not in shared_preload_libraries (${preload?.join(', ') || 'empty'}): it does not work`,
            {
              object: `extension ${name}`,
              threshold: `${lib} in shared_preload_libraries`,
              fix: `ALTER SYSTEM SET shared_preload_libraries = '${[...(preload ?? []), lib].join(',')}'; then restart the server`,
            },
          ),
        );
      }
      return {
        name,
        version,
        defaultVersion: def,
        updateAvailable,
        schema: toStr(r.schema),
        description: toStr(r.description),
        preload: preloadState,
      };
    }),
    available: available.map((r) => ({
      name: String(r.name),
      defaultVersion: toStr(r.default_version),
      description: toStr(r.description),
      trusted: r.trusted === null || r.trusted === undefined ? null : r.trusted === true,
    })),
  };
  const notes =
    preload === null
      ? [
          'shared_preload_libraries is not visible to this login (pg_read_all_settings): whether extensions are preloaded is unknown',
        ]
      : [];
  return { part, checks, notes };
}

export function extensionsText(part: ExtensionsPart): string[] {
  const lines = [`installed: ${part.installed.length}`];
  if (part.installed.length > 0) {
    lines.push(
      compactTable(
        ['extension', 'version', 'available', 'schema', 'preload', 'description'],
        part.installed.map((e) => [
          e.name,
          e.version,
          e.updateAvailable ? `${e.defaultVersion} (ALTER EXTENSION … UPDATE)` : '',
          e.schema,
          e.preload === 'not needed' ? '' : e.preload,
          e.description,
        ]),
      ),
    );
  }
  lines.push(
    `available, not installed: ${part.available.length}${part.available.length > 0 ? ` — ${part.available.map((a) => `${a.name} ${a.defaultVersion ?? ''}${a.trusted ? ' (trusted)' : ''}`.trim()).join(', ')}` : ''}`,
  );
  return lines;
}

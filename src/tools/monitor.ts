import { withReadOnly } from '../db/read-only.js';
import { defineTool } from './define.js';
import { ToolError } from './errors.js';
import { activity, activityText } from './monitor/activity.js';
import { checkArgs, type MonitorInput, monitorInput, thresholdsOf } from './monitor/args.js';
import { BLOAT_METHOD, bloat, bloatText } from './monitor/bloat.js';
import { extensions, extensionsText } from './monitor/extensions.js';
import { byVerdict, capChecks, checksText, countText, durationText, percentText, worst } from './monitor/format.js';
import { health } from './monitor/health.js';
import { locks, locksText } from './monitor/locks.js';
import { longRunning, longRunningText } from './monitor/long-running.js';
import { type Check, type HealthPart, type MonitorOutput, monitorOutput } from './monitor/output.js';
import { replication, replicationText } from './monitor/replication.js';
import { privilegeNote, type ServerInfo, serverInfo } from './monitor/sessions.js';
import { settings, settingsText } from './monitor/settings.js';
import { sizes, sizesText } from './monitor/sizes.js';
import { vacuum, vacuumText } from './monitor/vacuum.js';
import { ilikePattern } from './schema/names.js';
import { resolveDatabase } from './shared-args.js';

/** The oldest server version whose statistics views pg_monitor reads (server_version_num). */
const MIN_VERSION = 130000;
const DEFAULT_QUERY_CHARS = 300;
const DEFAULT_SESSIONS = 50;
const DEFAULT_TOP = 20;
const DEFAULT_SETTINGS = 200;

interface Result {
  scope: string;
  lines: string[];
  checks: Check[];
  notes: string[];
  part: Partial<MonitorOutput>;
}

function sessionScope(args: MonitorInput): string {
  const parts = [args.database !== undefined ? `database ${args.database}` : 'all databases'];
  if (args.user !== undefined) parts.push(`user ${args.user}`);
  if (args.application !== undefined) parts.push(`application ILIKE '${ilikePattern(args.application)}'`);
  if (args.state !== undefined) parts.push(`state ${args.state}`);
  if (args.min_duration_seconds !== undefined) parts.push(`at least ${durationText(args.min_duration_seconds)}`);
  if (args.include_background) parts.push('background processes included');
  if (args.include_self) parts.push("pgmcp's own session included");
  return parts.join(', ');
}

function tableScope(args: MonitorInput, database: string): string {
  const parts = [`database ${database}`];
  parts.push(args.schema !== undefined ? `schema ${args.schema}` : 'user schemas');
  if (args.pattern !== undefined) parts.push(`name ILIKE '${ilikePattern(args.pattern)}'`);
  return parts.join(', ');
}

function healthHead(h: Omit<HealthPart, 'verdict'>, verdict: string, checks: Check[]): string[] {
  const c = h.connections;
  const counts = (v: string) => checks.filter((x) => x.verdict === v).length;
  return [
    `PostgreSQL ${h.version} — ${h.role}, up ${h.uptime?.text ?? '?'} (since ${h.startedAt ?? '?'})`,
    `connections: ${c.clientBackends} of ${c.usable} usable (max_connections ${c.maxConnections}, ${c.reservedSuperuser} reserved for superusers${c.reservedRoles ? `, ${c.reservedRoles} for pg_use_reserved_connections` : ''}); ${c.active} active, ${c.idle} idle, ${c.idleInTransaction} idle in transaction, ${c.waitingOnLocks} waiting on locks`,
    `cache hit ratio ${percentText(h.cacheHitRatio)}; oldest transaction ID age ${countText(h.oldestXid?.age)} (${h.oldestXid?.database ?? '?'})`,
    `overall: ${verdict.toUpperCase()} — ${counts('critical')} critical, ${counts('warn')} warning(s), ${counts('ok')} ok`,
  ];
}

async function run(
  args: MonitorInput,
  info: ServerInfo,
  client: Parameters<Parameters<typeof withReadOnly>[2]>[0],
  database: string,
  allowed: readonly string[] | null,
): Promise<Result> {
  const queryChars = args.query_chars ?? DEFAULT_QUERY_CHARS;
  const privilege = privilegeNote(info);
  const privNotes = privilege ? [privilege] : [];
  const tables = {
    schema: args.schema ?? null,
    pattern: ilikePattern(args.pattern),
    limit: args.limit ?? DEFAULT_TOP,
  };
  const sessionFilter = {
    allowed,
    database: args.database ?? null,
    user: args.user ?? null,
    application: ilikePattern(args.application),
    includeSelf: args.include_self ?? false,
  };
  switch (args.action) {
    case 'health': {
      const { part, checks } = await health(client, info, allowed, thresholdsOf(args));
      const ordered = byVerdict(checks);
      const verdict = worst(ordered.map((c) => c.verdict));
      return {
        scope: 'the whole server',
        lines: [...healthHead(part, verdict, ordered), ...checksText(ordered, true)],
        checks: ordered,
        notes: privNotes,
        part: { health: { ...part, verdict } },
      };
    }
    case 'activity': {
      const scope = sessionScope(args);
      const part = await activity(client, info, {
        filter: {
          ...sessionFilter,
          state: args.state ?? null,
          includeBackground: args.include_background ?? false,
        },
        minDurationSeconds: args.min_duration_seconds ?? null,
        limit: args.limit ?? DEFAULT_SESSIONS,
        queryChars,
      });
      const notes = [...privNotes];
      if (!args.include_self) notes.push("pgmcp's own monitoring session is left out (include_self shows it)");
      if (!args.include_background) notes.push('background processes are left out (include_background shows them)');
      return { scope, lines: activityText(part), checks: [], notes, part: { activity: part } };
    }
    case 'locks': {
      const { part, checks } = await locks(client, info, { allowed, database: args.database ?? null, queryChars });
      return {
        scope: args.database !== undefined ? `blocking chains touching database ${args.database}` : 'all databases',
        lines: locksText(part),
        checks: capChecks(checks),
        notes: privNotes,
        part: { locks: part },
      };
    }
    case 'long_running': {
      const { part, checks } = await longRunning(client, info, sessionFilter, thresholdsOf(args), queryChars);
      return {
        scope: sessionScope(args),
        lines: longRunningText(part),
        checks: capChecks(checks),
        notes: privNotes,
        part: { longRunning: part },
      };
    }
    case 'replication': {
      const { part, checks } = await replication(client, info);
      return {
        scope: `this server (${part.role})`,
        lines: replicationText(part),
        checks: capChecks(checks),
        notes: info.readAllStats
          ? []
          : ['WAL positions and lag of standbys show only to superusers and pg_read_all_stats (pg_monitor) members'],
        part: { replication: part },
      };
    }
    case 'sizes': {
      const part = await sizes(client, allowed, tables);
      return {
        scope: tableScope(args, database),
        lines: sizesText(part, database),
        checks: [],
        notes: [],
        part: { sizes: part },
      };
    }
    case 'vacuum': {
      const { part, checks } = await vacuum(client, info, allowed, tables);
      return {
        scope: tableScope(args, database),
        lines: vacuumText(part, database),
        checks: capChecks(checks),
        notes: [
          'dead and live row counts are cumulative statistics (reset with the statistics); ages are in transaction IDs',
          ...privNotes,
        ],
        part: { vacuum: part },
      };
    }
    case 'bloat': {
      const { part, checks } = await bloat(client, tables);
      return {
        scope: tableScope(args, database),
        lines: bloatText(part),
        checks: capChecks(checks),
        notes: [BLOAT_METHOD],
        part: { bloat: part },
      };
    }
    case 'settings': {
      const includeDefaults = args.include_defaults ?? false;
      const { part, checks, notes } = await settings(client, info, {
        pattern: ilikePattern(args.pattern),
        category: ilikePattern(args.category),
        includeDefaults,
        limit: args.limit ?? DEFAULT_SETTINGS,
      });
      const scope = [
        includeDefaults ? 'all settings' : 'settings changed from their defaults, and any pending a restart',
        args.pattern !== undefined ? `name ILIKE '${ilikePattern(args.pattern)}'` : '',
        args.category !== undefined ? `category ILIKE '${ilikePattern(args.category)}'` : '',
      ]
        .filter(Boolean)
        .join(', ');
      return {
        scope,
        lines: settingsText(part, includeDefaults),
        checks: capChecks(checks),
        notes,
        part: { settings: part },
      };
    }
    case 'extensions': {
      const { part, checks, notes } = await extensions(client, ilikePattern(args.pattern));
      return {
        scope: `database ${database}${args.pattern !== undefined ? `, name ILIKE '${ilikePattern(args.pattern)}'` : ''}`,
        lines: extensionsText(part),
        checks: capChecks(checks),
        notes,
        part: { extensions: part },
      };
    }
  }
}

export const pgMonitor = defineTool({
  name: 'pg_monitor',
  title: 'Monitor PostgreSQL',
  description:
    'See how a PostgreSQL server is doing; read-only. health: one verdict per check (connections against ' +
    'max_connections, cache hit ratio, transaction-ID wraparound, long and idle transactions, lock waits, ' +
    'replication, checkpoints, archiving, pending restart) with thresholds. activity: sessions grouped by state, ' +
    'user, database and application and listed longest first (filters: database, user, application, state, ' +
    'min_duration_seconds). locks: who blocks whom as a tree, with lock modes, waits and statements. long_running: ' +
    'long statements and transactions, idle in transaction, old prepared transactions (thresholds as arguments). ' +
    'replication: standbys with sent/write/flush/replay lag in bytes and time, slots with retained WAL; on a standby ' +
    'the WAL receiver and replay lag. sizes: databases, largest tables (heap/TOAST/indexes) and indexes. vacuum: dead ' +
    'rows, last (auto)vacuum/analyze, vacuums running, wraparound age per database and table. bloat: estimated table ' +
    'and B-tree index bloat. settings: non-default settings, pending restart. extensions: installed (with upgrades) ' +
    'and available. Each finding in `checks` names the object, the evidence, the threshold and the fix.',
  toolset: 'monitor',
  readOnly: true,
  input: monitorInput,
  output: monitorOutput,
  async handler(args, ctx) {
    checkArgs(args);
    const database = resolveDatabase(args.database, ctx);
    const allowed = ctx.caller.databases ? [...ctx.caller.databases] : null;
    const result = await withReadOnly(ctx.pools, database, async (client) => {
      const info = await serverInfo(client);
      if (info.versionNum < MIN_VERSION) {
        throw new ToolError(`pg_monitor needs PostgreSQL 13 or later; this server runs ${info.version}`, {
          code: 'unsupported_version',
          hint: 'pg_query can still read pg_stat_activity, pg_locks and the other statistics views directly',
        });
      }
      return run(args, info, client, database, allowed);
    });
    const lines = [`pg_monitor ${args.action} — ${result.scope}`, ...result.lines];
    if (args.action !== 'health') {
      lines.push(
        result.checks.length === 0 ? 'findings: none' : `findings (${result.checks.length}):`,
        ...checksText(result.checks),
      );
    }
    if (result.notes.length > 0) lines.push(...result.notes.map((n) => `note: ${n}`));
    const data: MonitorOutput = {
      action: args.action,
      database,
      scope: result.scope,
      checks: result.checks,
      notes: result.notes,
      ...result.part,
    };
    return { text: lines.join('\n'), data };
  },
});

import { z } from 'zod';
import { confirmTokenArg } from '../../safety/confirm.js';
import { ToolError } from '../errors.js';
import { databaseArg } from '../shared-args.js';

/** What pg_admin can do. */
export const ADMIN_ACTIONS = [
  'vacuum',
  'analyze',
  'reindex',
  'cancel_backend',
  'terminate_backend',
  'set_setting',
  'reset_setting',
  'reload_config',
  'create_database',
  'drop_database',
  'create_role',
  'alter_role',
  'drop_role',
  'grant',
  'revoke',
  'reset_stats',
] as const;
export type AdminAction = (typeof ADMIN_ACTIONS)[number];

export const REINDEX_TARGETS = ['index', 'table', 'schema', 'database'] as const;
export const STATS_TARGETS = [
  'database',
  'table',
  'statements',
  'bgwriter',
  'archiver',
  'wal',
  'recovery_prefetch',
  'slru',
] as const;

export const PRIVILEGES = [
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'TRUNCATE',
  'REFERENCES',
  'TRIGGER',
  'USAGE',
  'CREATE',
  'CONNECT',
  'TEMPORARY',
  'EXECUTE',
  'ALL',
] as const;
export type Privilege = (typeof PRIVILEGES)[number];

export const OBJECT_TYPES = [
  'table',
  'sequence',
  'schema',
  'function',
  'database',
  'all_tables_in_schema',
  'all_sequences_in_schema',
  'all_functions_in_schema',
  'role',
] as const;
export type ObjectType = (typeof OBJECT_TYPES)[number];

const name = z.string().min(1).max(200);
const roleName = z.string().min(1).max(63);

export const adminInput = z.object({
  action: z
    .enum(ADMIN_ACTIONS)
    .describe(
      'What to do. Which other arguments each action takes: vacuum (tables, full, freeze, analyze, verbose, ' +
        'skip_locked, index_cleanup, parallel), analyze (tables, verbose, skip_locked), reindex (target, name, ' +
        'concurrently, verbose), cancel_backend / terminate_backend (pid), set_setting (name, value), reset_setting ' +
        '(name), reload_config, create_database (name, owner, template, encoding, locale, lc_collate, lc_ctype, ' +
        'connection_limit), drop_database (name, force, if_exists), create_role (name, login, password, superuser, ' +
        'createdb, createrole, replication, bypassrls, inherit, connection_limit, valid_until, member_of), alter_role ' +
        '(the same but member_of, plus new_name), drop_role (name, if_exists), grant / revoke (privileges, ' +
        'object_type, objects, grantees, with_grant_option; revoke: cascade), reset_stats (target, tables)',
    ),
  database: databaseArg.describe(
    'Database to work in (default: the configured one): vacuum, analyze, reindex, grant, revoke and reset_stats act inside it',
  ),
  tables: z
    .array(name)
    .min(1)
    .max(100)
    .optional()
    .describe(
      'vacuum / analyze: tables (SQL name rules: `orders`, `sales.orders`, `"Mixed Case"`); omit for the whole database. ' +
        'reset_stats target table: the tables whose counters to reset',
    ),
  target: z
    .enum([...REINDEX_TARGETS, ...STATS_TARGETS.filter((t) => !(REINDEX_TARGETS as readonly string[]).includes(t))])
    .optional()
    .describe(
      'reindex: index, table, schema or database (name says which one; database defaults to the one connected to). ' +
        'reset_stats: database (pg_stat_reset of this database), table (the tables given), statements ' +
        '(pg_stat_statements_reset), bgwriter, archiver, wal, recovery_prefetch (pg_stat_reset_shared), slru',
    ),
  name: name
    .optional()
    .describe(
      'reindex: the index/table/schema/database; set_setting / reset_setting: the setting (e.g. work_mem); ' +
        'create/drop_database: the database; create/alter/drop_role: the role (exact name)',
    ),
  full: z.boolean().optional().describe('vacuum: VACUUM FULL, rewrites each table (ACCESS EXCLUSIVE lock; confirmed)'),
  freeze: z.boolean().optional(),
  analyze: z.boolean().optional().describe('vacuum: also ANALYZE'),
  verbose: z.boolean().optional().describe('vacuum / analyze / reindex: report per-table detail (INFO messages)'),
  skip_locked: z.boolean().optional(),
  index_cleanup: z.enum(['auto', 'on', 'off']).optional(),
  parallel: z.number().int().min(0).max(1024).optional().describe('vacuum: PARALLEL workers'),
  concurrently: z
    .boolean()
    .optional()
    .describe(
      'reindex: CONCURRENTLY (default true; system catalogs are always reindexed without it). false locks out ' +
        'writes (and reads using the index) while it runs and needs confirmation',
    ),
  pid: z.number().int().min(1).optional().describe('cancel_backend / terminate_backend: the backend process id'),
  value: z
    .union([z.string(), z.number(), z.boolean(), z.array(z.string()).min(1)])
    .optional()
    .describe(
      'set_setting: the new value, checked against pg_settings (type, range, allowed values); with a unit where the ' +
        'setting has one (`4GB`, `250ms`); a list setting (search_path, shared_preload_libraries) as an array',
    ),
  owner: roleName.optional(),
  template: z.string().min(1).max(63).optional().describe('default template1'),
  encoding: z.string().min(1).max(63).optional(),
  locale: z.string().min(1).max(200).optional(),
  lc_collate: z.string().min(1).max(200).optional(),
  lc_ctype: z.string().min(1).max(200).optional(),
  connection_limit: z.number().int().min(-1).optional().describe('CONNECTION LIMIT (-1: none)'),
  force: z.boolean().optional().describe('drop_database: WITH (FORCE), terminates the sessions connected to it'),
  if_exists: z.boolean().optional(),
  login: z.boolean().optional().describe('LOGIN (create_role default false)'),
  password: z
    .string()
    .min(1)
    .max(1000)
    .nullable()
    .optional()
    .describe(
      'The password (null removes it); never shown back, sent to the server only as a SCRAM (or md5) hash made by pgmcp',
    ),
  superuser: z.boolean().optional().describe('granting it is confirmed'),
  createdb: z.boolean().optional(),
  createrole: z.boolean().optional(),
  replication: z.boolean().optional().describe('granting it is confirmed'),
  bypassrls: z.boolean().optional().describe('granting it is confirmed'),
  inherit: z.boolean().optional(),
  valid_until: z.string().min(1).max(100).optional().describe("VALID UNTIL: a timestamp or 'infinity'"),
  member_of: z.array(roleName).min(1).max(100).optional().describe('IN ROLE: roles it becomes a member of'),
  new_name: roleName.optional(),
  privileges: z.array(z.enum(PRIVILEGES)).min(1).optional().describe('not for object_type role'),
  object_type: z
    .enum(OBJECT_TYPES)
    .optional()
    .describe(
      'grant / revoke: what objects names: table, sequence, schema, function (`f(integer, text)`), database, ' +
        'all_*_in_schema (objects are schemas), role (membership: objects are the roles granted)',
    ),
  objects: z.array(name).min(1).max(100).optional(),
  grantees: z
    .array(roleName)
    .min(1)
    .max(100)
    .optional()
    .describe('roles that receive or lose them (exact names; PUBLIC for everyone)'),
  with_grant_option: z.boolean().optional().describe('WITH GRANT OPTION (ADMIN OPTION for role membership)'),
  cascade: z.boolean().optional().describe('revoke: also from those the grantees granted it to'),
  dry_run: z.boolean().optional().describe('Return the plan (the exact SQL) without running anything'),
  confirm_token: confirmTokenArg,
});
export type AdminArgs = z.infer<typeof adminInput>;

const COMMON = ['action', 'database', 'dry_run', 'confirm_token'];
const ROLE_OPTIONS = [
  'name',
  'login',
  'password',
  'superuser',
  'createdb',
  'createrole',
  'replication',
  'bypassrls',
  'inherit',
  'connection_limit',
  'valid_until',
];
const PRIVILEGE_ARGS = ['privileges', 'object_type', 'objects', 'grantees'];

/** The arguments each action takes besides the common ones. */
const ACTION_ARGS: Record<AdminAction, readonly string[]> = {
  vacuum: ['tables', 'full', 'freeze', 'analyze', 'verbose', 'skip_locked', 'index_cleanup', 'parallel'],
  analyze: ['tables', 'verbose', 'skip_locked'],
  reindex: ['target', 'name', 'concurrently', 'verbose'],
  cancel_backend: ['pid'],
  terminate_backend: ['pid'],
  set_setting: ['name', 'value'],
  reset_setting: ['name'],
  reload_config: [],
  create_database: ['name', 'owner', 'template', 'encoding', 'locale', 'lc_collate', 'lc_ctype', 'connection_limit'],
  drop_database: ['name', 'force', 'if_exists'],
  create_role: [...ROLE_OPTIONS, 'member_of'],
  alter_role: [...ROLE_OPTIONS, 'new_name'],
  drop_role: ['name', 'if_exists'],
  grant: [...PRIVILEGE_ARGS, 'with_grant_option'],
  revoke: [...PRIVILEGE_ARGS, 'cascade'],
  reset_stats: ['target', 'tables'],
};

/** Arguments the action needs. */
const REQUIRED: Partial<Record<AdminAction, readonly string[]>> = {
  reindex: ['target'],
  cancel_backend: ['pid'],
  terminate_backend: ['pid'],
  set_setting: ['name', 'value'],
  reset_setting: ['name'],
  create_database: ['name'],
  drop_database: ['name'],
  create_role: ['name'],
  alter_role: ['name'],
  drop_role: ['name'],
  grant: ['object_type', 'objects', 'grantees'],
  revoke: ['object_type', 'objects', 'grantees'],
  reset_stats: ['target'],
};

/** Refuses arguments that do not belong to the action and missing ones it needs, naming them. */
export function checkActionArgs(args: AdminArgs): void {
  const allowed = new Set([...COMMON, ...ACTION_ARGS[args.action]]);
  const given = Object.entries(args)
    .filter(([, v]) => v !== undefined)
    .map(([k]) => k);
  const stray = given.filter((k) => !allowed.has(k));
  if (stray.length > 0) {
    const takes = ACTION_ARGS[args.action];
    throw new ToolError(
      `${stray.join(', ')} ${stray.length === 1 ? 'does' : 'do'} not apply to action ${args.action}`,
      {
        code: 'invalid_arguments',
        hint: takes.length ? `${args.action} takes: ${takes.join(', ')}` : `${args.action} takes no other arguments`,
      },
    );
  }
  const missing = (REQUIRED[args.action] ?? []).filter((k) => (args as Record<string, unknown>)[k] === undefined);
  if (missing.length > 0) {
    throw new ToolError(`action ${args.action} needs ${missing.join(' and ')}`, {
      code: 'invalid_arguments',
      hint: `${args.action} takes: ${ACTION_ARGS[args.action].join(', ')}`,
    });
  }
}

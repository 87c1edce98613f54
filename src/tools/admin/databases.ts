/** create_database and drop_database. */
import { clientConfigFor, defaultDatabase } from '../../db/connection-config.js';
import type { ToolContext } from '../context.js';
import { ToolError } from '../errors.js';
import { resolveDatabase } from '../shared-args.js';
import { type AdminPlan, type PlanInput, type RunOutcome, yesNo } from './plan.js';
import type { AdminSession } from './session.js';
import { Catalog, quoteLiteral, sizeText } from './sql.js';

export async function planCreateDatabase(input: PlanInput): Promise<AdminPlan> {
  const { args, catalog } = input;
  const name = args.name as string;
  if (name.length > 63) throw new ToolError('a database name has at most 63 bytes', { code: 'invalid_arguments' });
  resolveDatabase(name, input.ctx);
  if (await catalog.databaseRow(name)) {
    throw new ToolError(`database ${JSON.stringify(name)} already exists`, { code: 'duplicate_database' });
  }
  const parts = [`CREATE DATABASE ${await catalog.ident(name)}`];
  if (args.owner !== undefined) parts.push(`OWNER = ${(await catalog.existingRole(args.owner, 'owner role')).quoted}`);
  if (args.template !== undefined) {
    const t = await catalog.databaseRow(args.template);
    if (!t) {
      throw new ToolError(`no template database named ${JSON.stringify(args.template)}`, {
        code: 'object_not_found',
        hint: 'template1 is the default; template0 is the clean one (needed for another encoding or locale)',
      });
    }
    parts.push(`TEMPLATE = ${t.quoted}`);
  }
  if (args.encoding !== undefined) {
    const ok = await catalog.one<{ ok: boolean }>('select pg_catalog.pg_char_to_encoding($1) >= 0 as ok', [
      args.encoding,
    ]);
    if (!ok?.ok) {
      throw new ToolError(`${JSON.stringify(args.encoding)} is not an encoding PostgreSQL knows`, {
        code: 'invalid_arguments',
        hint: 'e.g. UTF8, LATIN1, SQL_ASCII',
      });
    }
    parts.push(`ENCODING = ${quoteLiteral(args.encoding)}`);
  }
  if (args.locale !== undefined) parts.push(`LOCALE = ${quoteLiteral(args.locale)}`);
  if (args.lc_collate !== undefined) parts.push(`LC_COLLATE = ${quoteLiteral(args.lc_collate)}`);
  if (args.lc_ctype !== undefined) parts.push(`LC_CTYPE = ${quoteLiteral(args.lc_ctype)}`);
  if (args.connection_limit !== undefined) parts.push(`CONNECTION LIMIT = ${args.connection_limit}`);
  const sql = parts.join(' ');
  return {
    summary: `create database ${name}`,
    sql: [sql],
    destructive: false,
    reasons: [],
    unlimited: true,
    failureHint: (code) =>
      code === '55006'
        ? 'the template database has other sessions connected: CREATE DATABASE copies it only when nobody is connected to it'
        : code === '22023' || code === '42809'
          ? 'a different encoding or locale than the template needs template: template0'
          : undefined,
    async run(session): Promise<RunOutcome> {
      await session.run(sql);
      const row = await catalog.databaseRow(name);
      return {
        changes: [{ object: `database ${name}`, item: 'exists', before: 'false', after: yesNo(row !== undefined) }],
        ...(row ? { facts: { database: row } } : {}),
      };
    },
  };
}

/** Databases pgmcp itself connects to by default (the main login's and the admin login's). */
function ownDatabases(ctx: ToolContext): string[] {
  const out = [defaultDatabase(ctx.config)];
  if (ctx.config.adminUrl) {
    const admin = clientConfigFor(ctx.config, { url: ctx.config.adminUrl });
    if (admin.database) out.push(admin.database);
  }
  return out;
}

interface SessionCount {
  user: string | null;
  application: string | null;
  state: string | null;
  n: number;
}

/**
 * Closes the idle connections pgmcp's own pools hold to `database` (a pooled connection would stop DROP DATABASE):
 * each idle one is checked out and destroyed. Returns how many.
 */
async function closeOwnIdle(ctx: ToolContext, database: string): Promise<number> {
  let closed = 0;
  for (const s of ctx.pools.stats()) {
    if (s.database !== database || s.idle === 0) continue;
    const pool = ctx.pools.get(s.database, s.role);
    const taken = [];
    for (let i = 0; i < s.idle; i++) taken.push(await pool.connect());
    for (const c of taken) c.release(true);
    closed += taken.length;
  }
  return closed;
}

export async function planDropDatabase(input: PlanInput): Promise<AdminPlan> {
  const { args, ctx, database } = input;
  const name = args.name as string;
  if (ownDatabases(ctx).includes(name)) {
    throw new ToolError(
      `${name} is the database pgmcp connects to by default: pgmcp refuses to drop it (it would cut off its own connections)`,
      { code: 'own_database', hint: 'drop it from another client, or point pgmcp at another database first' },
    );
  }
  resolveDatabase(name, ctx);
  // The statement runs from the call's database, or from pgmcp's default one when the call names the target.
  const connectTo = database === name ? defaultDatabase(ctx.config) : database;
  const catalog = connectTo === database ? input.catalog : new Catalog(ctx, connectTo);
  const row = await catalog.databaseRow(name);
  if (!row && !args.if_exists) {
    throw new ToolError(`no database named ${JSON.stringify(name)} (names are exact, case included)`, {
      code: 'object_not_found',
      hint: 'pg_schema list_databases lists them; if_exists: true makes a missing one a no-op',
    });
  }
  const quoted = row?.quoted ?? (await catalog.ident(name));
  const sql = `DROP DATABASE ${args.if_exists ? 'IF EXISTS ' : ''}${quoted}${args.force ? ' WITH (FORCE)' : ''}`;
  const sessions = row
    ? await catalog.rows<SessionCount>(
        `select usename::text as user, nullif(application_name, '') as application, state, count(*)::int as n
           from pg_catalog.pg_stat_activity where datname = $1 and pid <> pg_catalog.pg_backend_pid()
          group by 1, 2, 3 order by 4 desc`,
        [name],
      )
    : [];
  const own = ctx.pools.stats().filter((s) => s.database === name);
  const ownIdle = own.reduce((n, s) => n + s.idle, 0);
  const others = sessions.reduce((n, s) => n + s.n, 0) - ownIdle;
  const reasons: string[] = [];
  const warnings: string[] = [];
  if (row) {
    reasons.push(
      `deletes database ${name} (${sizeText(row.size_bytes) ?? 'size unknown'}, owner ${row.owner}) and everything in it; this cannot be undone`,
    );
    if (args.force && others > 0) {
      reasons.push(
        `WITH (FORCE) first terminates the ${others} session(s) connected to it: ${sessions.map((s) => `${s.n}× ${s.user ?? '?'}${s.application ? ` (${s.application})` : ''} ${s.state ?? ''}`.trim()).join(', ')}`,
      );
    } else if (others > 0) {
      warnings.push(
        `${others} session(s) are connected to ${name}: DROP DATABASE fails while they are, unless force: true (WITH (FORCE)) terminates them`,
      );
    }
    if (ownIdle > 0) warnings.push(`pgmcp first closes its own ${ownIdle} idle pooled connection(s) to ${name}`);
  } else {
    warnings.push(`database ${name} does not exist: IF EXISTS makes this a no-op`);
  }
  return {
    summary: `drop database ${name}${args.force ? ' (force)' : ''}`,
    sql: [sql],
    destructive: row !== undefined,
    reasons,
    ...(row ? { facts: { database: row, sessions } } : {}),
    warnings,
    connectTo,
    unlimited: true,
    failureHint: (code) =>
      code === '55006'
        ? 'other sessions are connected to it: end them (terminate_backend) or drop it with force: true'
        : undefined,
    async run(session: AdminSession): Promise<RunOutcome> {
      const closed = await closeOwnIdle(ctx, name);
      await session.run(sql);
      const still = await catalog.databaseRow(name);
      return {
        changes: [
          { object: `database ${name}`, item: 'exists', before: yesNo(row !== undefined), after: yesNo(!!still) },
        ],
        facts: { own_connections_closed: closed },
      };
    },
  };
}

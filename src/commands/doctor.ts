import pg from 'pg';
import type { Started } from '../bootstrap.js';
import { describeConfig } from '../config/resolve.js';
import { connectionFailure } from '../db/connect-error.js';
import { clientConfigFor } from '../db/connection-config.js';
import { formatToolError } from '../tools/errors.js';
import { type Check, checkCluster, type Verdict } from './doctor-cluster.js';

const MARK: Record<Verdict, string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL', skip: 'skip' };

async function checkPostgres(started: Started): Promise<Check[]> {
  const { config } = started.app;
  const client = new pg.Client(clientConfigFor(config));
  const checks: Check[] = [];
  try {
    await client.connect();
  } catch (err) {
    return [
      {
        name: 'postgres',
        verdict: 'fail',
        detail: formatToolError(connectionFailure(err, started.app.pools.defaultDatabase)),
      },
    ];
  }
  try {
    const info = (
      await client.query<{
        version: string;
        db: string;
        usr: string;
        superuser: boolean;
        standby: boolean;
        preload: string;
      }>(
        `SELECT version() AS version, current_database() AS db, current_user AS usr,
                (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
                pg_is_in_recovery() AS standby, current_setting('shared_preload_libraries') AS preload`,
      )
    ).rows[0];
    if (!info) throw new Error('no answer to the version query');
    checks.push({
      name: 'postgres',
      verdict: 'ok',
      detail: `${info.version.split(' on ')[0]}; database ${info.db} as ${info.usr}${info.standby ? ' (standby)' : ''}`,
    });
    checks.push(
      info.superuser
        ? {
            name: 'login role',
            verdict: 'warn',
            detail: `${info.usr} is a superuser: pgmcp's read path holds anyway, but a least-privilege role (see README) limits what any mistake can reach`,
          }
        : { name: 'login role', verdict: 'ok', detail: `${info.usr} is not a superuser` },
    );
    const ext = await client.query<{ name: string; installed: string | null; available: boolean }>(
      `SELECT n AS name, e.extversion AS installed, EXISTS (SELECT 1 FROM pg_available_extensions a WHERE a.name = n) AS available
         FROM unnest(ARRAY['pg_stat_statements','hypopg','citus']) AS n LEFT JOIN pg_extension e ON e.extname = n`,
    );
    for (const e of ext.rows) {
      const preloaded = info.preload
        .split(',')
        .map((s) => s.trim())
        .includes(e.name);
      const needsPreload = e.name !== 'hypopg';
      const verdict: Verdict =
        e.installed && (!needsPreload || preloaded) ? 'ok' : e.name === 'citus' ? 'skip' : 'warn';
      const detail = e.installed
        ? `${e.name} ${e.installed} installed${needsPreload && !preloaded ? ' but not in shared_preload_libraries' : ''}`
        : e.available
          ? `${e.name} available but not installed in ${info.db} (CREATE EXTENSION ${e.name})`
          : `${e.name} not available on the server`;
      checks.push({ name: `extension ${e.name}`, verdict, detail });
    }
  } finally {
    await client.end().catch(() => undefined);
  }
  return checks;
}

/** `pgmcp doctor`: the configuration (secrets masked) and a check of every configured component; exit 0 or 1. */
export async function doctorCommand(started: Started): Promise<number> {
  const out: string[] = ['configuration (secrets shown as ****):'];
  for (const row of describeConfig(started.resolved)) {
    if (row.source !== 'default') out.push(`  ${row.key} = ${row.value}   [${row.from}]`);
  }
  for (const a of started.resolved.ignoredAliases)
    out.push(`  note: ${a.alias} is set but not used (${a.key} comes from ${a.by})`);
  if (started.embedded)
    out.push(`  embedded PostgreSQL on 127.0.0.1:${started.embedded.port} (${started.embedded.dataDir})`);
  if (!started.app.config.confirm)
    out.push('  WARNING: confirmation of destructive actions is turned off (PGMCP_CONFIRM)');
  const checks = [...(await checkPostgres(started)), ...(await checkCluster(started.app.config))];
  out.push('checks:');
  for (const c of checks)
    out.push(`  ${MARK[c.verdict]} ${c.name}: ${started.app.redact(c.detail).replace(/\n/g, '\n       ')}`);
  const failed = checks.filter((c) => c.verdict === 'fail').length;
  out.push(failed ? `${failed} check(s) failed` : 'all checks passed');
  process.stdout.write(`${out.join('\n')}\n`);
  return failed ? 1 : 0;
}

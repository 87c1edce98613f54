import type { ClientConfig } from 'pg';
import { type ConnectionOptions, parse } from 'pg-connection-string';
import type { Config } from '../config/settings.js';

function sslFor(mode: string | undefined): ClientConfig['ssl'] {
  switch (mode) {
    case 'require':
    case 'no-verify':
      return { rejectUnauthorized: false };
    case 'verify-ca':
    case 'verify-full':
      return { rejectUnauthorized: true };
    default:
      // disable, allow, prefer: node-postgres has no opportunistic TLS; prefer/allow connect without it.
      return false;
  }
}

/**
 * The node-postgres settings for one database: a URL (DATABASE_URL or the admin URL) wins over the PG* fields,
 * which fill what the URL leaves out; `database` overrides the database name.
 */
export function clientConfigFor(config: Config, opts: { database?: string; url?: string } = {}): ClientConfig {
  const c = config.connection;
  const url = opts.url ?? c.url;
  const fromUrl: Partial<ConnectionOptions> = url ? parse(url) : {};
  const sslmode = (fromUrl as { sslmode?: string }).sslmode ?? c.sslmode;
  const port = fromUrl.port ? Number(fromUrl.port) : c.port;
  const out: ClientConfig = {
    application_name: 'pgmcp',
    connectionTimeoutMillis: config.limits.connectTimeoutMs,
    keepAlive: true,
  };
  const host = fromUrl.host ?? c.host;
  const user = fromUrl.user ?? c.user;
  const password = fromUrl.password ?? c.password;
  const database = opts.database ?? fromUrl.database ?? c.database;
  if (host) out.host = host;
  if (port) out.port = port;
  if (user) out.user = user;
  if (password) out.password = password;
  if (database) out.database = database;
  out.ssl = sslFor(sslmode);
  return out;
}

/** The database a connection lands in when none is named: the configured one, else the user name (libpq's rule). */
export function defaultDatabase(config: Config): string {
  const cc = clientConfigFor(config);
  return cc.database ?? cc.user ?? process.env.USER ?? 'postgres';
}

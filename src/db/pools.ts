import type pg from 'pg';
import type { Config } from '../config/settings.js';
import type { Logger } from '../log.js';
import { clientConfigFor, defaultDatabase } from './connection-config.js';
import { type SettingsMode, startupSettings } from './session-settings.js';
import { connectDedicated, type SettingsClient, SettingsModes, SettingsPool } from './settings-client.js';

export type PoolRole = 'main' | 'admin';

/** No pgmcp connection stays idle inside a transaction longer than this, whatever happens to the process. */
const IDLE_IN_TRANSACTION_BACKSTOP_MS = 60_000;

interface PoolEntry {
  pool: pg.Pool;
  lastUsed: number;
}

/**
 * Lazily created connection pools, one per (database, login), capped in number: when a new database is asked for
 * beyond the cap, the least recently used pool is closed.
 */
export class PoolManager {
  private readonly pools = new Map<string, PoolEntry>();
  private closed = false;
  /** How the settings reach a session, per server and login (see settings-client.ts). */
  private readonly modes: SettingsModes;

  constructor(
    readonly config: Config,
    private readonly log: Logger,
  ) {
    this.modes = new SettingsModes(log);
  }

  get defaultDatabase(): string {
    return defaultDatabase(this.config);
  }

  /**
   * Everything pgmcp sets on a connection to `database` as `role`: the login (the admin URL for admin-level actions
   * when one is configured), server-side timeouts (a runaway statement or a forgotten transaction ends on the server),
   * and the literal syntax the SQL checks assume: with standard_conforming_strings off, '\' … ' would hide a call
   * inside what the parser sees as a string. They ride in the first packet, which makes them win over role and
   * database settings; through a pooler that refuses or drops them, every transaction pgmcp opens sets them instead
   * (session-settings.ts). Pools and the dedicated connections of transactions use the same.
   */
  clientOptions(
    database: string,
    role: PoolRole = 'main',
    idleInTransactionMs = IDLE_IN_TRANSACTION_BACKSTOP_MS,
  ): pg.ClientConfig {
    const url = role === 'admin' ? this.config.adminUrl : undefined;
    return {
      ...clientConfigFor(this.config, { database, ...(url ? { url } : {}) }),
      ...startupSettings({
        statementTimeoutMs: this.config.limits.statementTimeoutMs,
        lockTimeoutMs: this.config.limits.lockTimeoutMs,
        idleInTransactionMs,
      }),
    };
  }

  /**
   * A connection of its own (not pooled) with `options` (from clientOptions), following the settings mode of its
   * server; `prepare` runs on the client before it connects (listeners). Connection failures are thrown as they are.
   */
  connectDedicated(options: pg.ClientConfig, prepare?: (client: SettingsClient) => void): Promise<SettingsClient> {
    return connectDedicated(this.modes, options, prepare);
  }

  /** The settings mode decided for `database` as `role` (undefined until a first connection found out). */
  settingsMode(database?: string, role: PoolRole = 'main'): SettingsMode | undefined {
    return this.modes.modeFor(this.clientOptions(database ?? this.defaultDatabase, role));
  }

  /** The pool for `database` (the default one when absent) and login role. */
  get(database?: string, role: PoolRole = 'main'): pg.Pool {
    if (this.closed) throw new Error('connection pools are closed (server shutting down)');
    const db = database ?? this.defaultDatabase;
    const key = `${role}\u0000${db}`;
    const found = this.pools.get(key);
    if (found) {
      found.lastUsed = Date.now();
      return found.pool;
    }
    this.evictIfFull();
    const pool = new SettingsPool({
      ...this.clientOptions(db, role),
      Client: this.modes.clientClass,
      max: this.config.limits.poolSize,
      idleTimeoutMillis: 30_000,
      allowExitOnIdle: true,
    });
    // An idle client losing its connection must not crash the process. Once the pools are closing, that is expected:
    // pg-pool's end() settles before its clients' connections are gone, and an embedded server stopped right after
    // ends them itself.
    pool.on('error', (err) => {
      const fields = { database: db, err: err.message };
      if (this.closed) this.log.debug(fields, 'idle connection error while closing');
      else this.log.warn(fields, 'idle connection error');
    });
    this.pools.set(key, { pool, lastUsed: Date.now() });
    return pool;
  }

  private evictIfFull(): void {
    if (this.pools.size < this.config.limits.maxPools) return;
    let oldest: [string, PoolEntry] | undefined;
    for (const e of this.pools) if (!oldest || e[1].lastUsed < oldest[1].lastUsed) oldest = e;
    if (!oldest) return;
    this.pools.delete(oldest[0]);
    void oldest[1].pool.end().catch(() => undefined);
  }

  /** Pool usage for health and metrics. */
  stats(): { database: string; role: PoolRole; total: number; idle: number; waiting: number }[] {
    return [...this.pools.entries()].map(([key, { pool }]) => {
      const [role, database] = key.split('\u0000') as [PoolRole, string];
      return { database, role, total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount };
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.allSettled(all.map((e) => e.pool.end()));
  }
}

import pg from 'pg';
import type { Config } from '../config/settings.js';
import type { Logger } from '../log.js';
import { clientConfigFor, defaultDatabase } from './connection-config.js';

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

  constructor(
    readonly config: Config,
    private readonly log: Logger,
  ) {}

  get defaultDatabase(): string {
    return defaultDatabase(this.config);
  }

  /**
   * Everything pgmcp sets on a connection to `database` as `role`: the login (the admin URL for admin-level actions
   * when one is configured), server-side timeouts from the first packet (a runaway statement or a forgotten
   * transaction ends on the server), and the literal syntax the SQL checks assume: with standard_conforming_strings
   * off, '\' … ' would hide a call inside what the parser sees as a string. Client options win over role and
   * database settings. Pools and the dedicated connections of transactions use the same.
   */
  clientOptions(
    database: string,
    role: PoolRole = 'main',
    idleInTransactionMs = IDLE_IN_TRANSACTION_BACKSTOP_MS,
  ): pg.ClientConfig {
    const url = role === 'admin' ? this.config.adminUrl : undefined;
    return {
      ...clientConfigFor(this.config, { database, ...(url ? { url } : {}) }),
      statement_timeout: this.config.limits.statementTimeoutMs,
      lock_timeout: this.config.limits.lockTimeoutMs,
      idle_in_transaction_session_timeout: idleInTransactionMs,
      options: '-c standard_conforming_strings=on -c client_encoding=UTF8',
    };
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
    const pool = new pg.Pool({
      ...this.clientOptions(db, role),
      max: this.config.limits.poolSize,
      idleTimeoutMillis: 30_000,
      allowExitOnIdle: true,
    });
    // An idle client losing its connection must not crash the process.
    pool.on('error', (err) => this.log.warn({ database: db, err: err.message }, 'idle connection error'));
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

import { once } from 'node:events';
import pino from 'pino';
import { secretsOf } from './config/resolve.js';
import type { Config } from './config/settings.js';
import { PoolManager } from './db/pools.js';
import { TransactionRegistry } from './db/transactions.js';
import type { Logger } from './log.js';
import { makeRedactor } from './safety/redact.js';
import { ConfirmationTokens } from './safety/tokens.js';
import { CITUS_EXTENSION_SQL, CitusDetection } from './tools/citus-detection.js';
import type { Auditor, AuditRecord } from './tools/dispatch.js';
import type { Components } from './tools/registry.js';

/** The long-lived parts one pgmcp process shares between its MCP sessions. */
export interface App {
  config: Config;
  log: Logger;
  pools: PoolManager;
  redact: (text: string) => string;
  audit: Auditor;
  /** Confirmation tokens for destructive actions (one HMAC key per process). */
  confirmations: ConfirmationTokens;
  /** Open pg_tx transactions (each on its own connection); a session's are rolled back when it ends. */
  transactions: TransactionRegistry;
  components: Components;
  /** Whether the default database has Citus: sets `components.citus` (src/tools/citus-detection.ts). */
  citus: CitusDetection;
  startedAt: number;
  /** Keeps count of a tool call in progress, so that shutdown can let it finish. */
  track<T>(call: Promise<T>): Promise<T>;
  /** Registers what must happen when an MCP session ends (its transactions are rolled back, …). */
  onSessionEnd(listener: (sessionId: string) => Promise<void>): void;
  /** Called by the transports when a session ends (stdio EOF, HTTP DELETE or expiry, in-process close). */
  sessionEnded(sessionId: string): Promise<void>;
  /** Waits until no tool call is in progress, or `timeoutMs` passed; true when all finished. */
  drain(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Audit lines are their own stream, independent of the log level: to the audit file when one is set, otherwise to
 * stderr for a server. A one-shot CLI call (`pgmcp call`) is audited only to a configured file. Each line is written
 * right after the answer has gone out, with one synchronous write: cheaper per line than the asynchronous path, and
 * nothing is left in a buffer if the process dies.
 */
function makeAuditor(config: Config, toStderr: boolean): { audit: Auditor; close: () => Promise<void> } {
  if (!config.audit.file && !toStderr) return { audit: () => undefined, close: async () => undefined };
  const dest = config.audit.file
    ? pino.destination({ dest: config.audit.file, append: true, sync: true, mkdir: true })
    : pino.destination({ fd: 2, sync: true });
  const auditLog = pino({ base: { name: 'pgmcp-audit' }, level: 'info' }, dest);
  let pending = 0;
  let settled: (() => void) | undefined;
  return {
    audit: (make: () => AuditRecord) => {
      pending++;
      setImmediate(() => {
        try {
          auditLog.info({ audit: make() }, 'tool call');
        } finally {
          if (--pending === 0) settled?.();
        }
      });
    },
    close: async () => {
      if (pending > 0) await new Promise<void>((resolve) => (settled = resolve));
      // Ending waits for the file to open and every buffered line to be written (stderr itself stays open).
      const closed = once(dest, 'close');
      dest.end();
      await closed;
    },
  };
}

export interface AppOptions {
  components?: Components;
  /** Write audit lines to stderr when no audit file is set (servers: yes; one-shot CLI calls: no). */
  auditToStderr?: boolean;
}

export function createApp(config: Config, log: Logger, options: AppOptions = {}): App {
  const components = options.components ?? { citus: false };
  const pools = new PoolManager(config, log);
  const transactions = new TransactionRegistry(pools, config, log);
  const auditor = makeAuditor(config, options.auditToStderr ?? true);
  const citus = new CitusDetection(components, log);
  // Asked now, beside the MCP handshake: tools/list waits for the answer only briefly.
  if (!options.components && config.cluster.citusTools === 'auto') {
    citus.start(async () => (await pools.get().query(CITUS_EXTENSION_SQL)).rows[0]?.extversion ?? null);
  }
  const inflight = new Set<Promise<unknown>>();
  const sessionEndListeners: ((sessionId: string) => Promise<void>)[] = [];
  // A session's transactions are rolled back when it ends.
  sessionEndListeners.push((sessionId) => transactions.closeSession(sessionId));
  return {
    config,
    log,
    pools,
    redact: makeRedactor(secretsOf(config)),
    audit: auditor.audit,
    confirmations: new ConfirmationTokens({ ttlMs: config.limits.confirmTokenTtlMs }),
    transactions,
    components,
    citus,
    startedAt: Date.now(),
    track(call) {
      inflight.add(call);
      const forget = () => inflight.delete(call);
      call.then(forget, forget);
      return call;
    },
    onSessionEnd(listener) {
      sessionEndListeners.push(listener);
    },
    async sessionEnded(sessionId) {
      const results = await Promise.allSettled(sessionEndListeners.map((l) => l(sessionId)));
      for (const r of results)
        if (r.status === 'rejected') log.error({ sessionId, err: String(r.reason) }, 'session end');
    },
    async drain(timeoutMs) {
      const deadline = new Promise<false>((resolve) => setTimeout(() => resolve(false), timeoutMs).unref());
      const all = Promise.allSettled([...inflight]).then(() => true);
      return Promise.race([all, deadline]);
    },
    async close() {
      await transactions.closeAll();
      await pools.close();
      await auditor.close();
    },
  };
}

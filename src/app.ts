import pino from 'pino';
import { secretsOf } from './config/resolve.js';
import type { Config } from './config/settings.js';
import { PoolManager } from './db/pools.js';
import type { Logger } from './log.js';
import { makeRedactor } from './safety/redact.js';
import type { AuditRecord, Auditor } from './tools/dispatch.js';
import type { Components } from './tools/registry.js';

/** The long-lived parts one pgmcp process shares between its MCP sessions. */
export interface App {
  config: Config;
  log: Logger;
  pools: PoolManager;
  redact: (text: string) => string;
  audit: Auditor;
  components: Components;
  startedAt: number;
  close(): Promise<void>;
}

function makeAuditor(config: Config, log: Logger): { audit: Auditor; close: () => void } {
  if (!config.audit.file) {
    return { audit: (record: AuditRecord) => log.info({ audit: record }, 'tool call'), close: () => undefined };
  }
  const dest = pino.destination({ dest: config.audit.file, append: true, sync: false, mkdir: true });
  const fileLog = pino({ base: { name: 'pgmcp-audit' } }, dest);
  return { audit: (record: AuditRecord) => fileLog.info({ audit: record }, 'tool call'), close: () => dest.flushSync() };
}

export function createApp(config: Config, log: Logger, components: Components = { citus: false }): App {
  const pools = new PoolManager(config, log);
  const auditor = makeAuditor(config, log);
  return {
    config,
    log,
    pools,
    redact: makeRedactor(secretsOf(config)),
    audit: auditor.audit,
    components,
    startedAt: Date.now(),
    async close() {
      await pools.close();
      auditor.close();
    },
  };
}

import type { ElicitRequest, ElicitResult } from '@modelcontextprotocol/sdk/types.js';
import type { Config } from '../config/settings.js';
import type { PoolManager } from '../db/pools.js';
import type { TransactionRegistry } from '../db/transactions.js';
import type { Logger } from '../log.js';
import type { ConfirmationTokens } from '../safety/tokens.js';
import type { Components } from './components.js';
import type { AccessLevel } from './define.js';

/** Who is calling: the MCP session and, over HTTP, the authenticated identity. */
export interface Caller {
  sessionId: string;
  /** Token name or identity header; `local` for stdio. */
  identity: string;
  /** Databases this caller may use; undefined = any. */
  databases?: readonly string[];
  /** The most this caller may do (an HTTP token's scope); undefined = the server's access level. */
  access?: AccessLevel;
}

/** Everything a tool handler may use. */
export interface ToolContext {
  config: Config;
  /** Components detected at run time (Citus); absent = none detected. */
  components?: Components;
  pools: PoolManager;
  log: Logger;
  caller: Caller;
  signal: AbortSignal;
  /** Sends an MCP progress notification when the client asked for progress; otherwise does nothing. */
  progress: (progress: number, total?: number, message?: string) => Promise<void>;
  /** Removes every configured secret from a text before it leaves the server. */
  redact: (text: string) => string;
  /** Issues and redeems confirmation tokens; used through confirmDestructive (src/safety/confirm.ts). */
  confirmations: ConfirmationTokens;
  /** Open pg_tx transactions: `use(caller, handle, fn)` runs work inside one (src/db/transactions.ts). */
  transactions: TransactionRegistry;
  /** Asks the user through the client (MCP elicitation); absent when the client did not declare that it can. */
  elicit?: (params: ElicitRequest['params']) => Promise<ElicitResult>;
}

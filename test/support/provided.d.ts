import type { PgConnectionInfo } from './postgres-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The shared PostgreSQL 15 server started by test/support/global-setup.ts (superuser `postgres`). */
    pg: PgConnectionInfo & { database: 'postgres'; dataDir: string; logFile: string };
  }
}

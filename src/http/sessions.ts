/**
 * MCP sessions of the gateway: one SDK Server and one StreamableHTTPServerTransport per session, bound to the
 * principal that opened it. A session ends on DELETE, after being idle too long (no request and no open stream), or
 * at shutdown; its pg_tx transactions are rolled back before the end is reported. Sessions are capped.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { App } from '../app.js';
import type { Logger } from '../log.js';
import { createMcpServer } from '../server.js';
import type { Caller } from '../tools/context.js';
import type { ToolDefinition } from '../tools/define.js';
import { callerFor, type Principal, principalKey } from './auth.js';
import { idleSessions, startIdleSweep } from './idle-sweep.js';
import type { GatewayMetrics, SessionEnd } from './metrics.js';

export interface Session {
  id: string;
  /** principalKey() of who opened it: every later request must come from the same token or identity. */
  principal: string;
  caller: Caller;
  transport: StreamableHTTPServerTransport;
  server: Server;
  createdAt: number;
  /** When the last request arrived or ended. */
  lastSeen: number;
  /** HTTP requests of this session in progress (an open SSE stream counts): it does not expire meanwhile. */
  active: number;
}

export interface SessionOptions {
  idleMs: number;
  max: number;
}

export class SessionRegistry {
  private readonly sessions = new Map<string, Session>();
  /** Initializations in progress (they count against the cap). */
  private opening = 0;
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly app: App,
    /** Fixed tools (tests); by default each session's server follows the configuration and Citus detection. */
    private readonly definitions: readonly ToolDefinition[] | undefined,
    private readonly options: SessionOptions,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
  ) {
    this.sweeper = startIdleSweep(options.idleMs, () => this.sweep());
  }

  get size(): number {
    return this.sessions.size;
  }

  get max(): number {
    return this.options.max;
  }

  get(id: string): Session | undefined {
    return this.sessions.get(id);
  }

  /** Room for one more session, counting `others` open elsewhere (legacy SSE sessions) against the same cap. */
  hasRoom(others = 0): boolean {
    return this.sessions.size + this.opening + others < this.options.max;
  }

  /**
   * Serves an initialize request: a new server and transport whose session is registered once the SDK has
   * initialized it. When initialization fails (bad protocol version, …) nothing is kept.
   */
  async open(principal: Principal, req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
    const id = randomUUID();
    const caller = callerFor(principal, id);
    const server = createMcpServer(this.app, caller, this.definitions);
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => id,
      onsessioninitialized: () => {
        const now = Date.now();
        this.sessions.set(id, {
          id,
          principal: principalKey(principal),
          caller,
          transport,
          server,
          createdAt: now,
          lastSeen: now,
          active: 0,
        });
        this.metrics.sessionStarted();
        this.log.info({ session: id, who: principal.identity }, 'MCP session opened');
      },
      // DELETE: the transport answers 200 only after this resolved, so the rollback is done by then.
      onsessionclosed: () => this.end(id, 'deleted', false),
    });
    this.opening++;
    try {
      await server.connect(transport);
      await transport.handleRequest(req, res, body);
    } finally {
      this.opening--;
    }
    if (!this.sessions.has(id)) await server.close().catch(() => undefined);
  }

  /** Serves a request of an existing session (POST, GET stream, DELETE). */
  async handle(session: Session, req: IncomingMessage, res: ServerResponse, body?: unknown): Promise<void> {
    session.active++;
    session.lastSeen = Date.now();
    res.once('close', () => {
      session.active--;
      session.lastSeen = Date.now();
    });
    await session.transport.handleRequest(req, res, body);
  }

  /**
   * Ends a session: removed at once (later requests get 404), its transactions rolled back (awaited), its transport
   * closed (open streams end, calls still running are aborted).
   */
  async end(id: string, reason: SessionEnd, closeTransport = true): Promise<void> {
    const session = this.sessions.get(id);
    if (!session) return;
    this.sessions.delete(id);
    this.metrics.sessionEnded(reason);
    await this.app.sessionEnded(id);
    if (closeTransport) await session.transport.close().catch(() => undefined);
    this.log.info({ session: id, who: session.caller.identity, reason }, 'MCP session ended');
  }

  /** Ends every session whose idle time is over. */
  sweep(now = Date.now()): void {
    for (const s of idleSessions(this.sessions.values(), this.options.idleMs, now)) void this.end(s.id, 'expired');
  }

  async closeAll(reason: SessionEnd): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.allSettled([...this.sessions.keys()].map((id) => this.end(id, reason)));
  }
}

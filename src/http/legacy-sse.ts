/**
 * The legacy HTTP+SSE transport of MCP protocol 2024-11-05, for older clients: `GET /sse` opens a session whose
 * server-to-client messages flow on that event stream (the first event names `/messages?sessionId=…`), and the client
 * POSTs its messages there. Built on the SDK's SSEServerTransport; served by the gateway beside /mcp, behind the same
 * Host/Origin checks, authentication and body limit (gateway.ts), with the same per-session servers, caller binding,
 * transactions and audit as Streamable HTTP sessions.
 *
 * The stream is the session: when it closes (client gone, network), the session ends and its transactions are rolled
 * back. Idle expiry counts messages, not the open stream — a session with no message either way for
 * http.sessionIdleTimeoutMs ends (otherwise an idle client would hold its slot under the session cap forever).
 * Sessions count against http.maxSessions together with the Streamable HTTP ones.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { App } from '../app.js';
import type { Logger } from '../log.js';
import { createMcpServer } from '../server.js';
import type { Caller } from '../tools/context.js';
import type { ToolDefinition } from '../tools/define.js';
import { callerFor, type Principal, principalKey } from './auth.js';
import { idleSessions, startIdleSweep } from './idle-sweep.js';
import type { GatewayMetrics, SessionEnd } from './metrics.js';
import { RPC, sendRpcError } from './respond.js';
import { ownSession } from './session-owner.js';

export const SSE_PATH = '/sse';
export const MESSAGES_PATH = '/messages';

/** An SSE comment this often keeps proxies from closing a quiet stream (clients ignore comments). */
const KEEPALIVE_MS = 25_000;

interface LegacySession {
  id: string;
  /** principalKey() of who opened it: every POST must come from the same token or identity. */
  principal: string;
  caller: Caller;
  transport: SSEServerTransport;
  /** When the last message went either way. */
  lastSeen: number;
  /** POSTs of this session in progress. */
  active: number;
}

export class LegacySseSessions {
  private readonly sessions = new Map<string, LegacySession>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly app: App,
    /** Fixed tools (tests); by default each session's server follows the configuration and Citus detection. */
    private readonly definitions: readonly ToolDefinition[] | undefined,
    private readonly idleMs: number,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
  ) {
    this.sweeper = startIdleSweep(idleMs, () => this.sweep());
  }

  get size(): number {
    return this.sessions.size;
  }

  /**
   * GET /sse: a new session bound to the principal; the response becomes its event stream. The caller has checked
   * the session cap.
   */
  async open(principal: Principal, res: ServerResponse): Promise<void> {
    const transport = new SSEServerTransport(MESSAGES_PATH, res);
    const id = transport.sessionId;
    const caller = callerFor(principal, id);
    const server = createMcpServer(this.app, caller, this.definitions);
    const session: LegacySession = {
      id,
      principal: principalKey(principal),
      caller,
      transport,
      lastSeen: Date.now(),
      active: 0,
    };
    // What the server sends (answers, notifications, progress) counts as activity too.
    const send = transport.send.bind(transport);
    transport.send = (message: JSONRPCMessage) => {
      session.lastSeen = Date.now();
      return send(message);
    };
    // Registered before the stream starts, so that the cap holds against concurrent opens.
    this.sessions.set(id, session);
    this.metrics.sessionStarted();
    res.once('close', () => void this.end(id, 'closed', false));
    try {
      await server.connect(transport); // writes the stream's headers and the endpoint event
    } catch (err) {
      await this.end(id, 'closed');
      throw err;
    }
    if (!this.sessions.has(id)) return; // the client left while it started
    const keepalive = setInterval(() => {
      if (!res.writableEnded) res.write(': keepalive\n\n');
    }, KEEPALIVE_MS);
    keepalive.unref();
    res.once('close', () => clearInterval(keepalive));
    this.log.info({ session: id, who: principal.identity, transport: 'sse' }, 'MCP session opened');
  }

  /** POST /messages?sessionId=…: one client message of a session, its body already read within the limit. */
  async post(
    principal: Principal,
    sessionId: string | null,
    req: IncomingMessage,
    res: ServerResponse,
    body: unknown,
  ): Promise<void> {
    if (!sessionId) {
      sendRpcError(res, 400, RPC.invalidRequest, 'Bad Request: the sessionId query parameter is required');
      return;
    }
    const session = ownSession(this.sessions.get(sessionId), sessionId, principal, res, this.metrics, this.log);
    if (!session) return;
    if (body === undefined) {
      sendRpcError(res, 400, RPC.invalidRequest, 'Bad Request: a JSON-RPC message is required');
      return;
    }
    session.active++;
    session.lastSeen = Date.now();
    try {
      await session.transport.handlePostMessage(req, res, body);
    } finally {
      session.active--;
      session.lastSeen = Date.now();
    }
  }

  /**
   * Ends a session: removed at once (later POSTs get 404), its transactions rolled back (awaited), its stream closed
   * (unless it is what closed).
   */
  async end(id: string, reason: SessionEnd, closeTransport = true): Promise<void> {
    const session = this.sessions.get(id);
    if (!session) return;
    this.sessions.delete(id);
    this.metrics.sessionEnded(reason);
    await this.app.sessionEnded(id);
    // Closing the transport closes its server too (calls still running are aborted).
    if (closeTransport) await session.transport.close().catch(() => undefined);
    this.log.info({ session: id, who: session.caller.identity, reason, transport: 'sse' }, 'MCP session ended');
  }

  /** Ends every session with no message either way for the idle time. */
  sweep(now = Date.now()): void {
    for (const s of idleSessions(this.sessions.values(), this.idleMs, now)) void this.end(s.id, 'expired');
  }

  async closeAll(reason: SessionEnd): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.allSettled([...this.sessions.keys()].map((id) => this.end(id, reason)));
  }
}

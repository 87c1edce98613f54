/**
 * The HTTP gateway: MCP Streamable HTTP at /mcp, the legacy HTTP+SSE transport at GET /sse + POST /messages
 * (legacy-sse.ts), GET /health, GET /metrics and POST /tools/NAME, behind one pipeline:
 * Host/Origin allow-lists (403) → authentication (401/403) → body limit (413) → route.
 *
 * Built on node:http rather than Express (which the SDK integrates with): there are four routes, everything in front
 * of them (Host/Origin rules, tokens, identity headers, body limit) is pgmcp's own policy either way, and the SDK's
 * Node transport takes node's request and response objects directly. Express would add its dependency tree to the
 * single-file bundle and per-request middleware work for nothing. node:http behaves the same under Node and in the
 * Bun-compiled binary.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { App } from '../app.js';
import type { Config } from '../config/settings.js';
import { followTools } from '../tools/citus-detection.js';
import type { ToolDefinition } from '../tools/define.js';
import type { Authenticator, Principal } from './auth.js';
import { isLoopbackBind, makeRequestGuard, type RequestGuard } from './guard.js';
import { checkHealth } from './health.js';
import { LegacySseSessions, MESSAGES_PATH, SSE_PATH } from './legacy-sse.js';
import { GatewayMetrics } from './metrics.js';
import { parseJson, RPC, readBody, sendJson, sendRpcError } from './respond.js';
import { callToolOverHttp } from './rest.js';
import { ownSession } from './session-owner.js';
import { SessionRegistry } from './sessions.js';

export interface GatewayOptions {
  http: Config['http'];
  auth: Authenticator;
}

export interface Listening {
  host: string;
  port: number;
  /** The MCP endpoint, e.g. http://127.0.0.1:3000/mcp */
  url: string;
}

type Route = 'mcp' | 'sse' | 'messages' | 'health' | 'metrics' | 'tools' | 'other';

const CORS_HEADERS = 'authorization, content-type, accept, mcp-session-id, mcp-protocol-version, last-event-id';

function routeOf(pathname: string): { route: Route; tool?: string } {
  if (pathname === '/mcp' || pathname === '/mcp/') return { route: 'mcp' };
  if (pathname === SSE_PATH) return { route: 'sse' };
  if (pathname === MESSAGES_PATH) return { route: 'messages' };
  if (pathname === '/health') return { route: 'health' };
  if (pathname === '/metrics') return { route: 'metrics' };
  const m = /^\/tools\/([A-Za-z0-9_.-]{1,64})\/?$/.exec(pathname);
  if (m?.[1]) return { route: 'tools', tool: m[1] };
  return { route: 'other' };
}

const header = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

export class Gateway {
  readonly metrics: GatewayMetrics;
  readonly sessions: SessionRegistry;
  /** Sessions of the legacy HTTP+SSE transport (GET /sse + POST /messages). */
  readonly legacy: LegacySseSessions;
  private readonly server: http.Server;
  private readonly guard: RequestGuard;
  private tools = new Map<string, ToolDefinition>();
  private shuttingDown = false;

  constructor(
    private readonly app: App,
    private readonly options: GatewayOptions,
    definitions?: readonly ToolDefinition[],
  ) {
    // POST /tools/NAME finds its tool here; it follows Citus detection like the sessions' servers do.
    followTools(app, definitions, (defs) => {
      this.tools = new Map(defs.map((d) => [d.name, d]));
    });
    this.metrics = new GatewayMetrics(app, () => this.sessions.size + this.legacy.size);
    // Every audited call (MCP and REST) is counted in the metrics too.
    app.audit = this.metrics.wrapAuditor(app.audit);
    this.sessions = new SessionRegistry(
      app,
      definitions,
      { idleMs: options.http.sessionIdleTimeoutMs, max: options.http.maxSessions },
      this.metrics,
      app.log,
    );
    this.legacy = new LegacySseSessions(app, definitions, options.http.sessionIdleTimeoutMs, this.metrics, app.log);
    this.guard = makeRequestGuard({
      bindHost: options.http.host,
      allowedHosts: options.http.allowedHosts,
      allowedOrigins: options.http.allowedOrigins,
    });
    this.server = http.createServer((req, res) => {
      this.serve(req, res).catch((err: unknown) => {
        app.log.error({ err: app.redact(err instanceof Error ? (err.stack ?? err.message) : String(err)) }, 'http');
        if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
        else res.end();
      });
    });
    // Slow clients: the whole request must arrive within the request timeout (responses, e.g. SSE, are not limited).
    this.server.requestTimeout = options.http.requestTimeoutMs;
    this.server.headersTimeout = Math.min(60_000, options.http.requestTimeoutMs);
  }

  /** True when the Host header is checked (false only on a wildcard bind without allowed hosts). */
  get checksHost(): boolean {
    return this.guard.checksHost;
  }

  listen(): Promise<Listening> {
    const { host, port } = this.options.http;
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        const addr = this.server.address() as AddressInfo;
        const shown = addr.family === 'IPv6' || addr.address.includes(':') ? `[${addr.address}]` : addr.address;
        resolve({ host: addr.address, port: addr.port, url: `http://${shown}:${addr.port}/mcp` });
      });
    });
  }

  /**
   * Graceful stop: no new connections or requests (503), tool calls in progress may finish for `drainMs`, then every
   * session ends (transactions rolled back, streams closed, calls still running aborted) and connections close.
   * The caller closes the app (pools) afterwards.
   */
  async shutdown(drainMs = 5000): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections?.();
    const drained = await this.app.drain(drainMs);
    if (!drained) this.app.log.warn({ drainMs }, 'tool calls still running at shutdown: aborting them');
    await Promise.all([this.sessions.closeAll('shutdown'), this.legacy.closeAll('shutdown')]);
    this.server.closeAllConnections?.();
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://gateway');
    const { route, tool } = routeOf(url.pathname);
    const method = req.method ?? 'GET';
    res.once('finish', () => this.metrics.httpRequest(route, method, res.statusCode));
    res.setHeader('x-content-type-options', 'nosniff');

    if (this.shuttingDown) {
      sendJson(res, 503, { error: 'pgmcp is shutting down' }, { connection: 'close' });
      return;
    }
    const origin = header(req, 'origin');
    const refused = this.guard.check({ host: header(req, 'host'), origin });
    if (refused) {
      this.metrics.authFailure(403);
      this.app.log.warn({ peer: req.socket.remoteAddress, why: refused }, 'http request refused');
      if (route === 'mcp') sendRpcError(res, 403, RPC.serverError, `Forbidden: ${refused}`);
      else sendJson(res, 403, { error: refused });
      return;
    }
    if (origin !== undefined) {
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('access-control-expose-headers', 'mcp-session-id, mcp-protocol-version, www-authenticate');
      res.setHeader('vary', 'Origin');
    }
    if (method === 'OPTIONS') {
      // CORS preflight from an allowed Origin (it carries no credentials).
      res.writeHead(204, {
        'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
        'access-control-allow-headers': CORS_HEADERS,
        'access-control-max-age': '600',
      });
      res.end();
      return;
    }

    const auth = this.options.auth.authenticate(req);
    if (!auth.ok) {
      this.metrics.authFailure(auth.status);
      this.app.log.warn({ peer: req.socket.remoteAddress, route, why: auth.message }, 'http request refused');
      const headers: Record<string, string> =
        auth.status === 401
          ? {
              'www-authenticate': `Bearer realm="pgmcp"${auth.invalidToken ? ', error="invalid_token"' : ''}`,
            }
          : {};
      if (route === 'mcp') sendRpcError(res, auth.status, RPC.serverError, auth.message, headers);
      else sendJson(res, auth.status, { error: auth.message }, headers);
      return;
    }
    const principal = auth.principal;

    switch (route) {
      case 'mcp':
        return this.serveMcp(req, res, principal);
      case 'sse':
        if (method !== 'GET') return this.notAllowed(res, 'GET');
        return this.openLegacySession(res, principal);
      case 'messages': {
        if (method !== 'POST') return this.notAllowed(res, 'POST');
        const read = await this.readJsonBody(req, res, true);
        if (!read.ok) return;
        return this.legacy.post(principal, url.searchParams.get('sessionId'), req, res, read.value);
      }
      case 'health':
        if (method !== 'GET' && method !== 'HEAD') return this.notAllowed(res, 'GET');
        return this.serveHealth(res);
      case 'metrics': {
        if (method !== 'GET') return this.notAllowed(res, 'GET');
        const { contentType, body } = await this.metrics.text();
        res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
        res.end(body);
        return;
      }
      case 'tools':
        if (method !== 'POST') return this.notAllowed(res, 'POST');
        return this.serveToolCall(req, res, principal, tool as string);
      default:
        sendJson(res, 404, {
          error: 'not found',
          endpoints: ['/mcp', '/sse', '/messages', '/health', '/metrics', '/tools/NAME'],
        });
    }
  }

  private notAllowed(res: ServerResponse, allow: string): void {
    sendJson(res, 405, { error: `method not allowed; use ${allow}` }, { allow });
  }

  private async serveHealth(res: ServerResponse): Promise<void> {
    const open = this.sessions.size + this.legacy.size;
    const health = await checkHealth(this.app, { open, max: this.sessions.max }, this.shuttingDown);
    sendJson(res, health.status === 'ok' ? 200 : 503, health);
  }

  /** GET /sse: a legacy HTTP+SSE session, within the session cap shared with /mcp. */
  private async openLegacySession(res: ServerResponse, principal: Principal): Promise<void> {
    if (!this.sessions.hasRoom(this.legacy.size)) {
      this.app.log.warn({ max: this.sessions.max, who: principal.identity }, 'session refused: at the cap');
      sendJson(
        res,
        503,
        { error: `too many MCP sessions (at most ${this.sessions.max}; http.maxSessions): try again later` },
        { 'retry-after': 30 },
      );
      return;
    }
    await this.legacy.open(principal, res);
  }

  private async readJsonBody(
    req: IncomingMessage,
    res: ServerResponse,
    rpc: boolean,
  ): Promise<{ ok: true; value: unknown } | { ok: false }> {
    const body = await readBody(req, this.options.http.bodyLimit);
    if (!body.ok) {
      if (rpc) sendRpcError(res, body.status, RPC.invalidRequest, body.message);
      else sendJson(res, body.status, { error: body.message });
      return { ok: false };
    }
    const parsed = parseJson(body.text);
    if (!parsed.ok) {
      if (rpc) sendRpcError(res, 400, RPC.parseError, `Parse error: ${parsed.message}`);
      else sendJson(res, 400, { error: parsed.message });
      return { ok: false };
    }
    return parsed;
  }

  private async serveMcp(req: IncomingMessage, res: ServerResponse, principal: Principal): Promise<void> {
    const method = req.method ?? 'GET';
    if (method !== 'POST' && method !== 'GET' && method !== 'DELETE') {
      sendRpcError(res, 405, RPC.serverError, 'Method not allowed', { allow: 'GET, POST, DELETE' });
      return;
    }
    let body: unknown;
    if (method === 'POST') {
      const read = await this.readJsonBody(req, res, true);
      if (!read.ok) return;
      body = read.value;
    }
    const sessionId = header(req, 'mcp-session-id');
    if (sessionId === undefined) {
      const initializing =
        method === 'POST' && (Array.isArray(body) ? body.some(isInitializeRequest) : isInitializeRequest(body));
      if (!initializing) {
        sendRpcError(
          res,
          400,
          RPC.serverError,
          'Bad Request: Mcp-Session-Id header is required (start a session with an initialize request)',
        );
        return;
      }
      if (!this.sessions.hasRoom(this.legacy.size)) {
        this.app.log.warn({ max: this.sessions.max, who: principal.identity }, 'session refused: at the cap');
        sendRpcError(
          res,
          503,
          RPC.serverError,
          `too many MCP sessions (at most ${this.sessions.max}; http.maxSessions): try again later`,
          { 'retry-after': 30 },
        );
        return;
      }
      await this.sessions.open(principal, req, res, body);
      return;
    }
    const session = ownSession(this.sessions.get(sessionId), sessionId, principal, res, this.metrics, this.app.log);
    if (session) await this.sessions.handle(session, req, res, body);
  }

  private async serveToolCall(
    req: IncomingMessage,
    res: ServerResponse,
    principal: Principal,
    name: string,
  ): Promise<void> {
    const read = await this.readJsonBody(req, res, false);
    if (!read.ok) return;
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.options.http.requestTimeoutMs);
    // The client went away before the answer: cancel the call (its statement is cancelled on the server).
    res.once('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    try {
      await this.app.citus.settled();
      const answer = await callToolOverHttp(
        this.app,
        this.tools,
        principal,
        name,
        read.value,
        controller.signal,
        () => timedOut,
      );
      sendJson(res, answer.status, answer.body);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Whether the gateway may start with this configuration; the reason when it may not. */
export function bindProblem(httpConfig: Config['http']): string | undefined {
  if (isLoopbackBind(httpConfig.host) || httpConfig.tokensFile !== undefined || httpConfig.allowUnauthenticated) {
    return undefined;
  }
  return (
    `refusing to listen on ${httpConfig.host} without authentication: anyone who reaches the port would get ` +
    "this server's access. Set a tokens file (PGMCP_HTTP_TOKENS_FILE / --tokens-file; `pgmcp token NAME` makes an " +
    'entry), bind to 127.0.0.1 behind a proxy such as `tailscale serve`, or pass --allow-unauthenticated'
  );
}

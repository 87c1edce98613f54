import type { ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import { type Principal, principalKey } from './auth.js';
import type { GatewayMetrics } from './metrics.js';
import { RPC, sendRpcError } from './respond.js';

/**
 * `session` (what `sessionId` names, if anything) when the one asking is who opened it: the same token or identity.
 * Otherwise the refusal is sent — 404 for a session that does not exist (or no longer does), 403 for another
 * identity's — and undefined returned. The same for Streamable HTTP and legacy SSE sessions.
 */
export function ownSession<S extends { principal: string }>(
  session: S | undefined,
  sessionId: string,
  principal: Principal,
  res: ServerResponse,
  metrics: GatewayMetrics,
  log: Logger,
): S | undefined {
  if (!session) {
    sendRpcError(res, 404, RPC.sessionNotFound, 'Session not found');
    return undefined;
  }
  if (session.principal !== principalKey(principal)) {
    metrics.authFailure(403);
    log.warn({ session: sessionId, who: principal.identity }, 'session used by another identity: refused');
    sendRpcError(res, 403, RPC.serverError, 'Forbidden: this session was opened by another identity');
    return undefined;
  }
  return session;
}

import type { Started } from '../bootstrap.js';
import { Authenticator, readAccessFile } from '../http/auth.js';
import { bindProblem, Gateway, type Listening } from '../http/gateway.js';
import { isLoopbackBind } from '../http/guard.js';
import { UsageError } from './call.js';

/** How long shutdown lets tool calls in progress finish before they are aborted. */
const DRAIN_MS = 5_000;
/** Past this after SIGTERM/SIGINT the process exits anyway (exit 1: something did not close in time). */
const HARD_STOP_MS = 9_500;

export interface RunningGateway {
  gateway: Gateway;
  listening: Listening;
  /** Stops accepting, ends sessions (transactions rolled back), closes the pools. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts the HTTP gateway for a started app: checks the bind rule and the tokens file first (a UsageError or
 * ConfigError, nothing listening), then listens. Used by `pgmcp serve --transport http` and by tests.
 */
export async function startGateway(started: Started): Promise<RunningGateway> {
  const { app, log } = started;
  const http = app.config.http;
  const problem = bindProblem(http);
  if (problem) throw new UsageError(problem);
  const access = http.tokensFile !== undefined ? readAccessFile(http.tokensFile) : undefined;
  const auth = new Authenticator({
    ...(access ? { access } : {}),
    trustIdentityHeaders: http.trustIdentityHeaders,
    identityHeader: http.identityHeader,
  });
  const gateway = new Gateway(app, { http, auth });
  const listening = await gateway.listen();
  if (!gateway.checksHost) {
    log.warn(
      { host: http.host },
      'Host headers are not checked on a wildcard bind without PGMCP_HTTP_ALLOWED_HOSTS: set the names clients use',
    );
  }
  if (!auth.required && !isLoopbackBind(http.host)) {
    log.warn({ host: http.host }, 'serving WITHOUT authentication on a non-loopback address (--allow-unauthenticated)');
  }
  if (http.trustIdentityHeaders) {
    log.info({ header: http.identityHeader }, 'identity header trusted from loopback peers');
  }
  log.info(
    {
      url: listening.url,
      access: app.config.access,
      auth: auth.required ? `${auth.tokenCount} tokens` : 'none',
      embedded: started.embedded !== undefined,
    },
    'pgmcp serving MCP over HTTP',
  );
  let stopping: Promise<void> | undefined;
  return {
    gateway,
    listening,
    stop() {
      stopping ??= (async () => {
        await gateway.shutdown(DRAIN_MS);
        await started.shutdown();
      })();
      return stopping;
    },
  };
}

/** `pgmcp serve --transport http`: serves until SIGTERM/SIGINT, then stops gracefully and exits 0. */
export async function serveHttp(started: Started): Promise<void> {
  const { log } = started;
  let running: RunningGateway;
  try {
    running = await startGateway(started);
  } catch (err) {
    await started.shutdown();
    throw err;
  }
  let signalled = false;
  const stop = (signal: string) => {
    if (signalled) return;
    signalled = true;
    log.info({ signal }, 'shutting down: no new requests, rolling back open transactions');
    setTimeout(() => {
      log.error({ afterMs: HARD_STOP_MS }, 'shutdown did not finish in time; exiting');
      process.exit(1);
    }, HARD_STOP_MS).unref();
    running.stop().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err: String(err) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

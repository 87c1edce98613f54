/**
 * `pgmcp health`: GET a running gateway's /health and exit 0 when it answers 200 — a container health check that
 * needs nothing in the image but pgmcp itself (distroless images have no shell, curl or wget).
 *
 * Without --url it asks the gateway of the same configuration (the container's environment): 127.0.0.1 (or ::1) on a
 * wildcard or loopback bind, the bound address otherwise, at http.port. The Host header is the first name of
 * http.allowedHosts when there is one, so that the gateway's DNS-rebinding check lets it through. With a tokens file
 * every request needs a token: PGMCP_HEALTH_TOKEN (environment only, so it shows in no command line) is sent as the
 * bearer token; a token of its own with scope read is enough.
 */
import { isIP } from 'node:net';
import type { Config } from '../config/settings.js';
import { isWildcardBind } from '../http/guard.js';
import { importExternal } from '../import-external.js';
import { UsageError } from './call.js';

export const HEALTH_TOKEN_ENV = 'PGMCP_HEALTH_TOKEN';
const TIMEOUT_MS = 5_000;

/** The /health URL of the gateway configured by `config`. */
export function healthUrl(config: Config): string {
  const { host, port } = config.http;
  if (port === 0) throw new UsageError('http.port is 0 (any free port): give the gateway URL with --url');
  const bound = host.trim().replace(/^\[|\]$/g, '');
  const target = isWildcardBind(host) ? (bound === '::' ? '::1' : '127.0.0.1') : bound;
  return `http://${isIP(target) === 6 ? `[${target}]` : target}:${port}/health`;
}

/** The Host header to send: the first allowed host name (not `*`), else what the URL says. */
export function healthHostHeader(config: Config, url: URL): string {
  const name = config.http.allowedHosts.find((h) => h !== '*');
  return name ?? url.host;
}

/** Asks /health; prints one line; 0 when the answer is 200, 1 otherwise. */
export async function healthCommand(config: Config, urlText: string | undefined, token: string | undefined) {
  const url = new URL(urlText ?? healthUrl(config));
  const headers: Record<string, string> = { host: healthHostHeader(config, url), accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  // Loaded here, not with the CLI: node:https (with tls) is ≈ 15 ms of every Node start otherwise.
  const client =
    url.protocol === 'https:'
      ? await importExternal<typeof import('node:https')>('node:https')
      : await importExternal<typeof import('node:http')>('node:http');
  const answer = await new Promise<{ status: number; body: string } | { error: string }>((resolve) => {
    const req = client.request(url, { method: 'GET', headers, timeout: TIMEOUT_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        if (body.length < 64 * 1024) body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (err) => resolve({ error: err.message }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
    req.on('error', (err) => resolve({ error: err.message }));
    req.end();
  });
  if ('error' in answer) {
    process.stderr.write(`pgmcp health: ${url.href}: ${answer.error}\n`);
    return 1;
  }
  let summary = answer.body.trim().slice(0, 300);
  try {
    const h = JSON.parse(answer.body) as { status?: string; postgres_connection?: string; error?: string };
    summary = h.error ?? `status ${h.status}, postgres ${h.postgres_connection}`;
  } catch {
    // not JSON: shown as it came
  }
  const line = `${url.href}: HTTP ${answer.status}: ${summary}`;
  if (answer.status === 200) {
    process.stdout.write(`pgmcp health: ${line}\n`);
    return 0;
  }
  const hint =
    answer.status === 401 && !token
      ? ` (the gateway needs a token: set ${HEALTH_TOKEN_ENV} to one with scope read)`
      : '';
  process.stderr.write(`pgmcp health: ${line}${hint}\n`);
  return 1;
}

import { HaproxyClient } from '../../cluster/haproxy.js';
import { PatroniClient } from '../../cluster/patroni.js';
import { PgbouncerClient } from '../../cluster/pgbouncer.js';
import type { Config } from '../../config/settings.js';
import type { ToolContext } from '../context.js';
import { ToolError } from '../errors.js';

/**
 * Clients for the configured components; undefined for one that is not configured. Patroni's requests end when
 * `signal` aborts (the call was cancelled) instead of running to their own timeout.
 */
export function patroniClient(config: Config, signal?: AbortSignal): PatroniClient | undefined {
  const c = config.cluster;
  if (c.patroniUrls.length === 0) return undefined;
  return new PatroniClient({
    urls: c.patroniUrls,
    user: c.patroniUser,
    password: c.patroniPassword,
    ...(signal ? { signal } : {}),
  });
}

/** The Patroni client for a call (ended with it), or the ToolError saying Patroni is not configured. */
export function patroniOf(ctx: ToolContext): PatroniClient {
  const client = patroniClient(ctx.config, ctx.signal);
  if (!client) throw new ToolError('Patroni is not configured', { hint: 'set PGMCP_PATRONI_URLS' });
  return client;
}

export function haproxyClient(config: Config): HaproxyClient | undefined {
  return config.cluster.haproxy ? new HaproxyClient({ target: config.cluster.haproxy }) : undefined;
}

export function pgbouncerClient(config: Config): PgbouncerClient | undefined {
  return config.cluster.pgbouncerUrl ? new PgbouncerClient({ url: config.cluster.pgbouncerUrl }) : undefined;
}

/** Runs a component call; a failure becomes a tool error naming the component, with secrets removed. */
export async function reach<T>(component: string, ctx: ToolContext, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ToolError) throw err;
    throw new ToolError(ctx.redact(`${component} unreachable: ${(err as Error).message}`), {
      code: `${component}_unreachable`,
      hint: `check the ${component} setting with \`pgmcp doctor\``,
    });
  }
}

/** Bytes as a short readable size. */
export function bytesText(n: number | null | undefined): string {
  if (n === null || n === undefined) return '?';
  if (n < 1024) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

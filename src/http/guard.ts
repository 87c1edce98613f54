/**
 * DNS-rebinding protection: the Host and Origin headers checked against allow-lists before anything else runs.
 *
 * The SDK ships this for Express only (`hostHeaderValidation`, Host alone, answering through Express's response
 * helpers); the gateway is on node:http (see gateway.ts) and needs Origin and the loopback rules too, so the same
 * check — hostname compared port-agnostically after URL parsing — is done here.
 *
 * Host: on a loopback bind, localhost / 127.0.0.1 / [::1] are always accepted; so are the names in
 * http.allowedHosts and the bound address itself. On a wildcard bind (0.0.0.0, ::) with no allowed hosts configured
 * the Host header is not checked (the gateway then requires tokens, and warns). `*` accepts any Host.
 * Origin: absent (not a browser) passes; otherwise it must be in http.allowedOrigins (`*` for any), or be a loopback
 * origin while bound to loopback.
 */
import { isIP } from 'node:net';

export const LOOPBACK_HOSTNAMES: readonly string[] = ['localhost', '127.0.0.1', '[::1]'];

/** An address or name to bind to that only this host can reach. */
export function isLoopbackBind(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || (isIP(h) === 4 && h.startsWith('127.'));
}

/** A wildcard bind: every interface. */
export function isWildcardBind(host: string): boolean {
  const h = host.trim().replace(/^\[|\]$/g, '');
  return h === '0.0.0.0' || h === '::' || h === '';
}

/** A peer address on this host (IPv4 loopback, IPv6 loopback, or IPv4 loopback mapped into IPv6). */
export function isLoopbackPeer(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.toLowerCase();
  return a === '::1' || a.startsWith('127.') || a.startsWith('::ffff:127.');
}

/** The hostname of a Host header value or a configured host name, as URL parsing gives it (IPv6 in brackets). */
export function hostnameOf(value: string): string | undefined {
  try {
    const hostname = new URL(`http://${value.trim()}`).hostname.toLowerCase();
    return hostname || undefined;
  } catch {
    return undefined;
  }
}

function originOf(value: string): string | undefined {
  try {
    const u = new URL(value.trim());
    return u.origin === 'null' ? undefined : u.origin.toLowerCase();
  } catch {
    return undefined;
  }
}

export interface GuardOptions {
  bindHost: string;
  allowedHosts: readonly string[];
  allowedOrigins: readonly string[];
}

export interface RequestGuard {
  /** Undefined when the request may go on; otherwise why it is refused (403). */
  check(headers: { host?: string | undefined; origin?: string | undefined }): string | undefined;
  /** True when the Host header is checked at all (false only on a wildcard bind without allowed hosts). */
  readonly checksHost: boolean;
}

export function makeRequestGuard(options: GuardOptions): RequestGuard {
  const loopback = isLoopbackBind(options.bindHost);
  const anyHost = options.allowedHosts.includes('*');
  const hosts = new Set<string>();
  for (const h of options.allowedHosts) {
    const name = h === '*' ? undefined : hostnameOf(h);
    if (name) hosts.add(name);
  }
  if (loopback) for (const h of LOOPBACK_HOSTNAMES) hosts.add(h);
  if (!isWildcardBind(options.bindHost)) {
    const bound = hostnameOf(isIP(options.bindHost) === 6 ? `[${options.bindHost}]` : options.bindHost);
    if (bound) hosts.add(bound);
  }
  const checksHost = !anyHost && !(isWildcardBind(options.bindHost) && options.allowedHosts.length === 0);

  const anyOrigin = options.allowedOrigins.includes('*');
  const origins = new Set(options.allowedOrigins.map(originOf).filter((o): o is string => o !== undefined));

  return {
    checksHost,
    check({ host, origin }) {
      if (checksHost) {
        if (!host) return 'missing Host header';
        const name = hostnameOf(host);
        if (!name || !hosts.has(name)) return `Host ${JSON.stringify(host)} is not allowed (DNS rebinding protection)`;
      }
      if (origin !== undefined && !anyOrigin) {
        const o = originOf(origin);
        const ok =
          o !== undefined &&
          (origins.has(o) || (loopback && LOOPBACK_HOSTNAMES.includes(new URL(o).hostname.toLowerCase())));
        if (!ok) return `Origin ${JSON.stringify(origin)} is not allowed`;
      }
      return undefined;
    },
  };
}

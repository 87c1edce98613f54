/**
 * Who is calling the HTTP gateway. A bearer token from the tokens file (only its SHA-256 is stored there), or an
 * identity header set by a proxy on the same host (`tailscale serve` adds `Tailscale-User-Login`), trusted only when
 * enabled and only from a loopback peer. Without a tokens file every request is `anonymous` at the server's level,
 * which the gateway allows only on a loopback bind (or with --allow-unauthenticated).
 *
 * Tokens file (YAML or JSON):
 *
 *   tokens:
 *     - name: ci                # the audit identity
 *       sha256: 5e88…           # hex SHA-256 of the secret (`pgmcp token ci` makes both)
 *       scope: read             # read | write | admin: at most this, never more than the server's level
 *       databases: [app]        # optional: only these databases
 *   identities:                 # optional: identity header values → scope (and databases)
 *     - login: alice@example.com
 *       scope: write
 *     - login: "*"              # every other login
 *       scope: read
 *
 * Without an `identities` list a trusted identity gets the server's level; with one, a login it does not match is
 * refused (403).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../config/resolve.js';
import type { Caller } from '../tools/context.js';
import { ACCESS_LEVELS, type AccessLevel } from '../tools/define.js';
import { isLoopbackPeer } from './guard.js';

const databases = z.array(z.string().min(1).max(63)).min(1).optional();

const TokenEntrySchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@:+-]{0,99}$/, 'letters, digits and . _ @ : + - (at most 100)'),
    sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'the hex SHA-256 of the secret (64 hex digits)'),
    scope: z.enum(ACCESS_LEVELS),
    databases,
  })
  .strict();

const IdentityEntrySchema = z
  .object({
    login: z.string().min(1).max(320),
    scope: z.enum(ACCESS_LEVELS),
    databases,
  })
  .strict();

const AccessFileSchema = z
  .object({
    tokens: z.array(TokenEntrySchema).default([]),
    identities: z.array(IdentityEntrySchema).default([]),
  })
  .strict();

export type AccessFile = z.infer<typeof AccessFileSchema>;

/** An authenticated caller of the gateway. */
export interface Principal {
  /** The audit identity: token name, identity header value, or `anonymous`. */
  identity: string;
  via: 'token' | 'header' | 'none';
  /** The scope; undefined = the server's access level. */
  access?: AccessLevel;
  databases?: readonly string[];
}

/** What a session is bound to: the same token or identity must come with every request of the session. */
export const principalKey = (p: Principal): string => `${p.via}:${p.identity}`;

/** The tool caller of an MCP session opened by `p`: its identity, scope and databases. */
export function callerFor(p: Principal, sessionId: string): Caller {
  return {
    sessionId,
    identity: p.identity,
    ...(p.access ? { access: p.access } : {}),
    ...(p.databases ? { databases: p.databases } : {}),
  };
}

export type AuthResult =
  | { ok: true; principal: Principal }
  | { ok: false; status: 401 | 403; message: string; invalidToken?: boolean };

/** The hex SHA-256 of a token secret, as the tokens file stores it. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** A new random secret: `pgmcp_` + 43 base64url characters (256 bits). */
export function newSecret(): string {
  return `pgmcp_${randomBytes(32).toString('base64url')}`;
}

/** Parses and validates a tokens file's contents (throws ConfigError naming the file and the problem). */
export function parseAccessFile(text: string, path: string): AccessFile {
  const fail = (why: string): never => {
    throw new ConfigError('http.tokensFile', JSON.stringify(path), why, 'file');
  };
  let raw: unknown;
  try {
    // Every value in the file is a string: YAML's failsafe schema keeps a hash of only digits (or digits and one e)
    // from being read as a number.
    raw = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text, { schema: 'failsafe' });
  } catch (err) {
    return fail(`valid ${path.endsWith('.json') ? 'JSON' : 'YAML'} (${(err as Error).message})`);
  }
  const parsed = AccessFileSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`);
    return fail(`a tokens file with tokens: [{name, sha256, scope, databases?}] (${problems.join('; ')})`);
  }
  const names = new Set<string>();
  for (const t of parsed.data.tokens) {
    if (names.has(t.name)) fail(`unique token names (${t.name} appears twice)`);
    names.add(t.name);
  }
  const hashes = new Set<string>();
  for (const t of parsed.data.tokens) {
    const h = t.sha256.toLowerCase();
    if (hashes.has(h)) fail(`a different secret per token (${t.name} has the hash of another token)`);
    hashes.add(h);
  }
  return parsed.data;
}

export function readAccessFile(path: string): AccessFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(
      'http.tokensFile',
      JSON.stringify(path),
      `a readable file (${(err as Error).message})`,
      'file',
    );
  }
  return parseAccessFile(text, path);
}

export interface AuthOptions {
  /** The tokens file's contents; undefined = no tokens file (requests are anonymous unless a trusted identity). */
  access?: AccessFile;
  trustIdentityHeaders: boolean;
  identityHeader: string;
}

const BEARER = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;

/** Authenticates requests: bearer token first, then a trusted identity header, then anonymous when allowed. */
export class Authenticator {
  private readonly tokens: { name: string; hash: Buffer; access: AccessLevel; databases?: readonly string[] }[];
  private readonly identities: AccessFile['identities'];
  private readonly header: string;

  constructor(private readonly options: AuthOptions) {
    this.tokens = (options.access?.tokens ?? []).map((t) => ({
      name: t.name,
      hash: Buffer.from(t.sha256, 'hex'),
      access: t.scope,
      ...(t.databases ? { databases: t.databases } : {}),
    }));
    this.identities = options.access?.identities ?? [];
    this.header = options.identityHeader.toLowerCase();
  }

  /** True when every request needs a token or a trusted identity (a tokens file is configured). */
  get required(): boolean {
    return this.options.access !== undefined;
  }

  get tokenCount(): number {
    return this.tokens.length;
  }

  authenticate(req: IncomingMessage): AuthResult {
    const authorization = req.headers.authorization;
    if (authorization !== undefined && this.required) {
      const m = BEARER.exec(authorization);
      if (!m?.[1]) {
        return { ok: false, status: 401, message: 'the Authorization header must be "Bearer <token>"' };
      }
      const token = this.match(m[1]);
      if (!token) return { ok: false, status: 401, message: 'invalid token', invalidToken: true };
      return {
        ok: true,
        principal: {
          identity: token.name,
          via: 'token',
          access: token.access,
          ...(token.databases ? { databases: token.databases } : {}),
        },
      };
    }
    const login = this.trustedIdentity(req);
    if (login !== undefined) return this.forIdentity(login);
    if (this.required) {
      return { ok: false, status: 401, message: 'this server needs a bearer token (Authorization: Bearer <token>)' };
    }
    return { ok: true, principal: { identity: 'anonymous', via: 'none' } };
  }

  /** The identity header's value when it may be trusted: enabled, present, and the peer is on this host. */
  private trustedIdentity(req: IncomingMessage): string | undefined {
    if (!this.options.trustIdentityHeaders) return undefined;
    const raw = req.headers[this.header];
    const value = Array.isArray(raw) ? raw[0] : raw;
    if (value === undefined || value.trim() === '') return undefined;
    if (!isLoopbackPeer(req.socket.remoteAddress)) return undefined;
    return value.trim().slice(0, 320);
  }

  private forIdentity(login: string): AuthResult {
    if (this.identities.length === 0) return { ok: true, principal: { identity: login, via: 'header' } };
    const lower = login.toLowerCase();
    const entry =
      this.identities.find((i) => i.login.toLowerCase() === lower) ?? this.identities.find((i) => i.login === '*');
    if (!entry) return { ok: false, status: 403, message: `identity ${login} is not allowed on this server` };
    return {
      ok: true,
      principal: {
        identity: login,
        via: 'header',
        access: entry.scope,
        ...(entry.databases ? { databases: entry.databases } : {}),
      },
    };
  }

  /** The token whose hash matches; every entry is compared (constant time each) so timing tells nothing. */
  private match(secret: string): (typeof this.tokens)[number] | undefined {
    const presented = createHash('sha256').update(secret, 'utf8').digest();
    let found: (typeof this.tokens)[number] | undefined;
    for (const t of this.tokens) if (timingSafeEqual(presented, t.hash) && !found) found = t;
    return found;
  }
}

/** What `pgmcp token NAME` prints: the secret once, and the entry for the tokens file (hash only). */
export function tokenCommand(name: string, scope: AccessLevel, dbs: readonly string[]): string {
  const check = TokenEntrySchema.shape.name.safeParse(name);
  if (!check.success) throw new Error(`token name ${JSON.stringify(name)}: ${check.error.issues[0]?.message}`);
  const secret = newSecret();
  const entry = [
    `  - name: ${name}`,
    `    sha256: ${hashSecret(secret)}`,
    `    scope: ${scope}`,
    ...(dbs.length > 0 ? [`    databases: [${dbs.map((d) => JSON.stringify(d)).join(', ')}]`] : []),
  ];
  return [
    'secret (shown once, stored nowhere; the client sends "Authorization: Bearer <secret>"):',
    secret,
    '',
    'tokens file entry (under "tokens:" in the file named by PGMCP_HTTP_TOKENS_FILE):',
    ...entry,
    '',
  ].join('\n');
}

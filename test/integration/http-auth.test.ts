/**
 * The gateway's policy pieces on their own (no server): tokens file parsing, bearer and identity-header
 * authentication, Host/Origin rules, the caller's effective access level, and `pgmcp token`.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/resolve.js';
import { Authenticator, hashSecret, parseAccessFile, tokenCommand } from '../../src/http/auth.js';
import { isLoopbackBind, isLoopbackPeer, makeRequestGuard } from '../../src/http/guard.js';
import { effectiveAccess } from '../../src/tools/dispatch.js';

const SECRET = 'pgmcp_test-secret-0123456789abcdefghijklmnopqrstuvw';

function request(headers: Record<string, string>, peer = '127.0.0.1'): IncomingMessage {
  return { headers, socket: { remoteAddress: peer } } as unknown as IncomingMessage;
}

const yaml = (hash = hashSecret(SECRET)) => `
tokens:
  - name: ci
    sha256: ${hash}
    scope: read
    databases: [app]
  - name: deploy
    sha256: ${hashSecret('another-secret-of-enough-length-000000')}
    scope: admin
identities:
  - login: Alice@Example.com
    scope: write
`;

describe('tokens file', () => {
  it('parses YAML and JSON with names, hashes, scopes and databases', () => {
    const parsed = parseAccessFile(yaml(), 'tokens.yaml');
    expect(parsed.tokens).toHaveLength(2);
    expect(parsed.tokens[0]).toMatchObject({ name: 'ci', scope: 'read', databases: ['app'] });
    expect(parsed.identities[0]).toMatchObject({ login: 'Alice@Example.com', scope: 'write' });
    const json = parseAccessFile(
      JSON.stringify({ tokens: [{ name: 'x', sha256: hashSecret('s'), scope: 'write' }] }),
      'tokens.json',
    );
    expect(json.tokens[0]?.name).toBe('x');
    expect(parseAccessFile('', 'empty.yaml')).toEqual({ tokens: [], identities: [] });
  });

  it('the example in deploy/ parses', () => {
    const file = path.resolve(import.meta.dirname, '../../deploy/tokens.example.yaml');
    const parsed = parseAccessFile(readFileSync(file, 'utf8'), file);
    expect(parsed.tokens.map((t) => t.name)).toEqual(['laptop-alice', 'ci-migrations']);
    expect(parsed.identities.map((i) => i.login)).toEqual(['alice@example.com', '*']);
  });

  it('refuses what it does not understand, naming the problem', () => {
    const bad = (text: string) => () => parseAccessFile(text, 'tokens.yaml');
    expect(bad('tokens:\n  - name: ci\n    sha256: abc\n    scope: read\n')).toThrow(/64 hex digits/);
    expect(bad(`tokens:\n  - name: ci\n    sha256: ${hashSecret('a')}\n    scope: root\n`)).toThrow(ConfigError);
    expect(
      bad(`tokens:\n  - name: ci\n    secret: hunter2\n    sha256: ${hashSecret('a')}\n    scope: read\n`),
    ).toThrow(/secret/);
    expect(
      bad(
        `tokens:\n  - {name: ci, sha256: ${hashSecret('a')}, scope: read}\n  - {name: ci, sha256: ${hashSecret('b')}, scope: read}\n`,
      ),
    ).toThrow(/appears twice/);
    expect(
      bad(
        `tokens:\n  - {name: a, sha256: ${hashSecret('a')}, scope: read}\n  - {name: b, sha256: ${hashSecret('a')}, scope: admin}\n`,
      ),
    ).toThrow(/a different secret per token/);
    expect(bad('tokens: [')).toThrow(/valid YAML/);
    expect(bad('users: []')).toThrow(ConfigError);
  });
});

describe('authentication', () => {
  const access = parseAccessFile(yaml(), 'tokens.yaml');
  const auth = new Authenticator({ access, trustIdentityHeaders: true, identityHeader: 'Tailscale-User-Login' });

  it('accepts a bearer token whose SHA-256 is in the file and returns its scope and databases', () => {
    expect(auth.authenticate(request({ authorization: `Bearer ${SECRET}` }))).toEqual({
      ok: true,
      principal: { identity: 'ci', via: 'token', access: 'read', databases: ['app'] },
    });
    expect(auth.authenticate(request({ authorization: `bearer   ${SECRET}` })).ok).toBe(true);
  });

  it('answers 401 for a missing, malformed or unknown token', () => {
    expect(auth.authenticate(request({}))).toMatchObject({ ok: false, status: 401 });
    expect(auth.authenticate(request({ authorization: SECRET }))).toMatchObject({ ok: false, status: 401 });
    expect(auth.authenticate(request({ authorization: `Bearer ${SECRET}x` }))).toMatchObject({
      ok: false,
      status: 401,
      invalidToken: true,
    });
    // The hash itself is not a token.
    expect(auth.authenticate(request({ authorization: `Bearer ${hashSecret(SECRET)}` })).ok).toBe(false);
  });

  it('trusts the identity header only when enabled and only from a loopback peer; maps it to a scope', () => {
    const alice = { 'tailscale-user-login': 'alice@example.com' };
    expect(auth.authenticate(request(alice))).toEqual({
      ok: true,
      principal: { identity: 'alice@example.com', via: 'header', access: 'write' },
    });
    expect(auth.authenticate(request(alice, '::ffff:127.0.0.1')).ok).toBe(true);
    expect(auth.authenticate(request(alice, '::1')).ok).toBe(true);
    // From another host the header is ignored: no credentials → 401.
    expect(auth.authenticate(request(alice, '100.101.102.103'))).toMatchObject({ ok: false, status: 401 });
    // Not in the identities list (and no "*"): 403.
    expect(auth.authenticate(request({ 'tailscale-user-login': 'mallory@example.com' }))).toMatchObject({
      ok: false,
      status: 403,
    });
    // Turned off: ignored.
    const off = new Authenticator({ access, trustIdentityHeaders: false, identityHeader: 'Tailscale-User-Login' });
    expect(off.authenticate(request(alice))).toMatchObject({ ok: false, status: 401 });
    // Without an identities list a trusted identity gets the server's level.
    const open = new Authenticator({ trustIdentityHeaders: true, identityHeader: 'X-Forwarded-User' });
    expect(open.authenticate(request({ 'x-forwarded-user': 'bob' }))).toEqual({
      ok: true,
      principal: { identity: 'bob', via: 'header' },
    });
  });

  it('without a tokens file requests are anonymous at the server level', () => {
    const none = new Authenticator({ trustIdentityHeaders: false, identityHeader: 'Tailscale-User-Login' });
    expect(none.required).toBe(false);
    expect(none.authenticate(request({}))).toEqual({ ok: true, principal: { identity: 'anonymous', via: 'none' } });
    expect(none.authenticate(request({ authorization: 'Bearer whatever' })).ok).toBe(true);
  });
});

describe('Host and Origin rules', () => {
  it('on a loopback bind: loopback names always, configured names, nothing else', () => {
    const g = makeRequestGuard({ bindHost: '127.0.0.1', allowedHosts: ['pi.tail1234.ts.net'], allowedOrigins: [] });
    for (const host of ['127.0.0.1:3000', 'localhost:3000', 'LOCALHOST', '[::1]:3000', 'pi.tail1234.ts.net']) {
      expect(g.check({ host }), host).toBeUndefined();
    }
    for (const host of ['evil.example.com', 'evil.example.com:3000', '127.0.0.1.evil.com', '', 'a b']) {
      expect(g.check({ host }), host).toMatch(/not allowed|missing/);
    }
    expect(g.check({})).toMatch(/missing Host/);
    expect(g.check({ host: 'localhost', origin: 'http://localhost:6274' })).toBeUndefined();
    expect(g.check({ host: 'localhost', origin: 'http://evil.example.com' })).toMatch(/Origin/);
    expect(g.check({ host: 'localhost', origin: 'null' })).toMatch(/Origin/);
  });

  it('on another bind: the bound address and configured names; a wildcard bind without names does not check Host', () => {
    const lan = makeRequestGuard({
      bindHost: '192.0.2.10',
      allowedHosts: [],
      allowedOrigins: ['https://app.example.com'],
    });
    expect(lan.check({ host: '192.0.2.10:3000' })).toBeUndefined();
    expect(lan.check({ host: 'localhost:3000' })).toMatch(/not allowed/);
    expect(lan.check({ host: '192.0.2.10', origin: 'https://app.example.com' })).toBeUndefined();
    expect(lan.check({ host: '192.0.2.10', origin: 'http://localhost:3000' })).toMatch(/Origin/);
    const wild = makeRequestGuard({ bindHost: '0.0.0.0', allowedHosts: [], allowedOrigins: [] });
    expect(wild.checksHost).toBe(false);
    expect(wild.check({ host: 'anything' })).toBeUndefined();
    const named = makeRequestGuard({ bindHost: '0.0.0.0', allowedHosts: ['db-gw.lan'], allowedOrigins: ['*'] });
    expect(named.check({ host: 'db-gw.lan:3000', origin: 'https://x.example' })).toBeUndefined();
    expect(named.check({ host: 'other.lan' })).toMatch(/not allowed/);
  });

  it('knows loopback binds and peers', () => {
    expect(['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]'].every(isLoopbackBind)).toBe(true);
    expect(['0.0.0.0', '::', '192.168.1.2', 'pi.local'].some(isLoopbackBind)).toBe(false);
    expect(['127.0.0.1', '::1', '::ffff:127.0.0.1'].every(isLoopbackPeer)).toBe(true);
    expect(['10.0.0.1', '::ffff:10.0.0.1', undefined].some(isLoopbackPeer)).toBe(false);
  });
});

describe('access level of a call', () => {
  it('is the lower of the server level and the caller scope', () => {
    expect(effectiveAccess('write', { access: 'read' })).toBe('read');
    expect(effectiveAccess('write', { access: 'admin' })).toBe('write');
    expect(effectiveAccess('read', { access: 'admin' })).toBe('read');
    expect(effectiveAccess('admin', {})).toBe('admin');
  });
});

describe('pgmcp token', () => {
  it('prints a fresh secret once and an entry holding only its SHA-256', () => {
    const out = tokenCommand('ci-deploy', 'write', ['app', 'reports']);
    const secret = /^(pgmcp_[A-Za-z0-9_-]{43})$/m.exec(out)?.[1] as string;
    expect(secret).toBeTruthy();
    const hash = createHash('sha256').update(secret).digest('hex');
    const entry = out.slice(out.indexOf('  - name:'));
    expect(entry).toContain(`sha256: ${hash}`);
    expect(entry).not.toContain(secret);
    const parsed = parseAccessFile(`tokens:\n${entry}`, 'tokens.yaml');
    expect(parsed.tokens[0]).toMatchObject({ name: 'ci-deploy', scope: 'write', databases: ['app', 'reports'] });
    expect(tokenCommand('ci-deploy', 'write', [])).not.toContain(secret);
    expect(() => tokenCommand('bad name', 'read', [])).toThrow(/token name/);
  });
});

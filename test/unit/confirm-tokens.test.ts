import { describe, expect, it } from 'vitest';
import { canonicalArguments, canonicalJson } from '../../src/safety/canonical.js';
import { ConfirmationTokens, formatDuration, type TokenBinding } from '../../src/safety/tokens.js';
import { ToolError } from '../../src/tools/errors.js';

const TTL = 120_000;

function tokens(start = 1_700_000_000_000) {
  const clock = { now: start };
  const t = new ConfirmationTokens({ ttlMs: TTL, now: () => clock.now });
  return { t, clock };
}

const binding: TokenBinding = {
  tool: 'pg_execute',
  args: { sql: 'drop table orders', database: 'shop', params: [1, { b: 2, a: 1 }] },
  caller: { sessionId: 'session-1', identity: 'alice' },
};

/** The ToolError code `fn` throws (fails when it does not throw a ToolError). */
function codeOf(fn: () => void): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ToolError);
    return (err as ToolError).info.code;
  }
  throw new Error('expected a ToolError');
}

function errorOf(fn: () => void): ToolError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ToolError) return err;
    throw err;
  }
  throw new Error('expected a ToolError');
}

describe('ConfirmationTokens', () => {
  it('issues a compact base64url token with its expiry', () => {
    const { t, clock } = tokens();
    const issued = t.issue(binding);
    expect(issued.token).toMatch(/^[A-Za-z0-9_-]{76}$/);
    expect(issued.expiresAt).toBe(new Date(clock.now + TTL).toISOString());
    expect(issued.ttlMs).toBe(TTL);
    expect(t.issue(binding).token).not.toBe(issued.token); // a fresh nonce each time
  });

  it('redeems a valid token once; a replay is token_used', () => {
    const { t } = tokens();
    const { token } = t.issue(binding);
    expect(() => t.redeem(token, binding)).not.toThrow();
    const replay = errorOf(() => t.redeem(token, binding));
    expect(replay.info.code).toBe('token_used');
    expect(replay.message).toMatch(/already used/);
    expect(replay.info.hint).toMatch(/without confirm_token/);
  });

  it('refuses other arguments, another tool, another session or identity as token_mismatch, without saying which', () => {
    const { t } = tokens();
    const cases: TokenBinding[] = [
      { ...binding, args: { ...binding.args, sql: 'drop table customers' } },
      { ...binding, args: { ...binding.args, database: 'other' } },
      { ...binding, args: { sql: binding.args.sql } }, // an argument left out
      { ...binding, args: { ...binding.args, params: [1, { a: 1, b: 3 }] } }, // deep inside
      { ...binding, tool: 'pg_admin' },
      { ...binding, caller: { ...binding.caller, sessionId: 'session-2' } },
      { ...binding, caller: { ...binding.caller, identity: 'mallory' } },
    ];
    const messages = new Set<string>();
    for (const other of cases) {
      const { token } = t.issue(binding);
      const err = errorOf(() => t.redeem(token, other));
      expect(err.info.code).toBe('token_mismatch');
      messages.add(err.message);
      // a failed attempt does not use the token up
      expect(() => t.redeem(token, binding)).not.toThrow();
    }
    expect([...messages]).toEqual([
      'this token was issued for a different call: ask again without confirm_token to get a new one',
    ]);
  });

  it('binds canonical arguments: key order does not matter, confirm_token and dry_run are not bound', () => {
    const { t } = tokens();
    const { token } = t.issue({ ...binding, args: { ...binding.args, dry_run: true } });
    const reordered: TokenBinding = {
      ...binding,
      args: { params: [1, { a: 1, b: 2 }], database: 'shop', sql: 'drop table orders', confirm_token: token },
    };
    expect(() => t.redeem(token, reordered)).not.toThrow();
    // array order does matter
    const second = t.issue(binding).token;
    expect(codeOf(() => t.redeem(second, { ...binding, args: { ...binding.args, params: [{ b: 2, a: 1 }, 1] } }))).toBe(
      'token_mismatch',
    );
  });

  it('refuses an expired token as token_expired, saying when and the TTL', () => {
    const { t, clock } = tokens();
    const issued = t.issue(binding);
    clock.now += TTL - 1;
    const almost = t.issue(binding);
    expect(() => t.redeem(issued.token, binding)).not.toThrow(); // 1 ms before expiry: valid
    clock.now += 1;
    const late = t.issue(binding);
    clock.now += TTL + 30_000;
    const err = errorOf(() => t.redeem(late.token, binding));
    expect(err.info.code).toBe('token_expired');
    expect(err.message).toContain(late.expiresAt);
    expect(err.message).toMatch(/30 s ago/);
    expect(err.message).toMatch(/valid for 2 min/);
    expect(codeOf(() => t.redeem(almost.token, binding))).toBe('token_expired');
  });

  it('checks the binding before the expiry: an expired token for another call is a mismatch', () => {
    const { t, clock } = tokens();
    const { token } = t.issue(binding);
    clock.now += TTL * 2;
    expect(codeOf(() => t.redeem(token, { ...binding, tool: 'other' }))).toBe('token_mismatch');
  });

  it('refuses garbage as token_invalid', () => {
    const { t } = tokens();
    const good = t.issue(binding).token;
    const bad = [
      '',
      'yes',
      'not a token at all',
      good.slice(0, -1), // one character short
      `${good}A`, // one too many
      `${good.slice(0, -1)}!`, // not base64url
      `B${good.slice(1)}`, // unknown version byte
      'x'.repeat(100_000),
    ];
    for (const token of bad)
      expect(
        codeOf(() => t.redeem(token, binding)),
        token.slice(0, 20),
      ).toBe('token_invalid');
    expect(codeOf(() => t.redeem(undefined as unknown as string, binding))).toBe('token_invalid');
  });

  it('refuses a token whose body was tampered with as a mismatch (the MAC covers nonce and expiry)', () => {
    const { t } = tokens();
    const { token } = t.issue(binding);
    const raw = Buffer.from(token, 'base64url');
    for (const byte of [5, 20, 40]) {
      const forged = Buffer.from(raw);
      forged[byte] = (forged[byte] ?? 0) ^ 1;
      expect(codeOf(() => t.redeem(forged.toString('base64url'), binding))).toBe('token_mismatch');
    }
  });

  it('does not accept tokens of another server process (another key)', () => {
    const a = tokens().t;
    const b = tokens().t;
    expect(codeOf(() => b.redeem(a.issue(binding).token, binding))).toBe('token_mismatch');
  });

  it('forgets used nonces once their tokens have expired', () => {
    const { t, clock } = tokens();
    for (let i = 0; i < 50; i++) t.redeem(t.issue(binding).token, binding);
    expect(t.remembered).toBe(50);
    clock.now += TTL / 2;
    const later = t.issue(binding).token;
    t.redeem(later, binding);
    expect(t.remembered).toBe(51);
    clock.now += TTL / 2; // the first 50 expire now
    t.issue(binding);
    expect(t.remembered).toBe(1);
    expect(codeOf(() => t.redeem(later, binding))).toBe('token_used'); // the one still valid is still remembered
    clock.now += TTL;
    t.issue(binding);
    expect(t.remembered).toBe(0);
    // issuing alone keeps nothing
    for (let i = 0; i < 1000; i++) t.issue(binding);
    expect(t.remembered).toBe(0);
  });

  it('needs a positive TTL', () => {
    expect(() => new ConfirmationTokens({ ttlMs: 0 })).toThrow(RangeError);
  });
});

describe('canonical arguments', () => {
  it('sorts keys recursively and follows JSON otherwise', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: null }], c: 'x' } })).toBe(
      '{"a":{"c":"x","d":[3,{"y":null,"z":1}]},"b":1}',
    );
    expect(canonicalJson({ a: undefined, b: [undefined, Number.NaN], c: new Date(0) })).toBe(
      '{"b":[null,null],"c":"1970-01-01T00:00:00.000Z"}',
    );
    expect(canonicalJson('it\'s "quoted"\n')).toBe(JSON.stringify('it\'s "quoted"\n'));
    expect(canonicalJson(undefined)).toBe('null');
  });

  it('leaves out confirm_token and dry_run at the top level only', () => {
    expect(canonicalArguments({ sql: 'x', confirm_token: 't', dry_run: false })).toBe('{"sql":"x"}');
    expect(canonicalArguments({ nested: { dry_run: true } })).toBe('{"nested":{"dry_run":true}}');
  });

  it('keeps strings distinct from numbers', () => {
    expect(canonicalArguments({ a: 1 })).not.toBe(canonicalArguments({ a: '1' }));
  });
});

describe('formatDuration', () => {
  it('reads as people say it', () => {
    expect(formatDuration(300)).toBe('300 ms');
    expect(formatDuration(1500)).toBe('1.5 s');
    expect(formatDuration(90_000)).toBe('90 s');
    expect(formatDuration(120_000)).toBe('2 min');
    expect(formatDuration(3_600_000)).toBe('1 h');
  });
});

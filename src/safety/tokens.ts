import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ToolError } from '../tools/errors.js';
import { canonicalArguments } from './canonical.js';

/** What a confirmation token is bound to: one tool, its arguments, one caller. */
export interface TokenBinding {
  tool: string;
  /** The call's arguments; `confirm_token` and `dry_run` are ignored, key order does not matter. */
  args: Record<string, unknown>;
  caller: { sessionId: string; identity: string };
}

export interface IssuedToken {
  token: string;
  /** ISO 8601, UTC. */
  expiresAt: string;
  /** How long tokens of this server stay valid. */
  ttlMs: number;
}

export interface TokenOptions {
  /** How long a token stays valid (config `limits.confirmTokenTtlMs`). */
  ttlMs: number;
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
}

// Token layout, base64url without padding (57 bytes → 76 characters):
//   version (1) | nonce (16) | expiry, ms since epoch, big-endian (8) | HMAC-SHA256 (32)
const VERSION = 1;
const NONCE_BYTES = 16;
const EXPIRY_BYTES = 8;
const MAC_BYTES = 32;
const HEAD_BYTES = 1 + NONCE_BYTES + EXPIRY_BYTES;
const TOKEN_BYTES = HEAD_BYTES + MAC_BYTES;
const TOKEN_CHARS = Math.ceil((TOKEN_BYTES * 4) / 3);
const TOKEN_SHAPE = new RegExp(`^[A-Za-z0-9_-]{${TOKEN_CHARS}}$`);
const DOMAIN = 'pgmcp confirmation token v1';
/** Used nonces whose expiry has passed are swept at most this often (a stale one is harmless: it is expired). */
const SWEEP_EVERY_MS = 1000;

const ASK_AGAIN = 'call the tool again with the same arguments and without confirm_token to get a new token';

/** "2 min", "90 s", "300 ms": a duration as people read it. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000 || ms % 60_000 !== 0) {
    const s = ms / 1000;
    return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
  }
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  return `${ms / 60_000} min`;
}

/**
 * Short-lived, single-use confirmation tokens. A token is an HMAC-SHA256 (under a random key made when the process
 * starts) over the tool, the canonical arguments, the caller (identity and session), its expiry and a random nonce.
 * Nothing is stored when a token is issued; a redeemed token's nonce is kept until the token expires, so that it
 * cannot be used twice. Tokens do not survive a restart of the server (the key is gone): a token from before a
 * restart is refused as not matching, and the caller asks for a new one.
 */
export class ConfirmationTokens {
  readonly ttlMs: number;
  readonly #key = randomBytes(32);
  readonly #now: () => number;
  /** Redeemed nonces (hex) → their token's expiry. */
  readonly #used = new Map<string, number>();
  #nextSweep = Number.POSITIVE_INFINITY;

  constructor(options: TokenOptions) {
    if (!(options.ttlMs > 0)) throw new RangeError('confirmation token TTL must be positive');
    this.ttlMs = options.ttlMs;
    this.#now = options.now ?? Date.now;
  }

  /** A new token for exactly this call. */
  issue(binding: TokenBinding): IssuedToken {
    const now = this.#now();
    this.#sweep(now);
    const expiry = now + this.ttlMs;
    const head = Buffer.alloc(HEAD_BYTES);
    head.writeUInt8(VERSION, 0);
    randomBytes(NONCE_BYTES).copy(head, 1);
    head.writeBigUInt64BE(BigInt(expiry), 1 + NONCE_BYTES);
    const token = Buffer.concat([head, this.#mac(head, binding)]).toString('base64url');
    return { token, expiresAt: new Date(expiry).toISOString(), ttlMs: this.ttlMs };
  }

  /**
   * Accepts a token once for the call it was issued for, or throws a ToolError: `token_invalid` (not a token),
   * `token_mismatch` (issued for another tool, other arguments or another caller, or before a restart),
   * `token_expired`, `token_used`; checked in that order.
   */
  redeem(token: string, binding: TokenBinding): void {
    const now = this.#now();
    this.#sweep(now);
    const raw = typeof token === 'string' && TOKEN_SHAPE.test(token) ? Buffer.from(token, 'base64url') : undefined;
    if (!raw || raw.length !== TOKEN_BYTES || raw.readUInt8(0) !== VERSION) {
      throw new ToolError('confirm_token is not a confirmation token: pass it exactly as pgmcp returned it', {
        code: 'token_invalid',
        hint: ASK_AGAIN,
      });
    }
    const head = raw.subarray(0, HEAD_BYTES);
    if (!timingSafeEqual(raw.subarray(HEAD_BYTES), this.#mac(head, binding))) {
      throw new ToolError(
        'this token was issued for a different call: ask again without confirm_token to get a new one',
        {
          code: 'token_mismatch',
          hint: `a token confirms only the exact call it was issued for (same tool, same arguments, same session and user), and only while this server runs; ${ASK_AGAIN}`,
        },
      );
    }
    const expiry = Number(head.readBigUInt64BE(1 + NONCE_BYTES));
    if (now >= expiry) {
      throw new ToolError(
        `this confirmation token expired at ${new Date(expiry).toISOString()}, ${formatDuration(now - expiry)} ago (tokens are valid for ${formatDuration(this.ttlMs)}); nothing was run`,
        { code: 'token_expired', hint: ASK_AGAIN },
      );
    }
    const nonce = head.subarray(1, 1 + NONCE_BYTES).toString('hex');
    if (this.#used.has(nonce)) {
      throw new ToolError('this confirmation token was already used: a token confirms one call only; nothing was run', {
        code: 'token_used',
        hint: `to run it again, ${ASK_AGAIN}`,
      });
    }
    this.#used.set(nonce, expiry);
    if (expiry < this.#nextSweep) this.#nextSweep = expiry;
  }

  /** How many redeemed nonces are remembered (they are forgotten once their token has expired). */
  get remembered(): number {
    return this.#used.size;
  }

  #mac(head: Buffer, binding: TokenBinding): Buffer {
    const bound = JSON.stringify([
      DOMAIN,
      binding.tool,
      binding.caller.identity,
      binding.caller.sessionId,
      canonicalArguments(binding.args),
    ]);
    return createHmac('sha256', this.#key).update(head).update(bound, 'utf8').digest();
  }

  /** Forgets used nonces whose tokens have expired: at most once per SWEEP_EVERY_MS, and only when one has. */
  #sweep(now: number): void {
    if (now < this.#nextSweep) return;
    let earliest = Number.POSITIVE_INFINITY;
    for (const [nonce, expiry] of this.#used) {
      if (expiry <= now) this.#used.delete(nonce);
      else if (expiry < earliest) earliest = expiry;
    }
    this.#nextSweep = earliest === Number.POSITIVE_INFINITY ? earliest : Math.max(earliest, now + SWEEP_EVERY_MS);
  }
}

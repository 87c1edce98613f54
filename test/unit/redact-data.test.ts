import { describe, expect, it } from 'vitest';
import { makeRedactor, redactData } from '../../src/safety/redact.js';

describe('redactData', () => {
  const secret = 'p"a\\ss-wörd';
  const redact = makeRedactor([secret]);

  it('removes a secret from every string, keys included, also one JSON would escape', () => {
    const data = {
      database: 'db',
      rows: [{ a: 1, b: `x${secret}y` }, { [secret]: true }, { c: null, d: [secret, 2, { e: secret }] }],
      note: `postgres://user:${secret}@host/db`,
    };
    const clean = redactData(data, redact);
    const text = JSON.stringify(clean);
    expect(text).not.toContain('wörd');
    expect(clean).toEqual({
      database: 'db',
      rows: [{ a: 1, b: 'x****y' }, { '****': true }, { c: null, d: ['****', 2, { e: '****' }] }],
      note: 'postgres://user:****@host/db',
    });
    // The input is left as it was.
    expect(data.rows[0]?.b).toBe(`x${secret}y`);
  });

  it('returns the same objects where there was nothing to remove, and keeps key order', () => {
    const untouched = { x: [1, 'two', { three: 3 }] };
    const data = { first: untouched, second: `has ${secret}`, third: 3 };
    const clean = redactData(data, redact) as typeof data;
    expect(clean).not.toBe(data);
    expect(clean.first).toBe(untouched);
    expect(Object.keys(clean)).toEqual(['first', 'second', 'third']);
    const plain = { rows: [{ a: 1 }], columns: [{ name: 'a', type: 'int4' }] };
    expect(redactData(plain, redact)).toBe(plain);
  });

  it('leaves values alone that only look like a URL with a password when read across two of them', () => {
    // Redacting the JSON text turned this row into { a: 'http://host:****@x' }: column b was gone.
    const row = { a: 'http://host:8008', b: 'user@x' };
    expect(redactData(row, redact)).toBe(row);
    expect(redactData({ u: 'postgres://me:pw@db/x' }, redact)).toEqual({ u: 'postgres://me:****@db/x' });
  });

  it('works with a plain text redactor too (every string looked at)', () => {
    const hide = (t: string) => t.replaceAll('hide', '****');
    expect(redactData({ a: ['hide me', 1], b: 'keep' }, hide)).toEqual({ a: ['**** me', 1], b: 'keep' });
  });

  it('keeps a column named __proto__ as a column', () => {
    const row = JSON.parse(`{"__proto__": "${'x'}", "v": "${secret.replace(/["\\]/g, (c) => `\\${c}`)}"}`);
    const clean = redactData(row, redact) as Record<string, unknown>;
    expect(Object.keys(clean)).toEqual(['__proto__', 'v']);
    expect(Object.getPrototypeOf(clean)).toBe(Object.prototype);
    expect(JSON.parse(JSON.stringify(clean))).toEqual(JSON.parse('{"__proto__": "x", "v": "****"}'));
  });
});

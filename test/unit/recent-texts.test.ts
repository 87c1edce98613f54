import { describe, expect, it } from 'vitest';
import { RecentTexts } from '../../src/sql/recent-texts.js';

describe('RecentTexts', () => {
  it('computes a text once and answers from memory afterwards', () => {
    const cache = new RecentTexts<string>(4, 100);
    let calls = 0;
    const upper = (t: string) => {
      calls++;
      return t.toUpperCase();
    };
    expect(cache.get('select 1', upper)).toBe('SELECT 1');
    expect(cache.get('select 1', upper)).toBe('SELECT 1');
    expect(calls).toBe(1);
  });

  it('forgets the least recently used text when full', () => {
    const cache = new RecentTexts<number>(2, 100);
    let calls = 0;
    const len = (t: string) => {
      calls++;
      return t.length;
    };
    cache.get('a', len);
    cache.get('bb', len);
    cache.get('a', len); // 'a' is now the most recent
    cache.get('ccc', len); // evicts 'bb'
    expect(calls).toBe(3);
    cache.get('a', len);
    expect(calls).toBe(3);
    cache.get('bb', len);
    expect(calls).toBe(4);
  });

  it('keeps nothing when the computation throws, and does not keep long texts', () => {
    const cache = new RecentTexts<number>(4, 5);
    let calls = 0;
    const refuse = () => {
      calls++;
      throw new Error('refused');
    };
    expect(() => cache.get('bad', refuse)).toThrow('refused');
    expect(() => cache.get('bad', refuse)).toThrow('refused');
    expect(calls).toBe(2);
    const len = (t: string) => {
      calls++;
      return t.length;
    };
    cache.get('longer than five', len);
    cache.get('longer than five', len);
    expect(calls).toBe(4);
  });
});

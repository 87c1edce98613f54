import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { readCallRequest } from '../../src/tools/call-request.js';

describe('readCallRequest', () => {
  it('reads the name, the arguments (empty when absent) and the progress token', () => {
    expect(readCallRequest({ name: 'pg_query', arguments: { sql: 'select 1' } })).toEqual({
      name: 'pg_query',
      arguments: { sql: 'select 1' },
    });
    expect(readCallRequest({ name: 'pg_query' })).toEqual({ name: 'pg_query', arguments: {} });
    expect(readCallRequest({ name: 't', _meta: { progressToken: 'p1', other: 1 } }).progressToken).toBe('p1');
    expect(readCallRequest({ name: 't', _meta: { progressToken: 7 } }).progressToken).toBe(7);
    expect(readCallRequest({ name: 't', task: { ttl: 1 }, extension: true }).name).toBe('t');
  });

  it('refuses what the protocol does not allow, as invalid params naming the field', () => {
    const cases: [unknown, RegExp][] = [
      [undefined, /params must be an object/],
      [[], /params must be an object/],
      [{}, /params.name must be a string/],
      [{ name: 5 }, /params.name must be a string/],
      [{ name: 't', arguments: 'x' }, /params.arguments must be an object/],
      [{ name: 't', arguments: [1] }, /params.arguments must be an object/],
      [{ name: 't', _meta: 1 }, /params._meta must be an object/],
      [{ name: 't', _meta: { progressToken: 1.5 } }, /progressToken must be a string or an integer/],
      [{ name: 't', _meta: { progressToken: {} } }, /progressToken must be a string or an integer/],
    ];
    for (const [params, message] of cases) {
      let caught: unknown;
      try {
        readCallRequest(params);
      } catch (err) {
        caught = err;
      }
      expect(caught, JSON.stringify(params)).toBeInstanceOf(McpError);
      expect((caught as McpError).code).toBe(ErrorCode.InvalidParams);
      expect((caught as McpError).message).toMatch(message);
    }
  });
});

import { PassThrough } from 'node:stream';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { MAX_LINE_BYTES, readLine, StdioTransport } from '../../src/commands/stdio-transport.js';

describe('readLine', () => {
  it('accepts requests, notifications and responses', () => {
    for (const m of [
      { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      { jsonrpc: '2.0', id: 'a', method: 'tools/call', params: { name: 'x' } },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 3, result: {} },
      { jsonrpc: '2.0', id: 4, error: { code: 1, message: 'm' } },
    ]) {
      expect(readLine(JSON.stringify(m))).toEqual({ message: m });
    }
  });

  it('answers what is not JSON or not JSON-RPC with the JSON-RPC error, keeping a usable id', () => {
    const cases: [string, number, string | number | null, RegExp][] = [
      ['garbage', -32700, null, /^Parse error/],
      ['[1,2]', -32600, null, /JSON object/],
      ['{"id":7,"method":"x"}', -32600, 7, /jsonrpc must be "2.0"/],
      ['{"jsonrpc":"2.0","id":8,"method":5}', -32600, 8, /method must be a string/],
      ['{"jsonrpc":"2.0","id":{"a":1},"method":"x"}', -32600, null, /id must be/],
      ['{"jsonrpc":"2.0","id":1.5,"method":"x"}', -32600, null, /id must be/],
      ['{"jsonrpc":"2.0","id":9,"method":"x","params":[1]}', -32600, 9, /params must be an object/],
      ['{"jsonrpc":"2.0","id":10}', -32600, 10, /neither a request/],
      ['{"jsonrpc":"2.0","id":11,"method":"x","extra":1}', -32600, 11, /unknown member "extra"/],
      ['{"jsonrpc":"2.0","method":"n","result":{}}', -32600, null, /unknown member "result"/],
    ];
    for (const [line, code, id, message] of cases) {
      const v = readLine(line);
      expect('reply' in v, line).toBe(true);
      if (!('reply' in v)) continue;
      expect(v.reply.id, line).toBe(id);
      expect(v.reply.error.code, line).toBe(code);
      expect(v.reply.error.message, line).toMatch(message);
    }
  });
});

function harness() {
  const input = new PassThrough();
  const output = new PassThrough();
  const transport = new StdioTransport(input, output);
  const received: JSONRPCMessage[] = [];
  const errors: string[] = [];
  const written: string[] = [];
  transport.onmessage = (m) => received.push(m);
  transport.onerror = (e) => errors.push(e.message);
  output.on('data', (d: Buffer) => written.push(...d.toString().split('\n').filter(Boolean)));
  return { input, output, transport, received, errors, written };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('StdioTransport', () => {
  it('reads lines split across chunks, several per chunk, with CRLF endings, and skips blank lines', async () => {
    const h = harness();
    await h.transport.start();
    h.input.write('{"jsonrpc":"2.0","id":1,"me');
    h.input.write('thod":"a"}\r\n\n{"jsonrpc":"2.0","method":"b"}\n{"jsonrpc":"2.0",');
    h.input.write('"id":2,"method":"c"}\n');
    await tick();
    expect(h.received.map((m) => (m as { method: string }).method)).toEqual(['a', 'b', 'c']);
    expect(h.errors).toEqual([]);
  });

  it('answers a malformed line and goes on with the next one', async () => {
    const h = harness();
    await h.transport.start();
    h.input.write('not json\n{"jsonrpc":"2.0","id":5,"method":"ok"}\n');
    await tick();
    expect(h.received).toHaveLength(1);
    expect(JSON.parse(h.written[0] as string)).toMatchObject({ id: null, error: { code: -32700 } });
    expect(h.errors[0]).toMatch(/Parse error/);
  });

  it('discards a line over the size cap without losing the lines after it', async () => {
    const h = harness();
    await h.transport.start();
    const chunk = Buffer.alloc(1024 * 1024, 'x');
    for (let sent = 0; sent <= MAX_LINE_BYTES; sent += chunk.length) h.input.write(chunk);
    h.input.write('\n{"jsonrpc":"2.0","id":1,"method":"after"}\n');
    await tick();
    expect(h.errors.some((e) => /longer than/.test(e))).toBe(true);
    expect(h.received.map((m) => (m as { method: string }).method)).toEqual(['after']);
  });

  it('writes one line per message and knows when every request received has been answered', async () => {
    const h = harness();
    await h.transport.start();
    h.input.write('{"jsonrpc":"2.0","id":1,"method":"a"}\n{"jsonrpc":"2.0","id":"two","method":"b"}\n');
    h.input.write('{"jsonrpc":"2.0","method":"note"}\n');
    await tick();
    let all: boolean | undefined;
    void h.transport.answered(5000).then((v) => {
      all = v;
    });
    await h.transport.send({ jsonrpc: '2.0', id: 1, result: {} });
    await tick();
    expect(all).toBeUndefined();
    await h.transport.send({ jsonrpc: '2.0', id: 'two', result: {} });
    await tick();
    expect(all).toBe(true);
    expect(h.written.map((l) => JSON.parse(l).id)).toEqual([1, 'two']);
    expect(await h.transport.answered(10)).toBe(true);
  });

  it('stops reading when closed and says so once', async () => {
    const h = harness();
    let closed = 0;
    h.transport.onclose = () => closed++;
    await h.transport.start();
    await expect(h.transport.start()).rejects.toThrow(/already started/);
    await h.transport.close();
    await h.transport.close();
    h.input.write('{"jsonrpc":"2.0","id":1,"method":"late"}\n');
    await tick();
    expect(h.received).toEqual([]);
    expect(closed).toBe(1);
  });
});

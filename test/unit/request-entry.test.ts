import { PassThrough } from 'node:stream';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { describe, expect, it } from 'vitest';
import { protocolRequestEntry } from '../../src/commands/request-entry.js';
import { StdioTransport } from '../../src/commands/stdio-transport.js';

const lines = (output: PassThrough) => {
  const got: Record<string, unknown>[] = [];
  output.on('data', (d: Buffer) => {
    for (const l of d.toString().split('\n').filter(Boolean)) got.push(JSON.parse(l));
  });
  return got;
};

const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
};

describe('protocolRequestEntry', () => {
  it("finds the installed SDK's request entry (else requests take the slower way through onmessage)", () => {
    const server = new Server({ name: 't', version: '0' }, { capabilities: {} });
    expect(protocolRequestEntry(server)).toBeTypeOf('function');
    expect(protocolRequestEntry({})).toBeUndefined();
  });

  it('serves requests handed over directly: handlers, answers, errors and cancellation as through onmessage', async () => {
    const server = new Server({ name: 't', version: '0' }, { capabilities: { tools: {} } });
    const aborted: string[] = [];
    let viaOnmessage = 0;
    server.fallbackRequestHandler = async (request, extra) => {
      if (request.method === 'slow') {
        await new Promise<void>((resolve) =>
          extra.signal.addEventListener('abort', () => {
            aborted.push(String(extra.signal.reason));
            resolve();
          }),
        );
        return {};
      }
      if (request.method === 'echo') return { echoed: request.params };
      throw new Error(`no ${request.method}`);
    };
    const input = new PassThrough();
    const output = new PassThrough();
    const transport = new StdioTransport(input, output);
    const got = lines(output);
    await server.connect(transport);
    const onmessage = transport.onmessage;
    transport.onmessage = (m) => {
      viaOnmessage++;
      onmessage?.(m);
    };
    transport.requestEntry = protocolRequestEntry(server);

    input.write('{"jsonrpc":"2.0","id":1,"method":"ping"}\n');
    input.write('{"jsonrpc":"2.0","id":2,"method":"echo","params":{"a":1}}\n');
    input.write('{"jsonrpc":"2.0","id":3,"method":"nope"}\n');
    input.write('{"jsonrpc":"2.0","id":4,"method":"slow"}\n');
    await until(() => got.length === 3);
    expect(got).toEqual([
      { jsonrpc: '2.0', id: 1, result: {} },
      { jsonrpc: '2.0', id: 2, result: { echoed: { a: 1 } } },
      expect.objectContaining({ id: 3, error: expect.objectContaining({ message: 'no nope' }) }),
    ]);
    expect(viaOnmessage).toBe(0);
    // A notification still goes through onmessage, and cancels the request taken in directly.
    input.write('{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":4,"reason":"stop"}}\n');
    await until(() => aborted.length === 1);
    expect(aborted).toEqual(['stop']);
    expect(viaOnmessage).toBe(1);
    await new Promise((r) => setTimeout(r, 20));
    expect(got).toHaveLength(3);
    await server.close();
  });
});

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeFetchError, PatroniClient, PatroniError } from '../../src/cluster/patroni.js';

/** An HTTP endpoint that takes requests and never answers them: a Patroni busy with a long switchover. */
let server: Server;
let url: string;
const held: { destroy(): void }[] = [];

beforeAll(async () => {
  server = createServer((req) => held.push(req.socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const s of held) s.destroy();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('Patroni requests and a cancelled call', () => {
  it('a request in flight ends when the call is cancelled, not at its own timeout', async () => {
    const controller = new AbortController();
    const client = new PatroniClient({ urls: [url], timeoutMs: 10_000, signal: controller.signal });
    const started = performance.now();
    const pending = client.requestAt(url, 'GET', '/cluster');
    setTimeout(() => controller.abort(), 50);
    const err = await pending.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(performance.now() - started).toBeLessThan(2000);
    expect(describeFetchError(err)).toBe('cancelled');
  });

  it('a write that is cancelled says so and is not retried on the next member', async () => {
    const controller = new AbortController();
    const client = new PatroniClient({ urls: [url, url], timeoutMs: 10_000, signal: controller.signal, user: 'u' });
    const before = held.length;
    const pending = client.writeAny('POST', '/switchover', { leader: 'a' });
    setTimeout(() => controller.abort(), 50);
    const err = await pending.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PatroniError);
    expect((err as Error).message).toMatch(/POST \/switchover at .*: cancelled/);
    expect(held.length - before).toBe(1);
  });

  it('without a cancellation the request still ends at its own timeout', async () => {
    const client = new PatroniClient({ urls: [url], timeoutMs: 100 });
    const err = await client.requestAt(url, 'GET', '/cluster').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(describeFetchError(err)).toBe('timed out');
  });
});

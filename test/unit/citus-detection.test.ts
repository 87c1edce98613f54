import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/resolve.js';
import { createLogger } from '../../src/log.js';
import { CitusDetection, followTools } from '../../src/tools/citus-detection.js';
import type { Components } from '../../src/tools/registry.js';

const log = createLogger('silent');

function detection(): { components: Components; citus: CitusDetection } {
  const components = { citus: false };
  return { components, citus: new CitusDetection(components, log) };
}

describe('Citus detection', () => {
  it('is settled at once when no check was started', async () => {
    const { citus } = detection();
    const t0 = performance.now();
    await citus.settled(5000);
    expect(performance.now() - t0).toBeLessThan(50);
    expect(citus.state).toBe('unknown');
  });

  it('waits for a running check, but never longer than the cap; a late answer still counts and is announced', async () => {
    const { components, citus } = detection();
    let answer: (v: string | null) => void = () => undefined;
    citus.start(() => new Promise((resolve) => (answer = resolve)));
    let changes = 0;
    citus.onChange(() => changes++);
    const t0 = performance.now();
    await citus.settled(100);
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(90);
    expect(waited).toBeLessThan(1000);
    expect(components.citus).toBe(false);
    answer('13.2-1');
    await citus.settled(100);
    expect(components.citus).toBe(true);
    expect(citus.state).toBe('installed');
    expect(citus.version).toBe('13.2-1');
    expect(changes).toBe(1);
  });

  it('a failed check leaves Citus undetected and settles at once', async () => {
    const { components, citus } = detection();
    citus.start(() => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:1')));
    await citus.settled(5000);
    expect(components.citus).toBe(false);
    expect(citus.state).toBe('unknown');
  });

  it('record() announces only a change of presence', () => {
    const { citus } = detection();
    let changes = 0;
    const off = citus.onChange(() => changes++);
    citus.record(null);
    expect(citus.state).toBe('absent');
    citus.record('13.2-1');
    citus.record('13.2-1');
    citus.record(null);
    expect(changes).toBe(2);
    off();
    citus.record('13.2-1');
    expect(changes).toBe(2);
  });
});

describe('followTools', () => {
  it('gives the configured tools and again only when detection changes them', () => {
    const { config } = resolveConfig({ env: { PGMCP_TOOLSETS: 'core,citus,cluster' } });
    const { components, citus } = detection();
    const seen: string[][] = [];
    const off = followTools({ config, components, citus }, undefined, (defs) => seen.push(defs.map((d) => d.name)));
    expect(seen).toEqual([['pg_query', 'pg_schema', 'pg_tx']]);
    citus.record(null);
    expect(seen).toHaveLength(1);
    citus.record('13.2-1');
    expect(seen).toHaveLength(2);
    expect(seen[1]).toEqual(expect.arrayContaining(['pg_query', 'pg_cluster']));
    off();
    citus.record(null);
    expect(seen).toHaveLength(2);
  });

  it('fixed tools never change', () => {
    const { config } = resolveConfig({ env: {} });
    const { components, citus } = detection();
    const seen: number[] = [];
    followTools({ config, components, citus }, [], (defs) => seen.push(defs.length));
    citus.record('13.2-1');
    expect(seen).toEqual([0]);
  });
});

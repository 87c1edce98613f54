/**
 * The harness sweeps test clusters left by killed runs: only directories named as test clusters, whose owner process is
 * gone, and only processes whose command line names the directory. Real processes stand in for a cluster's programs.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type ClusterInfo,
  isOurs,
  type ProcessIdentity,
  processIdentity,
  staleReason,
  sweepStaleClusters,
  waitFor,
} from '../../scripts/cluster/harness.js';

const parent = mkdtempSync('/tmp/pgmcp-sweep-');
const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(parent, { recursive: true, force: true });
});

/** A test cluster directory whose "etcd" is a real process naming the directory on its command line. */
function fakeCluster(
  name: string,
  owner: ProcessIdentity | null | undefined,
  startedAt = new Date(),
): {
  dir: string;
  child: ChildProcess;
} {
  const dir = path.join(parent, name);
  mkdirSync(dir);
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', dir], { stdio: 'ignore' });
  children.push(child);
  const info = {
    dir,
    scope: 'pgmcp',
    startedAt: startedAt.toISOString(),
    owner,
    etcd: { url: '', pid: child.pid },
    haproxy: { pid: 0 },
    pgbouncer: { pid: 0 },
    patroni: { nodes: [] },
  } as unknown as ClusterInfo;
  if (owner === undefined) delete (info as { owner?: unknown }).owner;
  writeFileSync(path.join(dir, 'cluster.json'), JSON.stringify(info));
  return { dir, child };
}

describe('sweeping stale test clusters', () => {
  it('stops and removes a cluster whose owner is gone; leaves running, persistent and foreign ones alone', async () => {
    const gone = { pid: process.pid, startTicks: 'another process once had this pid' };
    const stale = fakeCluster('pgmcp-cl-AAAAAA', gone);
    const running = fakeCluster('pgmcp-cl-BBBBBB', processIdentity());
    const persistent = fakeCluster('pgmcp-cl2-CCCCCC', null);
    const foreign = fakeCluster('pgmcp-other-DDDDDD', gone);
    const old = fakeCluster('pgmcp-cl-EEEEEE', undefined, new Date(Date.now() - 3 * 3600_000));
    const fresh = fakeCluster('pgmcp-cl-FFFFFF', undefined);
    const unsaved = path.join(parent, 'pgmcp-cl-GGGGGG');
    mkdirSync(unsaved);
    const unsavedOld = path.join(parent, 'pgmcp-cl-HHHHHH');
    mkdirSync(unsavedOld);
    const hourAgo = new Date(Date.now() - 3600_000);
    utimesSync(unsavedOld, hourAgo, hourAgo);

    await waitFor('the programs', () => children.every((c) => isOurs(c.pid ?? 0, path.dirname(parent))), 5000, 20);
    expect(staleReason(stale.dir)).toBe(`its owner (pid ${process.pid}) is gone`);
    expect(staleReason(running.dir)).toBeUndefined();

    const swept = sweepStaleClusters(parent);
    expect(swept.map((s) => path.basename(s.split(' ')[0] as string)).sort()).toEqual([
      'pgmcp-cl-AAAAAA',
      'pgmcp-cl-EEEEEE',
      'pgmcp-cl-HHHHHH',
    ]);
    for (const gone of [stale, old]) {
      await waitFor('the stale programs to stop', () => !isOurs(gone.child.pid ?? 0, gone.dir), 5000, 20);
    }
    for (const kept of [running, persistent, foreign, fresh]) {
      expect(existsSync(kept.dir)).toBe(true);
      expect(isOurs(kept.child.pid ?? 0, kept.dir)).toBe(true);
    }
    expect(existsSync(unsaved)).toBe(true);
    expect(existsSync(stale.dir) || existsSync(old.dir) || existsSync(unsavedOld)).toBe(false);
  });
});

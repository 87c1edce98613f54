/**
 * The real HA cluster for tests (scripts/cluster/harness.ts): installs the Debian packages when missing, starts etcd,
 * three Patroni PostgreSQL 15 nodes, HAProxy and PgBouncer in a fresh directory, and stops them at exit even when the
 * test process dies without calling stop().
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  type ClusterInfo,
  clusterDown,
  clusterKillSync,
  clusterUp,
  killNode,
  patroniCluster,
  startNode,
  stopNode,
  waitFor,
} from '../../scripts/cluster/harness.js';

export { type ClusterInfo, haproxyUp, patroniCluster, waitFor } from '../../scripts/cluster/harness.js';

export interface TestCluster {
  info: ClusterInfo;
  /** PG* (through PgBouncer) and PGMCP_* for pgmcp. */
  env: Record<string, string>;
  stopNode(name: string): Promise<void>;
  startNode(name: string): void;
  /** The current leader's name per Patroni. */
  leader(): Promise<string | undefined>;
  /** kill -9 the leader's Patroni and postmaster; returns its name. */
  crashLeader(): Promise<string>;
  stop(): Promise<void>;
  /** How long clusterUp took. */
  upMs: number;
}

/** Installs PostgreSQL 15 and the cluster programs when missing (apt, quiet when present). */
export function ensureClusterDeps(): void {
  for (const script of ['../../scripts/ensure-test-deps.sh', '../../scripts/cluster/install.sh']) {
    const r = spawnSync('bash', [fileURLToPath(new URL(script, import.meta.url))], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`${script} failed (exit ${r.status})`);
  }
}

export async function startCluster(dir = mkdtempSync('/tmp/pgmcp-cl-')): Promise<TestCluster> {
  ensureClusterDeps();
  const t0 = Date.now();
  const info = await clusterUp({ dir });
  const upMs = Date.now() - t0;
  const onExit = () => clusterKillSync(info);
  process.on('exit', onExit);
  const leader = async () => (await patroniCluster(info))?.find((m) => m.role === 'leader')?.name;
  return {
    info,
    env: info.env,
    upMs,
    stopNode: (name) => stopNode(info, name),
    startNode: (name) => {
      startNode(info, name);
    },
    leader,
    async crashLeader() {
      const name = await waitFor('a leader', leader, 30_000);
      await killNode(info, name);
      return name;
    },
    async stop() {
      process.off('exit', onExit);
      await clusterDown({ dir: info.dir });
    },
  };
}

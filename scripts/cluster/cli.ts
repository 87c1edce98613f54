/**
 * npm run cluster:up / cluster:down — a local HA cluster (etcd, 3 Patroni PostgreSQL 15 nodes, HAProxy, PgBouncer) on
 * loopback. `up [DIR]` installs the Debian packages when missing, starts it (or finds it running) and prints the
 * environment for pgmcp; `down [DIR]` stops it and deletes DIR. DIR defaults to /tmp/pgmcp-cluster (or
 * PGMCP_CLUSTER_DIR).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { clusterDown, clusterUp, DEFAULT_CLUSTER_DIR, stateFile } from './harness.js';

const [command, dirArg] = process.argv.slice(2);
const dir = dirArg ?? process.env.PGMCP_CLUSTER_DIR ?? DEFAULT_CLUSTER_DIR;
const log = (line: string) => console.error(`[cluster] ${line}`);

function install(): void {
  for (const script of ['../ensure-test-deps.sh', './install.sh']) {
    const r = spawnSync('bash', [fileURLToPath(new URL(script, import.meta.url))], { stdio: 'inherit' });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
}

if (command === 'up') {
  install();
  const t0 = Date.now();
  const info = await clusterUp({ dir, log, persistent: true });
  log(`ready in ${Date.now() - t0} ms; endpoints in ${stateFile(info.dir)}`);
  for (const [k, v] of Object.entries(info.env)) console.log(`export ${k}='${v}'`);
} else if (command === 'down') {
  await clusterDown({ dir, log });
} else {
  console.error('usage: cli.ts up|down [DIR]');
  process.exit(2);
}

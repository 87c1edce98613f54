/**
 * A real HA cluster on loopback for development and tests: etcd (v3 API), three Patroni-managed PostgreSQL 15 nodes,
 * HAProxy (a primary port and a replica port chosen by Patroni's REST health checks, an HTTP CSV stats endpoint and a
 * runtime-API admin socket) and PgBouncer in front of HAProxy's primary port.
 *
 * Everything runs as the `postgres` OS user when we are root (Patroni, PostgreSQL and PgBouncer refuse root), through
 * setpriv so that the pid we record is the program's own. State lives in one directory (default /tmp/pgmcp-cluster):
 * configurations, logs, data and `cluster.json`, which describes every endpoint with the credentials generated for it.
 * `clusterUp` on a running cluster returns it unchanged; `clusterDown` stops every process by pid (Patroni starts the
 * postmaster detached, so both are stopped) and deletes the directory; either is a no-op when there is nothing to do.
 */
import { type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export const DEFAULT_CLUSTER_DIR = '/tmp/pgmcp-cluster';
const PG_BIN_DIR = '/usr/lib/postgresql/15/bin';
const SCOPE = 'pgmcp';
const NODE_NAMES = ['node1', 'node2', 'node3'] as const;

export interface ClusterNode {
  name: string;
  /** PostgreSQL port (127.0.0.1). */
  pgPort: number;
  /** Patroni REST API base URL. */
  restUrl: string;
  dataDir: string;
  configFile: string;
  logFile: string;
  /** Pid of the Patroni process (0 when stopped through the harness). */
  pid: number;
}

/** Everything `cluster.json` holds: how to reach each component. */
export interface ClusterInfo {
  dir: string;
  scope: string;
  startedAt: string;
  /**
   * The process the cluster lives for (a test worker): once it is gone, the cluster is stale and the next clusterUp
   * sweeps it. null: kept until cluster:down (npm run cluster:up).
   */
  owner: ProcessIdentity | null;
  superuser: { user: 'postgres'; password: string };
  replication: { user: 'replicator'; password: string };
  etcd: { url: string; pid: number };
  patroni: { user: string; password: string; nodes: ClusterNode[] };
  haproxy: {
    primaryPort: number;
    replicaPort: number;
    /** HTTP stats page; append `;csv` for CSV. */
    statsUrl: string;
    /** Runtime API (admin level). */
    socket: string;
    pid: number;
  };
  pgbouncer: {
    port: number;
    adminUser: string;
    adminPassword: string;
    /** Admin console: `postgresql://ADMIN:PW@127.0.0.1:PORT/pgbouncer`. */
    adminUrl: string;
    /** Database `postgres` through PgBouncer → HAProxy primary. */
    url: string;
    pid: number;
  };
  /** PG* (through PgBouncer) and PGMCP_* settings for pgmcp against this cluster. */
  env: Record<string, string>;
}

export interface UpOptions {
  dir?: string;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  /** Keep the cluster after this process ends (npm run cluster:up); by default it belongs to this process. */
  persistent?: boolean;
}

// ---------------------------------------------------------------------------------------------------------------
// Processes

interface Ids {
  uid: number;
  gid: number;
}

function postgresIds(): Ids | null {
  if (process.getuid?.() !== 0) return null;
  const id = (flag: string) => {
    const r = spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
    return r.status === 0 ? Number(r.stdout.trim()) : undefined;
  };
  let uid = id('-u');
  if (uid === undefined) {
    spawnSync('useradd', ['--system', '--user-group', '--home-dir', '/var/lib/postgresql', 'postgres']);
    uid = id('-u');
  }
  const gid = id('-g');
  if (uid === undefined || gid === undefined) throw new Error('cannot resolve the postgres OS user');
  return { uid, gid };
}

function chownToPostgres(file: string): void {
  const ids = postgresIds();
  if (ids) chownSync(file, ids.uid, ids.gid);
}

function writeOwned(file: string, text: string, mode = 0o600): void {
  writeFileSync(file, text, { mode });
  chownToPostgres(file);
}

function mkdirOwned(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chownToPostgres(dir);
}

/** Starts a long-running program detached, as postgres when root, output to `logFile`; returns its pid. */
function launch(program: string, args: string[], logFile: string, cwd: string): number {
  const fd = openSync(logFile, 'a', 0o600);
  chownToPostgres(logFile);
  const asPostgres = postgresIds() !== null;
  const [cmd, argv] = asPostgres
    ? ['setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', program, ...args]]
    : [program, args];
  const opts: SpawnOptions = {
    cwd,
    detached: true,
    stdio: ['ignore', fd, fd],
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: cwd, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8', TZ: 'UTC' },
  };
  const child = spawn(cmd as string, argv as string[], opts);
  child.unref();
  if (!child.pid) throw new Error(`could not start ${program}`);
  return child.pid;
}

/** True when `pid` runs and its command line mentions `marker` (pids get reused). */
export function isOurs(pid: number, marker: string): boolean {
  if (!pid) return false;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!cmdline.includes(marker)) return false;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat); // a zombie is gone for our purposes
  } catch {
    return false;
  }
}

function signal(pid: number, marker: string, sig: NodeJS.Signals): boolean {
  if (!isOurs(pid, marker)) return false;
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** A process by pid and start time (a pid alone gets reused). */
export interface ProcessIdentity {
  pid: number;
  /** Field 22 of /proc/PID/stat: clock ticks after boot when it started. */
  startTicks: string;
}

function startTicksOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

export function processIdentity(pid = process.pid): ProcessIdentity {
  return { pid, startTicks: startTicksOf(pid) ?? '' };
}

export function processAlive(p: ProcessIdentity): boolean {
  return startTicksOf(p.pid) === p.startTicks;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value other than undefined/false, or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 30_000,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`,
      );
    }
    await sleep(intervalMs);
  }
}

/** Stops a process: `sig` first, SIGKILL after `graceMs`. */
async function stopPid(pid: number, marker: string, graceMs: number, sig: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!signal(pid, marker, sig)) return;
  const deadline = Date.now() + graceMs;
  while (isOurs(pid, marker) && Date.now() < deadline) await sleep(50);
  if (signal(pid, marker, 'SIGKILL')) {
    while (isOurs(pid, marker)) await sleep(20);
  }
}

/** The postmaster's pid from its data directory, when it runs. */
export function postmasterPid(dataDir: string): number {
  try {
    const pid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return isOurs(pid, dataDir) ? pid : 0;
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Ports and probes

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

async function httpStatus(url: string, method = 'GET'): Promise<number> {
  try {
    const res = await fetch(url, { method, signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.setTimeout(1000);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
}

interface ClusterMember {
  name: string;
  role: string;
  state: string;
  lag?: number | string;
}

/** Patroni's /cluster from the first member that answers. */
export async function patroniCluster(info: ClusterInfo): Promise<ClusterMember[] | undefined> {
  for (const n of info.patroni.nodes) {
    try {
      const res = await fetch(`${n.restUrl}/cluster`, { signal: AbortSignal.timeout(1500) });
      if (res.ok) return ((await res.json()) as { members: ClusterMember[] }).members;
    } catch {
      // next member
    }
  }
  return undefined;
}

/** The leader's name and whether every replica streams, per Patroni. */
export async function clusterReady(info: ClusterInfo, replicas = info.patroni.nodes.length - 1): Promise<boolean> {
  const members = await patroniCluster(info);
  if (!members) return false;
  const leader = members.find((m) => m.role === 'leader' && m.state === 'running');
  const running = members.filter(
    (m) => m.role !== 'leader' && (m.state === 'streaming' || m.state === 'running') && typeof m.lag === 'number',
  );
  return leader !== undefined && running.length >= replicas;
}

/** The HAProxy backend servers that are UP in `backend`, from the runtime API. */
export async function haproxyUp(info: ClusterInfo, backend: string): Promise<string[]> {
  const csv = await socketCommand(info.haproxy.socket, 'show stat');
  const up: string[] = [];
  for (const line of csv.split('\n')) {
    const f = line.split(',');
    if (f[0] === backend && f[1] !== 'FRONTEND' && f[1] !== 'BACKEND' && f[17]?.startsWith('UP')) up.push(f[1] ?? '');
  }
  return up;
}

export function socketCommand(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(socket);
    let out = '';
    s.setTimeout(3000);
    s.on('connect', () => s.write(`${command}\n`));
    s.on('data', (d) => {
      out += d.toString();
    });
    s.on('end', () => resolve(out));
    s.on('error', reject);
    s.on('timeout', () => {
      s.destroy();
      reject(new Error(`timeout on ${socket}`));
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Configuration files

function yamlString(s: string): string {
  return JSON.stringify(s); // a JSON string is a valid YAML double-quoted scalar
}

function patroniYaml(info: ClusterInfo, node: ClusterNode, etcdHostPort: string, restPort: number): string {
  const dir = path.dirname(node.dataDir);
  return `scope: ${SCOPE}
namespace: /pgmcp/
name: ${node.name}
log:
  level: WARNING
restapi:
  listen: 127.0.0.1:${restPort}
  connect_address: 127.0.0.1:${restPort}
  authentication:
    username: ${yamlString(info.patroni.user)}
    password: ${yamlString(info.patroni.password)}
etcd3:
  hosts: ${etcdHostPort}
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 1
    retry_timeout: 4
    maximum_lag_on_failover: 16777216
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        wal_log_hints: "on"
        max_connections: 100
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
postgresql:
  listen: 127.0.0.1:${node.pgPort}
  connect_address: 127.0.0.1:${node.pgPort}
  data_dir: ${node.dataDir}
  bin_dir: ${PG_BIN_DIR}
  remove_data_directory_on_rewind_failure: true
  remove_data_directory_on_diverged_timelines: true
  pgpass: ${path.join(dir, 'pgpass')}
  authentication:
    superuser:
      username: postgres
      password: ${yamlString(info.superuser.password)}
    replication:
      username: replicator
      password: ${yamlString(info.replication.password)}
    rewind:
      username: postgres
      password: ${yamlString(info.superuser.password)}
  parameters:
    unix_socket_directories: ${yamlString(dir)}
    fsync: "off"
    synchronous_commit: "off"
    full_page_writes: "on"
    shared_buffers: 32MB
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 scram-sha-256
    - host replication replicator 127.0.0.1/32 scram-sha-256
tags:
  nofailover: false
  noloadbalance: false
  clonefrom: false
  nosync: false
`;
}

function haproxyCfg(info: ClusterInfo, statsPort: number): string {
  const servers = info.patroni.nodes
    .map((n) => `  server ${n.name} 127.0.0.1:${n.pgPort} check port ${new URL(n.restUrl).port}`)
    .join('\n');
  return `global
  maxconn 200
  stats socket ${info.haproxy.socket} mode 600 level admin
  stats timeout 10s

defaults
  mode tcp
  log global
  retries 2
  timeout connect 2s
  timeout client 30m
  timeout server 30m
  timeout check 2s

listen stats
  mode http
  bind 127.0.0.1:${statsPort}
  stats enable
  stats uri /stats
  stats refresh 10s

listen primary
  bind 127.0.0.1:${info.haproxy.primaryPort}
  option httpchk OPTIONS /primary
  http-check expect status 200
  default-server inter 1s fall 2 rise 1 on-marked-down shutdown-sessions
${servers}

listen replicas
  bind 127.0.0.1:${info.haproxy.replicaPort}
  balance roundrobin
  option httpchk OPTIONS /replica
  http-check expect status 200
  default-server inter 1s fall 2 rise 1 on-marked-down shutdown-sessions
${servers}
`;
}

function pgbouncerIni(info: ClusterInfo, dir: string): string {
  return `[databases]
* = host=127.0.0.1 port=${info.haproxy.primaryPort}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${info.pgbouncer.port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = ${path.join(dir, 'userlist.txt')}
admin_users = ${info.pgbouncer.adminUser}
stats_users = ${info.pgbouncer.adminUser}
pool_mode = transaction
max_client_conn = 200
default_pool_size = 10
server_login_retry = 1
server_connect_timeout = 3
query_wait_timeout = 30
ignore_startup_parameters = extra_float_digits
logfile = ${path.join(dir, 'pgbouncer.log')}
`;
}

// ---------------------------------------------------------------------------------------------------------------
// State file

export function stateFile(dir: string): string {
  return path.join(dir, 'cluster.json');
}

export function readCluster(dir = DEFAULT_CLUSTER_DIR): ClusterInfo | undefined {
  try {
    return JSON.parse(readFileSync(stateFile(dir), 'utf8')) as ClusterInfo;
  } catch {
    return undefined;
  }
}

function saveCluster(info: ClusterInfo): void {
  writeFileSync(stateFile(info.dir), `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
}

/** True when every process of the cluster described by `info` runs (a node stopped on purpose has pid 0). */
export function clusterRunning(info: ClusterInfo): boolean {
  return (
    isOurs(info.etcd.pid, info.dir) &&
    isOurs(info.haproxy.pid, info.dir) &&
    isOurs(info.pgbouncer.pid, info.dir) &&
    info.patroni.nodes.every((n) => isOurs(n.pid, n.configFile))
  );
}

function secret(): string {
  return randomBytes(18).toString('base64url');
}

// ---------------------------------------------------------------------------------------------------------------
// Up / down

/** Starts Patroni for one node (already configured) and records its pid. */
export function startNode(info: ClusterInfo, name: string): ClusterNode {
  const node = info.patroni.nodes.find((n) => n.name === name);
  if (!node) throw new Error(`no node ${name}`);
  if (!isOurs(node.pid, node.configFile)) {
    node.pid = launch('/usr/bin/patroni', [node.configFile], node.logFile, path.dirname(node.dataDir));
    saveCluster(info);
  }
  return node;
}

/** Stops one node cleanly (Patroni stops its PostgreSQL), killing what remains after `graceMs`. */
export async function stopNode(info: ClusterInfo, name: string, graceMs = 15_000): Promise<void> {
  const node = info.patroni.nodes.find((n) => n.name === name);
  if (!node) throw new Error(`no node ${name}`);
  await stopPid(node.pid, node.configFile, graceMs);
  const pm = postmasterPid(node.dataDir);
  if (pm) await stopPid(pm, node.dataDir, 5000, 'SIGINT');
  node.pid = 0;
  saveCluster(info);
}

/** Kills one node hard: SIGKILL to Patroni and the postmaster at once (as a crash). */
export async function killNode(info: ClusterInfo, name: string): Promise<void> {
  const node = info.patroni.nodes.find((n) => n.name === name);
  if (!node) throw new Error(`no node ${name}`);
  const pm = postmasterPid(node.dataDir);
  signal(node.pid, node.configFile, 'SIGKILL');
  if (pm) signal(pm, node.dataDir, 'SIGKILL');
  await waitFor(`${name} to die`, () => !isOurs(node.pid, node.configFile) && !isOurs(pm, node.dataDir), 10_000, 50);
  node.pid = 0;
  saveCluster(info);
}

/**
 * Starts the cluster in `dir` (default /tmp/pgmcp-cluster) and resolves once Patroni has a leader with two streaming
 * replicas, HAProxy routes to the leader and PgBouncer answers. A cluster already running there is returned as is;
 * leftovers of a broken one are cleaned up first.
 */
export async function clusterUp(opts: UpOptions = {}): Promise<ClusterInfo> {
  const dir = path.resolve(opts.dir ?? DEFAULT_CLUSTER_DIR);
  const log = opts.log ?? (() => {});
  const existing = readCluster(dir);
  if (existing && clusterRunning(existing)) {
    log(`cluster already running in ${dir}`);
    return existing;
  }
  if (existing || existsSync(dir)) await clusterDown({ dir, log });
  for (const swept of sweepStaleClusters(path.dirname(dir))) log(`swept the stale cluster ${swept}`);
  if (!existsSync(`${PG_BIN_DIR}/postgres`) || !existsSync('/usr/bin/patroni')) {
    throw new Error(
      'PostgreSQL 15 or the cluster programs are missing: run scripts/ensure-test-deps.sh and scripts/cluster/install.sh',
    );
  }
  mkdirOwned(dir);
  const [etcdClient, etcdPeer, primaryPort, replicaPort, statsPort, bouncerPort, ...nodePorts] = await freePorts(12);
  const info: ClusterInfo = {
    dir,
    scope: SCOPE,
    startedAt: new Date().toISOString(),
    owner: opts.persistent ? null : processIdentity(),
    superuser: { user: 'postgres', password: secret() },
    replication: { user: 'replicator', password: secret() },
    etcd: { url: `http://127.0.0.1:${etcdClient}`, pid: 0 },
    patroni: {
      user: 'patroni',
      password: secret(),
      nodes: NODE_NAMES.map((name, i) => {
        const nodeDir = path.join(dir, name);
        return {
          name,
          pgPort: nodePorts[2 * i] as number,
          restUrl: `http://127.0.0.1:${nodePorts[2 * i + 1]}`,
          dataDir: path.join(nodeDir, 'data'),
          configFile: path.join(nodeDir, 'patroni.yml'),
          logFile: path.join(nodeDir, 'patroni.log'),
          pid: 0,
        };
      }),
    },
    haproxy: {
      primaryPort: primaryPort as number,
      replicaPort: replicaPort as number,
      statsUrl: `http://127.0.0.1:${statsPort}/stats`,
      socket: path.join(dir, 'haproxy.sock'),
      pid: 0,
    },
    pgbouncer: {
      port: bouncerPort as number,
      adminUser: 'pgbouncer_admin',
      adminPassword: secret(),
      adminUrl: '',
      url: '',
      pid: 0,
    },
    env: {},
  };
  info.pgbouncer.adminUrl = `postgresql://${info.pgbouncer.adminUser}:${info.pgbouncer.adminPassword}@127.0.0.1:${bouncerPort}/pgbouncer`;
  info.pgbouncer.url = `postgresql://postgres:${info.superuser.password}@127.0.0.1:${bouncerPort}/postgres`;
  info.env = {
    PGHOST: '127.0.0.1',
    PGPORT: String(bouncerPort),
    PGUSER: 'postgres',
    PGPASSWORD: info.superuser.password,
    PGDATABASE: 'postgres',
    PGMCP_PATRONI_URLS: info.patroni.nodes.map((n) => n.restUrl).join(','),
    PGMCP_PATRONI_USER: info.patroni.user,
    PGMCP_PATRONI_PASSWORD: info.patroni.password,
    PGMCP_HAPROXY: info.haproxy.socket,
    PGMCP_PGBOUNCER_URL: info.pgbouncer.adminUrl,
  };
  saveCluster(info);

  try {
    const t0 = Date.now();
    // etcd
    const etcdDir = path.join(dir, 'etcd');
    mkdirOwned(etcdDir);
    info.etcd.pid = launch(
      '/usr/bin/etcd',
      [
        '--name=pgmcp',
        `--data-dir=${path.join(etcdDir, 'data')}`,
        `--listen-client-urls=${info.etcd.url}`,
        `--advertise-client-urls=${info.etcd.url}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-cluster=pgmcp=http://127.0.0.1:${etcdPeer}`,
        '--initial-cluster-state=new',
        '--log-level=warn',
        '--logger=zap',
      ],
      path.join(etcdDir, 'etcd.log'),
      etcdDir,
    );
    saveCluster(info);
    await waitFor('etcd', async () => (await httpStatus(`${info.etcd.url}/health`)) === 200, 20_000, 100);
    log(`etcd up (${Date.now() - t0} ms)`);

    // Patroni nodes
    for (const node of info.patroni.nodes) {
      mkdirOwned(path.dirname(node.dataDir));
      writeOwned(
        node.configFile,
        patroniYaml(info, node, `127.0.0.1:${etcdClient}`, Number(new URL(node.restUrl).port)),
      );
    }
    startNode(info, 'node1');
    await waitFor(
      'node1 to lead',
      async () => (await httpStatus(`${info.patroni.nodes[0]?.restUrl}/primary`)) === 200,
      60_000,
    );
    log(`leader node1 up (${Date.now() - t0} ms)`);
    startNode(info, 'node2');
    startNode(info, 'node3');

    // HAProxy and PgBouncer start while the replicas clone.
    const hapDir = dir;
    writeOwned(path.join(dir, 'haproxy.cfg'), haproxyCfg(info, statsPort as number));
    info.haproxy.pid = launch(
      '/usr/sbin/haproxy',
      ['-db', '-f', path.join(dir, 'haproxy.cfg')],
      path.join(dir, 'haproxy.log'),
      hapDir,
    );
    writeOwned(
      path.join(dir, 'userlist.txt'),
      `"postgres" "${info.superuser.password}"\n"${info.pgbouncer.adminUser}" "${info.pgbouncer.adminPassword}"\n`,
    );
    writeOwned(path.join(dir, 'pgbouncer.ini'), pgbouncerIni(info, dir));
    info.pgbouncer.pid = launch(
      '/usr/sbin/pgbouncer',
      [path.join(dir, 'pgbouncer.ini')],
      path.join(dir, 'pgbouncer.out'),
      dir,
    );
    saveCluster(info);

    await waitFor('two streaming replicas', () => clusterReady(info), 90_000);
    log(`replicas streaming (${Date.now() - t0} ms)`);
    await waitFor('HAProxy to route to node1', async () => {
      if (!existsSync(info.haproxy.socket)) return false;
      const up = await haproxyUp(info, 'primary');
      return up.length === 1 && up[0] === 'node1';
    });
    await waitFor('HAProxy replicas', async () => (await haproxyUp(info, 'replicas')).length === 2);
    await waitFor('PgBouncer', () => tcpOpen(info.pgbouncer.port), 10_000, 100);
    log(`cluster up in ${Date.now() - t0} ms`);
    return info;
  } catch (err) {
    const tails = [
      path.join(dir, 'node1', 'patroni.log'),
      path.join(dir, 'haproxy.log'),
      path.join(dir, 'pgbouncer.log'),
    ]
      .filter((f) => existsSync(f))
      .map((f) => `--- ${f} ---\n${readFileSync(f, 'utf8').trimEnd().split('\n').slice(-15).join('\n')}`)
      .join('\n');
    await clusterDown({ dir, log });
    throw new Error(`${(err as Error).message}\n${tails}`);
  }
}

/** Stops everything started in `dir` and deletes the directory. A no-op when nothing is there. */
export async function clusterDown(opts: UpOptions = {}): Promise<void> {
  const dir = path.resolve(opts.dir ?? DEFAULT_CLUSTER_DIR);
  const log = opts.log ?? (() => {});
  const info = readCluster(dir);
  if (!info) {
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    return;
  }
  const t0 = Date.now();
  await Promise.all([
    stopPid(info.pgbouncer.pid, info.dir, 3000, 'SIGINT'),
    stopPid(info.haproxy.pid, info.dir, 3000, 'SIGUSR1'),
    // Replicas first is not needed: each Patroni stops its own PostgreSQL (fast mode) on SIGTERM.
    ...info.patroni.nodes.map(async (n) => {
      const pm = postmasterPid(n.dataDir);
      await stopPid(n.pid, n.configFile, 8000);
      if (pm) await stopPid(pm, n.dataDir, 3000, 'SIGQUIT');
      const left = postmasterPid(n.dataDir); // a postmaster started after we looked
      if (left) await stopPid(left, n.dataDir, 3000, 'SIGQUIT');
    }),
  ]);
  await stopPid(info.etcd.pid, info.dir, 3000);
  rmSync(dir, { recursive: true, force: true });
  log(`cluster down in ${Date.now() - t0} ms`);
}

/** Kills every process of the cluster at once, synchronously (for process exit hooks). */
export function clusterKillSync(info: ClusterInfo): void {
  for (const n of info.patroni.nodes) {
    signal(n.pid, n.configFile, 'SIGKILL');
    const pm = postmasterPid(n.dataDir);
    if (pm) signal(pm, n.dataDir, 'SIGKILL');
  }
  signal(info.haproxy.pid, info.dir, 'SIGKILL');
  signal(info.pgbouncer.pid, info.dir, 'SIGKILL');
  signal(info.etcd.pid, info.dir, 'SIGKILL');
  rmSync(info.dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------------------------
// Stale clusters

/** The directories test clusters are made in (mkdtemp of /tmp/pgmcp-cl- and /tmp/pgmcp-cl2-); nothing else is swept. */
export const TEST_CLUSTER_DIR = /^pgmcp-cl2?-[A-Za-z0-9]{6}$/;
/** A test cluster directory without an owner is stale after this long (made before owners were recorded). */
const UNOWNED_STALE_MS = 2 * 3600_000;
/** A test cluster directory without cluster.json is stale after this long (a start that died before saving it). */
const UNSAVED_STALE_MS = 10 * 60_000;

/** Why the test cluster directory `dir` is stale, or undefined when it is in use (or not ours to judge). */
export function staleReason(dir: string, now = Date.now()): string | undefined {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(dir);
  } catch {
    return undefined;
  }
  if (!st.isDirectory() || st.uid !== process.getuid?.()) return undefined;
  if (!existsSync(stateFile(dir))) {
    return now - st.mtimeMs > UNSAVED_STALE_MS ? 'no cluster.json, left by a start that died' : undefined;
  }
  const info = readCluster(dir);
  if (!info || path.resolve(info.dir) !== path.resolve(dir)) return undefined;
  if (info.owner === null) return undefined;
  if (info.owner === undefined) {
    return now - Date.parse(info.startedAt) > UNOWNED_STALE_MS
      ? `started ${info.startedAt}, no owner recorded`
      : undefined;
  }
  return processAlive(info.owner) ? undefined : `its owner (pid ${info.owner.pid}) is gone`;
}

/**
 * Stops and removes the test clusters in `parent` whose owner is gone (a test run that was killed): only directories
 * named as test clusters, owned by this user, described by their own cluster.json; only processes whose command line
 * names that directory are signalled. Returns what was swept.
 */
export function sweepStaleClusters(parent = '/tmp'): string[] {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return [];
  }
  const swept: string[] = [];
  for (const name of names.filter((n) => TEST_CLUSTER_DIR.test(n))) {
    const dir = path.join(parent, name);
    const why = staleReason(dir);
    if (!why) continue;
    const info = readCluster(dir);
    if (info) clusterKillSync(info);
    else rmSync(dir, { recursive: true, force: true });
    swept.push(`${dir} (${why})`);
  }
  return swept;
}

import { z } from 'zod';
import { MONITOR_ACTIONS } from './args.js';

/*
 * The structured result of pg_monitor: one object with a part per action. Sub-schemas used in several places carry
 * an id, so the JSON Schema a client compiles names each of them once (under `definitions`) and refers to it.
 */

const int = z.number().int();
const text = z.string().nullable();
const when = z.string().nullable().describe('ISO 8601 time');

export const sizeSchema = z.object({ bytes: z.number(), pretty: z.string() }).meta({ id: 'pg_monitor_size' });
export type Size = z.infer<typeof sizeSchema>;

export const durationSchema = z
  .object({ seconds: z.number(), text: z.string() })
  .meta({ id: 'pg_monitor_duration', description: 'seconds plus readable text' });
export type Duration = z.infer<typeof durationSchema>;

export const VERDICTS = ['ok', 'warn', 'critical'] as const;
export type Verdict = (typeof VERDICTS)[number];
const verdict = z.enum(VERDICTS);

export const checkSchema = z
  .object({
    check: z.string().describe('what was checked'),
    verdict,
    object: text.describe('the object concerned: a database, table, session (pid), slot, setting …'),
    evidence: z.string().describe('what was found'),
    threshold: text.describe('the threshold the verdict used'),
    fix: text.describe('what to do about it (SQL where there is one)'),
  })
  .meta({ id: 'pg_monitor_check' });
export type Check = z.infer<typeof checkSchema>;

export const sessionSchema = z
  .object({
    pid: int,
    user: text,
    database: text,
    application: text,
    client: text.describe('address:port, or local (unix socket)'),
    backendType: text,
    state: text.describe('active, idle, idle in transaction, idle in transaction (aborted), …'),
    waitEvent: text.describe('type: event the backend waits on, e.g. Lock: transactionid'),
    backendStart: when,
    xactStart: when,
    queryStart: when,
    stateChange: when,
    connected: durationSchema.nullable(),
    transaction: durationSchema.nullable().describe('age of the open transaction'),
    query: durationSchema.nullable().describe('time since the current (or last) statement started'),
    inState: durationSchema.nullable().describe('time in the current state'),
    xminAge: int.nullable().describe('transaction IDs since the snapshot this session holds (holds back vacuum)'),
    statement: text.describe('the current statement, or the last one when not active; whitespace collapsed, cut'),
    queryId: text,
    blockedBy: z.array(int).describe('pids holding (or queued ahead for) the lock it waits on'),
    leaderPid: int.nullable().describe('parallel worker: its leader'),
  })
  .meta({ id: 'pg_monitor_session' });
export type Session = z.infer<typeof sessionSchema>;

export const lockSchema = z
  .object({
    locktype: z.string(),
    mode: z.string(),
    target: z.string().describe('what is locked, e.g. relation public.t, transaction 1234, row (0,1) of public.t'),
    granted: z.boolean(),
  })
  .meta({ id: 'pg_monitor_lock' });
export type Lock = z.infer<typeof lockSchema>;

const health = z.object({
  verdict: verdict.describe('the worst verdict of the checks'),
  version: z.string(),
  versionNum: int,
  versionText: z.string(),
  role: z.enum(['primary', 'standby']),
  startedAt: when,
  uptime: durationSchema.nullable(),
  connections: z.object({
    clientBackends: int.describe('client connections now (counted against max_connections)'),
    maxConnections: int,
    reservedSuperuser: int.describe('superuser_reserved_connections'),
    reservedRoles: int.describe('reserved_connections (PostgreSQL 16+; pg_use_reserved_connections)'),
    usable: int.describe('what ordinary roles can open: max_connections minus the reserved ones'),
    active: int,
    idle: int,
    idleInTransaction: int,
    waitingOnLocks: int,
  }),
  cacheHitRatio: z.number().nullable().describe('shared buffer hits / (hits + reads), all databases'),
  oldestXid: z.object({ database: z.string(), age: int }).nullable(),
  oldestMultixact: z.object({ database: z.string(), age: int }).nullable(),
  deadlocks: int.nullable().describe('since statistics were reset'),
  statsReset: when,
});

const groupSchema = z.object({
  by: z.enum(['state', 'user', 'database', 'application']),
  value: text,
  count: int,
  longest: durationSchema.nullable().describe('longest transaction, else statement, else time in state'),
});

const activity = z.object({
  total: int.describe('sessions matching the filters'),
  truncated: z.boolean().describe('more sessions matched than `limit` shows'),
  groups: z.array(groupSchema),
  sessions: z.array(sessionSchema).describe('working sessions (longest first), then idle ones'),
});

const prepared = z.object({
  gid: z.string(),
  transaction: z.string(),
  owner: text,
  database: text,
  preparedAt: when,
  age: durationSchema.nullable(),
  xidAge: int.nullable(),
});

const longRunning = z.object({
  thresholds: z.object({
    querySeconds: z.number(),
    transactionSeconds: z.number(),
    idleInTransactionSeconds: z.number(),
  }),
  queries: z.array(sessionSchema).describe('active statements running longer than the query threshold'),
  transactions: z.array(sessionSchema).describe('transactions open longer than the transaction threshold'),
  idleInTransaction: z.array(sessionSchema).describe('sessions idle inside a transaction longer than the threshold'),
  prepared: z
    .array(prepared)
    .describe('two-phase (PREPARE TRANSACTION) transactions older than the transaction threshold'),
  truncated: z.boolean().describe('a list was cut at its longest entries'),
});

const lockNode = z.object({
  pid: int.describe('0 = prepared transaction(s), which hold locks without a session'),
  session: sessionSchema.nullable(),
  waitingFor: lockSchema.nullable().describe('the lock it requested and waits for'),
  holding: z.array(lockSchema).describe('granted locks of this session that its children wait for'),
  waited: durationSchema.nullable().describe('how long it has waited for its lock'),
  children: z.array(int).describe('pids it blocks directly'),
  blockedBy: z.array(int),
  depth: int.describe('0 for a root'),
  inCycle: z.boolean().describe('part of a wait cycle (a deadlock about to be resolved, or a lock group)'),
  prepared: z.array(z.string()).optional().describe('pid 0: the prepared transactions (gid) involved'),
});

const locks = z.object({
  roots: z.array(int).describe('sessions that block others and wait for nobody (cycle members when none)'),
  nodes: z.array(lockNode),
  cycles: z.array(z.array(int)),
  waiting: int.describe('sessions waiting on a lock'),
  truncated: z.boolean().describe('the chains hold more sessions than `nodes` lists (the first ones in tree order)'),
});

const lagBytes = z.object({
  sent: z.number().nullable(),
  write: z.number().nullable(),
  flush: z.number().nullable(),
  replay: z.number().nullable(),
});

const standby = z.object({
  pid: int,
  user: text,
  application: text,
  client: text,
  state: text.describe('startup, catchup, streaming, backup (pg_basebackup), stopping'),
  syncState: text.describe('async, potential, sync, quorum'),
  syncPriority: int.nullable(),
  sentLsn: text,
  writeLsn: text,
  flushLsn: text,
  replayLsn: text,
  lagBytes: lagBytes.describe('WAL bytes between the current position and each of the standby positions'),
  writeLag: durationSchema.nullable(),
  flushLag: durationSchema.nullable(),
  replayLag: durationSchema.nullable(),
  slot: text,
  backendStart: when,
  replyTime: when,
  xminAge: int.nullable(),
});

const slot = z.object({
  name: z.string(),
  type: z.string(),
  plugin: text,
  database: text,
  active: z.boolean(),
  activePid: int.nullable(),
  temporary: z.boolean(),
  walStatus: text.describe('reserved, extended, unreserved, lost (13+)'),
  safeWalSize: sizeSchema.nullable().describe('WAL that can still be written before the slot is lost'),
  restartLsn: text,
  confirmedFlushLsn: text,
  retained: sizeSchema.nullable().describe('WAL kept for this slot (current position minus restart_lsn)'),
  xminAge: int.nullable(),
  catalogXminAge: int.nullable(),
  inactiveSince: when,
  invalidationReason: text,
});

const receiver = z.object({
  pid: int,
  status: text.describe('streaming, starting, waiting, …; null without pg_read_all_stats'),
  senderHost: text,
  senderPort: int.nullable(),
  slot: text,
  receivedTli: int.nullable(),
  writtenLsn: text,
  flushedLsn: text,
  latestEndLsn: text,
  lastMessageSent: when,
  lastMessageReceived: when,
  lastMessageAge: durationSchema.nullable().describe('since the last message from the primary'),
});

const recovery = z.object({
  receiveLsn: text,
  replayLsn: text,
  replayLagBytes: z.number().nullable().describe('received but not yet replayed'),
  lastReplayedAt: when.describe('commit time of the last replayed transaction'),
  sinceLastReplay: durationSchema.nullable(),
  caughtUp: z.boolean().nullable().describe('everything received has been replayed'),
  replayPaused: text,
  applyDelay: text.describe('recovery_min_apply_delay'),
});

const archiver = z.object({
  archiveMode: z.string(),
  archived: int.nullable(),
  failed: int.nullable(),
  lastArchivedWal: text,
  lastArchivedAt: when,
  lastFailedWal: text,
  lastFailedAt: when,
});

const replication = z.object({
  role: z.enum(['primary', 'standby']),
  currentLsn: text.describe('primary: pg_current_wal_lsn(); standby: last received'),
  synchronousStandbyNames: z.string(),
  standbys: z.array(standby),
  slots: z.array(slot),
  receiver: receiver.nullable(),
  recovery: recovery.nullable(),
  archiver: archiver.nullable(),
});

const sizeTable = z.object({
  schema: z.string(),
  name: z.string(),
  kind: z.enum(['table', 'partitioned table', 'materialized view']),
  partitionOf: text,
  rows: z.number().nullable(),
  heap: sizeSchema,
  toast: sizeSchema,
  indexes: sizeSchema,
  total: sizeSchema,
  estimated: z
    .boolean()
    .describe('from pg_class.relpages: the relation is locked ACCESS EXCLUSIVE, measuring would wait'),
});

const sizeIndex = z.object({
  schema: z.string(),
  table: z.string(),
  name: z.string(),
  size: sizeSchema,
  scans: z.number().nullable(),
  unique: z.boolean(),
  primary: z.boolean(),
  valid: z.boolean(),
  estimated: z.boolean(),
});

const sizes = z.object({
  databases: z.array(z.object({ name: z.string(), size: sizeSchema.nullable() })),
  tables: z.array(sizeTable).describe('largest first by total'),
  tablesTotal: int.describe('tables matching the filters'),
  indexes: z.array(sizeIndex).describe('largest first'),
  indexesTotal: int,
  databaseSize: sizeSchema.nullable(),
});

const xidLeft = {
  xidAge: int.nullable(),
  leftBeforeAutovacuum: z.number().nullable().describe('XIDs until autovacuum_freeze_max_age forces a freeze'),
  leftBeforeLimit: z.number().nullable().describe('XIDs until the 2^31 wraparound limit'),
};

const vacuumTable = z
  .object({
    schema: z.string(),
    name: z.string(),
    liveRows: z.number().nullable(),
    deadRows: z.number().nullable(),
    deadRatio: z.number().nullable().describe('dead / (live + dead)'),
    modifiedSinceAnalyze: z.number().nullable(),
    insertedSinceVacuum: z.number().nullable(),
    lastVacuum: when,
    lastAutovacuum: when,
    lastAnalyze: when,
    lastAutoanalyze: when,
    vacuumCount: z.number().nullable(),
    autovacuumCount: z.number().nullable(),
    autovacuumEnabled: z.boolean(),
    autovacuumAt: z.number().nullable().describe('dead rows at which autovacuum takes the table'),
    ...xidLeft,
    freezeMaxAge: int,
    verdict,
  })
  .meta({ id: 'pg_monitor_vacuum_table' });

const vacuum = z.object({
  settings: z.object({
    autovacuum: z.boolean(),
    trackCounts: z.boolean(),
    maxWorkers: int,
    naptime: z.string(),
    vacuumThreshold: int,
    vacuumScaleFactor: z.number(),
    freezeMaxAge: int,
    multixactFreezeMaxAge: int,
  }),
  workersRunning: int,
  databases: z.array(
    z.object({ name: z.string(), ...xidLeft, mxidAge: int.nullable(), percentOfLimit: z.number().nullable(), verdict }),
  ),
  tables: z.array(vacuumTable).describe('most dead rows first'),
  tablesTotal: int,
  oldest: z.array(vacuumTable).describe('oldest relfrozenxid first (wraparound)'),
  progress: z.array(
    z.object({
      pid: int,
      database: text,
      relation: text,
      phase: text,
      autovacuum: z.boolean(),
      wraparound: z.boolean().describe('an anti-wraparound (aggressive) autovacuum'),
      heapBlocks: z.number().nullable(),
      scanned: z.number().nullable(),
      vacuumed: z.number().nullable(),
      percentScanned: z.number().nullable(),
      indexPasses: z.number().nullable(),
      deadItems: z.number().nullable(),
      running: durationSchema.nullable(),
    }),
  ),
});

const bloatRow = z
  .object({
    schema: z.string(),
    name: z.string(),
    table: text.describe('indexes: the table'),
    size: sizeSchema,
    expected: sizeSchema.nullable().describe('estimated size when tightly packed at its fillfactor'),
    bloat: sizeSchema.nullable(),
    ratio: z.number().nullable().describe('bloat / size'),
    rows: z.number().nullable(),
    fillfactor: int,
    statistics: z
      .enum(['ok', 'stale', 'incomplete', 'missing'])
      .describe('missing: never analysed; incomplete: columns without statistics; stale: size changed since'),
    missing: z.array(z.string()).describe('columns without statistics in pg_stats'),
    verdict,
  })
  .meta({ id: 'pg_monitor_bloat' });

const bloat = z.object({
  method: z.string(),
  tables: z.array(bloatRow).describe('most bloat first'),
  indexes: z.array(bloatRow).describe('B-tree indexes, most bloat first'),
});

const setting = z.object({
  name: z.string(),
  value: z.string().describe('as SHOW displays it'),
  setting: z.string().describe('raw pg_settings.setting'),
  unit: text,
  default: text.describe('built-in default, as SHOW would display it'),
  source: z.string(),
  file: text.describe('path:line where it is set (superusers and pg_read_all_settings only)'),
  category: z.string(),
  context: z.string().describe('postmaster = restart to change; sighup = reload; user/superuser = per session'),
  pendingRestart: z.boolean(),
  description: z.string(),
});

const settings = z.object({
  items: z.array(setting),
  total: int,
  truncated: z.boolean(),
  fileProblems: z
    .array(z.object({ name: text, file: text, applied: z.boolean(), error: text }))
    .describe('configuration-file entries in error or not yet in effect (pg_file_settings)'),
});

const extensions = z.object({
  installed: z.array(
    z.object({
      name: z.string(),
      version: z.string(),
      defaultVersion: text,
      updateAvailable: z.boolean(),
      schema: text,
      description: text,
      preload: z
        .enum(['needed', 'loaded', 'not needed', 'unknown'])
        .describe(
          'its library in shared_preload_libraries: needed (missing!), loaded, not needed, unknown (not visible)',
        ),
    }),
  ),
  available: z.array(
    z.object({
      name: z.string(),
      defaultVersion: text,
      description: text,
      trusted: z.boolean().nullable().describe('non-superusers with CREATE on the database may install it'),
    }),
  ),
});

export const monitorOutput = z.object({
  action: z.enum(MONITOR_ACTIONS),
  database: z.string().describe('the database the statistics were read in'),
  scope: z.string().describe('what was looked at, with the filters applied'),
  checks: z
    .array(checkSchema)
    .describe('health: every check; other actions: the findings that need attention, worst first'),
  notes: z.array(z.string()).describe('method, permissions, what was left out'),
  health: health.optional(),
  activity: activity.optional(),
  longRunning: longRunning.optional(),
  locks: locks.optional(),
  replication: replication.optional(),
  sizes: sizes.optional(),
  vacuum: vacuum.optional(),
  bloat: bloat.optional(),
  settings: settings.optional(),
  extensions: extensions.optional(),
});
export type MonitorOutput = z.infer<typeof monitorOutput>;
export type HealthPart = z.infer<typeof health>;
export type ActivityPart = z.infer<typeof activity>;
export type LongRunningPart = z.infer<typeof longRunning>;
export type LocksPart = z.infer<typeof locks>;
export type LockNode = z.infer<typeof lockNode>;
export type ReplicationPart = z.infer<typeof replication>;
export type SizesPart = z.infer<typeof sizes>;
export type VacuumPart = z.infer<typeof vacuum>;
export type VacuumTable = z.infer<typeof vacuumTable>;
export type BloatPart = z.infer<typeof bloat>;
export type BloatRow = z.infer<typeof bloatRow>;
export type SettingsPart = z.infer<typeof settings>;
export type ExtensionsPart = z.infer<typeof extensions>;

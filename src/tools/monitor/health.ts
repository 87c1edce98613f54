import type pg from 'pg';
import { time } from '../schema/values.js';
import { check, countText, durationOf, durationText, percentText, toInt, toNumber, XID_LIMIT } from './format.js';
import { longRunning, type Thresholds } from './long-running.js';
import type { Check, HealthPart } from './output.js';
import { replication } from './replication.js';
import { CLIENT_BACKEND, type ServerInfo } from './sessions.js';
import { HEALTH, wraparoundThreshold, wraparoundVerdict } from './thresholds.js';

function pct(share: number): string {
  return `${Math.round(share * 100)}%`;
}

export async function health(
  client: pg.ClientBase,
  info: ServerInfo,
  allowed: readonly string[] | null,
  thresholds: Thresholds,
): Promise<{ part: Omit<HealthPart, 'verdict'>; checks: Check[] }> {
  const base = (
    await client.query(`select pg_catalog.version() as version_text,
        pg_catalog.pg_postmaster_start_time()::text as started,
        extract(epoch from now() - pg_catalog.pg_postmaster_start_time())::float8 as uptime_s,
        current_setting('max_connections')::int as max_connections,
        current_setting('superuser_reserved_connections')::int as reserved_su,
        coalesce((select setting::int from pg_catalog.pg_settings where name = 'reserved_connections'), 0) as reserved_roles,
        current_setting('autovacuum')::boolean as autovacuum,
        current_setting('track_counts')::boolean as track_counts,
        current_setting('autovacuum_freeze_max_age')::int8 as freeze_max_age,
        current_setting('autovacuum_multixact_freeze_max_age')::int8 as mxid_freeze_max_age,
        current_setting('archive_mode') as archive_mode`)
  ).rows[0] as Record<string, unknown>;

  const conn = (
    await client.query(`select count(*) filter (where ${CLIENT_BACKEND}) as clients,
        count(*) filter (where ${CLIENT_BACKEND} and a.state = 'active') as active,
        count(*) filter (where ${CLIENT_BACKEND} and a.state = 'idle') as idle,
        count(*) filter (where ${CLIENT_BACKEND} and a.state like 'idle in transaction%') as idle_tx,
        count(*) filter (where a.wait_event_type = 'Lock') as waiting
      from pg_catalog.pg_stat_activity a`)
  ).rows[0] as Record<string, unknown>;

  const db = (
    await client.query(
      `select sum(blks_hit)::float8 as hit, sum(blks_read)::float8 as read, sum(deadlocks)::float8 as deadlocks,
          min(stats_reset)::text as stats_reset
        from pg_catalog.pg_stat_database where $1::text[] is null or datname = any($1::text[])`,
      [allowed],
    )
  ).rows[0] as Record<string, unknown>;

  const ages = (
    await client.query(
      `select datname::text as name, pg_catalog.age(datfrozenxid) as xid_age, pg_catalog.mxid_age(datminmxid) as mxid_age
        from pg_catalog.pg_database
        order by pg_catalog.age(datfrozenxid) desc`,
    )
  ).rows as Record<string, unknown>[];
  const oldestX = ages[0];
  const oldestM = [...ages].sort((a, b) => Number(b.mxid_age) - Number(a.mxid_age))[0];

  const maxConnections = Number(base.max_connections);
  const reservedSu = Number(base.reserved_su);
  const reservedRoles = Number(base.reserved_roles);
  const usable = Math.max(1, maxConnections - reservedSu - reservedRoles);
  const clients = Number(conn.clients);
  const hit = toNumber(db.hit) ?? 0;
  const read = toNumber(db.read) ?? 0;
  const ratio = hit + read > 0 ? hit / (hit + read) : null;
  const freezeMaxAge = Number(base.freeze_max_age);
  const mxidFreezeMaxAge = Number(base.mxid_freeze_max_age);

  const part: Omit<HealthPart, 'verdict'> = {
    version: info.version,
    versionNum: info.versionNum,
    versionText: String(base.version_text),
    role: info.inRecovery ? 'standby' : 'primary',
    startedAt: time(base.started),
    uptime: durationOf(base.uptime_s),
    connections: {
      clientBackends: clients,
      maxConnections,
      reservedSuperuser: reservedSu,
      reservedRoles,
      usable,
      active: Number(conn.active),
      idle: Number(conn.idle),
      idleInTransaction: Number(conn.idle_tx),
      waitingOnLocks: Number(conn.waiting),
    },
    cacheHitRatio: ratio,
    oldestXid: oldestX ? { database: String(oldestX.name), age: Number(oldestX.xid_age) } : null,
    oldestMultixact: oldestM ? { database: String(oldestM.name), age: Number(oldestM.mxid_age) } : null,
    deadlocks: toInt(db.deadlocks),
    statsReset: time(db.stats_reset),
  };

  const checks: Check[] = [];
  const share = clients / usable;
  checks.push(
    check(
      'connections',
      share >= HEALTH.connectionsCritical ? 'critical' : share >= HEALTH.connectionsWarn ? 'warn' : 'ok',
      `${clients} client connections of ${usable} usable (max_connections ${maxConnections} − ${reservedSu} superuser_reserved_connections${reservedRoles ? ` − ${reservedRoles} reserved_connections` : ''}) = ${pct(share)}; ${part.connections.active} active, ${part.connections.idle} idle, ${part.connections.idleInTransaction} idle in transaction`,
      {
        object: 'max_connections',
        threshold: `warn ≥ ${pct(HEALTH.connectionsWarn)}, critical ≥ ${pct(HEALTH.connectionsCritical)} of usable connections`,
        fix:
          share >= HEALTH.connectionsWarn
            ? 'put a connection pooler (PgBouncer, transaction mode) in front; end idle sessions; raise max_connections only with memory to spare (restart)'
            : null,
      },
    ),
  );

  if (hit + read < HEALTH.cacheMinAccesses || ratio === null) {
    checks.push(
      check(
        'cache hit ratio',
        'ok',
        `${countText(hit + read)} block accesses since the statistics reset: too few to judge`,
        {
          threshold: `judged from ${countText(HEALTH.cacheMinAccesses)} block accesses`,
        },
      ),
    );
  } else {
    const v = ratio < HEALTH.cacheHitCritical ? 'critical' : ratio < HEALTH.cacheHitWarn ? 'warn' : 'ok';
    checks.push(
      check(
        'cache hit ratio',
        v,
        `${percentText(ratio)} of block reads served from shared buffers (${countText(hit)} hits, ${countText(read)} reads)`,
        {
          threshold: `warn < ${pct(HEALTH.cacheHitWarn)}, critical < ${pct(HEALTH.cacheHitCritical)}`,
          fix:
            v === 'ok'
              ? null
              : 'find the queries that read most (pg_perf top_queries by I/O) and index them; consider more shared_buffers (about 25% of RAM) or more RAM',
        },
      ),
    );
  }

  if (oldestX) {
    const age = Number(oldestX.xid_age);
    const v = wraparoundVerdict(age, freezeMaxAge);
    checks.push(
      check(
        'transaction ID age',
        v,
        `oldest datfrozenxid is ${countText(age)} transactions old: ${countText(Math.max(0, freezeMaxAge - age))} left before anti-wraparound autovacuum, ${countText(XID_LIMIT - age)} before the 2^31 limit`,
        {
          object: `database ${oldestX.name}`,
          threshold: wraparoundThreshold(freezeMaxAge),
          fix:
            v === 'ok'
              ? null
              : 'pg_monitor vacuum on that database shows the oldest tables; VACUUM (FREEZE, VERBOSE) them; end long transactions and stale replication slots that hold back the horizon',
        },
      ),
    );
  }
  if (oldestM) {
    const age = Number(oldestM.mxid_age);
    const v = wraparoundVerdict(age, mxidFreezeMaxAge);
    checks.push(
      check('multixact ID age', v, `oldest datminmxid is ${countText(age)} multixacts old`, {
        object: `database ${oldestM.name}`,
        threshold: wraparoundThreshold(mxidFreezeMaxAge, 'autovacuum_multixact_freeze_max_age'),
        fix: v === 'ok' ? null : 'VACUUM (FREEZE) the oldest tables of that database',
      }),
    );
  }

  // A standby runs no autovacuum; its setting matters once it is promoted.
  checks.push(
    check(
      'autovacuum',
      base.autovacuum === true && base.track_counts === true ? 'ok' : info.inRecovery ? 'warn' : 'critical',
      `autovacuum ${base.autovacuum ? 'on' : 'off'}, track_counts ${base.track_counts ? 'on' : 'off'}${info.inRecovery && !(base.autovacuum === true && base.track_counts === true) ? ' (a standby does not vacuum; this matters once it is promoted)' : ''}`,
      {
        object: 'autovacuum',
        threshold: 'both must be on (autovacuum needs track_counts)',
        fix:
          base.autovacuum === true && base.track_counts === true
            ? null
            : 'ALTER SYSTEM SET autovacuum = on; ALTER SYSTEM SET track_counts = on; SELECT pg_reload_conf(); -- without it dead rows pile up and only anti-wraparound vacuums run',
      },
    ),
  );

  // Sessions: long transactions, idle in transaction, lock waits.
  const lr = await longRunning(client, info, { allowed }, thresholds, 200);
  const worstOf = (kind: string) => lr.checks.filter((c) => c.check === kind);
  for (const [kind, label, limit] of [
    ['idle in transaction', 'idle in transaction', thresholds.idleInTransaction],
    ['long transaction', 'long transactions', thresholds.transaction],
    ['long-running statement', 'long-running statements', thresholds.query],
  ] as const) {
    const found = worstOf(kind);
    if (found.length === 0) {
      checks.push(
        check(label, 'ok', `none at or above ${durationText(limit)}`, {
          threshold: `warn ≥ ${durationText(limit)}, critical ≥ ${durationText(limit * 10)}`,
        }),
      );
    } else {
      const top = found.find((c) => c.verdict === 'critical') ?? (found[0] as Check);
      checks.push({
        ...top,
        check: label,
        evidence: `${found.length} session(s); the worst: ${top.evidence}`,
      });
    }
  }
  const oldPrepared = lr.part.prepared;
  if (oldPrepared.length > 0) checks.push(...lr.checks.filter((c) => c.check === 'old prepared transaction'));

  const waits = (
    await client.query(
      `select count(*) as n, max(extract(epoch from now() - coalesce(${info.versionNum >= 140000 ? 'l.waitstart, ' : ''}a.query_start)))::float8 as longest
        from pg_catalog.pg_stat_activity a
        left join pg_catalog.pg_locks l on l.pid = a.pid and not l.granted
        where a.wait_event_type = 'Lock' and ($1::text[] is null or a.datname = any($1::text[]))`,
      [allowed],
    )
  ).rows[0] as Record<string, unknown>;
  const nWaiting = Number(waits.n);
  const longestWait = toNumber(waits.longest) ?? 0;
  checks.push(
    check(
      'lock waits',
      nWaiting === 0
        ? 'ok'
        : longestWait >= HEALTH.lockWaitCriticalSeconds
          ? 'critical'
          : longestWait >= HEALTH.lockWaitWarnSeconds
            ? 'warn'
            : 'ok',
      nWaiting === 0
        ? 'no session waits on a lock'
        : `${nWaiting} session(s) wait on locks, the longest for ${durationText(longestWait)}`,
      {
        threshold: `warn when a wait reaches ${HEALTH.lockWaitWarnSeconds} s, critical at ${HEALTH.lockWaitCriticalSeconds} s`,
        fix:
          nWaiting === 0 || longestWait < HEALTH.lockWaitWarnSeconds
            ? null
            : 'pg_monitor locks shows the blocking chains and which session to end',
      },
    ),
  );

  if (part.deadlocks !== null) {
    checks.push(
      check(
        'deadlocks',
        part.deadlocks > 0 ? 'warn' : 'ok',
        `${countText(part.deadlocks)} deadlock(s) since ${part.statsReset ?? 'the statistics were reset'}`,
        {
          threshold: 'warn on any',
          fix:
            part.deadlocks > 0
              ? 'the server log names the statements (log_lock_waits = on helps too); take locks in one consistent order'
              : null,
        },
      ),
    );
  }

  checks.push(...(await replicationChecks(client, info)));
  checks.push(...(await checkpointChecks(client, info)));
  checks.push(...(await archiverChecks(client, String(base.archive_mode))));

  const pending = (
    await client.query(
      `select coalesce(array_agg(name::text order by name), '{}') as names from pg_catalog.pg_settings where pending_restart`,
    )
  ).rows[0] as { names: string[] };
  checks.push(
    check(
      'pending restart',
      pending.names.length > 0 ? 'warn' : 'ok',
      pending.names.length > 0
        ? `changed in the configuration but waiting for a restart: ${pending.names.join(', ')}`
        : 'no setting waits for a restart',
      {
        threshold: 'warn on any',
        fix: pending.names.length > 0 ? 'restart the server in a maintenance window (or revert the change)' : null,
      },
    ),
  );
  return { part, checks };
}

/** Replication seen from this server: the findings of pg_monitor replication plus an ok line when all is well. */
async function replicationChecks(client: pg.ClientBase, info: ServerInfo): Promise<Check[]> {
  const { part, checks } = await replication(client, info);
  const out = [...checks];
  if (part.role === 'standby') {
    const w = part.receiver;
    if (!out.some((c) => c.check === 'WAL receiver')) {
      out.push(
        check('WAL receiver', 'ok', `streaming from ${w?.senderHost ?? '?'}:${w?.senderPort ?? '?'}`, {
          object: 'pg_stat_wal_receiver',
          threshold: 'streaming',
        }),
      );
    }
    const r = part.recovery;
    if (r && !out.some((c) => c.check === 'replay lag')) {
      out.push(
        check(
          'replay lag',
          'ok',
          r.caughtUp
            ? `caught up: everything received is replayed${r.sinceLastReplay ? ` (last replayed transaction committed ${r.sinceLastReplay.text} ago)` : ''}`
            : `${countText(r.replayLagBytes)} bytes to replay; the last replayed transaction committed ${r.sinceLastReplay?.text ?? '?'} ago`,
          {
            threshold: `warn ≥ ${HEALTH.standbyReplayWarnSeconds} s, critical ≥ ${HEALTH.standbyReplayCriticalSeconds} s behind while WAL waits to be replayed`,
          },
        ),
      );
    }
  } else if (part.standbys.length === 0 && part.slots.length === 0) {
    out.push(
      check('replication', 'ok', 'no standby connected and no replication slot', {
        threshold: 'lag and slots are judged when there are some',
      }),
    );
  } else if (part.standbys.length > 0 && !out.some((c) => c.check === 'replication lag')) {
    const lags = part.standbys.map((s) => s.lagBytes.replay).filter((n): n is number => n !== null);
    out.push(
      check(
        'replication lag',
        'ok',
        `${part.standbys.length} standby(s); the furthest behind replays ${lags.length ? `${countText(Math.max(...lags))} bytes` : 'an unknown amount (no privilege to see positions)'} behind`,
        { threshold: 'warn ≥ 100 MB, critical ≥ 1 GB of WAL not replayed' },
      ),
    );
  }
  return out;
}

async function checkpointChecks(client: pg.ClientBase, info: ServerInfo): Promise<Check[]> {
  // PostgreSQL 17 moved the checkpoint counters from pg_stat_bgwriter to pg_stat_checkpointer.
  const sql =
    info.versionNum >= 170000
      ? 'select num_timed::float8 as timed, num_requested::float8 as requested from pg_catalog.pg_stat_checkpointer'
      : 'select checkpoints_timed::float8 as timed, checkpoints_req::float8 as requested from pg_catalog.pg_stat_bgwriter';
  const r = (await client.query(sql)).rows[0] as Record<string, unknown> | undefined;
  if (!r) return [];
  const timed = toNumber(r.timed) ?? 0;
  const requested = toNumber(r.requested) ?? 0;
  const total = timed + requested;
  if (total < HEALTH.minCheckpoints) {
    return [
      check('checkpoints', 'ok', `${countText(total)} checkpoints since the statistics reset: too few to judge`, {
        threshold: `judged from ${HEALTH.minCheckpoints} checkpoints`,
      }),
    ];
  }
  const share = requested / total;
  const v = share >= HEALTH.requestedCheckpointsWarn ? 'warn' : 'ok';
  return [
    check(
      'checkpoints',
      v,
      `${pct(share)} of ${countText(total)} checkpoints were requested (WAL filled max_wal_size, or forced) rather than timed`,
      {
        object: 'max_wal_size',
        threshold: `warn when ≥ ${pct(HEALTH.requestedCheckpointsWarn)} are requested`,
        fix:
          v === 'ok'
            ? null
            : "raise max_wal_size (ALTER SYSTEM SET max_wal_size = '4GB'; SELECT pg_reload_conf();) so checkpoints come from checkpoint_timeout",
      },
    ),
  ];
}

async function archiverChecks(client: pg.ClientBase, archiveMode: string): Promise<Check[]> {
  if (archiveMode === 'off') return [];
  const r = (
    await client.query(`select failed_count::float8 as failed, last_failed_wal, last_failed_time::text as failed_at,
        coalesce(last_failed_time > coalesce(last_archived_time, '-infinity'), false) as failing
      from pg_catalog.pg_stat_archiver`)
  ).rows[0] as Record<string, unknown>;
  const failing = r.failing === true;
  return [
    check(
      'WAL archiving',
      failing ? 'critical' : 'ok',
      failing
        ? `archive_command/archive_library is failing: last failure for ${r.last_failed_wal} at ${time(r.failed_at)}; WAL piles up in pg_wal until it succeeds`
        : `archive_mode ${archiveMode}; ${countText(toNumber(r.failed))} failure(s) since the reset, none since the last success`,
      {
        object: 'archive_command',
        threshold: 'critical when the last attempt failed',
        fix: failing
          ? 'read the server log for the archive command error and fix it; watch pg_wal disk usage meanwhile'
          : null,
      },
    ),
  ];
}

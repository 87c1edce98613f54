import type pg from 'pg';
import { compactTable } from '../schema/text.js';
import { time } from '../schema/values.js';
import { check, countText, durationOf, durationText, literal, sizeOf, toInt, toNumber, toStr } from './format.js';
import type { Check, ReplicationPart } from './output.js';
import type { ServerInfo } from './sessions.js';
import { HEALTH } from './thresholds.js';

type Row = Record<string, unknown>;
const j = (o: unknown, k: string): unknown => (o && typeof o === 'object' ? (o as Row)[k] : undefined);

export async function replication(
  client: pg.ClientBase,
  info: ServerInfo,
): Promise<{ part: ReplicationPart; checks: Check[] }> {
  const standbyRole = info.inRecovery;
  const settings = (
    await client.query(`select current_setting('synchronous_standby_names') as sync_names,
        current_setting('archive_mode') as archive_mode, current_setting('recovery_min_apply_delay') as apply_delay,
        current_setting('max_slot_wal_keep_size') as keep_size,
        ${standbyRole ? 'pg_catalog.pg_last_wal_receive_lsn()' : 'pg_catalog.pg_current_wal_lsn()'}::text as lsn`)
  ).rows[0] as Row;
  const currentLsn = toStr(settings.lsn);
  const checks: Check[] = [];

  // Standbys streaming from this server (a standby can cascade to others, so asked in both roles).
  const standbys = (
    await client.query(
      `select r.pid, r.usename::text as usename, r.application_name,
          case when r.client_addr is not null then pg_catalog.host(r.client_addr) || coalesce(':' || r.client_port, '')
               when r.client_port = -1 then 'local' end as client,
          r.state, r.sync_state, r.sync_priority, r.sent_lsn::text as sent, r.write_lsn::text as write,
          r.flush_lsn::text as flush, r.replay_lsn::text as replay,
          pg_catalog.pg_wal_lsn_diff($1::pg_lsn, r.sent_lsn)::float8 as lag_sent,
          pg_catalog.pg_wal_lsn_diff($1::pg_lsn, r.write_lsn)::float8 as lag_write,
          pg_catalog.pg_wal_lsn_diff($1::pg_lsn, r.flush_lsn)::float8 as lag_flush,
          pg_catalog.pg_wal_lsn_diff($1::pg_lsn, r.replay_lsn)::float8 as lag_replay,
          extract(epoch from r.write_lag)::float8 as write_lag, extract(epoch from r.flush_lag)::float8 as flush_lag,
          extract(epoch from r.replay_lag)::float8 as replay_lag,
          (select s.slot_name::text from pg_catalog.pg_replication_slots s where s.active_pid = r.pid limit 1) as slot,
          r.backend_start::text as backend_start, r.reply_time::text as reply_time, pg_catalog.age(r.backend_xmin) as xmin_age
        from pg_catalog.pg_stat_replication r order by r.application_name, r.pid`,
      [currentLsn],
    )
  ).rows.map((r: Row) => ({
    pid: Number(r.pid),
    user: toStr(r.usename),
    application: toStr(r.application_name),
    client: toStr(r.client),
    state: toStr(r.state),
    syncState: toStr(r.sync_state),
    syncPriority: toInt(r.sync_priority),
    sentLsn: toStr(r.sent),
    writeLsn: toStr(r.write),
    flushLsn: toStr(r.flush),
    replayLsn: toStr(r.replay),
    lagBytes: {
      sent: toNumber(r.lag_sent),
      write: toNumber(r.lag_write),
      flush: toNumber(r.lag_flush),
      replay: toNumber(r.lag_replay),
    },
    writeLag: durationOf(r.write_lag),
    flushLag: durationOf(r.flush_lag),
    replayLag: durationOf(r.replay_lag),
    slot: toStr(r.slot),
    backendStart: time(r.backend_start),
    replyTime: time(r.reply_time),
    xminAge: toInt(r.xmin_age),
  }));

  for (const s of standbys) {
    const lag = s.lagBytes.replay;
    const name = `standby ${s.application || '?'} (${s.client ?? `pid ${s.pid}`})`;
    if (s.state !== 'streaming') {
      checks.push(
        check('standby state', s.state === 'backup' ? 'ok' : 'warn', `${s.state ?? 'unknown'} (not streaming yet)`, {
          object: name,
          threshold: 'streaming',
          fix: s.state === 'catchup' ? 'it is catching up: watch the lag shrink' : null,
        }),
      );
    }
    if (lag !== null && lag >= HEALTH.replicationLagWarnBytes) {
      const where =
        (s.lagBytes.sent ?? 0) >= HEALTH.replicationLagWarnBytes
          ? 'WAL is not even sent yet: the sender or network is the bottleneck'
          : (s.lagBytes.flush ?? 0) >= HEALTH.replicationLagWarnBytes
            ? 'sent but not flushed: the standby disk or network is slow'
            : 'flushed but not replayed: replay on the standby is slow or paused (conflicts, long queries)';
      checks.push(
        check(
          'replication lag',
          lag >= HEALTH.replicationLagCriticalBytes ? 'critical' : 'warn',
          `${countText(lag)} bytes behind in replay${s.replayLag ? ` (${s.replayLag.text})` : ''}; ${where}`,
          {
            object: name,
            threshold: 'warn ≥ 100 MB, critical ≥ 1 GB',
            fix: 'check the standby (pg_monitor replication there) and the network between the two',
          },
        ),
      );
    }
  }

  // Replication slots: WAL retained relative to the current position.
  const slots = (
    await client.query(
      `select pg_catalog.to_jsonb(s) as slot, pg_catalog.pg_wal_lsn_diff($1::pg_lsn, s.restart_lsn)::float8 as retained,
          pg_catalog.age(s.xmin) as xmin_age, pg_catalog.age(s.catalog_xmin) as catalog_xmin_age
        from pg_catalog.pg_replication_slots s order by s.slot_name`,
      [currentLsn],
    )
  ).rows.map((r: Row) => {
    const s = r.slot as Row;
    const safe = toNumber(j(s, 'safe_wal_size'));
    return {
      name: String(s.slot_name),
      type: String(s.slot_type),
      plugin: toStr(s.plugin),
      database: toStr(s.database),
      active: s.active === true,
      activePid: toInt(s.active_pid),
      temporary: s.temporary === true,
      walStatus: toStr(j(s, 'wal_status')),
      safeWalSize: safe === null ? null : sizeOf(safe),
      restartLsn: toStr(s.restart_lsn),
      confirmedFlushLsn: toStr(s.confirmed_flush_lsn),
      retained: sizeOf(r.retained),
      xminAge: toInt(r.xmin_age),
      catalogXminAge: toInt(r.catalog_xmin_age),
      inactiveSince: time(j(s, 'inactive_since')),
      invalidationReason: toStr(j(s, 'invalidation_reason')),
    };
  });

  for (const s of slots) {
    const obj = `slot ${s.name} (${s.type}${s.database ? ` in ${s.database}` : ''})`;
    const drop = `SELECT pg_drop_replication_slot(${literal(s.name)});`;
    if (s.walStatus === 'lost' || s.invalidationReason) {
      checks.push(
        check(
          'replication slot lost',
          'critical',
          `wal_status ${s.walStatus ?? '?'}${s.invalidationReason ? `, invalidated: ${s.invalidationReason}` : ''}: the WAL its consumer needs is gone`,
          {
            object: obj,
            threshold: 'wal_status lost or invalidated',
            fix: `${drop} then rebuild the consumer (a new pg_basebackup for a standby, a resync for logical replication)`,
          },
        ),
      );
      continue;
    }
    if (!s.active) {
      const bytes = s.retained?.bytes ?? 0;
      checks.push(
        check(
          'inactive replication slot',
          bytes >= HEALTH.replicationLagCriticalBytes || s.walStatus === 'unreserved' ? 'critical' : 'warn',
          `not in use${s.inactiveSince ? ` since ${s.inactiveSince}` : ''}; retains ${s.retained ? s.retained.pretty : 'no WAL yet'} of WAL${s.xminAge !== null || s.catalogXminAge !== null ? ` and holds back vacuum (xmin age ${s.xminAge ?? s.catalogXminAge})` : ''}${s.walStatus ? `; wal_status ${s.walStatus}` : ''}`,
          {
            object: obj,
            threshold: 'warn on any inactive slot; critical when it retains ≥ 1 GB or its WAL is no longer reserved',
            fix: `if its consumer is gone for good: ${drop} (else bring the consumer back); max_slot_wal_keep_size (now ${settings.keep_size}) caps what a slot may retain`,
          },
        ),
      );
    } else if (s.walStatus === 'unreserved' || s.walStatus === 'extended') {
      checks.push(
        check(
          'replication slot WAL',
          s.walStatus === 'unreserved' ? 'critical' : 'warn',
          `wal_status ${s.walStatus}: it retains ${s.retained?.pretty ?? '?'}, beyond max_wal_size${s.walStatus === 'unreserved' ? ' and about to lose WAL it needs' : ''}`,
          {
            object: obj,
            threshold: 'warn at extended, critical at unreserved',
            fix: 'find out why its consumer falls behind (pg_stat_replication on this server)',
          },
        ),
      );
    }
  }

  let receiver: ReplicationPart['receiver'] = null;
  let recovery: ReplicationPart['recovery'] = null;
  if (standbyRole) {
    const w = (
      await client.query(
        `select pg_catalog.to_jsonb(w) as w, extract(epoch from now() - w.last_msg_receipt_time)::float8 as msg_age
          from pg_catalog.pg_stat_wal_receiver w`,
      )
    ).rows[0] as Row | undefined;
    if (w) {
      const r = w.w as Row;
      receiver = {
        pid: Number(r.pid),
        status: toStr(r.status),
        senderHost: toStr(r.sender_host),
        senderPort: toInt(r.sender_port),
        slot: toStr(r.slot_name),
        receivedTli: toInt(r.received_tli),
        writtenLsn: toStr(r.written_lsn),
        flushedLsn: toStr(r.flushed_lsn),
        latestEndLsn: toStr(r.latest_end_lsn),
        lastMessageSent: time(r.last_msg_send_time),
        lastMessageReceived: time(r.last_msg_receipt_time),
        lastMessageAge: durationOf(w.msg_age),
      };
    }
    // pg_get_wal_replay_pause_state() came in PostgreSQL 14; before, only pg_is_wal_replay_paused().
    const pause =
      info.versionNum >= 140000
        ? 'pg_catalog.pg_get_wal_replay_pause_state()'
        : "case when pg_catalog.pg_is_wal_replay_paused() then 'paused' else 'not paused' end";
    const rec = (
      await client.query(`select pg_catalog.pg_last_wal_receive_lsn()::text as receive, pg_catalog.pg_last_wal_replay_lsn()::text as replay,
          pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_last_wal_receive_lsn(), pg_catalog.pg_last_wal_replay_lsn())::float8 as pending,
          pg_catalog.pg_last_xact_replay_timestamp()::text as replayed_at,
          extract(epoch from now() - pg_catalog.pg_last_xact_replay_timestamp())::float8 as since_replay,
          ${pause} as paused`)
    ).rows[0] as Row;
    const pending = toNumber(rec.pending);
    recovery = {
      receiveLsn: toStr(rec.receive),
      replayLsn: toStr(rec.replay),
      replayLagBytes: pending,
      lastReplayedAt: time(rec.replayed_at),
      sinceLastReplay: durationOf(rec.since_replay),
      caughtUp: pending === null ? null : pending <= 0,
      replayPaused: toStr(rec.paused),
      applyDelay: toStr(settings.apply_delay),
    };
    // Without pg_read_all_stats the receiver shows its pid only: nothing to judge.
    if (receiver?.status !== 'streaming' && !(receiver && receiver.status === null)) {
      checks.push(
        check(
          'WAL receiver',
          'critical',
          receiver
            ? `status ${receiver.status}`
            : 'no WAL receiver runs: this standby is not connected to a primary (or restores from the archive only)',
          {
            object: 'pg_stat_wal_receiver',
            threshold: 'streaming',
            fix: 'check primary_conninfo (and primary_slot_name) and this server log; the primary must be reachable and still have the WAL',
          },
        ),
      );
    }
    if (recovery.replayPaused && recovery.replayPaused !== 'not paused') {
      checks.push(
        check('replay paused', 'warn', `WAL replay is ${recovery.replayPaused}: the standby falls further behind`, {
          threshold: 'not paused',
          fix: 'SELECT pg_wal_replay_resume();',
        }),
      );
    }
    const since = recovery.sinceLastReplay?.seconds ?? null;
    if (pending !== null && pending > 0 && since !== null && since >= HEALTH.standbyReplayWarnSeconds) {
      checks.push(
        check(
          'replay lag',
          since >= HEALTH.standbyReplayCriticalSeconds ? 'critical' : 'warn',
          `${countText(pending)} bytes received but not replayed; the last replayed transaction committed ${durationText(since)} ago`,
          {
            threshold: `warn ≥ ${HEALTH.standbyReplayWarnSeconds} s, critical ≥ ${HEALTH.standbyReplayCriticalSeconds} s`,
            fix: `look for replay conflicts and long queries on this standby (max_standby_streaming_delay, hot_standby_feedback)${recovery.applyDelay && recovery.applyDelay !== '0' ? `; recovery_min_apply_delay is ${recovery.applyDelay} on purpose` : ''}`,
          },
        ),
      );
    }
  }

  const syncNames = String(settings.sync_names);
  if (
    !standbyRole &&
    syncNames.trim() !== '' &&
    !standbys.some((s) => s.syncState === 'sync' || s.syncState === 'quorum')
  ) {
    checks.push(
      check(
        'synchronous standbys',
        'critical',
        `synchronous_standby_names is '${syncNames}' but no connected standby is synchronous: commits wait`,
        {
          object: 'synchronous_standby_names',
          threshold: 'at least one standby in sync or quorum state',
          fix: "bring a listed standby back, or ALTER SYSTEM SET synchronous_standby_names = ''; SELECT pg_reload_conf();",
        },
      ),
    );
  }

  let archiver: ReplicationPart['archiver'] = null;
  const arch = (
    await client.query(`select archived_count::float8 as archived, failed_count::float8 as failed, last_archived_wal,
        last_archived_time::text as archived_at, last_failed_wal, last_failed_time::text as failed_at
      from pg_catalog.pg_stat_archiver`)
  ).rows[0] as Row | undefined;
  if (arch) {
    archiver = {
      archiveMode: String(settings.archive_mode),
      archived: toInt(arch.archived),
      failed: toInt(arch.failed),
      lastArchivedWal: toStr(arch.last_archived_wal),
      lastArchivedAt: time(arch.archived_at),
      lastFailedWal: toStr(arch.last_failed_wal),
      lastFailedAt: time(arch.failed_at),
    };
  }

  return {
    part: {
      role: standbyRole ? 'standby' : 'primary',
      currentLsn,
      synchronousStandbyNames: syncNames,
      standbys,
      slots,
      receiver,
      recovery,
      archiver,
    },
    checks,
  };
}

const bytes = (n: number | null) => (n === null ? '' : countText(n));
const dur = (d: { text: string } | null) => d?.text ?? '';

export function replicationText(part: ReplicationPart): string[] {
  const lines: string[] = [];
  lines.push(
    `${part.role}; ${part.role === 'primary' ? 'current WAL position' : 'last received WAL'} ${part.currentLsn ?? '?'}` +
      (part.synchronousStandbyNames ? `; synchronous_standby_names '${part.synchronousStandbyNames}'` : ''),
  );
  if (part.role === 'standby') {
    const w = part.receiver;
    lines.push(
      w
        ? `WAL receiver: ${w.status ?? 'running (details need pg_read_all_stats)'} from ${w.senderHost ?? '?'}:${w.senderPort ?? '?'}${w.slot ? ` via slot ${w.slot}` : ''}, timeline ${w.receivedTli ?? '?'}, flushed ${w.flushedLsn ?? '?'}, last message ${w.lastMessageAge?.text ?? '?'} ago`
        : 'WAL receiver: not running',
    );
    const r = part.recovery;
    if (r) {
      lines.push(
        `received ${r.receiveLsn ?? '?'}, replayed ${r.replayLsn ?? '?'} (${r.caughtUp ? 'caught up' : `${bytes(r.replayLagBytes)} bytes to replay`}); last replayed transaction committed ${r.sinceLastReplay ? `${r.sinceLastReplay.text} ago` : 'never (nothing replayed since start)'}; replay ${r.replayPaused ?? '?'}${r.applyDelay && r.applyDelay !== '0' ? `; recovery_min_apply_delay ${r.applyDelay}` : ''}`,
      );
    }
  }
  if (part.standbys.length > 0 || part.role === 'primary') {
    lines.push(`standbys: ${part.standbys.length === 0 ? 'none connected' : part.standbys.length}`);
    if (part.standbys.length > 0) {
      lines.push(
        compactTable(
          [
            'pid',
            'application',
            'client',
            'state',
            'sync',
            'sent / write / flush / replay lag (bytes)',
            'write / flush / replay lag (time)',
            'slot',
          ],
          part.standbys.map((s) => [
            s.pid,
            s.application,
            s.client,
            s.state,
            s.syncState,
            [s.lagBytes.sent, s.lagBytes.write, s.lagBytes.flush, s.lagBytes.replay].map(bytes).join(' / '),
            [s.writeLag, s.flushLag, s.replayLag].map(dur).join(' / '),
            s.slot,
          ]),
        ),
      );
    }
  }
  lines.push(`replication slots: ${part.slots.length === 0 ? 'none' : part.slots.length}`);
  if (part.slots.length > 0) {
    lines.push(
      compactTable(
        ['slot', 'type', 'database', 'active', 'wal status', 'retained WAL', 'xmin age'],
        part.slots.map((s) => [
          s.name,
          s.type + (s.plugin ? ` (${s.plugin})` : ''),
          s.database,
          s.active ? `yes (pid ${s.activePid})` : 'NO',
          s.walStatus,
          s.retained?.pretty ?? 'none reserved',
          s.xminAge ?? s.catalogXminAge,
        ]),
      ),
    );
  }
  const a = part.archiver;
  if (a && a.archiveMode !== 'off') {
    lines.push(
      `archiving (${a.archiveMode}): ${countText(a.archived)} archived, last ${a.lastArchivedWal ?? 'none'}; ${countText(a.failed)} failed${a.lastFailedWal ? `, last ${a.lastFailedWal} at ${a.lastFailedAt}` : ''}`,
    );
  }
  return lines;
}

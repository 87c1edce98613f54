/**
 * The pure parts of how pgmcp's safety settings reach a session: what goes in the startup packet, what is sent after
 * BEGIN through a pooler, how a check's rows and a refusal are read, the read frame per mode, and one decision per
 * target (the detection itself runs against real PgBouncers in test/integration/pooler.test.ts).
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { POOLED_READ, pooledRead } from '../../src/db/read-flight.js';
import {
  expectedSettings,
  isStartupParameterRefusal,
  settingsNotApplied,
  settingsOf,
  startupSettings,
  transactionSettingsStatements,
} from '../../src/db/session-settings.js';
import { SettingsModes } from '../../src/db/settings-client.js';

const S = { statementTimeoutMs: 30_000, lockTimeoutMs: 5000, idleInTransactionMs: 60_000 };

describe('session settings', () => {
  it('ride in the startup packet as node-postgres fields', () => {
    expect(startupSettings(S)).toEqual({
      statement_timeout: 30_000,
      lock_timeout: 5000,
      idle_in_transaction_session_timeout: 60_000,
      options: '-c standard_conforming_strings=on -c client_encoding=UTF8',
    });
  });

  it('are read back from a config; a missing, zero or negative timeout is not set', () => {
    expect(settingsOf(startupSettings(S))).toEqual(S);
    expect(settingsOf({ statement_timeout: 0, lock_timeout: -1 })).toEqual({
      statementTimeoutMs: 0,
      lockTimeoutMs: 0,
      idleInTransactionMs: 0,
    });
    expect(settingsOf({ statement_timeout: 1500.7 }).statementTimeoutMs).toBe(1500);
  });

  it('are set per transaction with standard_conforming_strings first, one SET LOCAL each, zeros left out', () => {
    expect(transactionSettingsStatements(S)).toEqual([
      'SET LOCAL standard_conforming_strings = on',
      'SET LOCAL statement_timeout = 30000',
      'SET LOCAL lock_timeout = 5000',
      'SET LOCAL idle_in_transaction_session_timeout = 60000',
    ]);
    expect(transactionSettingsStatements({ ...S, statementTimeoutMs: 0, lockTimeoutMs: 0 })).toEqual([
      'SET LOCAL standard_conforming_strings = on',
      'SET LOCAL idle_in_transaction_session_timeout = 60000',
    ]);
  });

  it('are checked against pg_settings: every one that did not take effect is named', () => {
    const applied = expectedSettings(S).map(([name, setting]) => ({ name, setting }));
    expect(settingsNotApplied(S, applied)).toEqual([]);
    // What a pooler that drops them leaves: the server's defaults.
    const dropped = [
      { name: 'idle_in_transaction_session_timeout', setting: '0' },
      { name: 'lock_timeout', setting: '0' },
      { name: 'standard_conforming_strings', setting: 'on' },
      { name: 'statement_timeout', setting: '0' },
    ];
    expect(settingsNotApplied(S, dropped)).toEqual([
      'statement_timeout=0 (wanted 30000)',
      'lock_timeout=0 (wanted 5000)',
      'idle_in_transaction_session_timeout=0 (wanted 60000)',
    ]);
    expect(settingsNotApplied({ ...S, lockTimeoutMs: 0, idleInTransactionMs: 0 }, [])).toEqual([
      'standard_conforming_strings=missing (wanted on)',
      'statement_timeout=missing (wanted 30000)',
    ]);
  });

  it("recognises a pooler's refusal of startup parameters, and only that", () => {
    const err = (message: string, code?: string) => Object.assign(new Error(message), code ? { code } : {});
    expect(isStartupParameterRefusal(err('unsupported startup parameter: statement_timeout', '08P01'))).toBe(true);
    expect(isStartupParameterRefusal(err('unsupported options startup parameter: parameter too long', '08P01'))).toBe(
      true,
    );
    expect(isStartupParameterRefusal(err('no more connections allowed (max_client_conn)', '08P01'))).toBe(false);
    expect(isStartupParameterRefusal(err('unsupported startup parameter: x', '28P01'))).toBe(false);
    expect(isStartupParameterRefusal(err('connect ECONNREFUSED 127.0.0.1:5432'))).toBe(false);
    expect(isStartupParameterRefusal('unsupported startup parameter')).toBe(false);
  });
});

describe('the read frame per settings mode', () => {
  it('is POOLED_READ itself when the settings came with the connection', () => {
    expect(pooledRead(undefined)).toBe(POOLED_READ);
  });

  it('has the settings right after BEGIN, before the statement, and is built once per settings', () => {
    const settings = transactionSettingsStatements(S);
    const frame = pooledRead(settings);
    expect(frame.before).toEqual(['BEGIN TRANSACTION READ ONLY', ...settings]);
    expect(frame.after).toEqual(POOLED_READ.after);
    expect(frame.recover).toBe(POOLED_READ.recover);
    expect(pooledRead([...settings])).toBe(frame);
    expect(POOLED_READ.before).toEqual(['BEGIN TRANSACTION READ ONLY']);
  });
});

describe('one settings decision per target', () => {
  const target = { host: '127.0.0.1', port: 6432, user: 'pgmcp' };
  const later = <T>(value: T, ms = 20) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

  it('concurrent first connections wait for one detection and follow its answer', async () => {
    const modes = new SettingsModes(pino({ level: 'silent' }));
    let detections = 0;
    const detect = () => {
      detections++;
      return later({ mode: 'transaction' as const, reason: 'refused', connected: false });
    };
    const answers = await Promise.all(Array.from({ length: 5 }, () => modes.decide(target, detect)));
    expect(detections).toBe(1);
    expect(answers.map((a) => a.mode)).toEqual(Array(5).fill('transaction'));
    expect(answers.filter((a) => a.detection !== undefined)).toHaveLength(1);
    // Later connections follow the decision without detecting; another login is another target.
    expect(await modes.decide(target, detect)).toEqual({ mode: 'transaction' });
    await modes.decide({ ...target, user: 'other' }, () =>
      later({ mode: 'startup' as const, reason: 'ok', connected: true }),
    );
    expect(detections).toBe(1);
  });

  it('a detection that fails decides nothing: the callers waiting for it detect again', async () => {
    const modes = new SettingsModes(pino({ level: 'silent' }));
    let detections = 0;
    const failing = modes.decide(target, async () => {
      detections++;
      await later(undefined);
      throw new Error('connect ECONNREFUSED');
    });
    const waiting = modes.decide(target, async () => {
      detections++;
      return { mode: 'startup' as const, reason: 'ok', connected: true };
    });
    await expect(failing).rejects.toThrow(/ECONNREFUSED/);
    expect((await waiting).mode).toBe('startup');
    expect(detections).toBe(2);
  });
});

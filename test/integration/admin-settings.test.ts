/**
 * pg_admin's server-wide actions — ALTER SYSTEM set/reset, reload, shared statistics — on a throwaway PostgreSQL 15
 * server of this file's own, so that the shared test server is never reconfigured.
 */
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcess, pgEnv, startInProcess } from '../support/mcp-client.js';
import { type PgServer, startPostgres } from '../support/postgres-server.js';

interface Out {
  status: string;
  plan: string[];
  destructive: boolean;
  reasons?: string[];
  confirmation?: { confirm_token: string };
  changes?: { object: string; item: string; before: string | null; after: string | null }[];
  // biome-ignore lint/suspicious/noExplicitAny: facts differ per action
  facts?: Record<string, any>;
  restartRequired?: boolean;
  warnings?: string[];
}

let server: PgServer;
let admin: InProcess;
let autoConf: string;

const out = (r: { structuredContent?: unknown }) => r.structuredContent as Out;

async function call(args: Record<string, unknown>): Promise<CallToolResult & { text: string }> {
  return admin.call('pg_admin', args);
}

/** Confirms with the token flow; `between` runs while only the plan exists. */
async function confirmed(args: Record<string, unknown>, between?: () => Promise<void>) {
  const asked = await call(args);
  expect(asked.isError, asked.text).toBeFalsy();
  expect(out(asked).status).toBe('confirmation_required');
  await between?.();
  const ran = await call({ ...args, confirm_token: out(asked).confirmation?.confirm_token });
  expect(ran.isError, ran.text).toBeFalsy();
  return { asked: out(asked), ran: out(ran), text: ran.text };
}

/** What a new session sees (a fresh connection: nothing of pgmcp's own settings). */
async function show(name: string): Promise<string> {
  const c = new pg.Client({ connectionString: server.url });
  await c.connect();
  try {
    return (await c.query(`select current_setting($1) as v`, [name])).rows[0].v as string;
  } finally {
    await c.end();
  }
}

async function pendingRestart(name: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: server.url });
  await c.connect();
  try {
    return (await c.query('select pending_restart from pg_settings where name = $1', [name])).rows[0].pending_restart;
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  server = await startPostgres({ name: 'admin-settings' });
  autoConf = path.join(server.dataDir, 'postgresql.auto.conf');
  admin = await startInProcess({ ...pgEnv(server), PGMCP_ACCESS: 'admin' });
});

afterAll(async () => {
  await admin?.close();
  await server?.stop();
});

describe('pg_admin: set_setting and reset_setting', () => {
  it('sets a setting only after confirmation, reloads, and reports old → new', async () => {
    expect(await show('work_mem')).toBe('4MB');
    const { asked, ran, text } = await confirmed(
      { action: 'set_setting', name: 'work_mem', value: '16MB' },
      async () => {
        expect(await show('work_mem')).toBe('4MB');
        expect(await readFile(autoConf, 'utf8')).not.toMatch(/work_mem/);
      },
    );
    expect(asked.plan).toEqual(["ALTER SYSTEM SET work_mem = '16MB'", 'SELECT pg_reload_conf()']);
    expect(asked.reasons?.join('\n')).toMatch(/writes work_mem = 16MB \(now 4MB\) to postgresql\.auto\.conf/);
    expect(asked.facts?.setting).toMatchObject({ name: 'work_mem', unit: 'kB', vartype: 'integer', context: 'user' });
    expect(asked.facts?.new_setting).toBe(16384);
    expect(ran.changes).toContainEqual({ object: 'work_mem', item: 'value', before: '4MB', after: '16MB' });
    expect(ran.changes).toContainEqual({
      object: 'work_mem',
      item: 'postgresql.auto.conf',
      before: null,
      after: '16MB',
    });
    expect(ran.restartRequired).toBe(false);
    expect(text).not.toMatch(/RESTART REQUIRED/);
    expect(await show('work_mem')).toBe('16MB');

    const reset = await confirmed({ action: 'reset_setting', name: 'work_mem' });
    expect(reset.asked.plan).toEqual(['ALTER SYSTEM RESET work_mem', 'SELECT pg_reload_conf()']);
    expect(reset.ran.changes).toContainEqual({ object: 'work_mem', item: 'value', before: '16MB', after: '4MB' });
    expect(await show('work_mem')).toBe('4MB');
  });

  it('flags a postmaster setting as needing a restart, and RESET takes it back', async () => {
    const { asked, ran, text } = await confirmed({ action: 'set_setting', name: 'max_connections', value: 150 });
    expect(asked.reasons?.join('\n')).toMatch(/changes only when the server restarts \(context postmaster\)/);
    expect(ran.restartRequired).toBe(true);
    expect(ran.facts?.setting).toMatchObject({ name: 'max_connections', pending_restart: true, current: '200' });
    expect(ran.facts?.pending_restart).toEqual(['max_connections']);
    expect(ran.warnings?.join('\n')).toMatch(/max_connections is pending restart: the running value stays 200/);
    // The pending restart is not reported as a file error.
    expect(ran.warnings?.join('\n')).not.toMatch(/configuration file error/);
    expect(text).toMatch(/RESTART REQUIRED/);
    expect(await pendingRestart('max_connections')).toBe(true);
    expect(await show('max_connections')).toBe('200');

    const reset = await confirmed({ action: 'reset_setting', name: 'max_connections' });
    expect(reset.asked.reasons?.join('\n')).toMatch(/goes back to 200 \(from .*pgmcp\.conf\)/);
    expect(reset.ran.restartRequired).toBe(false);
    expect(await pendingRestart('max_connections')).toBe(false);
    expect(await readFile(autoConf, 'utf8')).not.toMatch(/max_connections/);
  });

  it('writes a list setting element by element, and a boolean in its canonical form', async () => {
    const list = await confirmed({
      action: 'set_setting',
      name: 'search_path',
      value: ['$user', 'public', 'two words'],
    });
    expect(list.asked.plan[0]).toBe("ALTER SYSTEM SET search_path = '$user', 'public', 'two words'");
    expect(await show('search_path')).toBe('"$user", public, "two words"');
    await confirmed({ action: 'reset_setting', name: 'search_path' });
    expect(await show('search_path')).toBe('"$user", public');

    const bool = await confirmed({ action: 'set_setting', name: 'log_connections', value: 'YES' });
    expect(bool.asked.plan[0]).toBe("ALTER SYSTEM SET log_connections = 'on'");
    expect(await show('log_connections')).toBe('on');
    await confirmed({ action: 'reset_setting', name: 'log_connections' });
    expect(await show('log_connections')).toBe('off');
  });

  it.each([
    [
      'work_mem',
      '10B',
      /work_mem: 10B \(0 kB\) is outside the allowed range 64 kB … 2147483647 kB/,
      /with a unit: B, kB, MB/,
    ],
    ['work_mem', 'lots', /work_mem: "lots" is not a number/, /a number in kB/],
    ['work_mem', '5 s', /unit "s" is not a memory unit/, /B, kB, MB, GB, TB/],
    ['statement_timeout', '2GB', /unit "GB" is not a time unit/, /us, ms, s, min, h, d/],
    ['wal_level', 'bogus', /wal_level: "bogus" is not one of its values/, /one of: minimal, replica, logical/],
    ['log_connections', 'maybe', /"maybe" is not a boolean/, /on or off/],
    ['max_connections', ['1', '2'], /is a single integer value, not a list/, undefined],
    ['no_such_setting', '1', /there is no setting named no_such_setting/, /pg_monitor/],
    ['block_size', '4096', /block_size is read-only/, undefined],
  ])('refuses %s = %j before anything runs', async (name, value, message, hint) => {
    const before = await readFile(autoConf, 'utf8');
    const r = await call({ action: 'set_setting', name, value });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(message);
    if (hint) expect(r.text).toMatch(hint);
    expect(await readFile(autoConf, 'utf8')).toBe(before);
  });

  it('a dry run returns the plan and changes nothing', async () => {
    const before = await readFile(autoConf, 'utf8');
    const r = await call({ action: 'set_setting', name: 'random_page_cost', value: 1.1, dry_run: true });
    expect(out(r)).toMatchObject({
      status: 'dry_run',
      destructive: true,
      plan: ["ALTER SYSTEM SET random_page_cost = '1.1'", 'SELECT pg_reload_conf()'],
    });
    expect(await readFile(autoConf, 'utf8')).toBe(before);
  });
});

describe('pg_admin: reload_config', () => {
  it('reports what changed and the errors in the configuration files', async () => {
    const conf = path.join(server.dataDir, 'postgresql.conf');
    const original = await readFile(conf, 'utf8');
    try {
      await appendFile(conf, "\nlog_min_duration_statement = 250\nwork_mem = 'lots'\n");
      const r = await call({ action: 'reload_config' });
      expect(r.isError, r.text).toBeFalsy();
      const o = out(r);
      expect(o).toMatchObject({ status: 'executed', destructive: false, plan: ['SELECT pg_reload_conf()'] });
      expect(o.changes).toContainEqual({
        object: 'log_min_duration_statement',
        item: 'value',
        before: '-1 ms',
        after: '250 ms',
      });
      expect(o.warnings?.join('\n')).toMatch(
        /configuration file error in .*postgresql\.conf line \d+ \(work_mem\): setting could not be applied \(the server log says why\)/,
      );
      expect(o.facts?.file_errors?.[0]).toMatchObject({ name: 'work_mem' });
      expect(await show('log_min_duration_statement')).toBe('250ms');
    } finally {
      await writeFile(conf, original);
    }
    const clean = await call({ action: 'reload_config' });
    expect(out(clean).warnings).toBeUndefined();
    expect(out(clean).changes).toContainEqual({
      object: 'log_min_duration_statement',
      item: 'value',
      before: '250 ms',
      after: '-1 ms',
    });
  });
});

describe('pg_admin: reset server-wide statistics', () => {
  it('pg_stat_statements and the bgwriter, each after confirmation', async () => {
    const c = new pg.Client({ connectionString: server.url });
    await c.connect();
    try {
      await c.query('create extension if not exists pg_stat_statements');
      await c.query('select 42 as answer');
      const entries = async () => Number((await c.query('select count(*) as n from pg_stat_statements')).rows[0].n);
      expect(await entries()).toBeGreaterThan(0);
      const { asked, ran } = await confirmed({ action: 'reset_stats', target: 'statements' }, async () => {
        expect(await entries()).toBeGreaterThan(0);
      });
      expect(asked.plan).toEqual(['SELECT public.pg_stat_statements_reset()']);
      expect(asked.reasons?.[0]).toMatch(/in every database/);
      const change = ran.changes?.find((x) => x.item === 'statements tracked');
      expect(Number(change?.after)).toBeLessThan(Number(change?.before));

      const bg = await confirmed({ action: 'reset_stats', target: 'bgwriter' });
      expect(bg.asked.plan).toEqual(["SELECT pg_stat_reset_shared('bgwriter')"]);
      const reset = bg.ran.changes?.find((x) => x.item === 'stats reset at');
      expect(reset?.after).not.toBe(reset?.before);
    } finally {
      await c.end();
    }
  });
});

/**
 * Variables of other deployments (settings.ts `aliases`): each read as the pgmcp setting it stands for, pgmcp's own
 * name winning, value maps, errors naming the alias, what doctor shows, the Citus toolset switch, and the README's
 * generated alias table.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, describeConfig, resolveConfig } from '../../src/config/resolve.js';
import { SETTINGS } from '../../src/config/settings.js';
import { defineTool, type ToolDefinition } from '../../src/tools/define.js';
import { ALL_TOOLS, citusEnabled, toolsFor } from '../../src/tools/registry.js';

const errorOf = (fn: () => unknown): ConfigError => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('no ConfigError thrown');
};

describe('aliases', () => {
  it('each alias sets the setting it stands for', () => {
    const { config, sources, envVars } = resolveConfig({
      env: {
        POSTGRES_URL: 'postgres://app:pw@db:5432/shop',
        POSTGRES_ADMIN_URL: 'postgres://root:rootpw@db:5432/shop',
        MCP_READ_ONLY: 'true',
        MCP_TRANSPORT: 'http',
        PORT: '8080',
        MCP_ALLOWED_ORIGINS: 'https://a.example, https://b.example',
        ENABLE_CITUS_TOOLS: 'false',
      },
    });
    expect(config.connection.url).toBe('postgres://app:pw@db:5432/shop');
    expect(config.adminUrl).toBe('postgres://root:rootpw@db:5432/shop');
    expect(config.access).toBe('read');
    expect(config.transport).toBe('http');
    expect(config.http.port).toBe(8080);
    expect(config.http.allowedOrigins).toEqual(['https://a.example', 'https://b.example']);
    expect(config.cluster.citusTools).toBe('off');
    expect(sources['connection.url']).toBe('env');
    expect(envVars['connection.url']).toEqual({ name: 'POSTGRES_URL', aliasOf: 'DATABASE_URL' });
    expect(envVars['http.port']).toEqual({ name: 'PORT', aliasOf: 'PGMCP_HTTP_PORT' });
  });

  it.each([
    ['MCP_READ_ONLY', 'true', 'access', 'read'],
    ['MCP_READ_ONLY', 'false', 'access', 'write'],
    ['MCP_READ_ONLY', ' TRUE ', 'access', 'read'],
    ['MCP_READ_ONLY', 'False', 'access', 'write'],
    ['ENABLE_CITUS_TOOLS', 'true', 'cluster.citusTools', 'on'],
    ['ENABLE_CITUS_TOOLS', 'false', 'cluster.citusTools', 'off'],
    ['MCP_TRANSPORT', 'stdio', 'transport', 'stdio'],
    ['MCP_TRANSPORT', 'http', 'transport', 'http'],
    ['MCP_TRANSPORT', 'sse', 'transport', 'http'],
    ['MCP_TRANSPORT', 'SSE', 'transport', 'http'],
  ])('maps %s=%j to %s = %s', (alias, value, key, expected) => {
    const { config } = resolveConfig({ env: { [alias]: value } });
    const got = key.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], config);
    expect(got).toBe(expected);
  });

  it('takes sse as http for the transport under its own names too', () => {
    expect(resolveConfig({ env: { PGMCP_TRANSPORT: 'sse' } }).config.transport).toBe('http');
    expect(resolveConfig({ flags: { transport: 'sse' } }).config.transport).toBe('http');
    expect(resolveConfig({ file: { transport: 'sse' } }).config.transport).toBe('http');
  });

  it("pgmcp's own name wins over the alias, and the unused alias is reported", () => {
    const resolved = resolveConfig({
      env: {
        DATABASE_URL: 'postgres://own@db/own',
        POSTGRES_URL: 'postgres://alias@db/alias',
        PGMCP_ACCESS: 'admin',
        MCP_READ_ONLY: 'true',
        PGMCP_HTTP_PORT: '4000',
        PORT: '8080',
      },
    });
    expect(resolved.config.connection.url).toBe('postgres://own@db/own');
    expect(resolved.config.access).toBe('admin');
    expect(resolved.config.http.port).toBe(4000);
    expect(resolved.envVars.access).toEqual({ name: 'PGMCP_ACCESS' });
    expect(resolved.ignoredAliases).toEqual(
      expect.arrayContaining([
        { alias: 'POSTGRES_URL', key: 'connection.url', by: 'env DATABASE_URL' },
        { alias: 'MCP_READ_ONLY', key: 'access', by: 'env PGMCP_ACCESS' },
        { alias: 'PORT', key: 'http.port', by: 'env PGMCP_HTTP_PORT' },
      ]),
    );
    expect(resolved.ignoredAliases).toHaveLength(3);
  });

  it('an empty own variable does not hide the alias (empty = unset)', () => {
    const { config, envVars } = resolveConfig({ env: { PGMCP_ACCESS: '', MCP_READ_ONLY: 'false' } });
    expect(config.access).toBe('write');
    expect(envVars.access).toEqual({ name: 'MCP_READ_ONLY', aliasOf: 'PGMCP_ACCESS' });
  });

  it('an alias sits at the environment layer: it beats the config file, a flag beats it', () => {
    const fromEnv = resolveConfig({ file: { http: { port: 5000 } }, env: { PORT: '8080' } });
    expect(fromEnv.config.http.port).toBe(8080);
    expect(fromEnv.sources['http.port']).toBe('env');
    const fromFlag = resolveConfig({ env: { PORT: '8080' }, flags: { 'http.port': '9090' } });
    expect(fromFlag.config.http.port).toBe(9090);
    expect(fromFlag.ignoredAliases).toEqual([{ alias: 'PORT', key: 'http.port', by: 'flag --port' }]);
    const fileWins = resolveConfig({ file: { access: 'write' } });
    expect(fileWins.ignoredAliases).toEqual([]);
  });

  it.each([
    [{ MCP_READ_ONLY: 'yes' }, 'MCP_READ_ONLY', '"yes"', 'true or false', 'PGMCP_ACCESS'],
    [{ MCP_READ_ONLY: '1' }, 'MCP_READ_ONLY', '"1"', 'true or false', 'PGMCP_ACCESS'],
    [{ ENABLE_CITUS_TOOLS: 'auto' }, 'ENABLE_CITUS_TOOLS', '"auto"', 'true or false', 'PGMCP_CITUS_TOOLS'],
    [{ MCP_TRANSPORT: 'websocket' }, 'MCP_TRANSPORT', '"websocket"', 'one of stdio, http', 'PGMCP_TRANSPORT'],
    [{ PORT: 'http' }, 'PORT', '"http"', 'an integer >= 0 and <= 65535', 'PGMCP_HTTP_PORT'],
    [{ PORT: '70000' }, 'PORT', '"70000"', '<= 65535', 'PGMCP_HTTP_PORT'],
  ])('refuses a bad alias value %j naming the alias and what it stands for', (env, key, value, expected, of) => {
    const e = errorOf(() => resolveConfig({ env }));
    expect(e.key).toBe(key);
    expect(e.value).toBe(value);
    expect(e.aliasOf).toBe(of);
    expect(e.message).toContain(`${key}=${value} (from env, alias of ${of}): expected`);
    expect(e.message).toContain(expected);
  });

  it('an alias whose own setting refuses it is not read (an unused alias is not validated)', () => {
    expect(resolveConfig({ env: { PGMCP_ACCESS: 'read', MCP_READ_ONLY: 'maybe' } }).config.access).toBe('read');
  });

  it('doctor rows say which name was used; secrets stay masked', () => {
    const resolved = resolveConfig({
      env: { POSTGRES_URL: 'postgres://app:hunter22@db:5432/shop', MCP_READ_ONLY: 'true', PGHOST: 'db' },
      flags: { 'http.port': '3100' },
    });
    const rows = Object.fromEntries(describeConfig(resolved).map((r) => [r.key, r]));
    expect(rows['connection.url']).toMatchObject({
      value: 'postgres://app:****@db:5432/shop',
      source: 'env',
      from: 'env POSTGRES_URL (alias of DATABASE_URL)',
    });
    expect(rows.access).toMatchObject({ value: 'read', from: 'env MCP_READ_ONLY (alias of PGMCP_ACCESS)' });
    expect(rows['connection.host']?.from).toBe('env PGHOST');
    expect(rows['http.port']?.from).toBe('flag --port');
    expect(rows['limits.maxRows']?.from).toBe('default');
    expect(JSON.stringify(rows)).not.toContain('hunter22');
  });

  it('every alias is unique and no alias is also a pgmcp name', () => {
    const own = new Set(SETTINGS.flatMap((s) => (s.env ? [s.env] : [])));
    const aliases = SETTINGS.flatMap((s) => (s.aliases ?? []).map((a) => a.env));
    expect(new Set(aliases).size).toBe(aliases.length);
    for (const a of aliases) expect(own.has(a), a).toBe(false);
  });
});

describe('the Citus toolset switch (cluster.citusTools, ENABLE_CITUS_TOOLS)', () => {
  const output = z.object({});
  const citusTool = defineTool({
    name: 'pg_citus_probe',
    title: 'probe',
    description: 'a Citus tool for the registry test',
    toolset: 'citus',
    readOnly: true,
    component: 'citus',
    input: z.object({}),
    output,
    handler: async () => ({ text: '', data: {} }),
  }) as unknown as ToolDefinition;
  const all = [...ALL_TOOLS, citusTool];
  const names = (env: Record<string, string>, detected: boolean) =>
    toolsFor(resolveConfig({ env }).config, { citus: detected }, all).map((t) => t.name);

  it('auto follows detection; on and off force it', () => {
    expect(names({}, false)).not.toContain('pg_citus_probe');
    expect(names({}, true)).toContain('pg_citus_probe');
    expect(names({ ENABLE_CITUS_TOOLS: 'true' }, false)).toContain('pg_citus_probe');
    expect(names({ ENABLE_CITUS_TOOLS: 'false' }, true)).not.toContain('pg_citus_probe');
    expect(names({ PGMCP_CITUS_TOOLS: 'on' }, false)).toContain('pg_citus_probe');
    expect(names({ PGMCP_CITUS_TOOLS: 'off', ENABLE_CITUS_TOOLS: 'true' }, true)).not.toContain('pg_citus_probe');
  });

  it('on registers the citus toolset even when the toolsets list leaves it out; auto respects the list', () => {
    expect(names({ PGMCP_TOOLSETS: 'core', ENABLE_CITUS_TOOLS: 'true' }, false)).toContain('pg_citus_probe');
    expect(names({ PGMCP_TOOLSETS: 'core' }, true)).not.toContain('pg_citus_probe');
  });

  it('Citus forced on counts as a cluster component; forced off does not, even when detected', () => {
    const config = (env: Record<string, string>) => resolveConfig({ env }).config;
    expect(citusEnabled(config({ ENABLE_CITUS_TOOLS: 'true' }), { citus: false })).toBe(true);
    expect(citusEnabled(config({ ENABLE_CITUS_TOOLS: 'false' }), { citus: true })).toBe(false);
    expect(citusEnabled(config({}), { citus: true })).toBe(true);
  });

  it('the access level still applies to forced Citus tools', () => {
    const writeTool = { ...citusTool, name: 'pg_citus_write', readOnly: false } as ToolDefinition;
    const got = toolsFor(resolveConfig({ env: { ENABLE_CITUS_TOOLS: 'true' } }).config, { citus: false }, [writeTool]);
    expect(got).toEqual([]);
  });
});

describe("the README's alias table", () => {
  it('lists every alias with the pgmcp name it maps to, and nothing else', () => {
    const readme = readFileSync(path.resolve(import.meta.dirname, '../../README.md'), 'utf8');
    const section = /<!-- generated:aliases -->\n([\s\S]*?)<!-- \/generated:aliases -->/.exec(readme)?.[1];
    expect(section, 'README.md has a generated:aliases section').toBeTruthy();
    const rows = (section ?? '')
      .split('\n')
      .filter((l) => /^\| `/.test(l))
      .map((l) => {
        const cells = l.split(' | ');
        return { alias: cells[0]?.replace(/^\| `|`$/g, ''), own: cells[1], key: cells[2]?.replace(/`/g, '') };
      });
    const expected = SETTINGS.flatMap((s) => (s.aliases ?? []).map((a) => ({ alias: a.env, env: s.env, key: s.key })));
    expect(rows.map((r) => r.alias)).toEqual(expected.map((e) => e.alias));
    for (const [i, e] of expected.entries()) {
      expect(rows[i]?.own).toContain(`\`${e.env}\``);
      expect(rows[i]?.key).toBe(e.key);
    }
    for (const a of [
      'POSTGRES_URL',
      'POSTGRES_ADMIN_URL',
      'MCP_READ_ONLY',
      'MCP_TRANSPORT',
      'PORT',
      'MCP_ALLOWED_ORIGINS',
      'ENABLE_CITUS_TOOLS',
    ]) {
      expect(rows.map((r) => r.alias)).toContain(a);
    }
  });
});

import { describe, expect, it } from 'vitest';
import { ConfigError, describeConfig, resolveConfig, secretsOf } from '../../src/config/resolve.js';

describe('resolveConfig', () => {
  it('gives defaults when nothing is set', () => {
    const { config, sources } = resolveConfig({});
    expect(config.access).toBe('read');
    expect(config.limits.defaultRows).toBe(100);
    expect(config.limits.statementTimeoutMs).toBe(30000);
    expect(config.toolsets).toContain('core');
    expect(config.transport).toBe('stdio');
    expect(sources.access).toBe('default');
  });

  it('layers defaults < file < env < flags', () => {
    const file = { access: 'write', limits: { maxRows: 500, defaultRows: 50, poolSize: 4 } };
    const env = { PGMCP_ACCESS: 'admin', PGMCP_MAX_ROWS: '700', PGHOST: 'db.internal', PGPORT: '6432' };
    const { config, sources } = resolveConfig({ file, env, flags: { 'limits.maxRows': '900' } });
    expect(config.access).toBe('admin');
    expect(sources.access).toBe('env');
    expect(config.limits.maxRows).toBe(900);
    expect(sources['limits.maxRows']).toBe('flag');
    expect(config.limits.defaultRows).toBe(50);
    expect(sources['limits.defaultRows']).toBe('file');
    expect(config.limits.poolSize).toBe(4);
    expect(config.connection).toMatchObject({ host: 'db.internal', port: 6432 });
  });

  it('parses durations, booleans and lists', () => {
    const { config } = resolveConfig({
      env: {
        PGMCP_STATEMENT_TIMEOUT: '5s',
        PGMCP_LOCK_TIMEOUT: '250',
        PGMCP_CONNECT_TIMEOUT: '2min',
        PGMCP_TOOLSETS: 'core, monitor',
        PGMCP_PATRONI_URLS: 'http://a:8008,http://b:8008',
      },
    });
    expect(config.limits.statementTimeoutMs).toBe(5000);
    expect(config.limits.lockTimeoutMs).toBe(250);
    expect(config.limits.connectTimeoutMs).toBe(120000);
    expect(config.toolsets).toEqual(['core', 'monitor']);
    expect(config.cluster.patroniUrls).toEqual(['http://a:8008', 'http://b:8008']);
  });

  it('treats an empty environment variable as unset', () => {
    expect(resolveConfig({ env: { PGMCP_ACCESS: '' } }).config.access).toBe('read');
  });

  it.each([
    [{ PGMCP_ACCESS: 'root' }, 'PGMCP_ACCESS', '"root"', 'one of read, write, admin'],
    [{ PGMCP_MAX_ROWS: 'lots' }, 'PGMCP_MAX_ROWS', '"lots"', 'an integer >= 1'],
    [{ PGMCP_MAX_ROWS: '0' }, 'PGMCP_MAX_ROWS', '"0"', 'an integer >= 1'],
    [{ PGPORT: '70000' }, 'PGPORT', '"70000"', '<= 65535'],
    [{ PGMCP_STATEMENT_TIMEOUT: 'soon' }, 'PGMCP_STATEMENT_TIMEOUT', '"soon"', 'a duration'],
    [{ PGMCP_TOOLSETS: 'core,magic' }, 'PGMCP_TOOLSETS', '"core,magic"', 'a comma list of core'],
    [{ PGMCP_TRANSPORT: 'carrier-pigeon' }, 'PGMCP_TRANSPORT', '"carrier-pigeon"', 'one of stdio'],
  ])('refuses bad environment values %j naming key, value and what is expected', (env, key, value, expected) => {
    let error: unknown;
    try {
      resolveConfig({ env });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const e = error as ConfigError;
    expect(e.key).toBe(key);
    expect(e.value).toBe(value);
    expect(e.message).toContain(expected);
  });

  it('refuses unknown keys in a config file', () => {
    expect(() => resolveConfig({ file: { limits: { maxRowz: 5 } } })).toThrow(/limits\.maxRowz/);
  });

  it('refuses a default row count above the cap', () => {
    expect(() => resolveConfig({ env: { PGMCP_DEFAULT_ROWS: '500', PGMCP_MAX_ROWS: '100' } })).toThrow(
      /limits\.defaultRows/,
    );
  });

  it('never shows a secret value, even in errors', () => {
    const err = (() => {
      try {
        resolveConfig({ file: { connection: { password: 12 } } });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err).toBeUndefined();
    let thrown: ConfigError | undefined;
    try {
      resolveConfig({ env: { PGMCP_PATRONI_PASSWORD: 's3cret-value' }, file: { cluster: { patroniPassword: ['x'] } } });
    } catch (e) {
      thrown = e as ConfigError;
    }
    expect(thrown?.message).not.toContain('x"');
    expect(thrown?.value).toBe('****');
  });

  it('masks secrets when describing the configuration', () => {
    const resolved = resolveConfig({
      env: {
        DATABASE_URL: 'postgres://app:hunter22@db:5432/shop',
        PGPASSWORD: 'pw-secret',
        PGMCP_PGBOUNCER_URL: 'postgres://adm:adm-pw@127.0.0.1:6432/pgbouncer',
      },
    });
    const text = JSON.stringify(describeConfig(resolved));
    expect(text).not.toContain('hunter22');
    expect(text).not.toContain('pw-secret');
    expect(text).not.toContain('adm-pw');
    expect(text).toContain('postgres://app:****@db:5432/shop');
    expect(secretsOf(resolved.config)).toEqual(expect.arrayContaining(['hunter22', 'pw-secret', 'adm-pw']));
  });
});

/**
 * The built executables, spawned as an MCP client would: the node bundle and the compiled binary over stdio with a
 * real SDK client, and the one-shot commands (call, tools, doctor) with their exit codes.
 */
import { createHash } from 'node:crypto';
import { closeSync, copyFileSync, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { toolListing } from '../../src/tools/listing.js';
import { ALL_TOOLS } from '../../src/tools/registry.js';
import { BINARY, BUNDLE, requireFiles, root, run } from '../support/built.js';
import { pgEnv } from '../support/mcp-client.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';

const executables: [string, string, string[]][] = [
  ['node bundle', process.execPath, [BUNDLE]],
  ['binary', BINARY, []],
];

let db: TestDatabase;
let env: Record<string, string>;

beforeAll(async () => {
  requireFiles([BUNDLE, BINARY]);
  db = await createTestDatabase(inject('pg'), 'spawn');
  env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...pgEnv(db) };
});

afterAll(async () => {
  await db?.drop();
});

describe.each(executables)('%s over stdio', (_name, command, prefix) => {
  it('initializes, lists tools and calls them with a real SDK client', async () => {
    const transport = new StdioClientTransport({ command, args: [...prefix, 'serve'], env, stderr: 'pipe' });
    let stderr = '';
    transport.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const client = new Client({ name: 'spawn-test', version: '0' });
    await client.connect(transport);
    try {
      expect(client.getServerVersion()?.name).toBe('pgmcp');
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toContain('pg_query');
      // The listings compiled in at build time are exactly what the source works out.
      for (const tool of tools) {
        const def = ALL_TOOLS.find((d) => d.name === tool.name);
        expect(def, tool.name).toBeDefined();
        expect(tool).toEqual(JSON.parse(JSON.stringify(toolListing(def as (typeof ALL_TOOLS)[number]))));
      }
      const ok = await client.callTool({ name: 'pg_query', arguments: { sql: 'select 1 as one' } });
      expect(ok.isError).toBeFalsy();
      expect(ok.structuredContent).toMatchObject({ rows: [{ one: 1 }] });
      const bad = await client.callTool({ name: 'pg_query', arguments: { sql: 'drop table x' } });
      expect(bad.isError).toBe(true);
    } finally {
      await client.close();
    }
    // Logs and audit lines went to stderr, never into the protocol stream, and carry no password.
    expect(stderr).toContain('"tool":"pg_query"');
    expect(stderr).not.toContain(db.password);
  });

  it('`call` prints the result and exits 0; a tool error exits 1', async () => {
    const ok = await run(command, [...prefix, 'call', 'pg_query', '{"sql":"select 40 + 2 as answer"}'], { env });
    expect(ok.stdout).toContain('| answer |');
    expect(ok.stdout).toContain('| 42 |');
    const json = await run(command, [...prefix, 'call', 'pg_query', '{"sql":"select 42 as answer"}', '--json'], {
      env,
    });
    expect(JSON.parse(json.stdout)).toMatchObject({ rows: [{ answer: 42 }] });
    const err = await run(command, [...prefix, 'call', 'pg_query', '{"sql":"select pg_reload_conf()"}'], { env }).catch(
      (e: { code: number; stdout: string }) => e,
    );
    expect(err).toMatchObject({ code: 1 });
    expect((err as { stdout: string }).stdout).toMatch(/pg_reload_conf/);
  });

  it('`tools` lists the catalogue and `doctor` checks the server', async () => {
    const tools = await run(command, [...prefix, 'tools'], { env });
    expect(tools.stdout).toContain('pg_query');
    const doctor = await run(command, [...prefix, 'doctor'], { env });
    expect(doctor.stdout).toMatch(/ok +postgres: PostgreSQL 15/);
    expect(doctor.stdout).not.toContain(db.password);
    expect(doctor.stdout).toContain('connection.password = ****');
  });

  it('exits 2 on bad configuration naming the key, the value and what is expected', async () => {
    const err = await run(command, [...prefix, 'tools'], { env: { ...env, PGMCP_ACCESS: 'superuser' } }).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(err).toMatchObject({ code: 2 });
    expect((err as { stderr: string }).stderr).toMatch(/PGMCP_ACCESS="superuser".*expected one of read, write, admin/);
  });

  it('doctor exits 1 when PostgreSQL cannot be reached', async () => {
    const err = await run(command, [...prefix, 'doctor'], { env: { ...env, PGPORT: '1' } }).catch(
      (e: { code: number; stdout: string }) => e,
    );
    expect(err).toMatchObject({ code: 1 });
    expect((err as { stdout: string }).stdout).toMatch(/FAIL postgres/);
  });
});

describe('release binaries', () => {
  it('the x64 binary runs from a directory with no node_modules anywhere above it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pgmcp-alone-'));
    try {
      const alone = path.join(dir, 'pgmcp');
      copyFileSync(BINARY, alone);
      const r = await run(
        alone,
        ['call', 'pg_query', '{"sql":"select $1::text as parsed","params":["by the embedded parser"]}'],
        {
          env,
          cwd: dir,
        },
      );
      expect(r.stdout).toContain('by the embedded parser');
      // The parser (WASM) is in use: a syntax error is caught before the server sees it, with its position.
      const bad = await run(alone, ['call', 'pg_query', '{"sql":"selec 1"}'], { env, cwd: dir }).catch(
        (e: { code: number; stdout: string }) => e,
      );
      expect(bad).toMatchObject({ code: 1 });
      expect((bad as { stdout: string }).stdout).toMatch(/syntax error/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the arm64 binary is an aarch64 ELF executable', () => {
    const header = Buffer.alloc(20);
    const fd = openSync(path.join(root, 'dist/pgmcp-linux-arm64'), 'r');
    readSync(fd, header, 0, 20, 0);
    closeSync(fd);
    expect(header.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    expect(header[4]).toBe(2); // 64-bit
    expect(header.readUInt16LE(18)).toBe(0xb7); // EM_AARCH64
  });

  it('SHA256SUMS matches both binaries', () => {
    const sums = readFileSync(path.join(root, 'dist/SHA256SUMS'), 'utf8');
    for (const name of ['pgmcp-linux-x64', 'pgmcp-linux-arm64']) {
      const digest = createHash('sha256')
        .update(readFileSync(path.join(root, 'dist', name)))
        .digest('hex');
      expect(sums).toContain(`${digest}  ${name}`);
    }
  });
});

describe('`call` and destructive actions', () => {
  it('without a terminal nothing runs and it says how to confirm; --yes confirms', async () => {
    const writeEnv = { ...env, PGMCP_ACCESS: 'write' };
    await run(BINARY, ['call', 'pg_execute', '{"sql":"create table cli_victim (a int)"}'], { env: writeEnv });
    const refused = await run(BINARY, ['call', 'pg_execute', '{"sql":"drop table cli_victim"}'], {
      env: writeEnv,
    }).catch((e: { code: number; stdout: string; stderr: string }) => e);
    expect(refused).toMatchObject({ code: 1 });
    expect((refused as { stderr: string }).stderr).toContain('--yes');
    const still = await run(
      BINARY,
      ['call', 'pg_query', '{"sql":"select to_regclass($1) is not null as here","params":["cli_victim"]}'],
      {
        env,
      },
    );
    expect(still.stdout).toContain('| true |');
    await run(BINARY, ['call', 'pg_execute', '{"sql":"drop table cli_victim"}', '--yes'], { env: writeEnv });
    const gone = await run(
      BINARY,
      ['call', 'pg_query', '{"sql":"select to_regclass($1) is not null as here","params":["cli_victim"]}'],
      {
        env,
      },
    );
    expect(gone.stdout).toContain('| false |');
  });
});

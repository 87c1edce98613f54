import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { pgEnv, startInProcess } from '../support/mcp-client.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';

let db: TestDatabase;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase(inject('pg'), 'audit');
  dir = mkdtempSync(path.join(tmpdir(), 'pgmcp-audit-'));
});

afterAll(async () => {
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('audit', () => {
  it('writes one line per call — who, tool, database, fingerprint, duration, rows, outcome — and never the SQL or a secret', async () => {
    const file = path.join(dir, 'nested', 'audit.log');
    const mcp = await startInProcess({ ...pgEnv(db), PGMCP_AUDIT_FILE: file }, { identity: 'alice' });
    await mcp.call('pg_query', { sql: "select 'top-secret-literal' as x" });
    await mcp.call('pg_query', { sql: 'select * from missing_table' });
    await mcp.call('pg_query', { sql: 'drop table t' });
    await mcp.close();
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).audit);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatchObject({ who: 'alice', tool: 'pg_query', database: db.database, rows: 1, outcome: 'ok' });
    expect(lines[0].fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(typeof lines[0].durationMs).toBe('number');
    expect(lines[1]).toMatchObject({ outcome: 'error', code: '42P01' });
    expect(lines[2]).toMatchObject({ outcome: 'error', code: 'not_read_only' });
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('top-secret-literal');
    expect(text).not.toContain(db.password);
  });
});

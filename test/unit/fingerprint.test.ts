import { beforeAll, describe, expect, it } from 'vitest';
import { fingerprintStatement } from '../../src/sql/fingerprint.js';
import { initParser } from '../../src/sql/parser.js';

beforeAll(() => initParser());

describe('fingerprintStatement', () => {
  it('is the same for statements differing only in constants and layout', () => {
    expect(fingerprintStatement('select * from t where id = 1')).toBe(
      fingerprintStatement('SELECT *\n FROM t WHERE id = 42'),
    );
    expect(fingerprintStatement('select * from t where id = 1')).not.toBe(
      fingerprintStatement('select * from u where id = 1'),
    );
  });

  it('never contains the statement text and still answers for text that does not parse', () => {
    const fp = fingerprintStatement("select secret_column from t where password = 'hunter2' and");
    expect(fp).toMatch(/^h[0-9a-f]{15}$/);
    expect(fingerprintStatement('select 1')).toMatch(/^[0-9a-f]{16}$/);
  });
});

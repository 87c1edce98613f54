import { createHash } from 'node:crypto';

/** A short, stable fingerprint of a statement for the audit log (never the statement text itself). */
export function fingerprintStatement(sql: string): string {
  return createHash('sha256').update(sql.replace(/\s+/g, ' ').trim()).digest('hex').slice(0, 16);
}

import { createHash } from 'node:crypto';
import { fingerprintSql } from './parser.js';

/**
 * A short, stable fingerprint of a statement for the audit log (never the statement text itself): PostgreSQL's query
 * fingerprint, which ignores constants and layout; for text that does not parse, a hash of it.
 */
export function fingerprintStatement(sql: string): string {
  return fingerprintSql(sql) ?? `h${createHash('sha256').update(sql).digest('hex').slice(0, 15)}`;
}

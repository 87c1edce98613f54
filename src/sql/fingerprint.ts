import { createHash } from 'node:crypto';
import { fingerprintSql, parserLoaded } from './parser.js';
import { RecentTexts } from './recent-texts.js';

/**
 * A short, stable fingerprint of a statement for the audit log (never the statement text itself): PostgreSQL's query
 * fingerprint, which ignores constants and layout; for text that does not parse, a hash of it.
 */
export function fingerprintStatement(sql: string): string {
  // Before the parser is loaded the text can only be hashed: that is not kept, the fingerprint comes later.
  return parserLoaded() ? recent.get(sql, fingerprintUncached) : fingerprintUncached(sql);
}

function fingerprintUncached(sql: string): string {
  return fingerprintSql(sql) ?? `h${createHash('sha256').update(sql).digest('hex').slice(0, 15)}`;
}

/** Fingerprints of recent statements: the audit line of a repeated or paged read does not parse its SQL again. */
const recent = new RecentTexts<string>(256, 4096);

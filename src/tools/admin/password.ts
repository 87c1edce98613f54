/**
 * Passwords never reach the server (or its logs, pg_stat_activity, pg_stat_statements) in clear text: pgmcp hashes
 * them itself the way the server would (password_encryption: SCRAM-SHA-256 by default, or md5) and sends the hash,
 * which PostgreSQL stores as it is. This is what psql's \password does.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { ToolError } from '../errors.js';

/** Ranges as [first, last] code points. */
type Ranges = readonly (readonly [number, number])[];

const inRanges = (cp: number, ranges: Ranges) => ranges.some(([a, b]) => cp >= a && cp <= b);

/** RFC 3454 C.1.2: non-ASCII space characters (mapped to a space). */
const NON_ASCII_SPACE: Ranges = [
  [0xa0, 0xa0],
  [0x1680, 0x1680],
  [0x2000, 0x200b],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
];

/** RFC 3454 B.1: characters commonly mapped to nothing. */
const MAPPED_TO_NOTHING: Ranges = [
  [0xad, 0xad],
  [0x34f, 0x34f],
  [0x1806, 0x1806],
  [0x180b, 0x180d],
  [0x200b, 0x200d],
  [0x2060, 0x2060],
  [0xfe00, 0xfe0f],
  [0xfeff, 0xfeff],
];

/** RFC 3454 C.1.2, C.2.1, C.2.2, C.3, C.4, C.5, C.6, C.7, C.8, C.9: prohibited in the output. */
const PROHIBITED: Ranges = [
  ...NON_ASCII_SPACE,
  [0x00, 0x1f],
  [0x7f, 0x9f],
  [0x6dd, 0x6dd],
  [0x70f, 0x70f],
  [0x180e, 0x180e],
  [0x200c, 0x200f],
  [0x2028, 0x202e],
  [0x2060, 0x2063],
  [0x206a, 0x206f],
  [0x2ff0, 0x2ffb],
  [0x340, 0x341],
  [0xd800, 0xdfff],
  [0xe000, 0xf8ff],
  [0xfdd0, 0xfdef],
  [0xfeff, 0xfeff],
  [0xfff9, 0xffff],
  [0x1d173, 0x1d17a],
  [0xe0001, 0xe0001],
  [0xe0020, 0xe007f],
  [0xf0000, 0x10ffff],
];

/** Non-characters U+nFFFE and U+nFFFF of every plane (C.4). */
const isPlaneNonCharacter = (cp: number) => (cp & 0xfffe) === 0xfffe;

/** Scripts written right to left (bidirectional category R or AL). */
const RIGHT_TO_LEFT =
  /[\p{Script=Hebrew}\p{Script=Arabic}\p{Script=Syriac}\p{Script=Thaana}\p{Script=Nko}\p{Script=Samaritan}\p{Script=Mandaic}]/u;

/**
 * SASLprep (RFC 4013) as the server applies it to a password before hashing: ASCII stays as it is; otherwise
 * non-ASCII spaces become spaces, characters mapped to nothing go, NFKC; when the result holds a prohibited
 * character the server uses the password unchanged. Right-to-left scripts (whose bidirectional rules this does not
 * reproduce) are refused, as is a password that would come out empty.
 */
export function saslPrep(password: string): string {
  if ([...password].every((ch) => (ch.codePointAt(0) as number) < 0x80)) return password;
  if (RIGHT_TO_LEFT.test(password)) {
    throw new ToolError('pgmcp cannot hash a password with right-to-left characters exactly as the server would', {
      code: 'unsupported_password',
      hint: "set it with psql's \\password instead",
    });
  }
  let mapped = '';
  for (const ch of password) {
    const cp = ch.codePointAt(0) as number;
    if (inRanges(cp, NON_ASCII_SPACE)) mapped += ' ';
    else if (!inRanges(cp, MAPPED_TO_NOTHING)) mapped += ch;
  }
  const prepared = mapped.normalize('NFKC');
  if (prepared === '') {
    throw new ToolError('the password is empty once normalised (SASLprep)', { code: 'invalid_arguments' });
  }
  for (const ch of prepared) {
    const cp = ch.codePointAt(0) as number;
    if (inRanges(cp, PROHIBITED) || isPlaneNonCharacter(cp) || /\p{Cn}/u.test(ch)) return password;
  }
  return prepared;
}

const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest();

/** A SCRAM-SHA-256 secret as PostgreSQL stores it: `SCRAM-SHA-256$iterations:salt$StoredKey:ServerKey`. */
export function scramSecret(password: string, iterations = 4096, salt: Buffer = randomBytes(16)): string {
  const salted = pbkdf2Sync(Buffer.from(saslPrep(password), 'utf8'), salt, iterations, 32, 'sha256');
  const storedKey = createHash('sha256').update(hmac(salted, 'Client Key')).digest();
  const serverKey = hmac(salted, 'Server Key');
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** An md5 secret: `md5` + md5(password + role name). */
export function md5Secret(password: string, role: string): string {
  return `md5${createHash('md5')
    .update(password + role, 'utf8')
    .digest('hex')}`;
}

/** The secret for `role` by the server's password_encryption. */
export function passwordSecret(password: string, role: string, encryption: string, iterations: number): string {
  return encryption === 'md5' ? md5Secret(password, role) : scramSecret(password, iterations);
}

/** What the plan shows for a password. */
export const MASKED = "'****'";

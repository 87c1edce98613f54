import { Writable } from 'node:stream';
import pino from 'pino';

/** One line a pino logger wrote, parsed. */
export type LogLine = { level: number; msg: string } & Record<string, unknown>;

/** A pino logger at `level` whose lines are kept, parsed, in `lines` (for tests that check what pgmcp logged). */
export function captureLog(level: pino.Level = 'info'): { log: pino.Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  return { log: pino({ level }, sink), lines };
}

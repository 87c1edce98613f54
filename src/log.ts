import pino from 'pino';

export type Logger = pino.Logger;
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** Logs are JSON lines on stderr: stdout belongs to the stdio transport. */
export function createLogger(level: LogLevel = 'info'): Logger {
  return pino({ level, base: { name: 'pgmcp' } }, pino.destination({ fd: 2, sync: true }));
}

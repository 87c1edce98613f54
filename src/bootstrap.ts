import { type App, createApp } from './app.js';
import { readConfigFile } from './config/file.js';
import { type ResolvedConfig, resolveConfig } from './config/resolve.js';
import type { EmbeddedPostgres } from './db/embedded.js';
import { createLogger, type Logger } from './log.js';

export interface StartOptions {
  configFile?: string;
  /** `true` for a throwaway embedded server, a path to keep its data there. */
  embedded?: boolean | string;
  flags: Record<string, unknown>;
  env: Record<string, string | undefined>;
  /** One-shot commands (call, tools, doctor): quieter logs unless a level is set, no audit lines on stderr. */
  oneShot?: boolean;
}

export interface Started {
  app: App;
  resolved: ResolvedConfig;
  embedded?: EmbeddedPostgres;
  log: Logger;
  /** Closes pools, stops the embedded server: safe to call more than once. */
  shutdown(): Promise<void>;
}

/** Resolves the configuration (throws ConfigError), starts the embedded server when asked, and builds the app. */
export async function start(opts: StartOptions): Promise<Started> {
  const file = opts.configFile ? readConfigFile(opts.configFile) : undefined;
  const resolved = resolveConfig({ file, env: opts.env, flags: opts.flags });
  const quiet = opts.oneShot && resolved.sources['log.level'] === 'default';
  const log = createLogger(quiet ? 'warn' : resolved.config.log.level);
  let embedded: EmbeddedPostgres | undefined;
  if (opts.embedded) {
    const { startEmbedded } = await import('./db/embedded.js');
    embedded = await startEmbedded({
      ...(typeof opts.embedded === 'string' ? { dir: opts.embedded } : {}),
      // Progress of the embedded server is for the person at the terminal: plain lines on stderr.
      log: (msg: string) => {
        if (resolved.config.log.level !== 'silent') process.stderr.write(`pgmcp: ${msg}\n`);
      },
    });
    resolved.config.connection = {
      host: embedded.host,
      port: embedded.port,
      user: embedded.user,
      password: embedded.password,
      database: embedded.database,
      sslmode: 'disable',
    };
  }
  const app = createApp(resolved.config, log, { auditToStderr: !opts.oneShot });
  let done: Promise<void> | undefined;
  const shutdown = () => {
    done ??= (async () => {
      await app.close();
      await embedded?.stop();
    })();
    return done;
  };
  return { app, resolved, log, shutdown, ...(embedded ? { embedded } : {}) };
}

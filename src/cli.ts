import { Command, Option } from 'commander';
import { type Started, start } from './bootstrap.js';
import { callCommand, UsageError } from './commands/call.js';
import { doctorCommand } from './commands/doctor.js';
import { HEALTH_TOKEN_ENV, healthCommand } from './commands/health.js';
import { serveStdio } from './commands/serve-stdio.js';
import { toolsCommand } from './commands/tools.js';
import { readConfigFile } from './config/file.js';
import { ConfigError, resolveConfig } from './config/resolve.js';
import { SETTINGS } from './config/settings.js';
import { tuneRuntime } from './runtime-flags.js';
import { ACCESS_LEVELS, type AccessLevel } from './tools/define.js';
import { VERSION } from './version.js';

const FLAG_SETTINGS = SETTINGS.filter((s) => s.flag);

/** commander's attribute name for a flag: --max-rows → maxRows. */
const attributeOf = (flag: string) => flag.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

function settingOptions(): Option[] {
  return FLAG_SETTINGS.map((s) => {
    const placeholder = s.type === 'enum' ? s.values?.join('|') : s.type === 'bool' ? '' : s.type;
    const opt = new Option(
      `${s.flag}${placeholder ? ` <${placeholder}>` : ''}`,
      `${s.description}${s.env ? ` (env ${s.env}${s.aliases ? `; also ${s.aliases.map((a) => a.env).join(', ')}` : ''})` : ''}`,
    );
    return opt;
  });
}

function flagValues(opts: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const s of FLAG_SETTINGS) {
    const v = opts[attributeOf(s.flag as string)];
    if (v !== undefined) out[s.key] = v;
  }
  return out;
}

async function withStarted<T>(cmd: Command, run: (started: Started) => Promise<T>, oneShot = true): Promise<T> {
  const opts = cmd.optsWithGlobals() as Record<string, unknown>;
  const started = await start({
    ...(typeof opts.config === 'string' ? { configFile: opts.config } : {}),
    ...(typeof opts.embeddedDir === 'string'
      ? { embedded: opts.embeddedDir }
      : opts.embedded === true
        ? { embedded: true }
        : {}),
    flags: flagValues(opts),
    env: process.env,
    oneShot,
  });
  return run(started);
}

function fail(err: unknown): never {
  if (err instanceof ConfigError || err instanceof UsageError) {
    process.stderr.write(`pgmcp: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`pgmcp: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}

export function buildProgram(): Command {
  const program = new Command('pgmcp')
    .description('PostgreSQL MCP server: safe SQL, schema, monitoring, tuning and cluster tools for AI assistants')
    .version(VERSION, '-V, --version')
    .option('-c, --config <file>', 'config file (JSON or YAML)')
    .option(
      '--embedded',
      'run against a throwaway embedded PostgreSQL with a demo database instead of PG*; --embedded=DIR keeps it in DIR',
    )
    .addOption(new Option('--embedded-dir <dir>', 'keep the embedded PostgreSQL in DIR').hideHelp())
    .showHelpAfterError();
  for (const opt of settingOptions()) program.addOption(opt);

  program
    .command('serve', { isDefault: true })
    .description('run the MCP server: stdio by default, or the HTTP gateway (--transport http)')
    .action(async (_o, cmd: Command) => {
      await withStarted(
        cmd,
        async (started) => {
          if (!started.app.config.confirm) {
            started.log.warn('confirmation of destructive actions is OFF (PGMCP_CONFIRM=false): they run when called');
          }
          if (started.app.config.transport === 'http') {
            // Loaded only here: the stdio server's start-up does not pay for the gateway's modules.
            const { serveHttp } = await import('./commands/serve-http.js');
            await serveHttp(started);
          } else {
            await serveStdio(started);
          }
        },
        false,
      );
    });

  program
    .command('call')
    .description('call one tool through the server code and print its result; exit 1 on a tool error')
    .argument('<tool>', 'tool name, e.g. pg_query')
    .argument('[json]', 'arguments as a JSON object, e.g. \'{"sql":"select 1"}\'')
    .option('--json', 'print the structured result as JSON')
    .option('-y, --yes', 'confirm a destructive action in advance (otherwise asked on the terminal)')
    .action(async (tool: string, json: string | undefined, o: { json?: boolean; yes?: boolean }, cmd: Command) => {
      const code = await withStarted(cmd, async (started) => {
        try {
          return await callCommand(started, tool, json, o.json === true, o.yes === true);
        } finally {
          await started.shutdown();
        }
      });
      process.exit(code);
    });

  program
    .command('tools')
    .description('list the tools of the current configuration')
    .option('--json', 'print definitions with their JSON schemas')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      await withStarted(cmd, async (started) => {
        await started.app.citus.settled();
        process.stdout.write(`${toolsCommand(started.app.config, started.app.components, o.json === true)}\n`);
        await started.shutdown();
      });
      process.exit(0);
    });

  program
    .command('token')
    .description(
      'make a bearer token for the HTTP gateway: prints the secret once and the tokens-file entry (its SHA-256 only)',
    )
    .argument('<name>', 'token name, used as the identity in audit lines')
    .addOption(new Option('--scope <scope>', 'what the token may do').choices(ACCESS_LEVELS).default('read'))
    .option('--databases <list>', 'only these databases (comma list)')
    .action(async (name: string, o: { scope: AccessLevel; databases?: string }) => {
      const { tokenCommand } = await import('./http/auth.js');
      const dbs = (o.databases ?? '')
        .split(',')
        .map((d) => d.trim())
        .filter(Boolean);
      try {
        process.stdout.write(tokenCommand(name, o.scope, dbs));
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
    });

  program
    .command('health')
    .description(
      `ask a running HTTP gateway's /health (the one this configuration serves, or --url); exit 0 on 200 — a container health check; sends ${HEALTH_TOKEN_ENV} as bearer token when set`,
    )
    .option('--url <url>', 'the /health URL (default: from http.host and http.port)')
    .action(async (o: { url?: string }, cmd: Command) => {
      const opts = cmd.optsWithGlobals() as Record<string, unknown>;
      const file = typeof opts.config === 'string' ? readConfigFile(opts.config) : undefined;
      const { config } = resolveConfig({ file, env: process.env, flags: flagValues(opts) });
      process.exit(await healthCommand(config, o.url, process.env[HEALTH_TOKEN_ENV] || undefined));
    });

  program
    .command('doctor')
    .description('check the configuration and every configured component; exit 0 when all is well')
    .action(async (_o, cmd: Command) => {
      const code = await withStarted(cmd, async (started) => {
        try {
          return await doctorCommand(started);
        } finally {
          await started.shutdown();
        }
      });
      process.exit(code);
    });
  return program;
}

/**
 * `--embedded=DIR` becomes `--embedded-dir DIR`, so that a bare `--embedded` never swallows the next word
 * (`pgmcp --embedded call pg_query …`).
 */
export function normaliseArgv(argv: readonly string[]): string[] {
  return argv.flatMap((a) => (a.startsWith('--embedded=') ? ['--embedded-dir', a.slice('--embedded='.length)] : [a]));
}

tuneRuntime();
buildProgram().parseAsync(normaliseArgv(process.argv)).catch(fail);

/**
 * Connections that find out, once per server and login, how pgmcp's safety settings reach a session (see
 * session-settings.ts), and follow that decision afterwards.
 *
 * Detection happens on the first connection to a target (host, port, login): it is made with the settings in the
 * startup packet. Refused as unsupported startup parameters (a stock PgBouncer) → `transaction`; that connection
 * cannot be used, and a new one is opened without them (SettingsPool and connectDedicated do so once). Accepted → one
 * query on it reads whether they took effect; any that did not (a pooler that ignores them) → `transaction`, else
 * `startup`. The decision is logged once; later connections follow it without checking. Only one detection runs per
 * target at a time: concurrent first connections wait for it and follow its answer; a detection that fails (server
 * down) decides nothing, and the next connection tries again.
 */
import pg from 'pg';
import type { Logger } from '../log.js';
import {
  isStartupParameterRefusal,
  SETTINGS_CHECK_SQL,
  type SessionSettings,
  type SettingsMode,
  STARTUP_SETTING_KEYS,
  settingsNotApplied,
  settingsOf,
  transactionSettingsStatements,
} from './session-settings.js';

/** What the first connection to a target found out. */
export interface Detection {
  mode: SettingsMode;
  reason: string;
  /** The connection that found out is usable (false: it was refused). */
  connected: boolean;
}

/** The first connection to a target was refused because of the startup settings; the next one goes without them. */
class StartupSettingsRefused extends Error {
  override name = 'StartupSettingsRefused';
}

export interface Target {
  host: string;
  port: number;
  user: string | undefined;
}

const keyOf = (t: Target) => JSON.stringify([t.host, t.port, t.user ?? null]);

/** Where a config connects to, as node-postgres resolves it (defaults and PG* variables included). */
function targetOf(config: pg.ClientConfig): Target {
  const c = new pg.Client(config);
  return { host: c.host, port: c.port, user: c.user };
}

/** The settings mode decided per target, for one pgmcp process. */
export class SettingsModes {
  private readonly decided = new Map<string, SettingsMode>();
  private readonly running = new Map<string, Promise<Detection>>();
  /** Clients of this registry for a pg.Pool's `Client` option. */
  readonly clientClass: new (
    config?: pg.ClientConfig,
  ) => SettingsClient;

  constructor(private readonly log: Logger) {
    const modes = this;
    this.clientClass = class extends SettingsClient {
      constructor(config?: pg.ClientConfig) {
        super(config ?? {}, modes);
      }
    };
  }

  /** The decision for where `config` connects, when one was made. */
  modeFor(config: pg.ClientConfig): SettingsMode | undefined {
    return this.decided.get(keyOf(targetOf(config)));
  }

  /**
   * The mode for `target`: the decision made earlier, or the one `detect` (run by this caller, which then gets its
   * detection too) makes now. While another caller detects, waits for it.
   */
  async decide(
    target: Target,
    detect: () => Promise<Detection>,
  ): Promise<{ mode: SettingsMode; detection?: Detection }> {
    const key = keyOf(target);
    for (;;) {
      const mode = this.decided.get(key);
      if (mode) return { mode };
      const running = this.running.get(key);
      if (!running) break;
      await running.catch(() => undefined);
    }
    const run = detect().then((d) => {
      this.decided.set(key, d.mode);
      this.log.info(
        { server: `${target.host}:${target.port}`, user: target.user, settings_mode: d.mode, reason: d.reason },
        d.mode === 'startup'
          ? 'session settings: timeouts and standard_conforming_strings ride in the startup packet'
          : 'session settings: set in every transaction pgmcp opens (a pooler is in between); statements that cannot run in a transaction block run with the server defaults',
      );
      return d;
    });
    this.running.set(key, run);
    try {
      const detection = await run;
      return { mode: detection.mode, detection };
    } finally {
      if (this.running.get(key) === run) this.running.delete(key);
    }
  }
}

const baseStartupConf = (pg.Client.prototype as unknown as { getStartupConf(): Record<string, string> }).getStartupConf;

/**
 * A node-postgres client that follows its target's settings mode: in `transaction` mode the settings stay out of the
 * startup packet and `afterBegin` says what to send after each BEGIN.
 */
export class SettingsClient extends pg.Client {
  /** The settings this connection wants (from its config). */
  readonly settings: SessionSettings;
  #mode: SettingsMode | undefined;
  #afterBegin: readonly string[] | undefined;

  constructor(
    config: pg.ClientConfig,
    private readonly modes: SettingsModes,
  ) {
    super(config);
    this.settings = settingsOf(config);
  }

  /** Known once connected. */
  get settingsMode(): SettingsMode | undefined {
    return this.#mode;
  }

  /** The statements to send right after BEGIN, in the same batch: only in `transaction` mode. */
  get afterBegin(): readonly string[] | undefined {
    if (this.#mode !== 'transaction') return undefined;
    this.#afterBegin ??= transactionSettingsStatements(this.settings);
    return this.#afterBegin;
  }

  /** node-postgres builds the startup packet here (not part of its typed API). */
  getStartupConf(): Record<string, string> {
    const conf = baseStartupConf.call(this);
    if (this.#mode === 'transaction') for (const key of STARTUP_SETTING_KEYS) delete conf[key];
    return conf;
  }

  override connect(): Promise<pg.Client>;
  override connect(callback: ((err: Error) => void) | ((err: null, c: pg.Client) => void)): void;
  override connect(
    callback?: ((err: Error) => void) | ((err: null, c: pg.Client) => void),
  ): Promise<pg.Client> | undefined {
    const opened = this.open().then(() => this as pg.Client);
    if (!callback) return opened;
    opened.then(
      (c) => (callback as (err: null, c: pg.Client) => void)(null, c),
      (err: Error) => (callback as (err: Error) => void)(err),
    );
    return undefined;
  }

  private async open(): Promise<void> {
    const { mode, detection } = await this.modes.decide({ host: this.host, port: this.port, user: this.user }, () =>
      this.detect(),
    );
    this.#mode = mode;
    if (!detection) await super.connect();
    else if (!detection.connected) throw new StartupSettingsRefused(detection.reason);
  }

  /** Connects with the settings in the startup packet and checks that they took effect. */
  private async detect(): Promise<Detection> {
    this.#mode = 'startup';
    try {
      await super.connect();
    } catch (err) {
      if (!isStartupParameterRefusal(err)) throw err;
      return {
        mode: 'transaction',
        connected: false,
        reason: `refused as startup parameters: ${(err as Error).message}`,
      };
    }
    let rows: { name: string; setting: string }[];
    try {
      rows = (await this.query<{ name: string; setting: string }>(SETTINGS_CHECK_SQL)).rows;
    } catch (err) {
      await this.end().catch(() => undefined);
      throw err;
    }
    const missing = settingsNotApplied(this.settings, rows);
    if (missing.length === 0) return { mode: 'startup', connected: true, reason: 'accepted and in effect' };
    this.#mode = 'transaction';
    return {
      mode: 'transaction',
      connected: true,
      reason: `accepted as startup parameters but not in effect: ${missing.join(', ')}`,
    };
  }
}

/** Opens a connection; when the first one to a target was refused over the startup settings, opens the next. */
async function retryRefused<T>(open: () => Promise<T>): Promise<T> {
  try {
    return await open();
  } catch (err) {
    if (err instanceof StartupSettingsRefused) return open();
    throw err;
  }
}

type PoolCallback = (
  err: Error | undefined,
  client: pg.PoolClient | undefined,
  done: (release?: unknown) => void,
) => void;

/** A pg.Pool of SettingsClients (its `Client` option) that opens a second connection after a refused first one. */
export class SettingsPool extends pg.Pool {
  override connect(): Promise<pg.PoolClient>;
  override connect(callback: PoolCallback): void;
  override connect(callback?: PoolCallback): Promise<pg.PoolClient> | undefined {
    const connected = retryRefused(() => super.connect());
    if (!callback) return connected;
    connected.then(
      (client) => callback(undefined, client, (release) => client.release(release as Error | boolean | undefined)),
      (err: Error) => callback(err, undefined, () => undefined),
    );
    return undefined;
  }
}

/**
 * A new connection of its own (not pooled) that follows the settings mode. `prepare` runs on each client before it
 * connects (listeners). A client that failed to connect is ended.
 */
export function connectDedicated(
  modes: SettingsModes,
  config: pg.ClientConfig,
  prepare?: (client: SettingsClient) => void,
): Promise<SettingsClient> {
  return retryRefused(async () => {
    const client = new SettingsClient(config, modes);
    prepare?.(client);
    try {
      await client.connect();
    } catch (err) {
      void client.end().catch(() => undefined);
      throw err;
    }
    return client;
  });
}

/** What to send right after BEGIN on `client`, in the same batch (transaction mode), or undefined. */
export function settingsAfterBegin(client: pg.ClientBase): readonly string[] | undefined {
  return client instanceof SettingsClient ? client.afterBegin : undefined;
}

/** A simple-protocol BEGIN text with the settings after it when `client` needs them: still one round trip. */
export function beginText(client: pg.ClientBase, begin: string): string {
  const settings = settingsAfterBegin(client);
  return settings === undefined ? begin : [begin, ...settings].join('; ');
}

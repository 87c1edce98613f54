/**
 * Whether the default database has the citus extension: asked once at start-up (cluster.citusTools = auto) beside
 * the MCP handshake, never in its way. tools/list waits for a check still running for a short while; an answer that
 * comes later changes `components.citus` and the listeners (each MCP server) tell their clients the list changed.
 * A database that cannot be reached leaves Citus undetected (a debug line). /health records what it finds here too.
 */
import type { Config } from '../config/settings.js';
import type { Logger } from '../log.js';
import type { Components } from './components.js';
import type { ToolDefinition } from './define.js';
import { toolsFor } from './registry.js';

/** The extension's version, or no row: the one question start-up detection and /health ask. */
export const CITUS_EXTENSION_SQL = "select extversion from pg_catalog.pg_extension where extname = 'citus'";

/** How long tools/list waits for a check that has not answered yet. */
export const DETECTION_WAIT_MS = 1500;

export type CitusState = 'unknown' | 'absent' | 'installed';

const SETTLED: Promise<void> = Promise.resolve();

export class CitusDetection {
  #state: CitusState = 'unknown';
  #version: string | null = null;
  #running: Promise<void> | undefined;
  #done = true;
  readonly #listeners = new Set<() => void>();

  constructor(
    private readonly components: Components,
    private readonly log: Logger,
  ) {}

  get state(): CitusState {
    return this.#state;
  }

  /** The installed version, when known. */
  get version(): string | null {
    return this.#version;
  }

  /** Starts the check once: `ask` answers the extension's version or null; a failure leaves Citus undetected. */
  start(ask: () => Promise<string | null>): void {
    if (this.#running) return;
    this.#done = false;
    const t0 = performance.now();
    this.#running = ask()
      .then(
        (version) => {
          this.record(version);
          this.log.debug({ citus: version, ms: Math.round(performance.now() - t0) }, 'citus detection');
        },
        (err: unknown) =>
          this.log.debug(
            { err: err instanceof Error ? err.message : String(err) },
            'citus detection: the database did not answer; Citus tools stay unregistered',
          ),
      )
      .finally(() => {
        this.#done = true;
      });
  }

  /** Records what a check found (start-up, /health); listeners hear of a change of presence. */
  record(version: string | null): void {
    this.#state = version === null ? 'absent' : 'installed';
    this.#version = version;
    const present = version !== null;
    if (this.components.citus === present) return;
    this.components.citus = present;
    for (const listener of this.#listeners) listener();
  }

  /** Resolves once the start-up check has answered or failed, or after `waitMs`, whichever comes first. */
  settled(waitMs = DETECTION_WAIT_MS): Promise<void> {
    if (this.#done || !this.#running) return SETTLED;
    let timer: NodeJS.Timeout | undefined;
    const cap = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, waitMs);
    });
    return Promise.race([this.#running, cap]).finally(() => clearTimeout(timer));
  }

  /** Calls `listener` whenever Citus appears or disappears; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/**
 * Feeds `use` the tools one MCP server offers, now and whenever Citus detection changes them: `fixed` when given
 * (they never change), otherwise those of the configuration and what was detected. Returns the unsubscribe function.
 */
export function followTools(
  app: { config: Config; components: Components; citus: CitusDetection },
  fixed: readonly ToolDefinition[] | undefined,
  use: (definitions: readonly ToolDefinition[]) => void,
): () => void {
  if (fixed) {
    use(fixed);
    return () => undefined;
  }
  let names: string | undefined;
  const current = () => {
    const definitions = toolsFor(app.config, app.components);
    const now = definitions.map((d) => d.name).join(',');
    if (now === names) return;
    names = now;
    use(definitions);
  };
  current();
  return app.citus.onChange(current);
}

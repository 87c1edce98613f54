import type { Config } from '../config/settings.js';
import { pgAdmin } from './admin.js';
import { pgClusterAdmin } from './cluster/admin.js';
import { pgCitus } from './cluster/citus.js';
import { pgHaproxy } from './cluster/haproxy.js';
import { pgCluster } from './cluster/overview.js';
import { pgPatroni } from './cluster/patroni.js';
import { pgPgbouncer } from './cluster/pgbouncer.js';
import { type Components, citusEnabled } from './components.js';
import { accessAllows, requiredAccess, type ToolDefinition } from './define.js';
import { pgExecute } from './execute.js';
import { pgMonitor } from './monitor.js';
import { pgPerf } from './perf.js';
import { pgQuery } from './query.js';
import { pgSchema } from './schema.js';
import { pgTx } from './tx.js';

export { type Components, citusEnabled } from './components.js';

/** Every tool pgmcp has, in catalogue order. */
export const ALL_TOOLS: readonly ToolDefinition[] = [
  pgQuery as unknown as ToolDefinition,
  pgSchema as unknown as ToolDefinition,
  pgTx as unknown as ToolDefinition,
  pgExecute as unknown as ToolDefinition,
  pgMonitor as unknown as ToolDefinition,
  pgPerf as unknown as ToolDefinition,
  pgAdmin as unknown as ToolDefinition,
  pgCluster as unknown as ToolDefinition,
  pgCitus as unknown as ToolDefinition,
  pgPatroni as unknown as ToolDefinition,
  pgHaproxy as unknown as ToolDefinition,
  pgPgbouncer as unknown as ToolDefinition,
  pgClusterAdmin as unknown as ToolDefinition,
];

function componentAvailable(def: ToolDefinition, config: Config, detected: Components): boolean {
  switch (def.component) {
    case undefined:
    case 'postgres':
      return true;
    case 'citus':
      return citusEnabled(config, detected);
    case 'patroni':
      return config.cluster.patroniUrls.length > 0;
    case 'haproxy':
      return config.cluster.haproxy !== undefined;
    case 'pgbouncer':
      return config.cluster.pgbouncerUrl !== undefined;
    case 'cluster':
      return (
        citusEnabled(config, detected) ||
        config.cluster.patroniUrls.length > 0 ||
        config.cluster.haproxy !== undefined ||
        config.cluster.pgbouncerUrl !== undefined
      );
  }
}

/**
 * The tools registered for a configuration: toolset enabled, access level sufficient, component present. The citus
 * toolset follows `cluster.citusTools` when it is on or off, whatever the toolsets list says.
 */
export function toolsFor(
  config: Config,
  detected: Components = { citus: false },
  all: readonly ToolDefinition[] = ALL_TOOLS,
): ToolDefinition[] {
  const citus = config.cluster.citusTools;
  return all.filter(
    (def) =>
      (def.toolset === 'citus' && citus !== 'auto' ? citus === 'on' : config.toolsets.includes(def.toolset)) &&
      accessAllows(config.access, requiredAccess(def)) &&
      componentAvailable(def, config, detected),
  );
}

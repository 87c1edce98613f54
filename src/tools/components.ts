import type { Config } from '../config/settings.js';

/** Components that are configured or were detected; a tool needing one that is absent is not registered. */
export interface Components {
  citus: boolean;
}

/** Whether Citus counts as present: `cluster.citusTools` on/off forces it, `auto` follows what was detected. */
export function citusEnabled(config: Config, detected: Components): boolean {
  const forced = config.cluster.citusTools;
  return forced === 'auto' ? detected.citus : forced === 'on';
}

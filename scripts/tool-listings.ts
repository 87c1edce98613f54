/**
 * The tools/list entry of every tool, worked out at build time and compiled into the bundle and the binaries as the
 * constant PGMCP_TOOL_LISTINGS (src/tools/listing.ts): turning the zod schemas into JSON Schema is the costliest part
 * of answering the first tools/list, tens of milliseconds of a server's start-up. Computed by the same function the
 * server uses when it runs from source, so the two cannot differ (test/integration/stdio-spawn.test.ts compares them).
 */

import { toolListing } from '../src/tools/listing.js';
import { ALL_TOOLS } from '../src/tools/registry.js';

/** `{ name: listing }` for every tool, as the JSON text of a bundler `define`. */
export function toolListingsDefine(): string {
  return JSON.stringify(Object.fromEntries(ALL_TOOLS.map((def) => [def.name, toolListing(def)])));
}

import type { Config } from '../config/settings.js';
import { markdownTable } from '../format/markdown.js';
import { annotationsFor, requiredAccess } from '../tools/define.js';
import { toolListing } from '../tools/listing.js';
import { type Components, toolsFor } from '../tools/registry.js';

/** `pgmcp tools [--json]`: the catalogue for the current configuration. */
export function toolsCommand(config: Config, components: Components, asJson: boolean): string {
  const tools = toolsFor(config, components);
  if (asJson) {
    return JSON.stringify(
      tools.map((t) => ({
        name: t.name,
        title: t.title,
        toolset: t.toolset,
        access: requiredAccess(t),
        annotations: annotationsFor(t),
        description: t.description,
        inputSchema: toolListing(t).inputSchema,
        outputSchema: toolListing(t).outputSchema,
      })),
      null,
      2,
    );
  }
  return [
    `${tools.length} tools at access level ${config.access}:`,
    markdownTable(
      ['tool', 'toolset', 'access', 'title'],
      tools.map((t) => [t.name, t.toolset, requiredAccess(t), t.title]),
    ),
  ].join('\n');
}

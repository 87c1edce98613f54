import type { CitusNode } from '../../../cluster/citus.js';
import { ToolError } from '../../errors.js';

/** The node a call names: `host:port`, a host that only one node has, or a node id. */
export function pickNode(nodes: readonly CitusNode[], spec: string): CitusNode {
  const s = spec.trim();
  const found =
    nodes.find((n) => n.name === s) ??
    (/^\d+$/.test(s) ? nodes.find((n) => String(n.id) === s) : undefined) ??
    (() => {
      const byHost = nodes.filter((n) => n.host === s);
      if (byHost.length > 1) {
        throw new ToolError(`${byHost.length} nodes run on host ${s}: name one as host:port`, {
          code: 'ambiguous_node',
          hint: `nodes: ${byHost.map((n) => n.name).join(', ')}`,
        });
      }
      return byHost[0];
    })();
  if (!found) {
    throw new ToolError(`no Citus node ${s} in pg_dist_node`, {
      code: 'node_not_found',
      hint: `nodes: ${nodes.map((n) => `${n.name} (id ${n.id})`).join(', ') || 'none'}; pg_citus nodes lists them`,
    });
  }
  return found;
}

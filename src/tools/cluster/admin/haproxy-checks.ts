/** Pre-checks of the HAProxy actions on `show stat` rows (pure: unit-tested on captured output). */
import type { HaproxyRow, ServerAdminState } from '../../../cluster/haproxy.js';
import { ToolError } from '../../errors.js';

/** The server row of `backend`/`server`, or a ToolError naming the backends or servers there are. */
export function findServer(rows: readonly HaproxyRow[], backend: string, server: string): HaproxyRow {
  const servers = rows.filter((r) => r.type === 'server');
  const backends = [...new Set(servers.map((r) => r.proxy))];
  if (!backends.includes(backend)) {
    throw new ToolError(
      `unknown backend ${backend}: HAProxy's backends with servers are ${backends.join(', ') || 'none'}`,
      {
        code: 'not_found',
        hint: `give one of: ${backends.join(', ')}`,
      },
    );
  }
  const inBackend = servers.filter((r) => r.proxy === backend);
  const row = inBackend.find((r) => r.name === server);
  if (!row) {
    const names = inBackend.map((r) => r.name).join(', ');
    throw new ToolError(`unknown server ${server} in backend ${backend}: its servers are ${names}`, {
      code: 'not_found',
      hint: `give one of: ${names}`,
    });
  }
  return row;
}

/** The other servers of the backend that are UP (who still takes connections when this one stops). */
export function othersUp(rows: readonly HaproxyRow[], row: HaproxyRow): string[] {
  return rows
    .filter((r) => r.type === 'server' && r.proxy === row.proxy && r.name !== row.name && r.status.startsWith('UP'))
    .map((r) => r.name);
}

/** The state of one server as a plan or an outcome shows it. */
export function serverView(row: HaproxyRow, state: ServerAdminState | undefined): Record<string, unknown> {
  return {
    server: `${row.proxy}/${row.name}`,
    status: row.status,
    admin: state?.admin ?? null,
    weight: state?.userWeight ?? row.weight,
    check: [row.checkStatus, row.checkCode].filter((x) => x !== null).join(' ') || null,
    sessions: row.currentSessions,
  };
}

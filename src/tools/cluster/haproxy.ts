import { z } from 'zod';
import type { HaproxyRow } from '../../cluster/haproxy.js';
import { markdownTable } from '../../format/markdown.js';
import { defineTool } from '../define.js';
import { ToolError } from '../errors.js';
import { haproxyClient, reach } from './clients.js';

export const HAPROXY_ACTIONS = ['servers', 'backends', 'frontends', 'info'] as const;

const input = z.object({
  action: z
    .enum(HAPROXY_ACTIONS)
    .default('servers')
    .describe(
      'servers: every backend server with state, check status and code, sessions, last change, downtime; ' +
        'backends / frontends: the proxies; info: process information (runtime-API socket only)',
    ),
  proxy: z.string().min(1).max(200).optional().describe('only this proxy (backend or listen section)'),
});

const row = z.record(z.string(), z.unknown());
const output = z.object({
  action: z.enum(HAPROXY_ACTIONS),
  source: z.enum(['http', 'socket']),
  rows: z.array(row).optional(),
  info: z.record(z.string(), z.string()).nullable().optional(),
});

export function durationText(s: number | null): string {
  if (s === null) return '';
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

function serverTable(rows: HaproxyRow[]): string {
  return markdownTable(
    ['proxy', 'server', 'status', 'check', 'code', 'sessions', 'total', 'last change', 'downtime', 'address'],
    rows.map((r) => [
      r.proxy,
      r.name,
      r.status,
      r.checkInProgress ? `${r.checkStatus ?? ''} (checking)` : r.checkStatus,
      r.checkCode,
      r.currentSessions,
      r.totalSessions,
      durationText(r.lastChangeSeconds),
      durationText(r.downtimeSeconds),
      r.address,
    ]),
  );
}

export const pgHaproxy = defineTool({
  name: 'pg_haproxy',
  title: 'HAProxy in front of PostgreSQL',
  description:
    'Read HAProxy statistics (HTTP stats CSV or the runtime-API socket): servers (state, health-check status and ' +
    'code, current and total sessions, time since last change, downtime), backends, frontends, info. Filter with ' +
    '`proxy`. Changes go through pg_cluster_admin.',
  toolset: 'proxy',
  readOnly: true,
  component: 'haproxy',
  input,
  output,
  async handler(args, ctx) {
    const client = haproxyClient(ctx.config);
    if (!client) throw new ToolError('HAProxy is not configured', { hint: 'set PGMCP_HAPROXY' });
    if (args.action === 'info') {
      const info = await reach('haproxy', ctx, () => client.info());
      if (!info) {
        return {
          text: 'info needs the runtime-API socket: PGMCP_HAPROXY is a stats URL',
          data: { action: 'info' as const, source: client.kind, info: null },
        };
      }
      const keys = ['Name', 'Version', 'Uptime', 'CurrConns', 'CumConns', 'Maxconn', 'Nbthread', 'Pid'];
      return {
        text: markdownTable(
          ['key', 'value'],
          keys.filter((k) => info[k] !== undefined).map((k) => [k, info[k]]),
        ),
        data: { action: 'info' as const, source: client.kind, info },
      };
    }
    const all = await reach('haproxy', ctx, () => client.stats());
    const wanted = args.action === 'servers' ? 'server' : args.action === 'backends' ? 'backend' : 'frontend';
    const rows = all.filter((r) => r.type === wanted && (args.proxy === undefined || r.proxy === args.proxy));
    let text: string;
    if (args.action === 'servers') text = serverTable(rows);
    else
      text = markdownTable(
        ['proxy', 'status', 'sessions', 'max', 'limit', 'total', args.action === 'backends' ? 'active servers' : ''],
        rows.map((r) => [
          r.proxy,
          r.status,
          r.currentSessions,
          r.maxSessions,
          r.sessionLimit,
          r.totalSessions,
          args.action === 'backends' ? r.activeServers : '',
        ]),
      );
    if (rows.length === 0) text = `no ${args.action}${args.proxy ? ` in proxy ${args.proxy}` : ''}`;
    return { text, data: { action: args.action, source: client.kind, rows: rows.map((r) => ({ ...r })) } };
  },
});

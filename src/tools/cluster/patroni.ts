import { z } from 'zod';
import type { PatroniClient, PatroniMember, PatroniNodeStatus } from '../../cluster/patroni.js';
import { withReadOnly } from '../../db/read-only.js';
import { markdownTable } from '../../format/markdown.js';
import type { ToolContext } from '../context.js';
import { defineTool } from '../define.js';
import { ToolError } from '../errors.js';
import { bytesText, patroniOf, reach } from './clients.js';

export const PATRONI_ACTIONS = ['status', 'member', 'history', 'config', 'lag'] as const;

const input = z.object({
  action: z
    .enum(PATRONI_ACTIONS)
    .default('status')
    .describe(
      'status: members with role, state, timeline and lag; member: one member in detail (name); history: ' +
        'timeline switches; config: the dynamic configuration (DCS); lag: replica lag from Patroni cross-checked ' +
        'with pg_stat_replication on the leader (when the connected server is the leader)',
    ),
  name: z.string().min(1).max(200).optional().describe('member: the member name'),
});

const row = z.record(z.string(), z.unknown());
const output = z.object({
  action: z.enum(PATRONI_ACTIONS),
  scope: z.string().nullable().optional(),
  leader: z.string().nullable().optional(),
  members: z.array(row).optional(),
  member: row.optional(),
  history: z.array(row).optional(),
  config: row.optional(),
  lag: z.array(row).optional(),
  notes: z.array(z.string()).optional(),
});
type Output = z.infer<typeof output>;

export interface MemberView extends PatroniMember {
  /** The member's own /patroni view; null when its REST API did not answer. */
  status: PatroniNodeStatus | null;
  reachable: boolean;
}

/** /cluster plus every member's /patroni (concurrently; a member that is down is marked unreachable). */
export async function memberViews(client: PatroniClient): Promise<{ scope: string | null; members: MemberView[] }> {
  const c = await client.cluster();
  const members = await Promise.all(
    c.members.map(async (m) => {
      if (!m.apiUrl) return { ...m, status: null, reachable: false };
      try {
        return { ...m, status: await client.nodeStatus(m.apiUrl), reachable: true };
      } catch {
        return { ...m, status: null, reachable: false };
      }
    }),
  );
  return { scope: c.scope ?? members.find((m) => m.status?.scope)?.status?.scope ?? null, members };
}

function memberRow(m: MemberView): Record<string, unknown> {
  return {
    name: m.name,
    role: m.role,
    state: m.state,
    host: m.host,
    port: m.port,
    timeline: m.timeline,
    lagBytes: m.lagBytes,
    pendingRestart: m.pendingRestart || (m.status?.pendingRestart ?? false),
    serverVersion: m.status?.serverVersion ?? null,
    restReachable: m.reachable,
  };
}

function membersTable(members: MemberView[]): string {
  return markdownTable(
    ['member', 'role', 'state', 'timeline', 'lag', 'host:port'],
    members.map((m) => [
      m.name,
      m.role,
      m.state,
      m.timeline,
      m.role === 'leader' ? '' : m.lagBytes === null ? 'unknown' : bytesText(m.lagBytes),
      `${m.host}:${m.port}`,
    ]),
  );
}

type LagRow = {
  name: string;
  state: string;
  patroniLagBytes: number | null;
  restLagBytes: number | null;
  pgStatReplication: string | null;
  pgReplayLagBytes: number | null;
  pgReplayLagSeconds: number | null;
};

async function lagCrossCheck(ctx: ToolContext, members: MemberView[]): Promise<{ rows: LagRow[]; notes: string[] }> {
  const notes: string[] = [];
  const leader = members.find((m) => m.role === 'leader');
  let stat: { application_name: string; state: string; replay_lag_bytes: string | null; replay_lag: string | null }[] =
    [];
  try {
    stat = await withReadOnly(ctx.pools, undefined, async (client) => {
      const rec = await client.query<{ r: boolean }>('select pg_is_in_recovery() as r');
      if (rec.rows[0]?.r) {
        notes.push('the connected server is a replica: pg_stat_replication is checked on the leader only');
        return [];
      }
      const r = await client.query(
        `select application_name, state,
                pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint::text as replay_lag_bytes,
                extract(epoch from replay_lag)::text as replay_lag
           from pg_stat_replication`,
      );
      return r.rows;
    });
  } catch (err) {
    notes.push(ctx.redact(`pg_stat_replication not read: ${(err as Error).message}`));
  }
  const rows = members
    .filter((m) => m.role !== 'leader')
    .map((m): LagRow => {
      const s = stat.find((x) => x.application_name === m.name);
      const walLag =
        leader?.status?.walLocation != null && m.status?.replayedLocation != null
          ? Math.max(0, leader.status.walLocation - m.status.replayedLocation)
          : null;
      return {
        name: m.name,
        state: m.state,
        patroniLagBytes: m.lagBytes,
        restLagBytes: walLag,
        pgStatReplication: s ? s.state : null,
        pgReplayLagBytes: s?.replay_lag_bytes != null ? Number(s.replay_lag_bytes) : null,
        pgReplayLagSeconds: s?.replay_lag != null ? Number(s.replay_lag) : null,
      };
    });
  if (stat.length > 0) {
    for (const r of rows) {
      if (r.pgStatReplication === null) notes.push(`${r.name} is not in pg_stat_replication on the leader`);
    }
  }
  return { rows, notes };
}

export const pgPatroni = defineTool({
  name: 'pg_patroni',
  title: 'Patroni HA cluster',
  description:
    'Read the Patroni high-availability cluster through its REST API (every configured member URL is tried in ' +
    'turn): status (members, roles, states, timelines, lag), member (one member in detail), history (failovers and ' +
    'switchovers by timeline), config (dynamic configuration), lag (Patroni lag cross-checked with ' +
    'pg_stat_replication). Changes go through pg_cluster_admin.',
  toolset: 'ha',
  readOnly: true,
  component: 'patroni',
  input,
  output,
  async handler(args, ctx) {
    const client = patroniOf(ctx);
    switch (args.action) {
      case 'status': {
        const { scope, members } = await reach('patroni', ctx, () => memberViews(client));
        const leader = members.find((m) => m.role === 'leader')?.name ?? null;
        const text = [
          `Patroni cluster ${scope ?? '?'}: leader ${leader ?? 'NONE'}, ${members.length} members`,
          membersTable(members),
        ];
        const down = members.filter((m) => !m.reachable).map((m) => m.name);
        if (down.length) text.push(`REST API not answering on: ${down.join(', ')}`);
        return {
          text: text.join('\n'),
          data: { action: 'status' as const, scope, leader, members: members.map(memberRow) },
        };
      }
      case 'member': {
        if (!args.name) throw new ToolError('member needs `name`', { code: 'invalid_arguments' });
        const { members } = await reach('patroni', ctx, () => memberViews(client));
        const m = members.find((x) => x.name === args.name);
        if (!m) {
          throw new ToolError(`no member ${args.name}`, {
            code: 'not_found',
            hint: `members: ${members.map((x) => x.name).join(', ')}`,
          });
        }
        const detail = { ...memberRow(m), status: m.status, tags: m.tags };
        const lines = [`member ${m.name}: ${m.role}, ${m.state}, timeline ${m.timeline ?? '?'}`];
        if (m.status) {
          const s = m.status;
          lines.push(
            `PostgreSQL ${s.serverVersion ?? '?'} started ${s.postmasterStartTime ?? '?'}; Patroni ${s.patroniVersion ?? '?'}`,
          );
          if (s.walLocation !== null) lines.push(`WAL position ${s.walLocation}`);
          if (s.replayedLocation !== null)
            lines.push(`received ${s.receivedLocation}, replayed ${s.replayedLocation}, paused ${s.replayPaused}`);
          if (s.replication.length)
            lines.push(
              markdownTable(
                ['standby', 'state', 'sync'],
                s.replication.map((r) => [r.application, r.state, r.syncState]),
              ),
            );
        } else lines.push('its REST API did not answer');
        return { text: lines.join('\n'), data: { action: 'member' as const, member: detail } };
      }
      case 'history': {
        const history = await reach('patroni', ctx, () => client.history());
        const text =
          history.length === 0
            ? 'no timeline switches: the cluster is still on its first timeline'
            : markdownTable(
                ['timeline', 'lsn', 'reason', 'time', 'new leader'],
                history.map((h) => [h.timeline, h.lsn, h.reason, h.time, h.newLeader]),
              );
        return { text, data: { action: 'history' as const, history: history.map((h) => ({ ...h })) } };
      }
      case 'config': {
        const config = await reach('patroni', ctx, () => client.config());
        return {
          text: `Patroni dynamic configuration:\n\`\`\`json\n${JSON.stringify(config, null, 1)}\n\`\`\``,
          data: { action: 'config' as const, config },
        };
      }
      case 'lag': {
        const { members } = await reach('patroni', ctx, () => memberViews(client));
        const { rows, notes } = await lagCrossCheck(ctx, members);
        const text = [
          markdownTable(
            ['replica', 'state', 'patroni lag', 'REST lag', 'pg_stat_replication', 'replay lag'],
            rows.map((r) => [
              r.name,
              r.state,
              bytesText(r.patroniLagBytes),
              bytesText(r.restLagBytes),
              r.pgStatReplication ?? 'absent',
              r.pgReplayLagBytes === null ? '' : `${bytesText(r.pgReplayLagBytes)} ${r.pgReplayLagSeconds ?? 0}s`,
            ]),
          ),
          ...notes,
        ];
        return { text: text.join('\n'), data: { action: 'lag' as const, lag: rows, notes } };
      }
    }
  },
}) satisfies { output: z.ZodType<Output> };

import type pg from 'pg';
import { compactTable } from '../schema/text.js';
import { durationOf } from './format.js';
import type { ActivityPart, Session } from './output.js';
import { ageOf, loadSessions, longestFirst, type ServerInfo, type SessionFilter, type SessionRow } from './sessions.js';

export interface ActivityRequest {
  filter: SessionFilter;
  minDurationSeconds: number | null;
  limit: number;
  queryChars: number;
}

const DIMENSIONS = ['state', 'user', 'database', 'application'] as const;

function keyOf(s: Session, by: (typeof DIMENSIONS)[number]): string | null {
  switch (by) {
    case 'state':
      return s.state ?? (s.backendType && s.backendType !== 'client backend' ? `(${s.backendType})` : null);
    case 'user':
      return s.user;
    case 'database':
      return s.database;
    case 'application':
      return s.application === '' ? null : s.application;
  }
}

function groupsOf(rows: SessionRow[]): ActivityPart['groups'] {
  const out: ActivityPart['groups'] = [];
  for (const by of DIMENSIONS) {
    const map = new Map<string | null, { count: number; longest: number }>();
    for (const r of rows) {
      const k = keyOf(r.session, by);
      const g = map.get(k) ?? { count: 0, longest: 0 };
      g.count++;
      g.longest = Math.max(g.longest, ageOf(r));
      map.set(k, g);
    }
    const sorted = [...map.entries()].sort(
      (a, b) => b[1].count - a[1].count || String(a[0]).localeCompare(String(b[0])),
    );
    for (const [value, g] of sorted) out.push({ by, value, count: g.count, longest: durationOf(g.longest) });
  }
  return out;
}

export async function activity(client: pg.ClientBase, info: ServerInfo, req: ActivityRequest): Promise<ActivityPart> {
  let rows = await loadSessions(client, info, req.filter, req.queryChars);
  if (req.minDurationSeconds !== null) {
    const min = req.minDurationSeconds;
    rows = rows.filter((r) => ageOf(r) >= min);
  }
  const ordered = longestFirst(rows);
  return {
    total: rows.length,
    truncated: ordered.length > req.limit,
    groups: groupsOf(rows),
    sessions: ordered.slice(0, req.limit).map((r) => r.session),
  };
}

/** How long a session has been at what it does, for the table. */
export function ageText(s: Session): string {
  if (s.state === 'active') {
    const q = s.query?.text ?? '?';
    return s.transaction && s.transaction.seconds - (s.query?.seconds ?? 0) >= 1
      ? `${q} (tx ${s.transaction.text})`
      : q;
  }
  if (s.state?.startsWith('idle in transaction'))
    return `${s.inState?.text ?? '?'} idle (tx ${s.transaction?.text ?? '?'})`;
  return s.inState?.text ?? '';
}

export function sessionsTable(sessions: readonly Session[]): string {
  return compactTable(
    ['pid', 'user', 'database', 'application', 'client', 'state', 'for', 'wait', 'statement'],
    sessions.map((s) => [
      s.pid,
      s.user,
      s.database,
      s.application,
      s.client,
      s.state ?? s.backendType,
      ageText(s),
      // Waiting for the client is what an idle session does: only other waits are news.
      s.waitEvent?.startsWith('Client:') && s.state !== 'active' ? '' : s.waitEvent,
      s.statement,
    ]),
  );
}

export function activityText(part: ActivityPart): string[] {
  const lines: string[] = [];
  lines.push(`${part.total} session(s)`);
  if (part.total === 0) return lines;
  for (const by of DIMENSIONS) {
    const groups = part.groups.filter((g) => g.by === by);
    lines.push(`by ${by}: ${groups.map((g) => `${g.value ?? '(none)'} ${g.count}`).join(', ')}`);
  }
  lines.push(sessionsTable(part.sessions));
  if (part.truncated) lines.push(`${part.total - part.sessions.length} more session(s): raise \`limit\` or filter`);
  return lines;
}

import type pg from 'pg';
import { check, durationOf, durationText, literal, toNumber, toStr } from './format.js';
import type { Check, Lock, LockNode, LocksPart, Session } from './output.js';
import { endSessionFix, loadSessions, type ServerInfo, type SessionRow, who } from './sessions.js';

/** Sessions listed at most (a pile-up behind one lock can hold hundreds). */
const MAX_NODES = 200;

interface LockRow {
  pid: number | null;
  key: string;
  lock: Lock;
  waitSeconds: number | null;
  virtualtransaction: string | null;
  transactionid: string | null;
}

function lockSql(info: ServerInfo): string {
  const waitstart = info.versionNum >= 140000 ? 'extract(epoch from now() - l.waitstart)::float8' : 'null::float8';
  return `with cur as (select oid from pg_catalog.pg_database where datname = pg_catalog.current_database())
    select l.pid, l.locktype, l.mode, l.granted, l.database::int8 as database, d.datname::text as datname,
      l.database in (0, (select oid from cur)) as local,
      l.relation::int8 as relation,
      case when l.relation is not null and l.database in (0, (select oid from cur)) then l.relation::regclass::text end as relname,
      l.page, l.tuple, l.virtualxid, l.transactionid::text as transactionid, l.classid::int8 as classid,
      l.objid::int8 as objid, l.objsubid, l.virtualtransaction,
      case when l.locktype = 'object' and l.database in (0, (select oid from cur))
        then pg_catalog.pg_describe_object(l.classid, l.objid, l.objsubid) end as object,
      ${waitstart} as wait_s
    from pg_catalog.pg_locks l left join pg_catalog.pg_database d on d.oid = l.database
    where l.pid = any($1::int[]) or ($2::boolean and l.pid is null)`;
}

function targetOf(r: Record<string, unknown>): string {
  const local = r.local === true || r.database === null;
  const inDb = !local && r.datname ? ` in database ${r.datname}` : '';
  const rel = `${r.relname ?? `relation oid ${r.relation}`}${inDb}`;
  switch (r.locktype) {
    case 'relation':
      return `relation ${rel}`;
    case 'extend':
      return `extension of ${rel}`;
    case 'page':
      return `page ${r.page} of ${rel}`;
    case 'tuple':
      return `row (${r.page},${r.tuple}) of ${rel}`;
    case 'transactionid':
      return `transaction ${r.transactionid}`;
    case 'virtualxid':
      return `virtual transaction ${r.virtualxid}`;
    case 'object':
      return `${r.object ?? `object ${r.classid}/${r.objid}/${r.objsubid}`}${inDb}`;
    case 'advisory': {
      const key =
        Number(r.objsubid) === 1
          ? String((BigInt(String(r.classid)) << 32n) | BigInt(String(r.objid)))
          : `(${r.classid}, ${r.objid})`;
      return `advisory lock ${key}${inDb}`;
    }
    default:
      return `${r.locktype}${inDb}`;
  }
}

function toLockRow(r: Record<string, unknown>): LockRow {
  const key = [
    r.locktype,
    r.database,
    r.relation,
    r.page,
    r.tuple,
    r.virtualxid,
    r.transactionid,
    r.classid,
    r.objid,
    r.objsubid,
  ].join('/');
  return {
    pid: r.pid === null ? null : Number(r.pid),
    key,
    lock: { locktype: String(r.locktype), mode: String(r.mode), target: targetOf(r), granted: r.granted === true },
    waitSeconds: toNumber(r.wait_s),
    virtualtransaction: toStr(r.virtualtransaction),
    transactionid: toStr(r.transactionid),
  };
}

/** Strongly connected components with more than one member (or a self loop): wait cycles. */
function cyclesOf(pids: number[], edges: Map<number, number[]>): number[][] {
  let index = 0;
  const idx = new Map<number, number>();
  const low = new Map<number, number>();
  const stack: number[] = [];
  const onStack = new Set<number>();
  const out: number[][] = [];
  const visit = (v: number) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) as number, idx.get(w) as number));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const comp: number[] = [];
      for (;;) {
        const w = stack.pop() as number;
        onStack.delete(w);
        comp.push(w);
        if (w === v) break;
      }
      if (comp.length > 1 || (edges.get(v) ?? []).includes(v)) out.push(comp.sort((a, b) => a - b));
    }
  };
  for (const p of pids) if (!idx.has(p)) visit(p);
  return out;
}

export interface LocksResult {
  part: LocksPart;
  checks: Check[];
}

export async function locks(
  client: pg.ClientBase,
  info: ServerInfo,
  opts: { allowed: readonly string[] | null; database: string | null; queryChars: number },
): Promise<LocksResult> {
  const rows = await loadSessions(
    client,
    info,
    { allowed: opts.allowed, includeSelf: true, includeBackground: true },
    opts.queryChars,
  );
  const byPid = new Map<number, SessionRow>(rows.map((r) => [r.session.pid, r]));
  const waiting = rows.filter((r) => r.session.blockedBy.length > 0);
  const blockedBy = new Map<number, number[]>();
  const children = new Map<number, number[]>();
  const involved = new Set<number>();
  for (const w of waiting) {
    const pid = w.session.pid;
    const blockers = [...new Set(w.session.blockedBy)].sort((a, b) => a - b);
    blockedBy.set(pid, blockers);
    involved.add(pid);
    for (const b of blockers) {
      involved.add(b);
      children.set(b, [...(children.get(b) ?? []), pid]);
    }
  }
  if (involved.size === 0) {
    return { part: { roots: [], nodes: [], cycles: [], waiting: 0, truncated: false }, checks: [] };
  }

  const pids = [...involved].sort((a, b) => a - b);
  const lockRows = (await client.query(lockSql(info), [pids.filter((p) => p !== 0), involved.has(0)])).rows.map(
    (r: Record<string, unknown>) => toLockRow(r),
  );
  const locksOf = new Map<number, LockRow[]>();
  for (const l of lockRows) {
    const pid = l.pid ?? 0;
    locksOf.set(pid, [...(locksOf.get(pid) ?? []), l]);
  }
  const waitingLock = (pid: number) => (locksOf.get(pid) ?? []).find((l) => !l.lock.granted);

  // Edges blocker → blocked; wait cycles; roots (blockers that wait for nobody, or one member per cycle).
  const cycles = cyclesOf(pids, children);
  const inCycle = new Set(cycles.flat());
  const roots = pids.filter((p) => (blockedBy.get(p) ?? []).length === 0);
  const reached = new Set<number>();
  const reach = (from: number) => {
    const todo = [from];
    while (todo.length > 0) {
      const p = todo.pop() as number;
      if (reached.has(p)) continue;
      reached.add(p);
      todo.push(...(children.get(p) ?? []));
    }
  };
  for (const r of roots) reach(r);
  for (const c of cycles) {
    if (c.some((p) => reached.has(p))) continue;
    // Nobody outside the cycle starts it: the member with the oldest transaction stands for it.
    const head = [...c].sort(
      (a, b) => (byPid.get(b)?.xactSeconds ?? 0) - (byPid.get(a)?.xactSeconds ?? 0) || a - b,
    )[0] as number;
    roots.push(head);
    reach(head);
  }

  // Keep only the chains that touch the database asked for.
  let keep = new Set(pids);
  if (opts.database !== null) {
    keep = new Set();
    const neighbours = (p: number) => [...(children.get(p) ?? []), ...(blockedBy.get(p) ?? [])];
    const seen = new Set<number>();
    for (const start of pids) {
      if (seen.has(start)) continue;
      const comp: number[] = [];
      const todo = [start];
      while (todo.length > 0) {
        const p = todo.pop() as number;
        if (seen.has(p)) continue;
        seen.add(p);
        comp.push(p);
        todo.push(...neighbours(p));
      }
      if (comp.some((p) => byPid.get(p)?.session.database === opts.database)) for (const p of comp) keep.add(p);
    }
  }

  const descendants = (pid: number): Set<number> => {
    const out = new Set<number>();
    const todo = [...(children.get(pid) ?? [])];
    while (todo.length > 0) {
      const p = todo.pop() as number;
      if (out.has(p) || p === pid) continue;
      out.add(p);
      todo.push(...(children.get(p) ?? []));
    }
    return out;
  };
  const waitedOf = (pid: number): number | null => {
    const l = waitingLock(pid);
    if (l?.waitSeconds !== null && l?.waitSeconds !== undefined) return l.waitSeconds;
    const s = byPid.get(pid);
    return blockedBy.has(pid) ? (s?.querySeconds ?? null) : null;
  };

  const keptRoots = roots
    .filter((r) => keep.has(r))
    .sort(
      (a, b) =>
        descendants(b).size - descendants(a).size ||
        (byPid.get(b)?.xactSeconds ?? 0) - (byPid.get(a)?.xactSeconds ?? 0) ||
        a - b,
    );

  // Nodes in tree order (depth first from the roots), each once, with its depth from the nearest root.
  const depth = new Map<number, number>();
  const order: number[] = [];
  const walk = (pid: number, d: number) => {
    if (depth.has(pid)) {
      if (d < (depth.get(pid) as number)) depth.set(pid, d);
      return;
    }
    depth.set(pid, d);
    order.push(pid);
    for (const c of children.get(pid) ?? []) walk(c, d + 1);
  };
  for (const r of keptRoots) walk(r, 0);

  const preparedGids = new Map<string, string>();
  if (involved.has(0)) {
    const prep = await client.query('select gid, transaction::text as xid from pg_catalog.pg_prepared_xacts');
    for (const p of prep.rows as { gid: string; xid: string }[]) preparedGids.set(p.xid, p.gid);
  }

  const nodes: LockNode[] = order.map((pid) => {
    const kids = (children.get(pid) ?? []).filter((c) => keep.has(c));
    const wantedKeys = new Set(kids.map((c) => waitingLock(c)?.key).filter((k): k is string => k !== undefined));
    const mine = locksOf.get(pid) ?? [];
    const holding = mine.filter((l) => l.lock.granted && wantedKeys.has(l.key));
    const node: LockNode = {
      pid,
      session: byPid.get(pid)?.session ?? null,
      waitingFor: waitingLock(pid)?.lock ?? null,
      holding: dedupe(holding.map((l) => l.lock)),
      waited: durationOf(waitedOf(pid)),
      children: kids,
      blockedBy: (blockedBy.get(pid) ?? []).filter((b) => keep.has(b)),
      depth: depth.get(pid) ?? 0,
      inCycle: inCycle.has(pid),
    };
    if (pid === 0) {
      // Which prepared transactions hold what the children wait for.
      const vts = new Set(holding.map((l) => l.virtualtransaction));
      const xids = mine.filter((l) => vts.has(l.virtualtransaction) && l.lock.locktype === 'transactionid');
      const gids = xids.map((l) => preparedGids.get(l.transactionid ?? '')).filter((g): g is string => !!g);
      node.prepared = gids.length > 0 ? [...new Set(gids)] : [...preparedGids.values()];
    }
    return node;
  });

  const checks: Check[] = [];
  for (const r of keptRoots) {
    const all = descendants(r);
    const direct = children.get(r) ?? [];
    const longest = Math.max(0, ...[...all].map((p) => waitedOf(p) ?? 0));
    const node = nodes.find((n) => n.pid === r) as LockNode;
    const verdict = longest >= 60 || all.size >= 10 || node.inCycle ? 'critical' : 'warn';
    const held = node.holding.map((l) => `${l.mode} on ${l.target}`).join(', ');
    const s = node.session;
    const what =
      r === 0
        ? `prepared transaction(s) ${node.prepared?.map((g) => literal(g)).join(', ')}`
        : s
          ? `${s.state ?? s.backendType ?? '?'}${s.transaction ? `, transaction open ${s.transaction.text}` : ''}; statement: ${s.statement ?? '?'}`
          : 'a session this login cannot see';
    checks.push(
      check(
        node.inCycle ? 'lock wait cycle' : 'blocking session',
        verdict,
        `blocks ${all.size} session(s) (${direct.length} directly) for up to ${durationText(longest)}${held ? `, holding ${held}` : ''}; ${what}`,
        {
          object: r === 0 ? 'prepared transaction' : s ? who(s) : `pid ${r}`,
          threshold:
            'any blocking is reported; critical when a wait reaches 1 min, 10 sessions wait, or the waits form a cycle',
          fix:
            r === 0
              ? (node.prepared ?? []).map((g) => `ROLLBACK PREPARED ${literal(g)};`).join(' ') ||
                'resolve the prepared transaction (COMMIT PREPARED / ROLLBACK PREPARED)'
              : s
                ? endSessionFix(s)
                : `SELECT pg_terminate_backend(${r});`,
        },
      ),
    );
  }
  return {
    part: {
      roots: keptRoots,
      nodes: nodes.slice(0, MAX_NODES),
      cycles: cycles.filter((c) => c.some((p) => keep.has(p))),
      waiting: nodes.filter((n) => n.blockedBy.length > 0).length,
      truncated: nodes.length > MAX_NODES,
    },
    checks,
  };
}

function dedupe(list: Lock[]): Lock[] {
  const seen = new Set<string>();
  return list.filter((l) => {
    const k = `${l.mode}\u0000${l.target}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function nodeLine(n: LockNode, parent: number | null): string {
  const s: Session | null = n.session;
  const head =
    n.pid === 0
      ? `prepared transaction ${n.prepared?.join(', ') ?? ''}`
      : s
        ? `${who(s)} ${s.state ?? s.backendType ?? ''}${s.transaction ? ` (tx ${s.transaction.text})` : ''}`
        : `pid ${n.pid} (not visible to this login)`;
  const parts = [head];
  if (n.waitingFor) {
    parts.push(`waits${n.waited ? ` ${n.waited.text}` : ''} for ${n.waitingFor.mode} on ${n.waitingFor.target}`);
  }
  if (n.holding.length > 0) parts.push(`holds ${n.holding.map((l) => `${l.mode} on ${l.target}`).join(', ')}`);
  else if (n.children.length > 0 && n.waitingFor) parts.push('queued ahead for the same lock');
  const others = n.blockedBy.filter((b) => b !== parent);
  if (parent !== null && others.length > 0) parts.push(`also blocked by ${others.join(', ')}`);
  if (n.inCycle) parts.push('IN A WAIT CYCLE');
  return `${parts.join('; ')}${s?.statement ? ` — ${s.statement}` : ''}`;
}

export function locksText(part: LocksPart): string[] {
  if (part.nodes.length === 0) return ['no session waits on a lock held by another'];
  const lines = [`${part.roots.length} blocking chain(s), ${part.waiting} session(s) waiting`];
  const byPid = new Map(part.nodes.map((n) => [n.pid, n]));
  const shown = new Set<number>();
  const walk = (pid: number, indent: number, parent: number | null) => {
    const n = byPid.get(pid);
    if (!n) return;
    const pad = '  '.repeat(indent);
    if (shown.has(pid)) {
      lines.push(`${pad}- pid ${pid} (shown above)`);
      return;
    }
    shown.add(pid);
    lines.push(`${pad}- ${nodeLine(n, parent)}`);
    for (const c of n.children) walk(c, indent + 1, pid);
  };
  for (const r of part.roots) walk(r, 0, null);
  if (part.truncated) lines.push(`… more sessions in these chains than the ${part.nodes.length} shown`);
  if (part.cycles.length > 0) {
    lines.push(
      `wait cycles: ${part.cycles.map((c) => c.join(' → ')).join('; ')} (the deadlock detector ends one after deadlock_timeout)`,
    );
  }
  return lines;
}

import type pg from 'pg';
import { time } from '../schema/values.js';
import { sessionsTable } from './activity.js';
import { check, durationOf, durationText, literal, toInt, toStr } from './format.js';
import type { Check, LongRunningPart } from './output.js';
import { endSessionFix, loadSessions, type ServerInfo, type SessionFilter, who } from './sessions.js';

export interface Thresholds {
  query: number;
  transaction: number;
  idleInTransaction: number;
}

const IDLE_TX = new Set(['idle in transaction', 'idle in transaction (aborted)']);

/** Entries per list at most (the longest first). */
const MAX_LIST = 100;

/** Critical once a session is this many times past its threshold. */
const CRITICAL_FACTOR = 10;

export async function longRunning(
  client: pg.ClientBase,
  info: ServerInfo,
  filter: SessionFilter,
  t: Thresholds,
  queryChars: number,
): Promise<{ part: LongRunningPart; checks: Check[] }> {
  const rows = await loadSessions(client, info, { ...filter, includeBackground: false }, queryChars);
  const byAge =
    (key: 'querySeconds' | 'xactSeconds' | 'stateSeconds') => (a: (typeof rows)[number], b: (typeof rows)[number]) =>
      (b[key] ?? 0) - (a[key] ?? 0);
  const queries = rows
    .filter((r) => r.session.state === 'active' && (r.querySeconds ?? 0) >= t.query)
    .sort(byAge('querySeconds'));
  const transactions = rows
    .filter((r) => r.xactSeconds !== null && r.xactSeconds >= t.transaction)
    .sort(byAge('xactSeconds'));
  const idle = rows
    .filter((r) => IDLE_TX.has(r.session.state ?? '') && (r.stateSeconds ?? 0) >= t.idleInTransaction)
    .sort(byAge('stateSeconds'));

  const prep = await client.query(
    `select p.gid, p.transaction::text as xid, p.owner::text as owner, p.database::text as database,
        p.prepared::text as prepared, extract(epoch from now() - p.prepared)::float8 as age_s,
        pg_catalog.age(p.transaction) as xid_age
      from pg_catalog.pg_prepared_xacts p
      where ($1::text[] is null or p.database = any($1::text[])) and ($2::text is null or p.database = $2::text)
        and ($3::text is null or p.owner = $3::text)
        and extract(epoch from now() - p.prepared) >= $4::float8
      order by p.prepared`,
    [filter.allowed, filter.database ?? null, filter.user ?? null, t.transaction],
  );
  const prepared = prep.rows.map((r: Record<string, unknown>) => ({
    gid: String(r.gid),
    transaction: String(r.xid),
    owner: toStr(r.owner),
    database: toStr(r.database),
    preparedAt: time(r.prepared),
    age: durationOf(r.age_s),
    xidAge: toInt(r.xid_age),
  }));

  const checks: Check[] = [];
  for (const r of queries) {
    const s = r.session;
    const secs = r.querySeconds ?? 0;
    checks.push(
      check(
        'long-running statement',
        secs >= t.query * CRITICAL_FACTOR ? 'critical' : 'warn',
        `running for ${s.query?.text}${s.waitEvent ? `, waiting on ${s.waitEvent}` : ''}: ${s.statement ?? '?'}`,
        {
          object: who(s),
          threshold: `warn ≥ ${durationText(t.query)}, critical ≥ ${durationText(t.query * CRITICAL_FACTOR)}`,
          fix: `${endSessionFix(s)}; check its plan with pg_perf explain; SET statement_timeout for the role or application`,
        },
      ),
    );
  }
  for (const r of idle) {
    const s = r.session;
    const secs = r.stateSeconds ?? 0;
    checks.push(
      check(
        'idle in transaction',
        secs >= t.idleInTransaction * CRITICAL_FACTOR ? 'critical' : 'warn',
        `${s.state} for ${s.inState?.text}, transaction open ${s.transaction?.text ?? '?'}${s.xminAge !== null ? `, holding back vacuum by ${s.xminAge} transactions` : ''}; last statement: ${s.statement ?? '?'}`,
        {
          object: who(s),
          threshold: `warn ≥ ${durationText(t.idleInTransaction)}, critical ≥ ${durationText(t.idleInTransaction * CRITICAL_FACTOR)}`,
          fix: `${endSessionFix(s)}; fix the application to commit or roll back; ALTER ROLE … SET idle_in_transaction_session_timeout = '5min' as a backstop`,
        },
      ),
    );
  }
  const idlePids = new Set(idle.map((r) => r.session.pid));
  for (const r of transactions) {
    if (idlePids.has(r.session.pid)) continue;
    const s = r.session;
    const secs = r.xactSeconds ?? 0;
    checks.push(
      check(
        'long transaction',
        secs >= t.transaction * CRITICAL_FACTOR ? 'critical' : 'warn',
        `transaction open ${s.transaction?.text}, now ${s.state ?? '?'}${s.xminAge !== null ? `, holding back vacuum by ${s.xminAge} transactions` : ''}; statement: ${s.statement ?? '?'}`,
        {
          object: who(s),
          threshold: `warn ≥ ${durationText(t.transaction)}, critical ≥ ${durationText(t.transaction * CRITICAL_FACTOR)}`,
          fix: `${endSessionFix(s)}; keep transactions short (batch large work into several transactions)`,
        },
      ),
    );
  }
  for (const p of prepared) {
    const secs = p.age?.seconds ?? 0;
    checks.push(
      check(
        'old prepared transaction',
        secs >= t.transaction * CRITICAL_FACTOR ? 'critical' : 'warn',
        `prepared ${p.age?.text} ago by ${p.owner ?? '?'} in ${p.database ?? '?'}; it holds its locks and holds back vacuum (${p.xidAge ?? '?'} transactions) until committed or rolled back, across restarts`,
        {
          object: `prepared transaction ${literal(p.gid)}`,
          threshold: `warn ≥ ${durationText(t.transaction)}`,
          fix: `if its transaction manager has given up on it: ROLLBACK PREPARED ${literal(p.gid)}; (or COMMIT PREPARED ${literal(p.gid)}; in database ${p.database ?? '?'})`,
        },
      ),
    );
  }
  return {
    part: {
      thresholds: {
        querySeconds: t.query,
        transactionSeconds: t.transaction,
        idleInTransactionSeconds: t.idleInTransaction,
      },
      queries: queries.slice(0, MAX_LIST).map((r) => r.session),
      transactions: transactions.slice(0, MAX_LIST).map((r) => r.session),
      idleInTransaction: idle.slice(0, MAX_LIST).map((r) => r.session),
      prepared: prepared.slice(0, MAX_LIST),
      truncated: [queries, transactions, idle, prepared].some((l) => l.length > MAX_LIST),
    },
    checks,
  };
}

export function longRunningText(part: LongRunningPart): string[] {
  const t = part.thresholds;
  const lines: string[] = [];
  const section = (title: string, list: LongRunningPart['queries']) => {
    lines.push(`${title}: ${list.length === 0 ? 'none' : list.length}`);
    if (list.length > 0) lines.push(sessionsTable(list));
  };
  section(`statements running ≥ ${durationText(t.querySeconds)}`, part.queries);
  section(`idle in transaction ≥ ${durationText(t.idleInTransactionSeconds)}`, part.idleInTransaction);
  section(`transactions open ≥ ${durationText(t.transactionSeconds)}`, part.transactions);
  if (part.truncated) lines.push(`lists are cut at their ${MAX_LIST} longest entries`);
  if (part.prepared.length > 0) {
    lines.push(`prepared transactions older than ${durationText(t.transactionSeconds)}: ${part.prepared.length}`);
    for (const p of part.prepared) {
      lines.push(`- ${p.gid} (xid ${p.transaction}, ${p.owner}@${p.database}) prepared ${p.age?.text ?? '?'} ago`);
    }
  }
  return lines;
}

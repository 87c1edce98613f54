/**
 * Patroni REST client: several member URLs, tried in order (a member that is down is skipped), a timeout per request,
 * basic auth only on write methods (GETs are open in Patroni). Roles are normalised: Patroni 3.0 says "master" in
 * /patroni and "leader" in /cluster; both become `leader`.
 */

export type PatroniRole = 'leader' | 'standby_leader' | 'sync_standby' | 'replica' | 'unknown';

export function normaliseRole(role: unknown): PatroniRole {
  switch (role) {
    case 'master':
    case 'primary':
    case 'leader':
      return 'leader';
    case 'standby_leader':
    case 'sync_standby':
    case 'replica':
      return role;
    default:
      return 'unknown';
  }
}

export interface PatroniMember {
  name: string;
  role: PatroniRole;
  state: string;
  host: string | null;
  port: number | null;
  apiUrl: string | null;
  timeline: number | null;
  /** Replay lag in bytes per Patroni; null for the leader or when Patroni says "unknown". */
  lagBytes: number | null;
  pendingRestart: boolean;
  tags: Record<string, unknown>;
}

interface RawMember {
  name?: string;
  role?: string;
  state?: string;
  host?: string;
  port?: number;
  api_url?: string;
  timeline?: number;
  lag?: number | string;
  pending_restart?: boolean;
  tags?: Record<string, unknown>;
}

/** Parses GET /cluster. */
export function parseClusterMembers(body: unknown): { scope: string | null; members: PatroniMember[] } {
  const b = (body ?? {}) as { members?: RawMember[]; scope?: string };
  const members = (b.members ?? []).map((m) => ({
    name: String(m.name ?? '?'),
    role: normaliseRole(m.role),
    state: String(m.state ?? 'unknown'),
    host: m.host ?? null,
    port: typeof m.port === 'number' ? m.port : null,
    apiUrl: m.api_url ?? null,
    timeline: typeof m.timeline === 'number' ? m.timeline : null,
    lagBytes: typeof m.lag === 'number' ? m.lag : null,
    pendingRestart: m.pending_restart === true,
    tags: m.tags ?? {},
  }));
  return { scope: b.scope ?? null, members };
}

export interface PatroniNodeStatus {
  state: string;
  role: PatroniRole;
  serverVersion: number | null;
  timeline: number | null;
  postmasterStartTime: string | null;
  /** Leader: current WAL position; replica: received and replayed positions (bytes). */
  walLocation: number | null;
  receivedLocation: number | null;
  replayedLocation: number | null;
  replayPaused: boolean | null;
  pendingRestart: boolean;
  scope: string | null;
  patroniVersion: string | null;
  replication: { application: string; state: string; syncState: string; clientAddr: string | null }[];
}

/** Parses GET /patroni (one member's own view). */
export function parseNodeStatus(body: unknown): PatroniNodeStatus {
  const b = (body ?? {}) as Record<string, unknown>;
  const xlog = (b.xlog ?? {}) as Record<string, unknown>;
  const num = (v: unknown) => (typeof v === 'number' ? v : null);
  const patroni = (b.patroni ?? {}) as Record<string, unknown>;
  const repl = Array.isArray(b.replication) ? (b.replication as Record<string, unknown>[]) : [];
  return {
    state: String(b.state ?? 'unknown'),
    role: normaliseRole(b.role),
    serverVersion: num(b.server_version),
    timeline: num(b.timeline),
    postmasterStartTime: typeof b.postmaster_start_time === 'string' ? b.postmaster_start_time : null,
    walLocation: num(xlog.location),
    receivedLocation: num(xlog.received_location),
    replayedLocation: num(xlog.replayed_location),
    replayPaused: typeof xlog.paused === 'boolean' ? xlog.paused : null,
    pendingRestart: b.pending_restart === true,
    scope: typeof patroni.scope === 'string' ? patroni.scope : null,
    patroniVersion: typeof patroni.version === 'string' ? patroni.version : null,
    replication: repl.map((r) => ({
      application: String(r.application_name ?? ''),
      state: String(r.state ?? ''),
      syncState: String(r.sync_state ?? ''),
      clientAddr: typeof r.client_addr === 'string' ? r.client_addr : null,
    })),
  };
}

export interface HistoryEntry {
  timeline: number;
  lsn: number;
  reason: string;
  time: string | null;
  newLeader: string | null;
}

/** Parses GET /history: [[timeline, lsn, reason, time, new_leader], …]. */
export function parseHistory(body: unknown): HistoryEntry[] {
  if (!Array.isArray(body)) return [];
  return body.map((e: unknown[]) => ({
    timeline: Number(e[0]),
    lsn: Number(e[1]),
    reason: String(e[2] ?? ''),
    time: typeof e[3] === 'string' ? e[3] : null,
    newLeader: typeof e[4] === 'string' ? e[4] : null,
  }));
}

export class PatroniError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'PatroniError';
  }
}

export interface PatroniOptions {
  urls: readonly string[];
  user?: string;
  password?: string;
  timeoutMs?: number;
}

export interface PatroniResponse<T> {
  url: string;
  status: number;
  body: T;
}

export class PatroniClient {
  readonly urls: string[];
  private readonly timeoutMs: number;

  constructor(private readonly opts: PatroniOptions) {
    this.urls = opts.urls.map((u) => u.replace(/\/+$/, ''));
    this.timeoutMs = opts.timeoutMs ?? 3000;
  }

  /** One request to one member. Non-2xx statuses are returned, not thrown (Patroni answers 503 on health endpoints). */
  async requestAt<T = unknown>(
    baseUrl: string,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<PatroniResponse<T>> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS' && this.opts.user !== undefined) {
      headers.authorization = `Basic ${Buffer.from(`${this.opts.user}:${this.opts.password ?? ''}`).toString('base64')}`;
    }
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      // plain text answer (write endpoints)
    }
    return { url: baseUrl, status: res.status, body: parsed as T };
  }

  /** GET from the first member that answers (any HTTP status); throws when none does. */
  async get<T = unknown>(path: string): Promise<PatroniResponse<T>> {
    const errors: string[] = [];
    for (const url of this.urls) {
      try {
        return await this.requestAt<T>(url, 'GET', path);
      } catch (err) {
        errors.push(`${url}: ${describeFetchError(err)}`);
      }
    }
    throw new PatroniError(`no Patroni member answered ${path} (${errors.join('; ')})`);
  }

  async cluster(): Promise<{ url: string; scope: string | null; members: PatroniMember[] }> {
    const r = await this.get(`/cluster`);
    return { url: r.url, ...parseClusterMembers(r.body) };
  }

  async history(): Promise<HistoryEntry[]> {
    return parseHistory((await this.get('/history')).body);
  }

  async config(): Promise<Record<string, unknown>> {
    return ((await this.get('/config')).body ?? {}) as Record<string, unknown>;
  }

  /** GET /patroni on one member URL. */
  async nodeStatus(baseUrl: string): Promise<PatroniNodeStatus> {
    const r = await this.requestAt(baseUrl.replace(/\/patroni$/, '').replace(/\/+$/, ''), 'GET', '/patroni');
    return parseNodeStatus(r.body);
  }
}

export function describeFetchError(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return 'timed out';
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
}

/**
 * Patroni REST client: several member URLs, tried in order (a member that is down is skipped), a timeout per request,
 * basic auth only on write methods (GETs are open in Patroni). Roles are normalised: Patroni 3.0 says "master" in
 * /patroni and "leader" in /cluster; both become `leader`.
 *
 * Writes: switchover, failover and configuration patches act through the DCS, so any member takes them (the next one
 * is tried only when a request could not be delivered at all, never after a timeout: it may have acted); restart and
 * reload act on one member and go to that member's own REST URL (`api_url` in /cluster).
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

/** A member's REST base URL from its `api_url` (`http://host:8008/patroni` → `http://host:8008`). */
export function memberBaseUrl(apiUrl: string): string {
  return apiUrl.replace(/\/patroni\/?$/, '').replace(/\/+$/, '');
}

type WriteMethod = 'POST' | 'PATCH' | 'DELETE';

/** What a write call answered: Patroni's own words (plain text or JSON). */
export interface PatroniWriteResult {
  url: string;
  status: number;
  message: string;
  body: unknown;
}

export interface SwitchoverRequest {
  /** The current leader (Patroni refuses a switchover naming another one). */
  leader: string;
  /** The member to promote; Patroni picks the healthiest replica when absent. */
  candidate?: string;
  /** ISO 8601 with a time zone: a scheduled switchover. */
  scheduledAt?: string;
}

export interface RestartRequest {
  /** ISO 8601 with a time zone: a scheduled restart. */
  schedule?: string;
  /** Only when PostgreSQL reports a setting pending a restart. */
  restartPending?: boolean;
  /** Seconds Patroni waits for PostgreSQL to start again before giving up. */
  timeoutSeconds?: number;
}

/** Errors raised before a request reached Patroni: the next member may be tried without any risk. */
function notDelivered(err: unknown): boolean {
  const code = (err as { cause?: { code?: string } })?.cause?.code;
  return code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EHOSTUNREACH';
}

function messageOf(body: unknown): string {
  if (typeof body === 'string') return body.trim();
  if (body === null || body === undefined) return '';
  return JSON.stringify(body);
}

export interface PatroniOptions {
  urls: readonly string[];
  user?: string;
  password?: string;
  timeoutMs?: number;
  /** Aborts every request in flight (the MCP call was cancelled); each request also has its own timeout. */
  signal?: AbortSignal;
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
    timeoutMs = this.timeoutMs,
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
      signal: this.opts.signal
        ? AbortSignal.any([AbortSignal.timeout(timeoutMs), this.opts.signal])
        : AbortSignal.timeout(timeoutMs),
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
    return parseNodeStatus(await this.rawNodeStatus(baseUrl));
  }

  /** GET /patroni on one member URL, as Patroni sent it (scheduled restarts and other keys the parser leaves out). */
  async rawNodeStatus(baseUrl: string): Promise<Record<string, unknown>> {
    const r = await this.requestAt(memberBaseUrl(baseUrl), 'GET', '/patroni');
    return (r.body ?? {}) as Record<string, unknown>;
  }

  /**
   * One write call to one member (basic auth). A 2xx answer is returned; any other status throws a PatroniError
   * carrying Patroni's message; 401 says the credentials were refused.
   */
  async writeAt(
    baseUrl: string,
    method: WriteMethod,
    path: string,
    body: unknown,
    timeoutMs = this.timeoutMs,
  ): Promise<PatroniWriteResult> {
    const r = await this.requestAt(memberBaseUrl(baseUrl), method, path, body, timeoutMs);
    const message = messageOf(r.body);
    if (r.status >= 200 && r.status < 300) return { url: r.url, status: r.status, message, body: r.body };
    if (r.status === 401 || r.status === 403) {
      throw new PatroniError(
        `Patroni refused the credentials for ${method} ${path} (HTTP ${r.status}): check PGMCP_PATRONI_USER and PGMCP_PATRONI_PASSWORD`,
        r.status,
      );
    }
    throw new PatroniError(
      `Patroni answered ${method} ${path} with HTTP ${r.status}: ${message || 'no message'}`,
      r.status,
    );
  }

  /** A write any member can take: the configured members in turn, the next one only when a request was not delivered. */
  async writeAny(method: WriteMethod, path: string, body: unknown, timeoutMs?: number): Promise<PatroniWriteResult> {
    const errors: string[] = [];
    for (const url of this.urls) {
      try {
        return await this.writeAt(url, method, path, body, timeoutMs);
      } catch (err) {
        if (!notDelivered(err)) {
          if (err instanceof PatroniError) throw err;
          throw new PatroniError(`${method} ${path} at ${url}: ${describeFetchError(err)}`);
        }
        errors.push(`${url}: ${describeFetchError(err)}`);
      }
    }
    throw new PatroniError(`no Patroni member took ${method} ${path} (${errors.join('; ')})`);
  }

  /**
   * POST /switchover. Patroni answers once the new leader holds the lock (it polls up to 20 s itself) or, scheduled,
   * at once with 202.
   */
  switchover(req: SwitchoverRequest, timeoutMs = 30_000): Promise<PatroniWriteResult> {
    const body: Record<string, string> = { leader: req.leader };
    if (req.candidate !== undefined) body.candidate = req.candidate;
    if (req.scheduledAt !== undefined) body.scheduled_at = req.scheduledAt;
    return this.writeAny('POST', '/switchover', body, timeoutMs);
  }

  /** DELETE /switchover: cancels a scheduled switchover (404 when none is scheduled). */
  cancelSwitchover(): Promise<PatroniWriteResult> {
    return this.writeAny('DELETE', '/switchover', undefined);
  }

  /** The scheduled switchover /cluster shows ({at, from, to}), or null. */
  async scheduledSwitchover(): Promise<Record<string, unknown> | null> {
    const body = (await this.get<Record<string, unknown> | null>('/cluster')).body;
    const s = body?.scheduled_switchover;
    return s && typeof s === 'object' ? (s as Record<string, unknown>) : null;
  }

  /** POST /failover to a named candidate (Patroni 3 needs one); answered like a switchover. */
  failover(candidate: string, timeoutMs = 30_000): Promise<PatroniWriteResult> {
    return this.writeAny('POST', '/failover', { candidate }, timeoutMs);
  }

  /** POST /restart on one member; an immediate restart is answered once PostgreSQL runs again (or failed). */
  restart(memberUrl: string, req: RestartRequest = {}, timeoutMs = 60_000): Promise<PatroniWriteResult> {
    const body: Record<string, unknown> = {};
    if (req.schedule !== undefined) body.schedule = req.schedule;
    if (req.restartPending !== undefined) body.restart_pending = req.restartPending;
    if (req.timeoutSeconds !== undefined) body.timeout = req.timeoutSeconds;
    return this.writeAt(memberUrl, 'POST', '/restart', body, timeoutMs);
  }

  /** POST /reload on one member: Patroni re-reads its configuration and reloads PostgreSQL's (answered 202). */
  reload(memberUrl: string): Promise<PatroniWriteResult> {
    return this.writeAt(memberUrl, 'POST', '/reload', {});
  }

  /** PATCH /config: merges `patch` into the dynamic configuration (null removes a key); answers the new one. */
  patchConfig(patch: Record<string, unknown>): Promise<PatroniWriteResult> {
    return this.writeAny('PATCH', '/config', patch);
  }
}

export function describeFetchError(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return 'timed out';
  if (e?.name === 'AbortError') return 'cancelled';
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
}

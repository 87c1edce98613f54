/** What the idle sweep needs to know of a session (Streamable HTTP or legacy SSE). */
export interface IdleTracked {
  id: string;
  /** When the last message or request was seen. */
  lastSeen: number;
  /** Requests (or open streams) in progress: a session with any is never idle. */
  active: number;
}

/** Calls `sweep` every quarter of the idle time (between 250 ms and a minute); the timer does not keep the process up. */
export function startIdleSweep(idleMs: number, sweep: () => void): NodeJS.Timeout {
  const every = Math.max(250, Math.min(60_000, Math.floor(idleMs / 4)));
  const timer = setInterval(sweep, every);
  timer.unref();
  return timer;
}

/** The sessions with nothing in progress and nothing seen for longer than `idleMs` at `now`. */
export function idleSessions<S extends IdleTracked>(sessions: Iterable<S>, idleMs: number, now: number): S[] {
  return [...sessions].filter((s) => s.active <= 0 && now - s.lastSeen > idleMs);
}

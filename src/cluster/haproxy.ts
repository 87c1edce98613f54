/**
 * HAProxy statistics, from the HTTP stats page (`;csv`) or the runtime API (`show stat`, `show info`); both give the
 * same CSV, parsed into the same shape. The runtime API is reached on a UNIX socket path or on `host:port` (a `stats
 * socket ipv4@…` line); it alone takes changes (enable/disable/drain a server, set its weight), and only at level admin.
 * The HTTP stats page is read-only here.
 */
import net from 'node:net';

export interface HaproxyRow {
  proxy: string;
  /** FRONTEND, BACKEND or the server name. */
  name: string;
  type: 'frontend' | 'backend' | 'server' | 'listener';
  /** OPEN, UP, DOWN, MAINT, DRAIN, NOLB, "UP 1/2" … */
  status: string;
  weight: number | null;
  currentSessions: number | null;
  maxSessions: number | null;
  sessionLimit: number | null;
  totalSessions: number | null;
  /** The last health check's result (L7OK, L4CON, …), without HAProxy's "* " mark of a check in progress. */
  checkStatus: string | null;
  /** A health check is running now (HAProxy then shows code 0, given here as null). */
  checkInProgress: boolean;
  checkCode: number | null;
  checkFailures: number | null;
  downTransitions: number | null;
  /** Seconds since the last status change. */
  lastChangeSeconds: number | null;
  /** Total seconds spent down. */
  downtimeSeconds: number | null;
  address: string | null;
  activeServers: number | null;
  backupServers: number | null;
  checkDescription: string | null;
}

const TYPES = ['frontend', 'backend', 'server', 'listener'] as const;

function splitCsvLine(line: string): string[] {
  // HAProxy quotes nothing it emits in these columns except free text, which never holds commas in practice;
  // handle double quotes anyway.
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/** Parses `show stat` / `;csv` output. */
export function parseStatCsv(csv: string): HaproxyRow[] {
  const lines = csv.split(/\r?\n/).filter((l) => l.trim() !== '');
  const headerLine = lines.find((l) => l.startsWith('#'));
  if (!headerLine) throw new Error('not HAProxy stats CSV (no "# pxname,svname,…" header)');
  const header = splitCsvLine(headerLine.replace(/^#\s*/, ''));
  const idx = (name: string) => header.indexOf(name);
  const rows: HaproxyRow[] = [];
  for (const line of lines) {
    if (line.startsWith('#')) continue;
    const f = splitCsvLine(line);
    const str = (name: string) => {
      const i = idx(name);
      const v = i >= 0 ? f[i] : undefined;
      return v === undefined || v === '' ? null : v;
    };
    const num = (name: string) => {
      const v = str(name);
      return v === null || !/^-?\d+$/.test(v) ? null : Number(v);
    };
    const typeCode = num('type');
    const check = str('check_status');
    const checkInProgress = check?.startsWith('* ') ?? false;
    const checkCode = num('check_code');
    rows.push({
      proxy: str('pxname') ?? '',
      name: str('svname') ?? '',
      type: typeCode !== null && TYPES[typeCode] ? TYPES[typeCode] : 'server',
      status: str('status') ?? '',
      weight: num('weight'),
      currentSessions: num('scur'),
      maxSessions: num('smax'),
      sessionLimit: num('slim'),
      totalSessions: num('stot'),
      checkStatus: checkInProgress ? (check?.slice(2) ?? null) : check,
      checkInProgress,
      checkCode: checkInProgress && checkCode === 0 ? null : checkCode,
      checkFailures: num('chkfail'),
      downTransitions: num('chkdown'),
      lastChangeSeconds: num('lastchg'),
      downtimeSeconds: num('downtime'),
      address: str('addr'),
      activeServers: num('act'),
      backupServers: num('bck'),
      checkDescription: str('check_desc'),
    });
  }
  return rows;
}

/** Parses `show info` ("Key: value" lines). */
export function parseInfo(text: string): Record<string, string> {
  const info: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0) info[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return info;
}

/** A server's administrative state from `show servers state` (what stats show only while the server is up). */
export interface ServerAdminState {
  backend: string;
  server: string;
  /** `maint` (forced, inherited or configured), `drain`, or `ready`. */
  admin: 'maint' | 'drain' | 'ready';
  /** The weight set by configuration or `set weight`. */
  userWeight: number | null;
}

// srv_admin_state flags: forced/inherited/configured/resolution/hostname maintenance; forced/inherited drain.
const ADMIN_MAINT = 0x01 | 0x02 | 0x04 | 0x20 | 0x40;
const ADMIN_DRAIN = 0x08 | 0x10;

/** Parses `show servers state` (format 1: a version line, a `# be_id be_name …` header, one line per server). */
export function parseServersState(text: string): ServerAdminState[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = lines.find((l) => l.startsWith('#'));
  if (!header) throw new Error('not HAProxy servers state (no "# be_id be_name …" header)');
  const names = header.replace(/^#\s*/, '').split(/\s+/);
  const at = (f: string[], name: string) => f[names.indexOf(name)];
  return lines
    .filter((l) => !l.startsWith('#') && /\s/.test(l.trim()))
    .map((l) => {
      const f = l.trim().split(/\s+/);
      const flags = Number(at(f, 'srv_admin_state'));
      const weight = Number(at(f, 'srv_uweight'));
      return {
        backend: at(f, 'be_name') ?? '',
        server: at(f, 'srv_name') ?? '',
        admin: flags & ADMIN_MAINT ? 'maint' : flags & ADMIN_DRAIN ? 'drain' : 'ready',
        userWeight: Number.isFinite(weight) ? weight : null,
      };
    });
}

export interface HaproxyOptions {
  /** An http(s) stats URL (with or without `;csv`), the path of a runtime-API socket, or its `host:port`. */
  target: string;
  timeoutMs?: number;
}

/** The administrative states `set server … state` takes. */
export const SERVER_STATES = ['ready', 'drain', 'maint'] as const;
export type ServerState = (typeof SERVER_STATES)[number];

/** Backend and server names the runtime API is given: names or `#id`, nothing that could end a command. */
export const HAPROXY_NAME = /^#?[A-Za-z0-9_.:-]{1,100}$/;

/** A runtime-API TCP address (`host:port`, `tcp://host:port`, `ipv4@host:port`), or null for a socket path. */
export function runtimeApiAddress(target: string): { host: string; port: number } | null {
  const m = /^(?:tcp:\/\/|ipv4@|ipv6@)?(\[[^\]]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/.exec(target);
  if (!m || target.startsWith('/')) return null;
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

/** The runtime API refused a command; the message is HAProxy's own. */
export class HaproxyCommandError extends Error {
  constructor(
    readonly command: string,
    readonly answer: string,
  ) {
    super(`HAProxy refused \`${command}\`: ${answer}`);
    this.name = 'HaproxyCommandError';
  }
}

export class HaproxyClient {
  /** `socket`: the runtime API (a socket path or host:port); `http`: the stats page. */
  readonly kind: 'http' | 'socket';
  private readonly timeoutMs: number;

  constructor(private readonly opts: HaproxyOptions) {
    this.kind = /^https?:\/\//i.test(opts.target) ? 'http' : 'socket';
    this.timeoutMs = opts.timeoutMs ?? 3000;
  }

  /** Whether changes are possible: only through the runtime API (and only if its level is admin, which HAProxy checks). */
  get canAdminister(): boolean {
    return this.kind === 'socket';
  }

  async stats(): Promise<HaproxyRow[]> {
    if (this.kind === 'socket') return parseStatCsv(await this.command('show stat'));
    const url = new URL(this.opts.target);
    const base = url.toString().replace(/;csv.*$/, '');
    const headers: Record<string, string> = {};
    if (url.username) {
      headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
      url.username = '';
      url.password = '';
    }
    const target = `${url.toString().replace(/;csv.*$/, '')};csv`;
    const res = await fetch(target, { headers, signal: AbortSignal.timeout(this.timeoutMs) });
    const text = await res.text();
    if (!res.ok) throw new Error(`HAProxy stats answered HTTP ${res.status} at ${base.replace(/\/\/[^@/]*@/, '//')}`);
    return parseStatCsv(text);
  }

  /** `show info`; only over the runtime-API socket (the HTTP stats page has no CSV form of it). */
  async info(): Promise<Record<string, string> | null> {
    if (this.kind !== 'socket') return null;
    return parseInfo(await this.command('show info'));
  }

  /** `enable server B/S`: leaves maintenance; health checks resume. */
  enableServer(backend: string, server: string): Promise<void> {
    return this.change(`enable server ${serverRef(backend, server)}`);
  }

  /** `show cli level`: the level of this runtime-API connection (`admin` is needed for changes); null over HTTP. */
  async cliLevel(): Promise<string | null> {
    if (!this.canAdminister) return null;
    return (await this.command('show cli level')).trim();
  }

  /** `show servers state`: administrative state and weight of every server (runtime API only). */
  async serversState(): Promise<ServerAdminState[]> {
    if (!this.canAdminister)
      throw new Error('servers state needs the HAProxy runtime API; a stats URL does not give it');
    return parseServersState(await this.command('show servers state'));
  }

  /** `disable server B/S`: maintenance (MAINT): no traffic, no health checks. */
  disableServer(backend: string, server: string): Promise<void> {
    return this.change(`disable server ${serverRef(backend, server)}`);
  }

  /** `set server B/S state ready|drain|maint`. */
  setServerState(backend: string, server: string, state: ServerState): Promise<void> {
    return this.change(`set server ${serverRef(backend, server)} state ${state}`);
  }

  /** `set weight B/S N` (0–256). */
  setWeight(backend: string, server: string, weight: number): Promise<void> {
    if (!Number.isInteger(weight) || weight < 0 || weight > 256) throw new Error(`weight ${weight} is not 0–256`);
    return this.change(`set weight ${serverRef(backend, server)} ${weight}`);
  }

  /** A command that answers nothing when it worked and HAProxy's reason when it did not. */
  private async change(command: string): Promise<void> {
    if (!this.canAdminister) throw new Error('changes need the HAProxy runtime API; a stats URL is read-only');
    const answer = (await this.command(command)).trim();
    if (answer !== '') throw new HaproxyCommandError(command, answer);
  }

  /** One runtime-API command; resolves with its whole answer. */
  command(command: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const address = runtimeApiAddress(this.opts.target);
      const s = address ? net.connect(address) : net.connect(this.opts.target);
      let out = '';
      s.setTimeout(this.timeoutMs);
      s.on('connect', () => s.write(`${command}\n`));
      s.on('data', (d) => {
        out += d.toString();
      });
      s.on('end', () => resolve(out));
      s.on('error', (err) => reject(new Error(`HAProxy runtime API ${this.opts.target}: ${err.message}`)));
      s.on('timeout', () => {
        s.destroy();
        reject(new Error(`HAProxy runtime API ${this.opts.target}: timed out`));
      });
    });
  }
}

function serverRef(backend: string, server: string): string {
  for (const name of [backend, server]) {
    if (!HAPROXY_NAME.test(name)) throw new Error(`not a HAProxy backend or server name: ${JSON.stringify(name)}`);
  }
  return `${backend}/${server}`;
}

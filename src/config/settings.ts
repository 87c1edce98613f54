import { z } from 'zod';
import { ACCESS_LEVELS, TOOLSETS } from '../tools/define.js';

/**
 * Every setting pgmcp knows, in one table: its path in the config object, its environment variable, its flag,
 * its type and default. The resolver, the CLI flags and the README's configuration reference all read this table.
 */
export type SettingType = 'string' | 'int' | 'duration' | 'bool' | 'list' | 'enum';

/**
 * Another deployment's environment variable read as this setting, so that its configuration works unchanged.
 * pgmcp's own variable wins when both are set; `pgmcp doctor` says which one was used.
 */
export interface SettingAlias {
  env: string;
  /**
   * When set, the alias takes only these values (case-insensitive), each standing for a value of the setting
   * (MCP_READ_ONLY: true → read). Otherwise its value is read like the setting's own.
   */
  values?: Readonly<Record<string, string>>;
  /** Shown in the README's alias table. */
  note?: string;
}

export interface Setting {
  /** Dotted path in the resolved config object (and in the config file). */
  key: string;
  env?: string;
  flag?: string;
  type: SettingType;
  values?: readonly string[];
  /** Other words accepted for an enum value (from env, flag or file), e.g. transport `sse` = `http`. */
  synonyms?: Readonly<Record<string, string>>;
  aliases?: readonly SettingAlias[];
  default?: unknown;
  secret?: boolean;
  min?: number;
  max?: number;
  description: string;
}

export const TRANSPORTS = ['stdio', 'http'] as const;
/** cluster.citusTools: as detected, forced on, forced off. */
export const CITUS_TOOLS = ['auto', 'on', 'off'] as const;

const duration = (key: string, env: string, def: number, description: string, flag?: string): Setting => ({
  key,
  env,
  type: 'duration',
  default: def,
  description,
  ...(flag ? { flag } : {}),
});

export const SETTINGS: readonly Setting[] = [
  // connection
  {
    key: 'connection.url',
    env: 'DATABASE_URL',
    flag: '--database-url',
    type: 'string',
    secret: true,
    aliases: [{ env: 'POSTGRES_URL' }],
    description: 'PostgreSQL connection URL; PG* variables fill what it leaves out',
  },
  { key: 'connection.host', env: 'PGHOST', type: 'string', description: 'Server host name or socket directory' },
  { key: 'connection.port', env: 'PGPORT', type: 'int', min: 1, max: 65535, description: 'Server port' },
  { key: 'connection.user', env: 'PGUSER', type: 'string', description: 'Login role' },
  { key: 'connection.password', env: 'PGPASSWORD', type: 'string', secret: true, description: 'Password' },
  { key: 'connection.database', env: 'PGDATABASE', type: 'string', description: 'Default database' },
  {
    key: 'connection.sslmode',
    env: 'PGSSLMODE',
    type: 'enum',
    values: ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify'],
    description: 'TLS mode (libpq names)',
  },
  { key: 'connection.passfile', env: 'PGPASSFILE', type: 'string', description: 'Password file (libpq format)' },
  // access
  {
    key: 'access',
    env: 'PGMCP_ACCESS',
    flag: '--access',
    type: 'enum',
    values: ACCESS_LEVELS,
    default: 'read',
    aliases: [{ env: 'MCP_READ_ONLY', values: { true: 'read', false: 'write' } }],
    description: 'Access level: read, write or admin',
  },
  {
    key: 'toolsets',
    env: 'PGMCP_TOOLSETS',
    flag: '--toolsets',
    type: 'list',
    values: TOOLSETS,
    default: [...TOOLSETS],
    description: 'Enabled toolsets (comma list)',
  },
  {
    key: 'adminUrl',
    env: 'PGMCP_ADMIN_URL',
    type: 'string',
    secret: true,
    aliases: [{ env: 'POSTGRES_ADMIN_URL' }],
    description: 'A second, more privileged login used only by admin-level actions (default: the main login)',
  },
  {
    key: 'confirm',
    env: 'PGMCP_CONFIRM',
    type: 'bool',
    default: true,
    description: 'Ask for confirmation of destructive actions; turning it off is warned about at start-up',
  },
  // limits
  {
    key: 'limits.defaultRows',
    env: 'PGMCP_DEFAULT_ROWS',
    type: 'int',
    min: 1,
    default: 100,
    description: 'Rows returned per call when `limit` is not given',
  },
  {
    key: 'limits.maxRows',
    env: 'PGMCP_MAX_ROWS',
    flag: '--max-rows',
    type: 'int',
    min: 1,
    default: 10000,
    description: 'Largest `limit` a call may ask for',
  },
  {
    key: 'limits.cellBytes',
    env: 'PGMCP_CELL_BYTES',
    type: 'int',
    min: 64,
    default: 8192,
    description: 'Cap on one cell value; longer values are cut and marked',
  },
  {
    key: 'limits.resultBytes',
    env: 'PGMCP_RESULT_BYTES',
    type: 'int',
    min: 1024,
    default: 1048576,
    description: 'Cap on the rows of one result; the page ends early and says so',
  },
  duration(
    'limits.statementTimeoutMs',
    'PGMCP_STATEMENT_TIMEOUT',
    30000,
    'statement_timeout of tool statements',
    '--statement-timeout',
  ),
  duration('limits.lockTimeoutMs', 'PGMCP_LOCK_TIMEOUT', 5000, 'lock_timeout of tool statements'),
  {
    key: 'limits.poolSize',
    env: 'PGMCP_POOL_SIZE',
    type: 'int',
    min: 1,
    default: 10,
    description: 'Connections per database pool',
  },
  {
    key: 'limits.maxPools',
    env: 'PGMCP_MAX_POOLS',
    type: 'int',
    min: 1,
    default: 8,
    description: 'Databases with an open pool at once (least recently used closed first)',
  },
  duration('limits.connectTimeoutMs', 'PGMCP_CONNECT_TIMEOUT', 10000, 'Timeout for opening a connection'),
  duration(
    'limits.txIdleTimeoutMs',
    'PGMCP_TX_IDLE_TIMEOUT',
    300000,
    'A transaction of pg_tx idle this long is rolled back (the next use says so)',
  ),
  {
    key: 'limits.txPerSession',
    env: 'PGMCP_TX_PER_SESSION',
    type: 'int',
    min: 1,
    default: 3,
    description: 'Open pg_tx transactions per MCP session',
  },
  {
    key: 'limits.txTotal',
    env: 'PGMCP_TX_TOTAL',
    type: 'int',
    min: 1,
    default: 20,
    description: 'Open pg_tx transactions across all sessions (each holds its own connection, apart from the pools)',
  },
  duration(
    'limits.confirmTokenTtlMs',
    'PGMCP_CONFIRM_TTL',
    120000,
    'How long a confirmation token stays valid (single use)',
  ),
  // cluster
  {
    key: 'cluster.patroniUrls',
    env: 'PGMCP_PATRONI_URLS',
    type: 'list',
    default: [],
    description: 'Patroni REST API URLs of the members (comma list)',
  },
  {
    key: 'cluster.citusTools',
    env: 'PGMCP_CITUS_TOOLS',
    type: 'enum',
    values: CITUS_TOOLS,
    default: 'auto',
    aliases: [{ env: 'ENABLE_CITUS_TOOLS', values: { true: 'on', false: 'off' } }],
    description:
      'The Citus tools: auto (registered when the citus extension is detected), on (always, even when not detected or not in the toolsets list) or off (never)',
  },
  { key: 'cluster.patroniUser', env: 'PGMCP_PATRONI_USER', type: 'string', description: 'Patroni REST user' },
  {
    key: 'cluster.patroniPassword',
    env: 'PGMCP_PATRONI_PASSWORD',
    type: 'string',
    secret: true,
    description: 'Patroni REST password',
  },
  {
    key: 'cluster.haproxy',
    env: 'PGMCP_HAPROXY',
    type: 'string',
    secret: true,
    description: 'HAProxy stats URL or runtime-API socket path',
  },
  {
    key: 'cluster.pgbouncerUrl',
    env: 'PGMCP_PGBOUNCER_URL',
    type: 'string',
    secret: true,
    description: 'PgBouncer admin console URL (database pgbouncer)',
  },
  // transport
  {
    key: 'transport',
    env: 'PGMCP_TRANSPORT',
    flag: '--transport',
    type: 'enum',
    values: TRANSPORTS,
    synonyms: { sse: 'http' },
    default: 'stdio',
    aliases: [
      {
        env: 'MCP_TRANSPORT',
        note: '`sse` serves the HTTP gateway like `http`: the legacy SSE endpoints `GET /sse` + `POST /messages` are always served beside `/mcp`',
      },
    ],
    description:
      'MCP transport: stdio (one client) or http (the gateway: Streamable HTTP at /mcp, legacy HTTP+SSE at /sse and /messages, /health, /metrics, /tools/NAME); sse is taken as http',
  },
  // HTTP gateway
  {
    key: 'http.host',
    env: 'PGMCP_HTTP_HOST',
    flag: '--host',
    type: 'string',
    default: '127.0.0.1',
    description:
      'Address the HTTP gateway binds to; anything but loopback needs a tokens file (or --allow-unauthenticated)',
  },
  {
    key: 'http.port',
    env: 'PGMCP_HTTP_PORT',
    flag: '--port',
    type: 'int',
    min: 0,
    max: 65535,
    default: 3000,
    aliases: [{ env: 'PORT' }],
    description: 'Port of the HTTP gateway (0: any free port, logged at start)',
  },
  {
    key: 'http.allowedHosts',
    env: 'PGMCP_HTTP_ALLOWED_HOSTS',
    type: 'list',
    default: [],
    description:
      'Host header names accepted besides localhost/127.0.0.1/[::1] (always accepted on a loopback bind), e.g. the tailnet name; others get 403',
  },
  {
    key: 'http.allowedOrigins',
    env: 'PGMCP_HTTP_ALLOWED_ORIGINS',
    type: 'list',
    default: [],
    aliases: [{ env: 'MCP_ALLOWED_ORIGINS' }],
    description:
      'Browser Origins accepted (e.g. https://app.example.com) besides loopback origins on a loopback bind; requests without Origin are not browsers and pass',
  },
  {
    key: 'http.tokensFile',
    env: 'PGMCP_HTTP_TOKENS_FILE',
    flag: '--tokens-file',
    type: 'string',
    description:
      'YAML or JSON file of bearer tokens (name, sha256 of the secret, scope, databases) and identity mappings; when set every request needs a token or a trusted identity',
  },
  {
    key: 'http.trustIdentityHeaders',
    env: 'PGMCP_HTTP_TRUST_IDENTITY_HEADERS',
    type: 'bool',
    default: false,
    description:
      'Take the identity header (set by a proxy such as `tailscale serve`) as the caller, only from a loopback peer',
  },
  {
    key: 'http.identityHeader',
    env: 'PGMCP_HTTP_IDENTITY_HEADER',
    type: 'string',
    default: 'Tailscale-User-Login',
    description: 'The identity header trusted when http.trustIdentityHeaders is on',
  },
  {
    key: 'http.allowUnauthenticated',
    env: 'PGMCP_HTTP_ALLOW_UNAUTHENTICATED',
    flag: '--allow-unauthenticated',
    type: 'bool',
    default: false,
    description:
      'Start on a non-loopback address without a tokens file (anyone who reaches the port gets the access level)',
  },
  {
    key: 'http.bodyLimit',
    env: 'PGMCP_HTTP_BODY_LIMIT',
    type: 'int',
    min: 1024,
    default: 1048576,
    description: 'Largest request body in bytes (larger: 413)',
  },
  duration(
    'http.sessionIdleTimeoutMs',
    'PGMCP_HTTP_SESSION_IDLE_TIMEOUT',
    1800000,
    'An MCP session with no request this long (and no open stream) ends; its transactions are rolled back',
  ),
  {
    key: 'http.maxSessions',
    env: 'PGMCP_HTTP_MAX_SESSIONS',
    type: 'int',
    min: 1,
    default: 100,
    description: 'Open MCP sessions at once (a new one beyond: 503)',
  },
  duration(
    'http.requestTimeoutMs',
    'PGMCP_HTTP_REQUEST_TIMEOUT',
    120000,
    'Time to receive a whole request, and the longest a POST /tools/NAME call runs (then 504, the statement cancelled)',
  ),
  // logging and audit
  {
    key: 'log.level',
    env: 'PGMCP_LOG_LEVEL',
    flag: '--log-level',
    type: 'enum',
    values: ['debug', 'info', 'warn', 'error', 'silent'],
    default: 'info',
    description: 'Log level (logs go to stderr)',
  },
  {
    key: 'audit.file',
    env: 'PGMCP_AUDIT_FILE',
    type: 'string',
    description: 'Append audit lines here instead of stderr',
  },
];

/** The zod schema of the resolved configuration. */
export const ConfigSchema = z.object({
  connection: z.object({
    url: z.string().optional(),
    host: z.string().optional(),
    port: z.number().int().optional(),
    user: z.string().optional(),
    password: z.string().optional(),
    database: z.string().optional(),
    sslmode: z.string().optional(),
    passfile: z.string().optional(),
  }),
  adminUrl: z.string().optional(),
  confirm: z.boolean(),
  access: z.enum(ACCESS_LEVELS),
  toolsets: z.array(z.enum(TOOLSETS)),
  limits: z.object({
    defaultRows: z.number().int(),
    maxRows: z.number().int(),
    cellBytes: z.number().int(),
    resultBytes: z.number().int(),
    statementTimeoutMs: z.number().int(),
    lockTimeoutMs: z.number().int(),
    poolSize: z.number().int(),
    maxPools: z.number().int(),
    connectTimeoutMs: z.number().int(),
    txIdleTimeoutMs: z.number().int(),
    txPerSession: z.number().int(),
    txTotal: z.number().int(),
    confirmTokenTtlMs: z.number().int(),
  }),
  cluster: z.object({
    citusTools: z.enum(CITUS_TOOLS),
    patroniUrls: z.array(z.string()),
    patroniUser: z.string().optional(),
    patroniPassword: z.string().optional(),
    haproxy: z.string().optional(),
    pgbouncerUrl: z.string().optional(),
  }),
  transport: z.enum(TRANSPORTS),
  http: z.object({
    host: z.string(),
    port: z.number().int(),
    allowedHosts: z.array(z.string()),
    allowedOrigins: z.array(z.string()),
    tokensFile: z.string().optional(),
    trustIdentityHeaders: z.boolean(),
    identityHeader: z.string(),
    allowUnauthenticated: z.boolean(),
    bodyLimit: z.number().int(),
    sessionIdleTimeoutMs: z.number().int(),
    maxSessions: z.number().int(),
    requestTimeoutMs: z.number().int(),
  }),
  log: z.object({ level: z.enum(['debug', 'info', 'warn', 'error', 'silent']) }),
  audit: z.object({ file: z.string().optional() }),
});

export type Config = z.infer<typeof ConfigSchema>;

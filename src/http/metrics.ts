/**
 * Prometheus metrics of the gateway (prom-client, its own registry): tool calls by tool and outcome, call latency,
 * HTTP requests, MCP sessions, pool usage (PoolManager.stats) and open transactions (TransactionRegistry.stats) read
 * at scrape time, and the process metrics prom-client collects (memory, CPU, event loop, …).
 */
import client from 'prom-client';
import type { App } from '../app.js';
import type { Auditor, AuditRecord } from '../tools/dispatch.js';

export type SessionEnd = 'deleted' | 'expired' | 'closed' | 'shutdown';

export class GatewayMetrics {
  readonly registry = new client.Registry();
  private readonly toolCalls: client.Counter<'tool' | 'outcome'>;
  private readonly toolLatency: client.Histogram<'tool'>;
  private readonly httpRequests: client.Counter<'route' | 'method' | 'status'>;
  private readonly sessionsStarted: client.Counter;
  private readonly sessionsEnded: client.Counter<'reason'>;
  private readonly authFailures: client.Counter<'status'>;
  private readonly callChildren = new Map<string, client.Counter.Internal>();
  private readonly latencyChildren = new Map<string, client.Histogram.Internal<'tool'>>();

  constructor(app: App, openSessions: () => number) {
    const registers = [this.registry];
    this.toolCalls = new client.Counter({
      name: 'pgmcp_tool_calls_total',
      help: 'Tool calls by tool and outcome (ok, error: the tool refused or PostgreSQL failed, bug)',
      labelNames: ['tool', 'outcome'],
      registers,
    });
    this.toolLatency = new client.Histogram({
      name: 'pgmcp_tool_call_duration_seconds',
      help: 'Tool call duration, from arguments validated to result ready',
      labelNames: ['tool'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.httpRequests = new client.Counter({
      name: 'pgmcp_http_requests_total',
      help: 'HTTP requests by route, method and status',
      labelNames: ['route', 'method', 'status'],
      registers,
    });
    this.authFailures = new client.Counter({
      name: 'pgmcp_http_auth_failures_total',
      help: 'Requests refused by authentication (401) or by the Host/Origin/identity checks (403)',
      labelNames: ['status'],
      registers,
    });
    this.sessionsStarted = new client.Counter({
      name: 'pgmcp_sessions_started_total',
      help: 'MCP sessions initialized',
      registers,
    });
    this.sessionsEnded = new client.Counter({
      name: 'pgmcp_sessions_ended_total',
      help: 'MCP sessions ended, by reason (deleted by the client, expired when idle, closed, shutdown)',
      labelNames: ['reason'],
      registers,
    });
    new client.Gauge({
      name: 'pgmcp_sessions_open',
      help: 'MCP sessions open now',
      registers,
      collect() {
        this.set(openSessions());
      },
    });
    new client.Gauge({
      name: 'pgmcp_pool_connections',
      help: 'Pooled connections by database, login role and state (total, idle, waiting = clients queued)',
      labelNames: ['database', 'role', 'state'],
      registers,
      collect() {
        this.reset();
        for (const p of app.pools.stats()) {
          this.set({ database: p.database, role: p.role, state: 'total' }, p.total);
          this.set({ database: p.database, role: p.role, state: 'idle' }, p.idle);
          this.set({ database: p.database, role: p.role, state: 'waiting' }, p.waiting);
        }
      },
    });
    new client.Gauge({
      name: 'pgmcp_transactions_open',
      help: 'Open pg_tx transactions (each on its own connection)',
      registers,
      collect() {
        const s = app.transactions.stats();
        this.set(s.open + s.starting);
      },
    });
    new client.Gauge({
      name: 'pgmcp_transactions_limit',
      help: 'Most pg_tx transactions open at once',
      registers,
      collect() {
        this.set(app.transactions.stats().limitTotal);
      },
    });
    new client.Gauge({
      name: 'pgmcp_uptime_seconds',
      help: 'Seconds since the server started',
      registers,
      collect() {
        this.set(Math.round((Date.now() - app.startedAt) / 1000));
      },
    });
    try {
      client.collectDefaultMetrics({ register: this.registry });
    } catch {
      // a runtime without some of the process probes (the compiled binary's engine): the rest still works
    }
  }

  toolCall(record: AuditRecord): void {
    // Label children are looked up once per tool and outcome: hashing labels on every call costs more than counting.
    const key = `${record.tool}\u0000${record.outcome}`;
    let counter = this.callChildren.get(key);
    if (!counter) {
      counter = this.toolCalls.labels({ tool: record.tool, outcome: record.outcome });
      this.callChildren.set(key, counter);
    }
    counter.inc();
    let histogram = this.latencyChildren.get(record.tool);
    if (!histogram) {
      histogram = this.toolLatency.labels({ tool: record.tool });
      this.latencyChildren.set(record.tool, histogram);
    }
    histogram.observe(record.durationMs / 1000);
  }

  httpRequest(route: string, method: string, status: number): void {
    this.httpRequests.inc({ route, method, status: String(status) });
  }

  authFailure(status: 401 | 403): void {
    this.authFailures.inc({ status: String(status) });
  }

  sessionStarted(): void {
    this.sessionsStarted.inc();
  }

  sessionEnded(reason: SessionEnd): void {
    this.sessionsEnded.inc({ reason });
  }

  /**
   * An auditor that also counts every call: the record is made once (fingerprinting is a parse) and handed to both.
   * Counted even when the inner auditor writes nothing.
   */
  wrapAuditor(inner: Auditor): Auditor {
    return (make) => {
      let record: AuditRecord | undefined;
      const once = () => {
        record ??= make();
        return record;
      };
      inner(once);
      setImmediate(() => this.toolCall(once()));
    };
  }

  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

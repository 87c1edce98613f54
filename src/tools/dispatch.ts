import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { redactData } from '../safety/redact.js';
import type { Caller, ToolContext } from './context.js';
import { type AccessLevel, accessAllows, requiredAccess, type ToolDefinition } from './define.js';
import { formatToolError, ToolError } from './errors.js';

/** One audit record per call. */
export interface AuditRecord {
  who: string;
  session: string;
  tool: string;
  action?: string;
  database?: string;
  fingerprint?: string;
  durationMs: number;
  rows?: number;
  outcome: 'ok' | 'error' | 'bug';
  code?: string;
}

/**
 * Takes a record's maker: the auditor builds and writes it after the answer has gone out (fingerprinting is a second
 * parse), and its close() waits for every record taken.
 */
export type Auditor = (make: () => AuditRecord) => void;

function auditDetails(args: Record<string, unknown>, data: unknown): Pick<AuditRecord, 'action' | 'database' | 'rows'> {
  const out: Pick<AuditRecord, 'action' | 'database' | 'rows'> = {};
  if (typeof args.action === 'string') out.action = args.action;
  if (typeof args.database === 'string') out.database = args.database;
  else if (data && typeof (data as { database?: unknown }).database === 'string')
    out.database = (data as { database: string }).database;
  const rows = data && (data as { rowCount?: unknown }).rowCount;
  if (typeof rows === 'number') out.rows = rows;
  return out;
}

/** The access level a call runs at: the server's, lowered to the caller's scope (an HTTP token's) when that is less. */
export function effectiveAccess(server: AccessLevel, caller: Pick<Caller, 'access'>): AccessLevel {
  return caller.access !== undefined && !accessAllows(caller.access, server) ? caller.access : server;
}

/** Filled in by dispatchTool when passed: how the call ended and a tool error's code (HTTP maps it to a status). */
export interface DispatchOutcome {
  outcome?: AuditRecord['outcome'];
  code?: string;
}

/**
 * Runs a tool: access checked again at call time (the server's level, lowered to the caller's scope), expected
 * failures (ToolError) returned as `isError` results with everything PostgreSQL said, secrets redacted from every
 * text, an audit record for every call. Bugs are logged and rethrown.
 */
export async function dispatchTool(
  def: ToolDefinition,
  args: Record<string, unknown>,
  ctx: ToolContext,
  audit: Auditor,
  fingerprint: (args: Record<string, unknown>) => string | undefined,
  report?: DispatchOutcome,
): Promise<CallToolResult> {
  const started = performance.now();
  const base = { who: ctx.caller.identity, session: ctx.caller.sessionId, tool: def.name };
  const finish = (outcome: AuditRecord['outcome'], extra: Partial<AuditRecord>) => {
    const durationMs = Math.round((performance.now() - started) * 100) / 100;
    if (report) Object.assign(report, { outcome }, extra.code !== undefined ? { code: extra.code } : {});
    audit(() => {
      const fp = fingerprint(args);
      return { ...base, ...extra, ...(fp ? { fingerprint: fp } : {}), durationMs, outcome };
    });
  };
  try {
    const needed = requiredAccess(def);
    const granted = effectiveAccess(ctx.config.access, ctx.caller);
    if (!accessAllows(granted, needed)) {
      const why =
        granted === ctx.config.access
          ? `this server runs at ${granted}`
          : `${ctx.caller.identity} has scope ${granted}`;
      throw new ToolError(`${def.name} needs access level ${needed}; ${why}`, { code: 'access_denied' });
    }
    // Checks inside a tool (read-write transactions, admin statements) see the caller's level too.
    const scoped = granted === ctx.config.access ? ctx : { ...ctx, config: { ...ctx.config, access: granted } };
    const out = await def.handler(args, scoped);
    finish('ok', auditDetails(args, out.data));
    return {
      content: [{ type: 'text', text: ctx.redact(out.text) }],
      structuredContent: redactData(out.data, ctx.redact) as Record<string, unknown>,
    };
  } catch (err) {
    if (err instanceof ToolError) {
      finish('error', { ...auditDetails(args, undefined), ...(err.info.code ? { code: err.info.code } : {}) });
      return { isError: true, content: [{ type: 'text', text: ctx.redact(formatToolError(err)) }] };
    }
    finish('bug', auditDetails(args, undefined));
    const message = err instanceof Error ? err.message : String(err);
    ctx.log.error(
      { tool: def.name, err: ctx.redact(err instanceof Error ? (err.stack ?? message) : message) },
      'tool failed',
    );
    throw new Error(ctx.redact(`internal error in ${def.name}: ${message}`));
  }
}

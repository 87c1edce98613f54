import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { ToolContext } from './context.js';
import { accessAllows, requiredAccess, type ToolDefinition } from './define.js';
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

/** The structured result with secrets removed; parsed back only when redaction changed something. */
function redactData(data: Record<string, unknown>, redact: (text: string) => string): Record<string, unknown> {
  const json = JSON.stringify(data);
  const clean = redact(json);
  return clean === json ? data : (JSON.parse(clean) as Record<string, unknown>);
}

/**
 * Runs a tool: access checked again at call time, expected failures (ToolError) returned as `isError` results with
 * everything PostgreSQL said, secrets redacted from every text, an audit record for every call. Bugs are logged and
 * rethrown.
 */
export async function dispatchTool(
  def: ToolDefinition,
  args: Record<string, unknown>,
  ctx: ToolContext,
  audit: Auditor,
  fingerprint: (args: Record<string, unknown>) => string | undefined,
): Promise<CallToolResult> {
  const started = performance.now();
  const base = { who: ctx.caller.identity, session: ctx.caller.sessionId, tool: def.name };
  const finish = (outcome: AuditRecord['outcome'], extra: Partial<AuditRecord>) => {
    const durationMs = Math.round((performance.now() - started) * 100) / 100;
    audit(() => {
      const fp = fingerprint(args);
      return { ...base, ...extra, ...(fp ? { fingerprint: fp } : {}), durationMs, outcome };
    });
  };
  try {
    const needed = requiredAccess(def);
    if (!accessAllows(ctx.config.access, needed)) {
      throw new ToolError(`${def.name} needs access level ${needed}; this server runs at ${ctx.config.access}`, {
        code: 'access_denied',
      });
    }
    const out = await def.handler(args, ctx);
    finish('ok', auditDetails(args, out.data));
    return {
      content: [{ type: 'text', text: ctx.redact(out.text) }],
      structuredContent: redactData(out.data as Record<string, unknown>, ctx.redact),
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

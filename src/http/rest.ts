/**
 * POST /tools/NAME: one tool call without an MCP session, for CI/CD scripts. The body is the arguments object (JSON);
 * the answer is JSON. The same dispatcher runs it as for MCP: same scope and database checks, audit line and
 * confirmation-token flow (a destructive call answers 409 with a confirm_token; the same call with it runs).
 *
 * REST calls of one principal share the pseudo-session `rest:<via>:<identity>`, so that a confirmation token or a
 * pg_tx handle from one call works in the next; such transactions end by commit/rollback or idle expiry.
 *
 * Status codes: 200 ok; 400 bad JSON or arguments; 403 scope or database not allowed; 404 unknown tool; 409
 * confirmation required; 422 any other tool error (the statement failed, …); 504 the call ran past
 * http.requestTimeoutMs (its statement is cancelled); 500 a bug.
 */
import type { App } from '../app.js';
import { fingerprintArgs } from '../server.js';
import { initParser } from '../sql/parser.js';
import type { Caller, ToolContext } from '../tools/context.js';
import { accessAllows, requiredAccess, type ToolDefinition } from '../tools/define.js';
import { type DispatchOutcome, dispatchTool, effectiveAccess } from '../tools/dispatch.js';
import { parseArguments } from '../tools/listing.js';
import { resultText } from '../tools/result-text.js';
import { type Principal, principalKey } from './auth.js';

export interface RestAnswer {
  status: number;
  body: Record<string, unknown>;
}

const FORBIDDEN = new Set(['access_denied', 'database_not_allowed', 'tx_read_only_level']);
const TIMED_OUT = new Set(['cancelled', '57014']);

export function restCaller(principal: Principal): Caller {
  return {
    sessionId: `rest:${principalKey(principal)}`,
    identity: principal.identity,
    ...(principal.access ? { access: principal.access } : {}),
    ...(principal.databases ? { databases: principal.databases } : {}),
  };
}

export async function callToolOverHttp(
  app: App,
  definitions: ReadonlyMap<string, ToolDefinition>,
  principal: Principal,
  name: string,
  body: unknown,
  signal: AbortSignal,
  timedOut: () => boolean,
): Promise<RestAnswer> {
  const def = definitions.get(name);
  if (!def) {
    const granted = effectiveAccess(app.config.access, principal);
    const tools = [...definitions.values()].filter((d) => accessAllows(granted, requiredAccess(d))).map((d) => d.name);
    return { status: 404, body: { ok: false, tool: name, error: `unknown tool ${name}`, tools } };
  }
  if (body !== undefined && (body === null || typeof body !== 'object' || Array.isArray(body))) {
    return { status: 400, body: { ok: false, tool: name, error: 'the body must be a JSON object of arguments' } };
  }
  const parsed = parseArguments(def, body ?? {});
  if (!parsed.ok)
    return { status: 400, body: { ok: false, tool: name, code: 'invalid_arguments', error: parsed.message } };
  await initParser();
  const ctx: ToolContext = {
    config: app.config,
    components: app.components,
    pools: app.pools,
    log: app.log,
    caller: restCaller(principal),
    signal,
    redact: app.redact,
    confirmations: app.confirmations,
    transactions: app.transactions,
    progress: async () => undefined,
  };
  const report: DispatchOutcome = {};
  let result: Awaited<ReturnType<typeof dispatchTool>>;
  try {
    result = await app.track(dispatchTool(def, parsed.args, ctx, app.audit, fingerprintArgs, report));
  } catch (err) {
    return { status: 500, body: { ok: false, tool: name, error: err instanceof Error ? err.message : String(err) } };
  }
  const text = resultText(result);
  if (result.isError) {
    const code = report.code;
    const status =
      timedOut() && (code === undefined || TIMED_OUT.has(code))
        ? 504
        : code !== undefined && FORBIDDEN.has(code)
          ? 403
          : 422;
    return { status, body: { ok: false, tool: name, ...(code ? { code } : {}), error: text } };
  }
  const data = result.structuredContent as Record<string, unknown> | undefined;
  if (data?.status === 'confirmation_required') {
    const token = (data.confirmation as { confirm_token?: string } | undefined)?.confirm_token;
    return {
      status: 409,
      body: { ok: false, tool: name, code: 'confirmation_required', confirm_token: token, text, data },
    };
  }
  return { status: 200, body: { ok: true, tool: name, text, data } };
}

/**
 * Expected failures: a tool reports them as an `isError` result. Anything else thrown by a handler is a bug.
 */
export interface PgErrorFields {
  severity?: string;
  code?: string;
  message: string;
  detail?: string;
  hint?: string;
  position?: number;
  internalPosition?: number;
  internalQuery?: string;
  where?: string;
  schema?: string;
  table?: string;
  column?: string;
  dataType?: string;
  constraint?: string;
}

export class ToolError extends Error {
  constructor(
    message: string,
    readonly info: {
      /** A short machine-readable reason, e.g. `not_read_only`, `confirmation_required`, or a SQLSTATE. */
      code?: string;
      pg?: PgErrorFields;
      /** The statement the error refers to (for the caret under `position`). */
      statement?: string;
      /** What to do next. */
      hint?: string;
    } = {},
  ) {
    super(message);
    this.name = 'ToolError';
  }
}

/** True for errors that come from the PostgreSQL server (they carry a SQLSTATE). */
export function isPgServerError(err: unknown): err is Error & PgErrorFields & { code: string } {
  return (
    err instanceof Error &&
    typeof (err as { code?: unknown }).code === 'string' &&
    /^[0-9A-Z]{5}$/.test((err as unknown as { code: string }).code)
  );
}

/** Network-level failures reaching the server (refused, reset, DNS, timeouts). */
export function isConnectionError(err: unknown): err is Error & { code?: string } {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  return (
    (typeof code === 'string' &&
      /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENOENT|EPIPE)$/.test(code)) ||
    /Connection terminated|timeout expired|connect ETIMEDOUT|server closed the connection/i.test(err.message)
  );
}

/** Wraps a server error as a ToolError keeping every field PostgreSQL sent. */
export function fromPgError(err: Error & PgErrorFields, statement?: string): ToolError {
  const pos = err.position !== undefined ? Number(err.position) : undefined;
  const ipos = err.internalPosition !== undefined ? Number(err.internalPosition) : undefined;
  const pg: PgErrorFields = { message: err.message };
  for (const k of [
    'severity',
    'code',
    'detail',
    'hint',
    'where',
    'schema',
    'table',
    'column',
    'dataType',
    'constraint',
    'internalQuery',
  ] as const) {
    const v = err[k];
    if (typeof v === 'string' && v !== '') pg[k] = v;
  }
  if (pos !== undefined && Number.isFinite(pos)) pg.position = pos;
  if (ipos !== undefined && Number.isFinite(ipos)) pg.internalPosition = ipos;
  return new ToolError(err.message, {
    ...(pg.code ? { code: pg.code } : {}),
    pg,
    ...(statement !== undefined ? { statement } : {}),
  });
}

/**
 * Shows the line of `sql` holding the 1-based character `position` with a caret under it, as psql does.
 */
export function caretUnder(sql: string, position: number): string {
  const chars = [...sql];
  const index = Math.min(Math.max(position - 1, 0), chars.length);
  const before = chars.slice(0, index).join('');
  const lineStart = before.lastIndexOf('\n') + 1;
  const lineNo = before.split('\n').length;
  const lineEndRel = chars.slice(index).join('').indexOf('\n');
  const after = chars.slice(index).join('');
  const line = before.slice(lineStart) + (lineEndRel === -1 ? after : after.slice(0, lineEndRel));
  const prefix = `LINE ${lineNo}: `;
  const col = [...before.slice(lineStart)].length;
  return `${prefix}${line}\n${' '.repeat(prefix.length + col)}^`;
}

/** The text of an error result: every field PostgreSQL gave, in psql's order. */
export function formatToolError(err: ToolError): string {
  const lines: string[] = [];
  const pg = err.info.pg;
  if (pg) {
    lines.push(`ERROR${pg.code ? ` ${pg.code}` : ''}: ${pg.message}`);
    if (pg.position !== undefined && err.info.statement !== undefined)
      lines.push(caretUnder(err.info.statement, pg.position));
    if (pg.detail) lines.push(`DETAIL: ${pg.detail}`);
    if (pg.hint) lines.push(`HINT: ${pg.hint}`);
    if (pg.internalQuery) {
      lines.push(`QUERY: ${pg.internalQuery}`);
      if (pg.internalPosition !== undefined) lines.push(caretUnder(pg.internalQuery, pg.internalPosition));
    }
    if (pg.where) lines.push(`CONTEXT: ${pg.where}`);
    const objects = (['schema', 'table', 'column', 'dataType', 'constraint'] as const)
      .filter((k) => pg[k])
      .map((k) => `${k}=${pg[k]}`);
    if (objects.length) lines.push(`OBJECT: ${objects.join(' ')}`);
  } else {
    lines.push(`ERROR${err.info.code ? ` (${err.info.code})` : ''}: ${err.message}`);
  }
  if (err.info.hint) lines.push(`NEXT: ${err.info.hint}`);
  return lines.join('\n');
}

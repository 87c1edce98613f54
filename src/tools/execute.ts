import { z } from 'zod';
import type { PoolRole } from '../db/pools.js';
import type { TxInfo } from '../db/transactions.js';
import {
  type Notice,
  runWriteInTransaction,
  runWriteOnPool,
  type StatementOutcome,
  WriteFailure,
  type WriteFrame,
  type WriteJob,
  type WriteRun,
} from '../db/write-run.js';
import { markdownRecords } from '../format/markdown.js';
import {
  type Confirmation,
  type ConfirmationRequired,
  confirmationRequiredData,
  confirmationRequiredSchema,
  confirmDestructive,
  confirmTokenArg,
  type DestructivePlan,
  formatDuration,
} from '../safety/confirm.js';
import { checkWriteBatch, checkWriteSql, type WriteStatement } from '../sql/write-guard.js';
import type { ToolContext } from './context.js';
import { defineTool } from './define.js';
import { fromPgError, isPgServerError, ToolError } from './errors.js';
import { databaseArg, paramsArg, resolveDatabase } from './shared-args.js';
import { txArg } from './tx.js';

const TOOL = 'pg_execute';
/** Statements one call may hold. */
export const MAX_STATEMENTS = 100;

const noticeSchema = z.object({
  severity: z.string(),
  message: z.string(),
  code: z.string().optional(),
  detail: z.string().optional(),
  hint: z.string().optional(),
  where: z.string().optional(),
});

const statementSchema = z.object({
  index: z.number().int().describe('1-based position in the call'),
  command: z.string().describe('the SQL command, e.g. INSERT, DROP TABLE'),
  class: z.string().describe('write, ddl, destructive or admin'),
  targets: z.array(z.string()).describe('objects the statement names'),
  tag: z.string().optional().describe("PostgreSQL's command tag, e.g. INSERT 0 3"),
  rowsAffected: z.number().int().nullable().optional().describe('rows the statement changed (null: not counted)'),
  columns: z.array(z.object({ name: z.string(), type: z.string() })).optional(),
  rows: z.array(z.record(z.string(), z.unknown())).optional().describe('RETURNING rows, converted like pg_query'),
  rowsReturned: z.number().int().optional().describe('RETURNING rows in all (rows may hold fewer)'),
  truncated: z.boolean().optional(),
  truncatedBy: z.enum(['limit', 'bytes']).optional(),
  cutCells: z.number().int().optional(),
  notices: z.array(noticeSchema).optional().describe('NOTICE/WARNING messages PostgreSQL sent'),
});

const planSchema = z.object({ action: z.string(), reasons: z.array(z.string()), details: z.string() });

export const executeOutput = z.object({
  status: z.enum(['executed', 'dry_run', 'confirmation_required']),
  database: z.string(),
  tx: z.string().optional().describe('the pg_tx transaction the statements ran in'),
  durationMs: z.number(),
  statements: z.array(statementSchema),
  rowCount: z.number().int().describe('rows changed by all statements together'),
  plan: planSchema.optional().describe('present when the call holds a destructive statement'),
  confirmation: confirmationRequiredSchema
    .optional()
    .describe('status confirmation_required (and a dry run that issued a token): how to confirm'),
  confirmedVia: z.enum(['elicitation', 'token', 'disabled']).optional(),
  objectsChanged: z
    .array(z.object({ statement: z.number().int(), change: z.string(), object: z.string() }))
    .optional()
    .describe('dry run: objects the schema changes would create, change or drop (cascades included)'),
  notices: z.array(noticeSchema).optional().describe("notices of pgmcp's own BEGIN/COMMIT"),
});
type ExecuteOutput = z.infer<typeof executeOutput>;
type StatementInfo = z.infer<typeof statementSchema>;

const inputSchema = z.object({
  sql: z
    .string()
    .min(1)
    .optional()
    .describe('ONE SQL statement (INSERT, UPDATE, DELETE, MERGE, CREATE, ALTER, DROP, …)'),
  statements: z
    .array(z.string().min(1))
    .min(1)
    .max(MAX_STATEMENTS)
    .optional()
    .describe('Instead of sql: several statements, one per element, run in order atomically (all or nothing)'),
  params: paramsArg.describe('Values for $1, $2, … of sql, bound server-side (only with sql)'),
  database: databaseArg,
  tx: txArg,
  dry_run: z
    .boolean()
    .optional()
    .describe('Run in a transaction that is always rolled back and report what would happen; changes nothing'),
  confirm_token: confirmTokenArg,
  limit: z.number().int().min(1).optional().describe('RETURNING rows to return per statement (default 100, capped)'),
});
type ExecuteArgs = z.infer<typeof inputSchema>;

export const pgExecute = defineTool({
  name: TOOL,
  title: 'Run SQL that changes data or schema',
  description:
    'Run INSERT/UPDATE/DELETE/MERGE and schema changes (CREATE/ALTER/DROP, …): one statement as `sql` (with $1, $2, … ' +
    '`params`), or several as `statements`, run atomically (all or nothing). Reports rows affected, RETURNING rows and ' +
    'notices. Destructive statements (DROP, TRUNCATE, DELETE/UPDATE without WHERE, ALTER … DROP, DO, CALL, …) need ' +
    'confirmation: the answer is then status confirmation_required with a confirm_token for the same call, after ' +
    'asking the user. `dry_run: true` runs everything in a transaction that is rolled back and reports what would ' +
    'happen (rows, cascades). Use `tx` to run inside a pg_tx transaction. Reads go to pg_query; BEGIN/COMMIT/SET go ' +
    'to pg_tx.',
  toolset: 'write',
  readOnly: false,
  destructive: true,
  input: inputSchema,
  output: executeOutput,
  async handler(args, ctx) {
    const started = performance.now();
    const checked = checkCall(args, ctx);
    // In a transaction, its database; found (and checked against the statements) before anyone is asked to confirm.
    const txInfo = args.tx === undefined ? undefined : await openTransaction(ctx, args.tx);
    if (txInfo) checkTransaction(txInfo, checked, args, ctx);
    const database = txInfo?.database ?? resolveDatabase(args.database, ctx);
    const plan = planOf(checked, args);
    const dryRun = args.dry_run === true;

    // Confirmation comes before any connection is taken (never while a transaction waits for the user). A dry run
    // keeps nothing, so it needs none, except for code whose effects the checks cannot see (DO, CALL): that may act
    // outside the transaction that the dry run rolls back.
    let confirmation: Confirmation | undefined;
    if (plan && (!dryRun || checked.some((s) => s.opaque))) {
      confirmation = await confirmDestructive(ctx, plan, args.confirm_token);
      if (!confirmation.confirmed) {
        return confirmationRequired(plan, confirmation, checked, database, args, started);
      }
    }

    const limit = args.limit ?? ctx.config.limits.defaultRows;
    const job = (frame: WriteFrame): WriteJob => ({
      statements: checked.map((s) => ({ text: s.text, params: s.index === 1 && args.sql ? (args.params ?? []) : [] })),
      frame,
      limit,
      discardConnection: checked.some((s) => s.opaque || s.temporary),
    });

    let run: WriteRun;
    let ranIn: { database: string; tx?: string };
    if (args.tx !== undefined) {
      const handle = args.tx;
      ranIn = { database, tx: handle };
      run = await ctx.transactions.use(
        ctx.caller,
        handle,
        async (client, info) => {
          checkTransaction(info, checked, args, ctx);
          ranIn.database = info.database;
          try {
            return await runWriteInTransaction(
              client,
              ctx.pools.get(info.database, info.role),
              ctx.config,
              job(dryRun ? 'dry_run_in_tx' : 'in_tx'),
            );
          } catch (err) {
            throw failure(err, checked, dryRun ? 'dry_run_in_tx' : 'in_tx', info.database, handle);
          }
        },
        { signal: ctx.signal },
      );
    } else {
      ranIn = { database };
      const frame: WriteFrame = dryRun ? 'dry_run' : checked[0]?.nonTransactional ? 'alone' : 'atomic';
      const role: PoolRole = checked.some((s) => s.access === 'admin') ? 'admin' : 'main';
      try {
        run = await runWriteOnPool(ctx.pools, ctx.config, database, role, job(frame), ctx.signal);
      } catch (err) {
        throw failure(err, checked, frame, database);
      }
    }

    const statements = checked.map((s, i) => statementInfo(s, run.statements[i]));
    const data: ExecuteOutput = {
      status: dryRun ? 'dry_run' : 'executed',
      database: ranIn.database,
      ...(ranIn.tx ? { tx: ranIn.tx } : {}),
      durationMs: elapsed(started),
      statements,
      rowCount: statements.reduce((n, s) => n + (s.rowsAffected ?? 0), 0),
    };
    if (plan) data.plan = { action: plan.action, reasons: plan.reasons, details: plan.details };
    if (confirmation?.confirmed) data.confirmedVia = confirmation.via;
    if (run.notices.length > 0) data.notices = run.notices;
    let tokenNote: string | undefined;
    if (dryRun) {
      data.objectsChanged = objectsChanged(checked, run);
      // A dry run's plan can be confirmed for the real call (a token ignores dry_run), when the client cannot ask
      // its user itself; with elicitation the real call asks.
      if (plan && !confirmation && ctx.config.confirm && !ctx.elicit) {
        const issued = ctx.confirmations.issue({ tool: TOOL, args: plan.args, caller: ctx.caller });
        data.confirmation = confirmationRequiredData(plan, issued);
        tokenNote =
          `To run it for real: show the plan and these results to the user and ask. Only if they agree, call ${TOOL} ` +
          `again with the same arguments but without dry_run, plus "confirm_token": "${issued.token}" (single use, ` +
          `expires at ${issued.expiresAt}, in ${formatDuration(issued.ttlMs)}).`;
      }
    }
    return { text: renderText(data, tokenNote), data };
  },
});

// ---------------------------------------------------------------------------------------------------------------
// Arguments and statements

function checkCall(args: ExecuteArgs, ctx: ToolContext): WriteStatement[] {
  const hasSql = args.sql !== undefined;
  const hasList = args.statements !== undefined;
  if (hasSql === hasList) {
    throw new ToolError(
      hasSql
        ? 'pass either sql or statements, not both'
        : 'pass the SQL to run: sql (one statement) or statements (a list run atomically)',
      { code: 'invalid_arguments', hint: 'sql: "…" for one statement, statements: ["…", "…"] for several' },
    );
  }
  if (args.params !== undefined && !hasSql) {
    throw new ToolError('params go with sql only: statements in a list take no parameters', {
      code: 'invalid_arguments',
      hint: 'run a statement that needs parameters as sql (with tx to group it with others in a pg_tx transaction)',
    });
  }
  const { maxRows } = ctx.config.limits;
  if (args.limit !== undefined && args.limit > maxRows) {
    throw new ToolError(`limit ${args.limit} is above this server's cap of ${maxRows} rows`, {
      code: 'limit_too_large',
      hint: `ask for at most ${maxRows} RETURNING rows per statement`,
    });
  }
  const checked =
    args.sql !== undefined
      ? [checkWriteSql(args.sql, ctx.config.access)]
      : checkWriteBatch(args.statements ?? [], ctx.config.access);

  const inTx = args.tx !== undefined;
  const dryRun = args.dry_run === true;
  for (const s of checked) {
    if (s.nonTransactional !== undefined) {
      const where = inTx
        ? 'inside a pg_tx transaction (tx)'
        : dryRun
          ? 'as a dry run (a dry run is a transaction that is rolled back)'
          : checked.length > 1
            ? 'in statements (a list runs as one transaction)'
            : undefined;
      if (where !== undefined) {
        throw new ToolError(
          `${s.source}: ${s.nonTransactional} cannot run inside a transaction block (PostgreSQL refuses it there), so it cannot run ${where}.`,
          {
            code: 'not_in_transaction_block',
            statement: s.text,
            hint: `run it by itself as sql, without ${inTx ? 'tx' : dryRun ? 'dry_run' : 'the other statements'}: it then commits on its own${dryRun ? ' (there is no dry run for it)' : ''}`,
          },
        );
      }
    }
    if (s.temporary && !inTx && !dryRun) {
      throw new ToolError(
        `${s.source}: a temporary object lives only as long as its connection, and pg_execute's connections are pooled: it would be gone, or turn up in someone else's later call.`,
        {
          code: 'temporary_object',
          statement: s.text,
          hint: 'begin a transaction with pg_tx and pass its handle as tx (temporary objects live until it ends), or create a regular table',
        },
      );
    }
  }
  return checked;
}

/**
 * The caller's open transaction `handle`, idle and ready. When it is not (unknown, of another session, ended,
 * aborted, busy), the registry's own refusal is thrown: use() refuses before it runs anything.
 */
async function openTransaction(ctx: ToolContext, handle: string): Promise<TxInfo | undefined> {
  const info = ctx.transactions.list(ctx.caller).find((t) => t.handle === handle);
  if (info?.state === 'idle') return info;
  await ctx.transactions.use(ctx.caller, handle, async () => undefined);
  return info;
}

/** The transaction must suit the statements. */
function checkTransaction(info: TxInfo, checked: WriteStatement[], args: ExecuteArgs, ctx: ToolContext): void {
  if (args.database !== undefined && args.database !== info.database) {
    throw new ToolError(
      `transaction ${info.handle} is on database ${info.database}, not ${args.database}; a transaction runs on one database`,
      { code: 'invalid_arguments', hint: 'leave database out when passing tx' },
    );
  }
  if (info.readOnly && args.dry_run !== true) {
    throw new ToolError(`transaction ${info.handle} is read-only (begun with read_only): it cannot change anything`, {
      code: 'tx_read_only',
      hint: 'begin a read-write transaction with pg_tx (read_only: false) for writes, or run without tx',
    });
  }
  const admin = checked.find((s) => s.access === 'admin');
  if (admin && ctx.config.adminUrl !== undefined && info.role !== 'admin') {
    throw new ToolError(
      `${admin.source}: ${admin.classification.command} runs on the admin login, and transaction ${info.handle} is on the main login`,
      { code: 'access_denied', statement: admin.text, hint: 'run it without tx' },
    );
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The plan of a destructive call

function planOf(checked: WriteStatement[], args: ExecuteArgs): DestructivePlan | undefined {
  const destructive = checked.filter((s) => s.classification.class === 'destructive');
  if (destructive.length === 0) return undefined;
  const batch = checked.length > 1;
  const actions = destructive.map((s) => actionOf(s));
  let action = actions.join('; ');
  if (batch) action += ` (in an atomic batch of ${checked.length} statements)`;
  const reasons = destructive.map((s) => {
    const why = s.classification.reason ?? 'is destructive';
    return batch ? `statement ${s.index} (${s.classification.command}): ${why}` : why;
  });
  const details = checked.map((s) => (s.text.endsWith(';') ? s.text : `${s.text};`)).join('\n');
  const bound: Record<string, unknown> = { ...args };
  return { tool: TOOL, args: bound, action, reasons, details };
}

/** `DROP TABLE a, s.b CASCADE`, `DELETE FROM orders`: the command and what it acts on, from the parse tree. */
function actionOf(s: WriteStatement): string {
  const { command } = s.classification;
  const n = s.stmt.node;
  const names = s.targets.map((t) => stripKind(t, command));
  const cascade = n.behavior === 'DROP_CASCADE' ? ' CASCADE' : '';
  switch (s.stmt.type) {
    case 'DeleteStmt':
      return `DELETE FROM ${names.join(', ')}`;
    case 'UpdateStmt':
    case 'MergeStmt':
      return `${command} ${names.join(', ')}`;
    case 'TruncateStmt':
      return `TRUNCATE ${names.join(', ')}${cascade}`;
    case 'DoStmt':
      return 'DO (an anonymous code block)';
    default:
      return names.length > 0
        ? `${command}${n.missing_ok === true ? ' IF EXISTS' : ''} ${names.join(', ')}${cascade}`
        : command;
  }
}

/** `TABLE orders` → `orders` when the command already says TABLE. */
function stripKind(target: string, command: string): string {
  for (const kind of ['MATERIALIZED VIEW', 'FOREIGN TABLE', 'TABLE', 'VIEW', 'INDEX', 'SEQUENCE', 'SCHEMA', 'TYPE']) {
    if (
      target.startsWith(`${kind} `) &&
      (command.endsWith(kind) || command === 'TRUNCATE' || /^(DELETE|UPDATE|MERGE)$/.test(command))
    )
      return target.slice(kind.length + 1);
  }
  for (const kind of ['FUNCTION', 'PROCEDURE', 'DOMAIN', 'EXTENSION', 'ROLE', 'DATABASE']) {
    if (target.startsWith(`${kind} `) && (command.endsWith(kind) || command === 'CALL'))
      return target.slice(kind.length + 1);
  }
  return target;
}

function confirmationRequired(
  plan: DestructivePlan,
  confirmation: Extract<Confirmation, { confirmed: false }>,
  checked: WriteStatement[],
  database: string,
  args: ExecuteArgs,
  started: number,
): { text: string; data: ExecuteOutput } {
  const data: ExecuteOutput = {
    status: 'confirmation_required',
    database,
    ...(args.tx ? { tx: args.tx } : {}),
    durationMs: elapsed(started),
    statements: checked.map((s) => statementInfo(s, undefined)),
    rowCount: 0,
    plan: { action: plan.action, reasons: plan.reasons, details: plan.details },
    confirmation: confirmationRequiredData(plan, {
      token: confirmation.token,
      expiresAt: confirmation.expiresAt,
      ttlMs: confirmation.ttlMs,
    }) satisfies ConfirmationRequired,
  };
  return { text: confirmation.message, data };
}

// ---------------------------------------------------------------------------------------------------------------
// Failures

/** The ToolError for a failed run: which statement, everything PostgreSQL said, and what was (not) kept. */
function failure(err: unknown, checked: WriteStatement[], frame: WriteFrame, database: string, tx?: string): unknown {
  if (err instanceof ToolError) return err;
  const kept = keptAfterFailure(frame, tx);
  if (!(err instanceof WriteFailure)) {
    if (isPgServerError(err)) {
      const e = fromPgError(err);
      return new ToolError(e.message, { ...e.info, hint: `${kept}; the connection was closed to be safe` });
    }
    return err;
  }
  const pgErr = err.error;
  if (!isPgServerError(pgErr)) {
    return new ToolError(
      `the connection to PostgreSQL (database ${database}) failed while the statements ran: ${pgErr.message}`,
      {
        code: 'connection_failed',
        hint:
          frame === 'atomic'
            ? 'whether the statements were committed is unknown: check with pg_query before running them again'
            : 'check with pg_query what happened before running it again',
      },
    );
  }
  const s = err.statement === undefined ? undefined : checked[err.statement];
  if (!s) {
    // pgmcp's own step failed: COMMIT (deferred constraints, serialization failures) or the savepoint of a dry run.
    const e = fromPgError(pgErr);
    const step = err.stepText ?? 'a statement pgmcp adds';
    const message = `${step} failed: ${e.message}`;
    return new ToolError(message, { ...e.info, pg: { ...(e.info.pg ?? { message }), message }, hint: kept });
  }
  const e = fromPgError(pgErr, s.text);
  const batch = checked.length > 1;
  const message = batch ? `${s.source} (statement ${s.index} of ${checked.length}): ${e.message}` : e.message;
  const hints = [kept];
  const before = err.completed.length;
  if (batch && frame !== 'in_tx' && before > 0)
    hints.push(
      before === 1
        ? 'statement 1 before it ran but was rolled back with it'
        : `statements 1–${before} before it ran but were rolled back with it`,
    );
  if (err.cancelledAfterMs !== undefined)
    hints.push(
      `pgmcp cancelled it after ${err.cancelledAfterMs} ms, its statement timeout (PGMCP_STATEMENT_TIMEOUT): through a connection pooler a statement that cannot run in a transaction block does not carry the server-side timeout`,
    );
  if (s.nonTransactional === 'CREATE INDEX CONCURRENTLY')
    hints.push('a failed CREATE INDEX CONCURRENTLY can leave an INVALID index behind: drop it before trying again');
  return new ToolError(message, { ...e.info, pg: { ...(e.info.pg ?? { message }), message }, hint: hints.join('; ') });
}

function keptAfterFailure(frame: WriteFrame, tx: string | undefined): string {
  switch (frame) {
    case 'atomic':
      return 'nothing of this call was kept: everything it did was rolled back';
    case 'alone':
      return 'the statement ran by itself (outside a transaction block); PostgreSQL undid what it had done';
    case 'dry_run':
    case 'dry_run_in_tx':
      return `dry run: this is how the statement would fail; nothing was changed${tx ? ` and transaction ${tx} is as it was` : ''}`;
    case 'in_tx':
      return `inside transaction ${tx}: statements of this call before it ran in the transaction`;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Results

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100;
}

function statementInfo(s: WriteStatement, o: StatementOutcome | undefined): StatementInfo {
  const info: StatementInfo = {
    index: s.index,
    command: s.classification.command,
    class: s.classification.class,
    targets: s.targets,
  };
  if (!o) return info;
  if (o.tag !== undefined) info.tag = o.tag;
  info.rowsAffected = o.rowsAffected;
  if (o.columns) {
    info.columns = o.columns;
    info.rows = o.rows ?? [];
    if (o.rowsReturned !== undefined) info.rowsReturned = o.rowsReturned;
    info.truncated = o.truncated ?? false;
    if (o.truncatedBy) info.truncatedBy = o.truncatedBy;
    if (o.cutCells) info.cutCells = o.cutCells;
  }
  if (o.notices.length > 0) info.notices = o.notices;
  return info;
}

const CASCADE = /^(drop|truncate) cascades to (.+)$/;

/** Dry run: what the schema changes name, and what PostgreSQL said they would take with them. */
function objectsChanged(checked: WriteStatement[], run: WriteRun): NonNullable<ExecuteOutput['objectsChanged']> {
  const out: NonNullable<ExecuteOutput['objectsChanged']> = [];
  checked.forEach((s, i) => {
    if (!DATA_ONLY.has(s.stmt.type)) {
      for (const t of s.targets) out.push({ statement: s.index, change: s.classification.command, object: t });
    }
    for (const n of run.statements[i]?.notices ?? []) {
      for (const line of [n.message, ...(n.detail?.split('\n') ?? [])]) {
        const m = CASCADE.exec(line.trim());
        // "drop cascades to 3 other objects" heads a DETAIL that lists them one by one.
        if (m && !/^\d+ other objects$/.test(m[2] as string))
          out.push({
            statement: s.index,
            change: `${(m[1] as string).toUpperCase()} (cascade)`,
            object: m[2] as string,
          });
      }
    }
  });
  return out;
}

/** Statements that change rows, not objects. */
const DATA_ONLY = new Set([
  'InsertStmt',
  'UpdateStmt',
  'DeleteStmt',
  'MergeStmt',
  'SelectStmt',
  'CopyStmt',
  'LockStmt',
  'NotifyStmt',
]);

const VERBS: Record<string, string> = {
  INSERT: 'inserted',
  UPDATE: 'updated',
  DELETE: 'deleted',
  MERGE: 'merged',
  COPY: 'copied',
  SELECT: 'selected',
};

function rowsLine(s: StatementInfo): string {
  const tag = s.tag ?? s.command;
  if (s.rowsAffected === null || s.rowsAffected === undefined) return tag;
  const verb = VERBS[tag.split(' ')[0] ?? ''] ?? 'affected';
  return `${tag} — ${s.rowsAffected} row${s.rowsAffected === 1 ? '' : 's'} ${verb}`;
}

function noticeLines(notices: readonly Notice[] | undefined): string[] {
  return (notices ?? []).map((n) => {
    const detail = n.detail ? ` (${n.detail.replace(/\n/g, '; ')})` : '';
    return `${n.severity}: ${n.message}${detail}`;
  });
}

function renderText(data: ExecuteOutput, tokenNote: string | undefined): string {
  const n = data.statements.length;
  const where = `database ${data.database}${data.tx ? `, transaction ${data.tx}` : ''}`;
  const lines: string[] = [];
  if (data.status === 'dry_run') {
    lines.push(
      `DRY RUN: nothing was changed (everything was rolled back). ${n === 1 ? 'The statement' : `The ${n} statements`} would do this (${where}, ${data.durationMs} ms):`,
    );
  } else {
    const how = data.tx
      ? 'in the transaction (not committed until pg_tx commit)'
      : n > 1
        ? 'atomically, committed'
        : '(committed)';
    const via = data.confirmedVia
      ? `; confirmed by ${data.confirmedVia === 'disabled' ? 'nobody (confirmation is off)' : data.confirmedVia}`
      : '';
    lines.push(
      `EXECUTED ${n === 1 ? '1 statement' : `${n} statements`} ${how} (${where}, ${data.durationMs} ms${via}).`,
    );
  }
  data.statements.forEach((s, i) => {
    const prefix = n > 1 ? `${i + 1}. ` : '';
    lines.push(`${prefix}${rowsLine(s)}`);
    if (s.columns && s.rows) {
      lines.push(
        markdownRecords(
          s.columns.map((c) => c.name),
          s.rows as Parameters<typeof markdownRecords>[1],
        ),
      );
      if (s.truncated) {
        lines.push(
          s.truncatedBy === 'bytes'
            ? `(${s.rows.length} of ${s.rowsReturned} RETURNING rows shown: the result byte cap was reached)`
            : `(${s.rows.length} of ${s.rowsReturned} RETURNING rows shown: raise limit to see more)`,
        );
      }
    }
    lines.push(...noticeLines(s.notices));
  });
  lines.push(...noticeLines(data.notices));
  if (data.objectsChanged && data.objectsChanged.length > 0) {
    lines.push('Objects that would change:');
    for (const o of data.objectsChanged)
      lines.push(`- ${o.change}: ${o.object}${n > 1 ? ` (statement ${o.statement})` : ''}`);
  }
  if (data.status === 'dry_run' && data.plan) {
    lines.push(`Run for real, this needs confirmation: ${data.plan.action} — ${data.plan.reasons.join('; ')}.`);
    if (tokenNote) lines.push(tokenNote);
  }
  return lines.join('\n');
}

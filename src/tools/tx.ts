import { z } from 'zod';
import { describeDuration, ISOLATION_LEVELS, type TxInfo } from '../db/transactions.js';
import { markdownTable } from '../format/markdown.js';
import type { ToolContext } from './context.js';
import { defineTool } from './define.js';
import { ToolError } from './errors.js';
import { databaseArg, resolveDatabase } from './shared-args.js';

/** The `tx` argument of tools that can run inside a pg_tx transaction (pg_query, pg_execute). */
export const txArg = z
  .string()
  .min(1)
  .max(64)
  .optional()
  .describe('Handle of an open transaction from pg_tx (tx_…): run inside it instead of on its own');

const ACTIONS = ['begin', 'commit', 'rollback', 'savepoint', 'release', 'rollback_to', 'list'] as const;
type Action = (typeof ACTIONS)[number];

const txOutput = z.object({
  handle: z.string(),
  database: z.string(),
  isolation: z.enum(ISOLATION_LEVELS),
  read_only: z.boolean(),
  deferrable: z.boolean(),
  state: z.enum(['idle', 'busy', 'aborted', 'committed', 'rolled_back']),
  started_at: z.string(),
  last_used_at: z.string(),
  idle_expires_at: z.string().describe('rolled back at this time unless a call comes before (each call restarts it)'),
  savepoints: z.array(z.string()).describe('open savepoints, oldest first'),
  calls: z.number().int(),
  aborted_by: z.string().optional().describe('the error that aborted the transaction'),
});
type TxOutput = z.infer<typeof txOutput>;

const input = z.object({
  action: z
    .enum(ACTIONS)
    .describe(
      'begin: start a transaction and get its handle; commit / rollback: end it; savepoint / release / rollback_to: savepoints by name; list: the open transactions of this session',
    ),
  tx: z
    .string()
    .min(1)
    .max(64)
    .optional()
    .describe('The transaction handle (tx_…) from begin; every action but begin and list'),
  name: z
    .string()
    .min(1)
    .max(63)
    .optional()
    .describe('Savepoint name (an identifier); savepoint, release and rollback_to'),
  isolation: z
    .enum(ISOLATION_LEVELS)
    .optional()
    .describe('begin: isolation level (default read committed; repeatable read = one snapshot for every read)'),
  read_only: z
    .boolean()
    .optional()
    .describe('begin: a read-only transaction (default true at access level read, false otherwise)'),
  deferrable: z
    .boolean()
    .optional()
    .describe('begin: with serializable and read_only, wait for a snapshot that can never fail serialization'),
  database: databaseArg,
});
type Input = z.infer<typeof input>;

const output = z.object({
  action: z.enum(ACTIONS),
  database: z.string().optional().describe('the database of the transaction (single-transaction actions)'),
  transaction: txOutput.optional().describe('the transaction after the action'),
  transactions: z.array(txOutput).optional().describe('list: the open transactions of this session'),
});
type Output = z.infer<typeof output>;

/** Arguments each action takes besides `action`. */
const ACCEPTS: Record<Action, readonly (keyof Input)[]> = {
  begin: ['isolation', 'read_only', 'deferrable', 'database'],
  commit: ['tx'],
  rollback: ['tx'],
  savepoint: ['tx', 'name'],
  release: ['tx', 'name'],
  rollback_to: ['tx', 'name'],
  list: [],
};

function checkArguments(args: Input): void {
  const accepted = ACCEPTS[args.action];
  const extra = (Object.keys(args) as (keyof Input)[]).filter(
    (k) => k !== 'action' && args[k] !== undefined && !accepted.includes(k),
  );
  if (extra.length > 0) {
    throw new ToolError(
      `action ${args.action} does not take ${extra.join(', ')}; it takes ${accepted.length > 0 ? accepted.join(', ') : 'no other arguments'}`,
      { code: 'invalid_arguments', hint: `call pg_tx again with action ${args.action} and only those arguments` },
    );
  }
  if (accepted.includes('tx') && args.tx === undefined) {
    throw new ToolError(`action ${args.action} needs tx: the handle that begin returned`, {
      code: 'invalid_arguments',
      hint: 'pg_tx action list shows the open transactions of this session',
    });
  }
  if (accepted.includes('name') && args.name === undefined) {
    throw new ToolError(`action ${args.action} needs name: the savepoint's name`, {
      code: 'invalid_arguments',
      hint: 'the transaction info (savepoints) lists the open savepoints',
    });
  }
}

function toOutput(info: TxInfo): TxOutput {
  return {
    handle: info.handle,
    database: info.database,
    isolation: info.isolation,
    read_only: info.readOnly,
    deferrable: info.deferrable,
    state: info.state,
    started_at: info.startedAt,
    last_used_at: info.lastUsedAt,
    idle_expires_at: info.idleExpiresAt,
    savepoints: info.savepoints,
    calls: info.calls,
    ...(info.abortedBy !== undefined ? { aborted_by: info.abortedBy } : {}),
  };
}

const mode = (info: TxInfo) =>
  `${info.isolation}, ${info.readOnly ? 'read only' : 'read write'}${info.deferrable ? ', deferrable' : ''}`;
const savepointList = (info: TxInfo) => (info.savepoints.length > 0 ? info.savepoints.join(', ') : 'none');
/** The tools a handle goes to: pg_execute only for a read-write transaction on a server that has it. */
const usedBy = (info: TxInfo, ctx: ToolContext) =>
  !info.readOnly && ctx.config.access !== 'read' ? 'pg_query / pg_execute' : 'pg_query';

function beginOptions(args: Input, ctx: ToolContext) {
  const readLevel = ctx.config.access === 'read';
  const readOnly = args.read_only ?? readLevel;
  if (readLevel && !readOnly) {
    throw new ToolError(
      'this server runs at access level read: pg_tx begins read-only transactions only (consistent snapshots for several reads)',
      {
        code: 'tx_read_only_level',
        hint: 'leave read_only out (or pass true); writes need a server at access level write',
      },
    );
  }
  if (args.deferrable && !(args.isolation === 'serializable' && readOnly)) {
    throw new ToolError('deferrable only has an effect with isolation serializable and read_only true', {
      code: 'invalid_arguments',
      hint: 'pass isolation "serializable" and read_only true with deferrable, or leave deferrable out',
    });
  }
  return {
    database: resolveDatabase(args.database, ctx),
    readOnly,
    ...(args.isolation !== undefined ? { isolation: args.isolation } : {}),
    ...(args.deferrable !== undefined ? { deferrable: args.deferrable } : {}),
  };
}

function single(action: Action, info: TxInfo, text: string): { text: string; data: Output } {
  return { text, data: { action, database: info.database, transaction: toOutput(info) } };
}

export const pgTx = defineTool({
  name: 'pg_tx',
  title: 'Transactions: begin, commit, rollback, savepoints',
  description:
    'Manage a transaction that spans several calls. begin returns a handle (tx_…); pass it as `tx` to pg_query ' +
    '(and pg_execute at access level write) to work inside the transaction, then commit or rollback. ' +
    'repeatable read gives every read the same snapshot. savepoint / rollback_to / release work by name. ' +
    'A handle works only in this MCP session; an idle transaction is rolled back after the idle limit; open ' +
    'transactions per session are capped; all are rolled back when the session ends. After a failed statement a ' +
    'transaction is aborted: rollback, or rollback_to a savepoint. At access level read only read-only transactions.',
  toolset: 'core',
  readOnly: false,
  access: 'read',
  destructive: false,
  input,
  output,
  async handler(args, ctx) {
    checkArguments(args);
    const reg = ctx.transactions;
    const caller = ctx.caller;
    switch (args.action) {
      case 'begin': {
        const info = await reg.begin(caller, beginOptions(args, ctx));
        return single(
          'begin',
          info,
          `Began transaction ${info.handle} on ${info.database} (${mode(info)}${info.isolation === 'read committed' ? '' : '; snapshot taken now'}).\n` +
            `Pass "tx": "${info.handle}" to ${usedBy(info, ctx)} to work inside it; end it with pg_tx action commit or rollback. ` +
            `It is rolled back if idle for ${describeDuration(ctx.config.limits.txIdleTimeoutMs)} (next: ${info.idleExpiresAt}).`,
        );
      }
      case 'commit': {
        const info = await reg.commit(caller, args.tx as string);
        return single('commit', info, `Committed ${info.handle} on ${info.database}. The handle is closed.`);
      }
      case 'rollback': {
        const info = await reg.rollback(caller, args.tx as string);
        return single(
          'rollback',
          info,
          `Rolled back ${info.handle} on ${info.database}: its changes are undone. The handle is closed.`,
        );
      }
      case 'savepoint': {
        const name = args.name as string;
        const info = await reg.savepoint(caller, args.tx as string, name);
        return single(
          'savepoint',
          info,
          `Savepoint ${name} set in ${info.handle} (savepoints: ${savepointList(info)}). ` +
            `pg_tx rollback_to with name "${name}" undoes what follows; release keeps it and forgets the savepoint.`,
        );
      }
      case 'release': {
        const name = args.name as string;
        const info = await reg.release(caller, args.tx as string, name);
        return single(
          'release',
          info,
          `Released savepoint ${name} in ${info.handle}; its work stays in the transaction (savepoints: ${savepointList(info)}).`,
        );
      }
      case 'rollback_to': {
        const name = args.name as string;
        const info = await reg.rollbackTo(caller, args.tx as string, name);
        return single(
          'rollback_to',
          info,
          `Rolled ${info.handle} back to savepoint ${name}: what followed it is undone; the transaction is open and usable (savepoints: ${savepointList(info)}).`,
        );
      }
      case 'list': {
        const all = reg.list(caller);
        const text =
          all.length === 0
            ? 'No open transactions in this session. Begin one with pg_tx action begin.'
            : [
                markdownTable(
                  ['tx', 'database', 'mode', 'state', 'savepoints', 'idle expires'],
                  all.map((i) => [i.handle, i.database, mode(i), i.state, savepointList(i), i.idleExpiresAt]),
                ),
                `${all.length} open (at most ${ctx.config.limits.txPerSession} per session). Pass "tx": "<handle>" to ${ctx.config.access === 'read' ? 'pg_query' : 'pg_query / pg_execute'}.`,
              ].join('\n');
        return { text, data: { action: 'list' as const, transactions: all.map(toOutput) } };
      }
    }
  },
});

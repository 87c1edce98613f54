import { z } from 'zod';
import { runReadInTransaction, runReadQuery } from '../db/read-query.js';
import { markdownRecords } from '../format/markdown.js';
import { checkReadStatement } from '../sql/read-guard.js';
import { defineTool } from './define.js';
import { ToolError } from './errors.js';
import { databaseArg, paramsArg, resolveDatabase } from './shared-args.js';
import { txArg } from './tx.js';

const JsonValueSchema: z.ZodType<unknown> = z.unknown();

export const queryOutput = z.object({
  database: z.string(),
  columns: z.array(z.object({ name: z.string(), type: z.string() })),
  rows: z.array(z.record(z.string(), JsonValueSchema)),
  rowCount: z.number().int().describe('rows in this page'),
  offset: z.number().int(),
  limit: z.number().int(),
  truncated: z.boolean().describe('true when the statement has more rows than this page'),
  truncatedBy: z.enum(['limit', 'bytes']).optional(),
  nextOffset: z.number().int().optional().describe('offset to pass for the next page'),
  cutCells: z.number().int().describe('cells cut to the cell size cap'),
  command: z.string().optional(),
  durationMs: z.number(),
});

export const pgQuery = defineTool({
  name: 'pg_query',
  title: 'Run a read-only SQL query',
  description:
    'Run ONE read-only SQL statement (SELECT, WITH, VALUES, TABLE, SHOW, EXPLAIN) and get rows back. ' +
    'Use $1, $2, … placeholders with `params` instead of putting values into the SQL. Results are paged: ' +
    '`limit` rows from `offset`; when `truncated` is true call again with `offset` = `nextOffset`. ' +
    'Runs in a READ ONLY transaction that is always rolled back; writes, DDL, SET and side-effecting functions are refused. ' +
    'With `tx` (a handle from pg_tx) it reads inside that transaction: its snapshot and its uncommitted changes; ' +
    'the read runs under a savepoint that is rolled back, so a failing read leaves the transaction usable.',
  toolset: 'core',
  readOnly: true,
  input: z.object({
    sql: z.string().min(1).describe('One read-only SQL statement'),
    params: paramsArg,
    database: databaseArg,
    limit: z.number().int().min(1).optional().describe('Rows to return (default 100, capped by the server)'),
    offset: z.number().int().min(0).optional().describe('Rows to skip (for paging)'),
    tx: txArg,
  }),
  output: queryOutput,
  async handler(args, ctx) {
    const statement = checkReadStatement(args.sql);
    const { maxRows, defaultRows } = ctx.config.limits;
    if (args.limit !== undefined && args.limit > maxRows) {
      throw new ToolError(`limit ${args.limit} is above this server's cap of ${maxRows} rows`, {
        code: 'limit_too_large',
        hint: `ask for at most ${maxRows} rows and page with offset`,
      });
    }
    const request = {
      sql: statement.text,
      params: args.params ?? [],
      offset: args.offset ?? 0,
      limit: args.limit ?? defaultRows,
    };
    let database: string;
    let page: Awaited<ReturnType<typeof runReadQuery>>;
    if (args.tx === undefined) {
      database = resolveDatabase(args.database, ctx);
      page = await runReadQuery(ctx.pools, ctx.config, { ...request, database, signal: ctx.signal });
    } else {
      const tx = args.tx;
      [database, page] = await ctx.transactions.use(
        ctx.caller,
        tx,
        async (client, info) => {
          if (args.database !== undefined && args.database !== info.database) {
            throw new ToolError(`transaction ${tx} is on database "${info.database}", not "${args.database}"`, {
              code: 'tx_database',
              hint: 'leave database out when passing tx (the transaction decides), or read without tx',
            });
          }
          const typeCache = ctx.pools.get(info.database, info.role);
          return [info.database, await runReadInTransaction(client, typeCache, ctx.config, request)] as const;
        },
        { signal: ctx.signal },
      );
    }
    const lines = [
      markdownRecords(
        page.columns.map((c) => c.name),
        page.rows,
      ),
    ];
    const range = page.rowCount === 0 ? '0 rows' : `rows ${page.offset + 1}–${page.offset + page.rowCount}`;
    let footer = `${range} (${page.durationMs} ms)`;
    if (page.truncated) {
      footer +=
        page.truncatedBy === 'bytes'
          ? `; page ended at the ${ctx.config.limits.resultBytes}-byte result cap: more rows follow, call again with offset ${page.nextOffset}`
          : `; more rows exist: call again with offset ${page.nextOffset}`;
    }
    if (page.cutCells > 0) footer += `; ${page.cutCells} cell(s) cut at ${ctx.config.limits.cellBytes} characters`;
    lines.push(footer);
    return { text: lines.join('\n'), data: { database, ...page } };
  },
});

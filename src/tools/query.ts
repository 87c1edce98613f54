import { z } from 'zod';
import { runReadQuery } from '../db/read-query.js';
import { markdownRecords } from '../format/markdown.js';
import { checkReadStatement } from '../sql/read-guard.js';
import { defineTool } from './define.js';
import { ToolError } from './errors.js';
import { databaseArg, paramsArg, resolveDatabase } from './shared-args.js';

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
    'Runs in a READ ONLY transaction that is always rolled back; writes, DDL, SET and side-effecting functions are refused.',
  toolset: 'core',
  readOnly: true,
  input: z.object({
    sql: z.string().min(1).describe('One read-only SQL statement'),
    params: paramsArg,
    database: databaseArg,
    limit: z.number().int().min(1).optional().describe('Rows to return (default 100, capped by the server)'),
    offset: z.number().int().min(0).optional().describe('Rows to skip (for paging)'),
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
    const database = resolveDatabase(args.database, ctx);
    const page = await runReadQuery(ctx.pools, ctx.config, {
      sql: statement.text,
      params: args.params ?? [],
      database,
      offset: args.offset ?? 0,
      limit: args.limit ?? defaultRows,
      signal: ctx.signal,
    });
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

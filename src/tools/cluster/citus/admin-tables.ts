/** Citus table actions of pg_cluster_admin: distribute (or make a reference table), undistribute, alter. */
import { citusCalls, type SqlCall } from '../../../cluster/citus-calls.js';
import {
  COUNT_LIMIT,
  columnFacts,
  columnNames,
  rowCount,
  type TableFacts,
  tableFacts,
} from '../../../cluster/citus-checks.js';
import { Catalog } from '../../admin/sql.js';
import type { ToolContext } from '../../context.js';
import type { ActionRunner } from '../admin/runner.js';
import type { CitusAction } from './admin-fields.js';
import { refuse, steps } from './admin-plan.js';
import { runCall, withAdmin } from './admin-run.js';

/** A table by name (SQL rules), with its Citus metadata. */
async function findTable(ctx: ToolContext, raw: string, action: string): Promise<TableFacts> {
  const [rel] = await new Catalog(ctx, ctx.pools.defaultDatabase).relations([raw], 'rp', action);
  const facts = rel ? await withAdmin(ctx, (c) => tableFacts(c, rel.qualified)) : null;
  if (!facts) return refuse(`no table named ${raw}`, 'object_not_found');
  return facts;
}

/** The row count when the table is small enough to count (by the planner's estimate), else null. */
async function countIfSmall(ctx: ToolContext, t: TableFacts): Promise<number | null> {
  return t.estimatedRows <= COUNT_LIMIT ? withAdmin(ctx, (c) => rowCount(c, t.qualified)) : null;
}

/** Checks a distribution column: it exists and its type can be hashed. Returns the pre-check line. */
async function checkColumn(ctx: ToolContext, t: TableFacts, column: string): Promise<string> {
  const col = await withAdmin(ctx, (c) => columnFacts(c, t.oid, column));
  if (!col) {
    const names = await withAdmin(ctx, (c) => columnNames(c, t.oid));
    refuse(
      `${t.qualified} has no column ${JSON.stringify(column)}`,
      'invalid_arguments',
      `its columns: ${names.join(', ')}`,
    );
  }
  const found = col as NonNullable<typeof col>;
  if (!found.hashable) {
    refuse(
      `column ${found.name} of ${t.qualified} is of type ${found.type}, which has no default hash operator class: Citus cannot distribute by it`,
      'invalid_arguments',
      'choose a column of a hashable type (integer, bigint, text, uuid, …)',
    );
  }
  return `column ${found.name} (${found.type}) exists and its type can be hashed`;
}

/** Checks colocate_with: none/default, or a hash-distributed table. Returns the pre-check line. */
async function checkColocate(ctx: ToolContext, raw: string, action: string): Promise<{ line: string; value: string }> {
  if (raw === 'none' || raw === 'default') return { line: `colocate_with ${raw}`, value: raw };
  const other = await findTable(ctx, raw, action);
  if (other.citus?.type !== 'distributed' || other.citus.method !== 'h') {
    refuse(`colocate_with: ${other.qualified} is not a hash-distributed table`, 'invalid_arguments');
  }
  return {
    line: `${other.qualified} is distributed by ${other.citus?.distributionColumn} (colocation ${other.citus?.colocationId})`,
    value: other.qualified,
  };
}

/** Reads the table's Citus metadata (and rows) back after a change. */
async function tableAfter(
  runner: ActionRunner,
  ctx: ToolContext,
  t: TableFacts,
  check: string,
  holds: (after: TableFacts) => boolean,
  rowsBefore: number | null,
): Promise<Record<string, unknown>> {
  let after: TableFacts | null = null;
  await runner.waitFor(
    check,
    async () => {
      after = await withAdmin(ctx, (c) => tableFacts(c, t.qualified));
      return after && holds(after) ? after : undefined;
    },
    () => JSON.stringify((after as TableFacts | null)?.citus ?? null),
    { timeoutMs: 10_000, intervalMs: 500 },
  );
  const out: Record<string, unknown> = { table: t.qualified, citus: (after as TableFacts | null)?.citus ?? null };
  if (rowsBefore !== null) {
    const rows = await withAdmin(ctx, (c) => rowCount(c, t.qualified));
    runner.check(`${t.qualified} has the same ${rowsBefore} rows`, rows === rowsBefore, `${rows} rows after`);
    out.rows = rows;
  }
  return out;
}

function tableView(t: TableFacts, rows: number | null): Record<string, unknown> {
  return {
    table: t.qualified,
    rows: rows ?? `about ${Math.max(0, Math.round(t.estimatedRows))} (estimate)`,
    citus: t.citus,
  };
}

export const tableActions: Record<string, CitusAction> = {
  distribute_table: {
    description:
      'distributes `table` by `distribution_column` (colocate_with, shard_count) or, with reference: true, makes it a reference table',
    required: ['table'],
    optional: ['distribution_column', 'colocate_with', 'shard_count', 'reference'],
    async plan({ args, ctx }) {
      const t = await findTable(ctx, args.table as string, 'distribute_table');
      if (t.citus && t.citus.type !== 'local') {
        refuse(
          `${t.qualified} is already a ${t.citus.type} table`,
          'already_distributed',
          'alter_distributed_table changes it; undistribute_table makes it local',
        );
      }
      const checks = [`${t.qualified} exists and is not distributed`];
      let call: SqlCall;
      if (args.reference) {
        if (args.distribution_column || args.colocate_with || args.shard_count) {
          refuse('a reference table takes no distribution_column, colocate_with or shard_count', 'invalid_arguments');
        }
        call = citusCalls.referenceTable(t.qualified);
      } else {
        if (!args.distribution_column)
          return refuse('distribute_table needs distribution_column (or reference: true)', 'invalid_arguments');
        checks.push(await checkColumn(ctx, t, args.distribution_column));
        let colocate: string | undefined;
        if (args.colocate_with !== undefined) {
          if (args.shard_count !== undefined && !['none', 'default'].includes(args.colocate_with)) {
            refuse(
              'shard_count and colocate_with a table do not go together: the shards follow that table',
              'invalid_arguments',
            );
          }
          const c = await checkColocate(ctx, args.colocate_with, 'distribute_table');
          checks.push(c.line);
          colocate = c.value;
        }
        call = citusCalls.distributeTable(t.qualified, args.distribution_column, {
          colocateWith: colocate,
          shardCount: args.shard_count,
        });
      }
      const rows = await countIfSmall(ctx, t);
      const kind = args.reference ? 'reference' : 'distributed';
      return {
        target: t.qualified,
        summary: args.reference
          ? `make ${t.qualified} a reference table`
          : `distribute ${t.qualified} by ${args.distribution_column}`,
        reasons: [
          `copies its ${rows ?? `about ${Math.round(t.estimatedRows)}`} rows into ${args.reference ? 'a copy on every node' : 'shards on the workers'}; writes to it wait until the copy is done`,
        ],
        steps: steps(checks, call, [
          `${t.qualified} is a ${kind} table${args.shard_count ? ` with ${args.shard_count} shards` : ''} (pg_dist_partition)`,
          ...(rows !== null ? [`it has the same ${rows} rows`] : []),
        ]),
        before: tableView(t, rows),
        bind: { table: t.qualified, citus: t.citus?.type ?? null },
        async run(runner) {
          await runCall(runner, ctx, call);
          const after = await tableAfter(
            runner,
            ctx,
            t,
            `${t.qualified} is a ${kind} table`,
            (a) =>
              a.citus?.type === kind &&
              (args.reference || a.citus.distributionColumn === args.distribution_column) &&
              (args.shard_count === undefined || a.citus.shardCount === args.shard_count),
            rows,
          );
          return { after };
        },
      };
    },
  },
  undistribute_table: {
    description: 'turns distributed or reference `table` back into a plain table on the coordinator',
    required: ['table'],
    async plan({ args, ctx }) {
      const t = await findTable(ctx, args.table as string, 'undistribute_table');
      if (!t.citus) return refuse(`${t.qualified} is not a Citus table`);
      const rows = await countIfSmall(ctx, t);
      const call = citusCalls.undistributeTable(t.qualified);
      return {
        target: t.qualified,
        summary: `undistribute ${t.qualified} (${t.citus.type}, ${t.citus.shardCount} shards)`,
        reasons: [
          `copies its ${rows ?? `about ${Math.round(t.estimatedRows)}`} rows back into one table on the coordinator; writes wait meanwhile`,
        ],
        steps: steps([`${t.qualified} is a ${t.citus.type} table`], call, [
          `${t.qualified} is no Citus table any more (pg_dist_partition)`,
          ...(rows !== null ? [`it has the same ${rows} rows`] : []),
        ]),
        before: tableView(t, rows),
        bind: { table: t.qualified, citus: t.citus.type },
        async run(runner) {
          await runCall(runner, ctx, call);
          return {
            after: await tableAfter(runner, ctx, t, `${t.qualified} is no Citus table`, (a) => a.citus === null, rows),
          };
        },
      };
    },
  },
  alter_distributed_table: {
    description:
      'changes the distribution column, shard_count or colocation of distributed `table` (cascade_to_colocated)',
    required: ['table'],
    optional: ['distribution_column', 'shard_count', 'colocate_with', 'cascade_to_colocated'],
    async plan({ args, ctx }) {
      const t = await findTable(ctx, args.table as string, 'alter_distributed_table');
      const d = t.citus;
      if (d?.type !== 'distributed' || d.method !== 'h') {
        return refuse(
          `${t.qualified} is not a hash-distributed table`,
          'invalid_arguments',
          'distribute_table distributes it',
        );
      }
      const column =
        args.distribution_column !== undefined && args.distribution_column !== d.distributionColumn
          ? args.distribution_column
          : undefined;
      const shardCount =
        args.shard_count !== undefined && args.shard_count !== d.shardCount ? args.shard_count : undefined;
      if (column === undefined && shardCount === undefined && args.colocate_with === undefined) {
        refuse(`${t.qualified} is already distributed by ${d.distributionColumn} with ${d.shardCount} shards`);
      }
      const checks = [
        `${t.qualified} is distributed by ${d.distributionColumn} with ${d.shardCount} shards (colocation ${d.colocationId})`,
      ];
      if (column !== undefined) checks.push(await checkColumn(ctx, t, column));
      let colocate: string | undefined;
      if (args.colocate_with !== undefined) {
        const c = await checkColocate(ctx, args.colocate_with, 'alter_distributed_table');
        checks.push(c.line);
        colocate = c.value;
      }
      const call = citusCalls.alterDistributedTable(t.qualified, {
        column,
        shardCount,
        colocateWith: colocate,
        cascade: args.cascade_to_colocated,
      });
      const rows = await countIfSmall(ctx, t);
      const changes = [
        column && `distribution column ${d.distributionColumn} → ${column}`,
        shardCount && `shards ${d.shardCount} → ${shardCount}`,
        colocate && `colocate with ${colocate}`,
      ].filter(Boolean);
      return {
        target: t.qualified,
        summary: `alter ${t.qualified}: ${changes.join(', ')}`,
        reasons: [
          `rewrites the table into new shards (${rows ?? `about ${Math.round(t.estimatedRows)}`} rows); writes wait meanwhile`,
        ],
        steps: steps(checks, call, [
          `${t.qualified}: ${changes.join(', ')} (pg_dist_partition)`,
          ...(rows !== null ? [`it has the same ${rows} rows`] : []),
        ]),
        before: tableView(t, rows),
        bind: { table: t.qualified, column: d.distributionColumn, shards: d.shardCount, colocation: d.colocationId },
        async run(runner) {
          await runCall(runner, ctx, call);
          const after = await tableAfter(
            runner,
            ctx,
            t,
            `${t.qualified}: ${changes.join(', ')}`,
            (a) =>
              (column === undefined || a.citus?.distributionColumn === column) &&
              (shardCount === undefined || a.citus?.shardCount === shardCount) &&
              (colocate === undefined || a.citus?.colocationId !== d.colocationId || colocate === 'default'),
            rows,
          );
          return { after };
        },
      };
    },
  },
};

/**
 * The Citus functions pg_cluster_admin calls, as SQL: every value bound as a parameter (the text that runs) and the
 * same call with the values written as literals (the text a dry run and a confirmation show). Function names come
 * from the fixed list below, never from a caller; a table travels as its schema-qualified, quoted name cast to
 * regclass.
 */

export const TRANSFER_MODES = ['auto', 'force_logical', 'block_writes'] as const;
export type TransferMode = (typeof TRANSFER_MODES)[number];

type CitusFunction =
  | 'citus_rebalance_start'
  | 'citus_rebalance_stop'
  | 'citus_drain_node'
  | 'citus_add_node'
  | 'citus_remove_node'
  | 'citus_activate_node'
  | 'citus_disable_node'
  | 'create_distributed_table'
  | 'create_reference_table'
  | 'undistribute_table'
  | 'alter_distributed_table'
  | 'citus_move_shard_placement';

export type SqlValue = string | number | boolean | null;

export interface CallArg {
  value: SqlValue;
  /** A named argument (`name => value`); positional when absent. */
  name?: string;
  cast?: string;
}

export interface SqlCall {
  /** What runs: `select pg_catalog.fn($1, name => $2::type)`. */
  text: string;
  params: SqlValue[];
  /** What is shown: the same call with literal values. */
  shown: string;
}

function literal(v: SqlValue): string {
  if (v === null) return 'NULL';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return `'${v.replace(/'/g, "''")}'`;
}

/** `select pg_catalog.fn(…)` with every value bound; arguments whose value is undefined are left out. */
export function callSql(fn: CitusFunction, args: readonly (CallArg | undefined)[]): SqlCall {
  const given = args.filter((a): a is CallArg => a !== undefined);
  const arg = (a: CallArg, v: string) => `${a.name ? `${a.name} => ` : ''}${v}${a.cast ? `::${a.cast}` : ''}`;
  return {
    text: `select pg_catalog.${fn}(${given.map((a, i) => arg(a, `$${i + 1}`)).join(', ')})`,
    params: given.map((a) => a.value),
    shown: `select pg_catalog.${fn}(${given.map((a) => arg(a, literal(a.value))).join(', ')})`,
  };
}

const opt = (name: string, value: SqlValue | undefined, cast?: string): CallArg | undefined =>
  value === undefined ? undefined : { name, value, ...(cast ? { cast } : {}) };
const mode = (m: TransferMode) => opt('shard_transfer_mode', m, 'citus.shard_transfer_mode');
const node = (host: string, port: number): CallArg[] => [{ value: host }, { value: port }];
const table = (qualified: string): CallArg => ({ value: qualified, cast: 'regclass' });

export const citusCalls = {
  /** Drops what earlier shard moves left behind (pg_dist_cleanup), on every node the coordinator knows. */
  cleanupOrphaned: (): SqlCall => {
    const text = 'call pg_catalog.citus_cleanup_orphaned_resources()';
    return { text, params: [], shown: text };
  },
  rebalanceStart: (strategy: string | undefined, transfer: TransferMode) =>
    callSql('citus_rebalance_start', [opt('rebalance_strategy', strategy, 'name'), mode(transfer)]),
  rebalanceStop: () => callSql('citus_rebalance_stop', []),
  drainNode: (host: string, port: number, transfer: TransferMode, strategy: string | undefined) =>
    callSql('citus_drain_node', [...node(host, port), mode(transfer), opt('rebalance_strategy', strategy, 'name')]),
  addNode: (host: string, port: number) => callSql('citus_add_node', node(host, port)),
  removeNode: (host: string, port: number) => callSql('citus_remove_node', node(host, port)),
  activateNode: (host: string, port: number) => callSql('citus_activate_node', node(host, port)),
  disableNode: (host: string, port: number) =>
    callSql('citus_disable_node', [...node(host, port), opt('synchronous', true)]),
  distributeTable: (
    qualified: string,
    column: string,
    opts: { colocateWith?: string | undefined; shardCount?: number | undefined },
  ) =>
    callSql('create_distributed_table', [
      table(qualified),
      { value: column },
      opt('colocate_with', opts.colocateWith),
      opt('shard_count', opts.shardCount),
    ]),
  referenceTable: (qualified: string) => callSql('create_reference_table', [table(qualified)]),
  undistributeTable: (qualified: string) => callSql('undistribute_table', [table(qualified)]),
  alterDistributedTable: (
    qualified: string,
    change: {
      column?: string | undefined;
      shardCount?: number | undefined;
      colocateWith?: string | undefined;
      cascade?: boolean | undefined;
    },
  ) =>
    callSql('alter_distributed_table', [
      table(qualified),
      opt('distribution_column', change.column),
      opt('shard_count', change.shardCount),
      opt('colocate_with', change.colocateWith),
      opt('cascade_to_colocated', change.cascade),
    ]),
  moveShard: (
    shardId: number,
    from: { host: string; port: number },
    to: { host: string; port: number },
    transfer: TransferMode,
  ) =>
    callSql('citus_move_shard_placement', [
      { value: shardId },
      ...node(from.host, from.port),
      ...node(to.host, to.port),
      mode(transfer),
    ]),
};

/**
 * The shard transfer mode to use: `auto` and `force_logical` copy through logical replication, which needs
 * wal_level = logical on every node; otherwise only `block_writes` works (writes to a shard wait while it is copied).
 * Returns the mode and why it was chosen, or an error message for a mode that cannot work.
 */
export function transferMode(
  asked: TransferMode | undefined,
  walLevel: string,
): { mode: TransferMode; why: string } | { error: string } {
  const logical = walLevel === 'logical';
  if (asked === undefined) {
    return logical
      ? { mode: 'auto', why: 'wal_level is logical: shards are copied by logical replication, writes go on meanwhile' }
      : {
          mode: 'block_writes',
          why: `wal_level is ${walLevel}, not logical: logical replication cannot copy shards, so writes to each shard wait while it is copied (block_writes)`,
        };
  }
  if (asked !== 'block_writes' && !logical) {
    return {
      error: `shard_transfer_mode ${asked} copies shards by logical replication, which needs wal_level = logical (it is ${walLevel}); use block_writes (writes to each shard wait while it is copied) or set wal_level = logical on every node and restart them`,
    };
  }
  return {
    mode: asked,
    why: asked === 'block_writes' ? 'asked for: writes to each shard wait while it is copied' : 'asked for',
  };
}

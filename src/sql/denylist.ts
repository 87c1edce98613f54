/**
 * Functions the read path refuses to call, wherever they appear in a statement. A READ ONLY transaction does not stop
 * them: they read or write server files, signal other backends, take session-level locks, change settings, control
 * WAL and replication, open remote connections, reset statistics, or run SQL text the checks never see.
 *
 * Matching is on the function's own name (the last part of a qualified name), as the parser normalised it: unquoted
 * names are folded to lower case, quoted ones are kept. PostgreSQL resolves function names case-sensitively, so a
 * quoted `"PG_READ_FILE"` is a different function from `pg_read_file` and is not matched; `Pg_Read_File` and
 * `U&"pg\005fread_file"` arrive as `pg_read_file` and are.
 */
import { nodesOfType } from './parser.js';

export const FILE_ACCESS = 'file access';
export const SIGNALLING = 'program/backend signalling';
export const ADVISORY_LOCK = 'advisory lock';
export const CONFIGURATION = 'configuration';
export const WAL_REPLICATION = 'WAL/replication control';
export const LARGE_OBJECT = 'large object';
export const REMOTE_CONNECTION = 'remote connection';
export const STATISTICS_RESET = 'statistics reset';
export const STATISTICS_CHANGE = 'statistics change';
export const SEQUENCE_CHANGE = 'sequence change';
export const NOTIFICATION = 'notification';
export const EXECUTES_SQL = 'executes SQL text';
export const CATALOG_CHANGE = 'catalog change';
export const STORAGE_CHANGE = 'storage change';
export const SESSION_STATE = 'session state';
export const CLUSTER_CHANGE = 'Citus cluster change';

function entries(category: string, names: readonly string[]): [string, string][] {
  return names.map((name) => [name, category]);
}

/** Denied functions by exact (lower-case) name → category. */
export const DENIED_FUNCTIONS: ReadonlyMap<string, string> = new Map([
  ...entries(FILE_ACCESS, [
    'pg_read_file',
    'pg_read_binary_file',
    'pg_stat_file',
    'pg_logdir_ls', // adminpack
    'autoprewarm_dump_now', // pg_prewarm: writes autoprewarm.blocks
  ]),
  ...entries(SIGNALLING, [
    'pg_cancel_backend',
    'pg_terminate_backend',
    'pg_reload_conf',
    'pg_rotate_logfile',
    'pg_rotate_logfile_old', // adminpack
    'pg_log_backend_memory_contexts',
    'pg_promote',
    'autoprewarm_start_worker', // pg_prewarm: starts a background worker
  ]),
  ...entries(CONFIGURATION, ['set_config']),
  ...entries(WAL_REPLICATION, [
    'pg_switch_wal',
    'pg_switch_xlog',
    'pg_create_restore_point',
    'pg_backup_start',
    'pg_backup_stop',
    'pg_start_backup',
    'pg_stop_backup',
    'pg_wal_replay_pause',
    'pg_wal_replay_resume',
    'pg_xlog_replay_pause',
    'pg_xlog_replay_resume',
    'pg_create_physical_replication_slot',
    'pg_create_logical_replication_slot',
    'pg_drop_replication_slot',
    'pg_copy_physical_replication_slot',
    'pg_copy_logical_replication_slot',
    'pg_replication_slot_advance',
    'pg_sync_replication_slots',
    'pg_logical_emit_message',
    'pg_log_standby_snapshot',
    'citus_create_restore_point',
  ]),
  ...entries(LARGE_OBJECT, [
    'lo_import',
    'lo_export',
    'lo_creat',
    'lo_create',
    'lo_open',
    'lo_close',
    'loread',
    'lowrite',
    'lo_lseek',
    'lo_lseek64',
    'lo_tell',
    'lo_tell64',
    'lo_truncate',
    'lo_truncate64',
    'lo_unlink',
    'lo_get',
    'lo_put',
    'lo_from_bytea',
    'lo_manage', // lo extension
    'lo_oid',
  ]),
  ...entries(REMOTE_CONNECTION, ['postgres_fdw_disconnect', 'postgres_fdw_disconnect_all']),
  ...entries(STATISTICS_RESET, [
    'pg_stat_statements_reset',
    'pg_stat_kcache_reset',
    'pg_qualstats_reset',
    'pg_stat_monitor_reset',
    'pg_wait_sampling_reset_profile',
    'citus_stat_statements_reset',
    'citus_stat_tenants_reset',
    'citus_stat_counters_reset',
  ]),
  ...entries(STATISTICS_CHANGE, [
    'pg_restore_relation_stats',
    'pg_restore_attribute_stats',
    'pg_clear_relation_stats',
    'pg_clear_attribute_stats',
  ]),
  ...entries(SEQUENCE_CHANGE, ['nextval', 'setval']),
  ...entries(NOTIFICATION, ['pg_notify']),
  ...entries(EXECUTES_SQL, [
    'query_to_xml',
    'query_to_xmlschema',
    'query_to_xml_and_xmlschema',
    'cursor_to_xml',
    'cursor_to_xmlschema',
    'ts_stat',
    'crosstab', // tablefunc
    'crosstab2',
    'crosstab3',
    'crosstab4',
    'connectby',
    'master_run_on_worker', // Citus: runs commands on workers over their own connections
  ]),
  ...entries(CATALOG_CHANGE, ['pg_import_system_collations']),
  ...entries(STORAGE_CHANGE, [
    'pg_truncate_visibility_map', // pg_visibility
    'heap_force_kill', // pg_surgery
    'heap_force_freeze',
    'pg_buffercache_evict', // pg_buffercache
    'pg_buffercache_evict_relation',
    'pg_buffercache_evict_all',
  ]),
  // hypopg keeps hypothetical indexes in backend memory: they outlive the rolled-back transaction.
  ...entries(SESSION_STATE, [
    'hypopg_create_index',
    'hypopg_drop_index',
    'hypopg_reset',
    'hypopg_reset_index',
    'hypopg_hide_index',
    'hypopg_unhide_index',
    'hypopg_unhide_all_indexes',
  ]),
  // Citus functions that change cluster metadata or move data, often over connections of their own.
  ...entries(CLUSTER_CHANGE, [
    'create_distributed_table',
    'create_distributed_table_concurrently',
    'create_reference_table',
    'create_distributed_function',
    'undistribute_table',
    'alter_distributed_table',
    'alter_table_set_access_method',
    'alter_old_partitions_set_access_method',
    'update_distributed_table_colocation',
    'mark_tables_colocated',
    'truncate_local_data_after_distributing_table',
    'citus_add_local_table_to_metadata',
    'remove_local_tables_from_metadata',
    'citus_schema_distribute',
    'citus_schema_undistribute',
    'citus_schema_move',
    'citus_add_node',
    'master_add_node',
    'citus_add_inactive_node',
    'master_add_inactive_node',
    'citus_add_secondary_node',
    'master_add_secondary_node',
    'citus_activate_node',
    'master_activate_node',
    'citus_disable_node',
    'master_disable_node',
    'citus_remove_node',
    'master_remove_node',
    'citus_update_node',
    'master_update_node',
    'citus_set_node_property',
    'master_set_node_property',
    'citus_set_coordinator_host',
    'citus_drain_node',
    'master_drain_node',
    'citus_pause_node_within_txn',
    'citus_move_shard_placement',
    'master_move_shard_placement',
    'citus_copy_shard_placement',
    'master_copy_shard_placement',
    'citus_split_shard_by_split_points',
    'isolate_tenant_to_new_shard',
    'rebalance_table_shards',
    'replicate_table_shards',
    'citus_rebalance_start',
    'citus_rebalance_stop',
    'citus_rebalance_wait',
    'citus_add_rebalance_strategy',
    'citus_set_default_rebalance_strategy',
    'citus_cleanup_orphaned_resources',
    'citus_cleanup_orphaned_shards',
    'citus_update_shard_statistics',
    'master_update_shard_statistics',
    'citus_update_table_statistics',
    'master_create_empty_shard',
    'master_append_table_to_shard',
    'master_apply_delete_command',
    'master_drop_all_shards',
    'citus_drop_all_shards',
    'citus_job_cancel',
    'start_metadata_sync_to_node',
    'stop_metadata_sync_to_node',
    'start_metadata_sync_to_all_nodes',
    'citus_finish_pg_upgrade',
    'citus_prepare_pg_upgrade',
    'citus_finish_citus_upgrade',
    'fix_all_partition_shard_index_names',
    'fix_partition_shard_index_names',
    'lock_shard_resources',
    'lock_shard_metadata',
  ]),
]);

/** Denied function families by (lower-case) name prefix → category. */
export const DENIED_PREFIXES: ReadonlyMap<string, string> = new Map([
  ['pg_ls_', FILE_ACCESS], // pg_ls_dir, pg_ls_logdir, pg_ls_waldir, pg_ls_tmpdir, pg_ls_archive_statusdir, …
  ['pg_file_', FILE_ACCESS], // adminpack: pg_file_write, pg_file_rename, pg_file_unlink, pg_file_sync, pg_file_read, …
  ['lo_', LARGE_OBJECT], // any other lo_* function
  ['pg_advisory_', ADVISORY_LOCK],
  ['pg_try_advisory_', ADVISORY_LOCK],
  ['pg_logical_slot_', WAL_REPLICATION], // pg_logical_slot_{get,peek}_{,binary_}changes
  ['pg_replication_origin_', WAL_REPLICATION],
  ['dblink', REMOTE_CONNECTION], // dblink, dblink_exec, dblink_connect(_u), dblink_send_query, …
  ['pg_stat_reset', STATISTICS_RESET], // pg_stat_reset and every pg_stat_reset_*
  ['binary_upgrade_', CATALOG_CHANGE],
  ['run_command_on_', EXECUTES_SQL], // Citus: run_command_on_workers, _shards, _placements, _all_nodes, …
  ['citus_internal_', CLUSTER_CHANGE],
]);

/** The category a function name is denied for, or undefined when it may be called. `name` is case-sensitive. */
export function deniedCategory(name: string): string | undefined {
  const exact = DENIED_FUNCTIONS.get(name);
  if (exact !== undefined) return exact;
  for (const [prefix, category] of DENIED_PREFIXES) {
    if (name.startsWith(prefix)) return category;
  }
  return undefined;
}

export interface DeniedCall {
  /** The function as written, schema-qualified when it was (e.g. `pg_catalog.pg_read_file`). */
  name: string;
  category: string;
  /** 0-based character offset of the call in the parsed input, when the parser knows it. */
  location?: number;
}

/**
 * Every call to a denied function anywhere in `node` (a statement node or any part of a parse tree), in source order:
 * select list, FROM (also LATERAL and ROWS FROM), WHERE, ORDER BY, subqueries, CTEs, CALL's arguments, defaults,
 * EXPLAIN's statement, and so on. The tree is searched generically, not clause by clause.
 */
export function findDeniedCalls(node: unknown): DeniedCall[] {
  const found: DeniedCall[] = [];
  for (const call of nodesOfType(node, 'FuncCall')) {
    const nameList = call.funcname;
    if (!Array.isArray(nameList)) continue;
    const name = sval(nameList.at(-1));
    const category = name === undefined ? undefined : deniedCategory(name);
    if (category !== undefined) found.push(deniedCall(nameList, nameList.length, category, call.location));
  }
  findAttributeNotationCalls(node, found);
  return found.length > 1 ? found.sort(bySourceOrder) : found;
}

/**
 * PostgreSQL also reads field selection as a call: `t.f` and `(x).f` mean `f(t)` / `f(x)` when `t` or `x` is of a
 * composite type and has no field `f`. No built-in denied function takes a composite argument, so this is belt and
 * braces; it matches exact names only, since a prefix such as `lo_` would refuse ordinary columns like `t.lo_price`.
 */
function findAttributeNotationCalls(node: unknown, found: DeniedCall[]): void {
  for (const ref of nodesOfType(node, 'ColumnRef')) {
    const fields = ref.fields;
    if (!Array.isArray(fields)) continue;
    for (let i = 1; i < fields.length; i++) {
      const category = DENIED_FUNCTIONS.get(sval(fields[i]) ?? '');
      if (category !== undefined) found.push(deniedCall(fields, i + 1, category, ref.location));
    }
  }
  for (const ind of nodesOfType(node, 'A_Indirection')) {
    const steps = ind.indirection;
    if (!Array.isArray(steps)) continue;
    for (let i = 0; i < steps.length; i++) {
      const category = DENIED_FUNCTIONS.get(sval(steps[i]) ?? '');
      if (category !== undefined) found.push(deniedCall(steps.slice(i), 1, category, locationOf(ind.arg)));
    }
  }
}

/** A found call named by the first `count` String items of `nameList`. */
function deniedCall(nameList: readonly unknown[], count: number, category: string, location: unknown): DeniedCall {
  const parts: string[] = [];
  for (const item of nameList.slice(0, count)) {
    const part = sval(item);
    if (part !== undefined) parts.push(part);
  }
  const call: DeniedCall = { name: parts.join('.'), category };
  if (typeof location === 'number' && location >= 0) call.location = location;
  return call;
}

/** The text of a `{String: {sval}}` node; undefined for anything else (e.g. `A_Star`, subscripts). */
function sval(item: unknown): string | undefined {
  if (typeof item !== 'object' || item === null) return undefined;
  const value = (item as { String?: { sval?: unknown } }).String?.sval;
  return typeof value === 'string' ? value : undefined;
}

/** The location of a wrapped node `{Type: {location}}`, if it has one. */
function locationOf(wrapped: unknown): unknown {
  if (typeof wrapped !== 'object' || wrapped === null) return undefined;
  const body = Object.values(wrapped)[0] as { location?: unknown } | undefined;
  return body?.location;
}

function bySourceOrder(a: DeniedCall, b: DeniedCall): number {
  return (a.location ?? Number.MAX_SAFE_INTEGER) - (b.location ?? Number.MAX_SAFE_INTEGER);
}

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DENIED_FUNCTIONS,
  DENIED_PREFIXES,
  type DeniedCall,
  deniedCategory,
  findDeniedCalls,
} from '../../src/sql/denylist.js';
import { BARE_NODE_FIELDS, initParser, parseSql } from '../../src/sql/parser.js';

beforeAll(async () => {
  await initParser();
});

/** Denied calls in every statement of `sql`. */
function denied(sql: string): DeniedCall[] {
  return parseSql(sql).flatMap((s) => findDeniedCalls(s.node));
}

function deniedNames(sql: string): string[] {
  return denied(sql).map((c) => c.name);
}

describe('the deny-list', () => {
  it('keys are lower case and categories are set', () => {
    for (const [name, category] of [...DENIED_FUNCTIONS, ...DENIED_PREFIXES]) {
      expect(name).toBe(name.toLowerCase());
      expect(category).not.toBe('');
    }
  });

  it.each([
    ['pg_read_file', 'file access'],
    ['pg_read_binary_file', 'file access'],
    ['pg_stat_file', 'file access'],
    ['pg_ls_dir', 'file access'],
    ['pg_ls_logdir', 'file access'],
    ['pg_ls_waldir', 'file access'],
    ['pg_ls_tmpdir', 'file access'],
    ['pg_ls_archive_statusdir', 'file access'],
    ['pg_ls_logicalsnapdir', 'file access'],
    ['pg_ls_logicalmapdir', 'file access'],
    ['pg_ls_replslotdir', 'file access'],
    ['pg_file_write', 'file access'],
    ['pg_file_rename', 'file access'],
    ['pg_file_unlink', 'file access'],
    ['pg_file_sync', 'file access'],
    ['pg_logdir_ls', 'file access'],
    ['lo_import', 'large object'],
    ['lo_export', 'large object'],
    ['lo_open', 'large object'],
    ['lo_get', 'large object'],
    ['lo_put', 'large object'],
    ['lo_unlink', 'large object'],
    ['lo_from_bytea', 'large object'],
    ['lo_some_future_function', 'large object'],
    ['loread', 'large object'],
    ['lowrite', 'large object'],
    ['pg_cancel_backend', 'program/backend signalling'],
    ['pg_terminate_backend', 'program/backend signalling'],
    ['pg_reload_conf', 'program/backend signalling'],
    ['pg_rotate_logfile', 'program/backend signalling'],
    ['pg_log_backend_memory_contexts', 'program/backend signalling'],
    ['pg_promote', 'program/backend signalling'],
    ['pg_advisory_lock', 'advisory lock'],
    ['pg_advisory_lock_shared', 'advisory lock'],
    ['pg_advisory_xact_lock', 'advisory lock'],
    ['pg_advisory_unlock_all', 'advisory lock'],
    ['pg_try_advisory_lock', 'advisory lock'],
    ['pg_try_advisory_xact_lock_shared', 'advisory lock'],
    ['set_config', 'configuration'],
    ['pg_switch_wal', 'WAL/replication control'],
    ['pg_create_restore_point', 'WAL/replication control'],
    ['pg_backup_start', 'WAL/replication control'],
    ['pg_backup_stop', 'WAL/replication control'],
    ['pg_start_backup', 'WAL/replication control'],
    ['pg_stop_backup', 'WAL/replication control'],
    ['pg_create_physical_replication_slot', 'WAL/replication control'],
    ['pg_create_logical_replication_slot', 'WAL/replication control'],
    ['pg_drop_replication_slot', 'WAL/replication control'],
    ['pg_copy_logical_replication_slot', 'WAL/replication control'],
    ['pg_replication_slot_advance', 'WAL/replication control'],
    ['pg_logical_slot_get_changes', 'WAL/replication control'],
    ['pg_logical_slot_peek_changes', 'WAL/replication control'],
    ['pg_logical_slot_get_binary_changes', 'WAL/replication control'],
    ['pg_logical_slot_peek_binary_changes', 'WAL/replication control'],
    ['pg_logical_emit_message', 'WAL/replication control'],
    ['pg_replication_origin_create', 'WAL/replication control'],
    ['pg_replication_origin_session_setup', 'WAL/replication control'],
    ['pg_wal_replay_pause', 'WAL/replication control'],
    ['pg_wal_replay_resume', 'WAL/replication control'],
    ['pg_stat_reset', 'statistics reset'],
    ['pg_stat_reset_shared', 'statistics reset'],
    ['pg_stat_reset_single_table_counters', 'statistics reset'],
    ['pg_stat_reset_slru', 'statistics reset'],
    ['pg_stat_statements_reset', 'statistics reset'],
    ['dblink', 'remote connection'],
    ['dblink_exec', 'remote connection'],
    ['dblink_connect_u', 'remote connection'],
    ['dblink_send_query', 'remote connection'],
    ['nextval', 'sequence change'],
    ['setval', 'sequence change'],
    ['pg_notify', 'notification'],
    ['query_to_xml', 'executes SQL text'],
    ['query_to_xmlschema', 'executes SQL text'],
    ['query_to_xml_and_xmlschema', 'executes SQL text'],
    ['cursor_to_xml', 'executes SQL text'],
    ['cursor_to_xmlschema', 'executes SQL text'],
    ['ts_stat', 'executes SQL text'],
    ['run_command_on_workers', 'executes SQL text'],
    ['pg_import_system_collations', 'catalog change'],
    ['binary_upgrade_set_next_pg_type_oid', 'catalog change'],
    ['pg_truncate_visibility_map', 'storage change'],
    ['hypopg_create_index', 'session state'],
    ['citus_add_node', 'Citus cluster change'],
  ])('denies %s (%s)', (name, category) => {
    expect(deniedCategory(name)).toBe(category);
  });

  it.each([
    'pg_sleep',
    'now',
    'count',
    'current_setting',
    'pg_size_pretty',
    'pg_relation_size',
    'pg_stat_get_activity',
    'pg_filenode_relation',
    'pg_sequence_last_value',
    'currval',
    'lastval',
    'lower',
    'lolcat',
    'generate_series',
    'txid_current',
    'hypopg_list_indexes',
    'citus_shards',
    'get_rebalance_table_shards_plan',
    'PG_READ_FILE',
    'Pg_Read_File',
  ])('allows %s', (name) => {
    expect(deniedCategory(name)).toBeUndefined();
  });
});

describe('findDeniedCalls', () => {
  it.each([
    ['select list', "select pg_read_file('/etc/passwd')"],
    ['FROM', "select * from pg_read_file('/etc/passwd')"],
    ['LATERAL', 'select * from t, lateral pg_read_file(t.path) f'],
    ['ROWS FROM', "select * from rows from (generate_series(1, 2), pg_read_file('x'))"],
    ['JOIN condition', "select * from t join u on pg_read_file('x') = u.a"],
    ['WHERE', "select * from t where pg_read_file('x') <> ''"],
    ['scalar subquery', "select (select pg_read_file('x'))"],
    ['EXISTS subquery', "select 1 where exists (select pg_read_file('x'))"],
    ['IN subquery', "select 1 where 'a' in (select pg_read_file('x'))"],
    ['ARRAY subquery', "select array(select pg_read_file('x'))"],
    ['CTE', "with x as (select pg_read_file('x')) select * from x"],
    ['recursive CTE', "with recursive r as (select pg_read_file('x') as a) select * from r"],
    [
      'CTE nested in a subquery CTE',
      "select * from (with a as (with b as (select pg_read_file('x')) select * from b) select * from a) s",
    ],
    ['ORDER BY', 'select a from t order by pg_read_file(a)'],
    ['GROUP BY', 'select count(*) from t group by pg_read_file(a)'],
    ['HAVING', "select count(*) from t having pg_read_file('x') <> ''"],
    ['window definition', "select sum(a) over (partition by pg_read_file('x')) from t"],
    ['aggregate FILTER', "select count(*) filter (where pg_read_file('x') <> '') from t"],
    ['aggregate argument', "select string_agg(pg_read_file(a), ',') from t"],
    ['CASE', "select case when a > 0 then pg_read_file('x') end from t"],
    ['COALESCE', "select coalesce(null, pg_read_file('x'))"],
    ['nested function arguments', "select upper(lower(pg_read_file('x')))"],
    ['type cast', "select pg_read_file('x')::text"],
    ['array and row constructors', "select array[pg_read_file('x')], row(1, pg_read_file('y'))"],
    ['VALUES', "values (pg_read_binary_file('x'))"],
    ['LIMIT', "select 1 limit length(pg_read_file('x'))"],
    ['JSON_TABLE', "select * from json_table(pg_read_file('x')::jsonb, '$' columns (a int path '$.a')) j"],
    ['UNION arm', "select 1 union select length(pg_read_file('x'))"],
    ['EXPLAIN', "explain select pg_read_file('x')"],
    ['EXPLAIN ANALYZE', "explain analyze select * from pg_ls_dir('.')"],
    ['INSERT values', "insert into t values (pg_read_file('x'))"],
    ['UPDATE SET', "update t set a = pg_read_file('x') where id = 1"],
    ['RETURNING', "delete from t where id = 1 returning pg_read_file('x')"],
    ['CALL arguments', "call p(pg_read_file('x'))"],
    [
      'function default argument',
      "create function f(a text default pg_read_file('x')) returns text language sql return a",
    ],
    ['SQL-standard function body', "create function f() returns text begin atomic select pg_read_file('x'); end"],
    ['column default', "create table t (a text default pg_read_file('x'))"],
    ['view query', "create view v as select pg_read_file('x')"],
    ['COPY query', "copy (select pg_read_file('x')) to stdout"],
  ])('finds a call in %s', (_where, sql) => {
    const names = deniedNames(sql).map((n) => n.split('.').at(-1));
    expect(names.some((n) => n === 'pg_read_file' || n === 'pg_read_binary_file' || n === 'pg_ls_dir')).toBe(true);
  });

  it('finds the callee of CALL itself', () => {
    expect(deniedNames("call pg_catalog.pg_file_write('x', 'y', false)")).toEqual(['pg_catalog.pg_file_write']);
  });

  it('matches names as PostgreSQL resolves them', () => {
    expect(deniedNames("select Pg_Read_File('x')")).toEqual(['pg_read_file']);
    expect(deniedNames("select PG_CATALOG.PG_READ_FILE('x')")).toEqual(['pg_catalog.pg_read_file']);
    expect(deniedNames(`select "pg_read_file"('x')`)).toEqual(['pg_read_file']);
    expect(deniedNames(`select "pg_catalog"."pg_read_file"('x')`)).toEqual(['pg_catalog.pg_read_file']);
    expect(deniedNames(`select U&"pg\\005fread_file"('x')`)).toEqual(['pg_read_file']);
    expect(deniedNames(`select U&"pg!005fread!005ffile" uescape '!' ('x')`)).toEqual(['pg_read_file']);
    expect(deniedNames("select public.pg_read_file('x')")).toEqual(['public.pg_read_file']);
    expect(deniedNames("select mydb.pg_catalog.pg_read_file('x')")).toEqual(['mydb.pg_catalog.pg_read_file']);
    // A quoted upper-case name is a different function (which does not exist): PostgreSQL would not call pg_read_file.
    expect(deniedNames(`select "PG_READ_FILE"('x')`)).toEqual([]);
  });

  it('ignores names in comments, strings and identifiers that are not calls', () => {
    expect(denied("select /* pg_read_file('x') */ 1 -- pg_read_file('y')")).toEqual([]);
    expect(denied("select 'pg_read_file(x)', $$pg_ls_dir('.')$$, E'set_config(1)'")).toEqual([]);
    expect(denied('select pg_read_file from t')).toEqual([]);
    expect(denied('select t.lo_price, t.dblink_count from t')).toEqual([]);
  });

  it('finds field-selection calls of exact denied names', () => {
    expect(deniedNames('select t.pg_read_file from t')).toEqual(['t.pg_read_file']);
    expect(deniedNames('select (t).nextval from t')).toEqual(['nextval']);
    expect(deniedNames('select s.t.set_config from s.t')).toEqual(['s.t.set_config']);
  });

  it('reports every call with its category and character offset, in source order', () => {
    const sql = "select lo_import('/etc/passwd'), x from pg_ls_dir('.') x where pg_try_advisory_lock(1)";
    expect(denied(sql)).toEqual([
      { name: 'lo_import', category: 'large object', location: 7 },
      { name: 'pg_ls_dir', category: 'file access', location: 40 },
      { name: 'pg_try_advisory_lock', category: 'advisory lock', location: 63 },
    ]);
  });

  it('gives character offsets, not UTF-8 byte offsets, for multi-byte text', () => {
    const sql = "select 'é😀', pg_read_file('x')";
    const [call] = denied(sql);
    expect(call?.location).toBe(13);
    expect([...sql].slice(call?.location).join('')).toMatch(/^pg_read_file/);
  });

  it('finds calls in any statement of several', () => {
    expect(deniedNames("select 1; select pg_sleep(1); select set_config('a', 'b', false)")).toEqual(['set_config']);
  });
});

describe('BARE_NODE_FIELDS', () => {
  /**
   * The node index finds nodes by their `{Type: body}` wrapper, plus the fields listed in BARE_NODE_FIELDS that hold a
   * bare body. If a libpg-query upgrade adds a field holding a bare FuncCall (say), calls there would go unseen: this
   * test reads the installed type definitions and fails until the field is listed.
   */
  it('lists every field that holds a bare node of a type the safety checks look for', () => {
    const requireHere = createRequire(import.meta.url);
    const requireFromParser = createRequire(requireHere.resolve('libpg-query'));
    const types = readFileSync(requireFromParser.resolve('@pgsql/types/types.d.ts'), 'utf8');
    const looked = new Set([
      'FuncCall',
      'ColumnRef',
      'A_Indirection',
      'InsertStmt',
      'UpdateStmt',
      'DeleteStmt',
      'MergeStmt',
      'LockingClause',
      'IntoClause',
    ]);
    const fieldTypes = new Map<string, Set<string>>();
    let inInterface = false;
    for (const line of types.split('\n')) {
      if (line.startsWith('export interface ')) inInterface = true;
      else if (line.startsWith('}')) inInterface = false;
      const m = inInterface ? /^\s+(\w+)\?: (\w+)(\[\])?;/.exec(line) : null;
      if (!m) continue;
      const [, field, type, array] = m;
      if (!field || !type) continue;
      const key = array ? `${type}[]` : type;
      fieldTypes.set(field, (fieldTypes.get(field) ?? new Set()).add(key));
    }
    expect(fieldTypes.size).toBeGreaterThan(100);
    const bare = [...fieldTypes].filter(([, ts]) => [...ts].some((t) => looked.has(t.replace('[]', ''))));
    for (const [field, ts] of bare) {
      // Listed, holding a single body (not an array), and the field name means that type wherever it is used.
      expect([...ts], `field ${field}`).toEqual([BARE_NODE_FIELDS.get(field)]);
    }
    expect(bare.map(([f]) => f).sort()).toEqual([...BARE_NODE_FIELDS.keys()].sort());
  });
});

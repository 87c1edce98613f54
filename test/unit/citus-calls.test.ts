/** The SQL pg_cluster_admin's Citus actions run (values bound) and show (values as literals), and the transfer mode. */
import { describe, expect, it } from 'vitest';
import { jobFromRow } from '../../src/cluster/citus.js';
import { callSql, citusCalls, transferMode } from '../../src/cluster/citus-calls.js';
import { stuckTask } from '../../src/tools/cluster/citus/admin-run.js';

describe('Citus calls', () => {
  it('binds every value and shows the same call with literals', () => {
    expect(citusCalls.rebalanceStart('by_shard_count', 'block_writes')).toEqual({
      text: 'select pg_catalog.citus_rebalance_start(rebalance_strategy => $1::name, shard_transfer_mode => $2::citus.shard_transfer_mode)',
      params: ['by_shard_count', 'block_writes'],
      shown:
        "select pg_catalog.citus_rebalance_start(rebalance_strategy => 'by_shard_count'::name, shard_transfer_mode => 'block_writes'::citus.shard_transfer_mode)",
    });
  });

  it('leaves out what was not given (the server default applies)', () => {
    expect(citusCalls.rebalanceStart(undefined, 'auto').text).toBe(
      'select pg_catalog.citus_rebalance_start(shard_transfer_mode => $1::citus.shard_transfer_mode)',
    );
    expect(citusCalls.rebalanceStop()).toEqual({
      text: 'select pg_catalog.citus_rebalance_stop()',
      params: [],
      shown: 'select pg_catalog.citus_rebalance_stop()',
    });
    expect(citusCalls.alterDistributedTable('s.t', { shardCount: 6 })).toMatchObject({
      text: 'select pg_catalog.alter_distributed_table($1::regclass, shard_count => $2)',
      params: ['s.t', 6],
    });
  });

  it('a table travels as its quoted name cast to regclass; quotes in values are doubled only in the shown text', () => {
    const c = citusCalls.distributeTable(`"Sales"."Or'ders"`, "te'nant", { colocateWith: 'none', shardCount: 8 });
    expect(c.text).toBe(
      'select pg_catalog.create_distributed_table($1::regclass, $2, colocate_with => $3, shard_count => $4)',
    );
    expect(c.params).toEqual(['"Sales"."Or\'ders"', "te'nant", 'none', 8]);
    expect(c.shown).toBe(
      `select pg_catalog.create_distributed_table('"Sales"."Or''ders"'::regclass, 'te''nant', colocate_with => 'none', shard_count => 8)`,
    );
    expect(citusCalls.referenceTable('public.countries').shown).toBe(
      "select pg_catalog.create_reference_table('public.countries'::regclass)",
    );
  });

  it('nodes, drains and moves', () => {
    expect(citusCalls.drainNode('10.0.0.2', 5432, 'block_writes', undefined).shown).toBe(
      "select pg_catalog.citus_drain_node('10.0.0.2', 5432, shard_transfer_mode => 'block_writes'::citus.shard_transfer_mode)",
    );
    expect(citusCalls.disableNode('w1', 5432)).toMatchObject({
      text: 'select pg_catalog.citus_disable_node($1, $2, synchronous => $3)',
      params: ['w1', 5432, true],
    });
    expect(
      citusCalls.moveShard(102008, { host: 'w1', port: 5432 }, { host: 'w2', port: 5433 }, 'force_logical'),
    ).toMatchObject({
      text: 'select pg_catalog.citus_move_shard_placement($1, $2, $3, $4, $5, shard_transfer_mode => $6::citus.shard_transfer_mode)',
      params: [102008, 'w1', 5432, 'w2', 5433, 'force_logical'],
    });
    expect(citusCalls.cleanupOrphaned().text).toBe('call pg_catalog.citus_cleanup_orphaned_resources()');
    expect(callSql('citus_add_node', [{ value: 'h' }, { value: 1 }, undefined]).shown).toBe(
      "select pg_catalog.citus_add_node('h', 1)",
    );
  });
});

describe('shard transfer mode', () => {
  it('defaults to block_writes when wal_level is not logical, and says why', () => {
    const r = transferMode(undefined, 'replica');
    expect(r).toMatchObject({ mode: 'block_writes' });
    expect('why' in r && r.why).toContain('logical replication cannot copy shards');
    expect(transferMode(undefined, 'logical')).toMatchObject({ mode: 'auto' });
  });

  it('refuses a logical mode without wal_level = logical', () => {
    for (const asked of ['auto', 'force_logical'] as const) {
      const r = transferMode(asked, 'replica');
      expect('error' in r && r.error).toContain('needs wal_level = logical (it is replica)');
    }
    expect(transferMode('block_writes', 'replica')).toMatchObject({ mode: 'block_writes' });
    expect(transferMode('force_logical', 'logical')).toMatchObject({ mode: 'force_logical' });
  });
});

describe('a rebalance task that keeps failing', () => {
  const job = (tasks: Record<string, unknown>[]) =>
    jobFromRow({
      job_id: '6',
      state: 'running',
      job_type: 'rebalance',
      description: 'Rebalance all colocation groups',
      started_at: null,
      finished_at: null,
      details: { tasks, task_state_counts: { done: 10, runnable: 1 } },
    });

  it('is stuck after retries with an error (captured from Citus 13.2)', () => {
    const stuck = stuckTask(
      job([
        {
          state: 'runnable',
          command: "SELECT pg_catalog.citus_move_shard_placement(102067,2,5,'block_writes')",
          message:
            'ERROR: shard move failed as the orphaned shard s.orders_102067 leftover from the previous move could not be cleaned up\nCONTEXT: …',
          retried: 7,
          task_id: 28,
        },
      ]),
    );
    expect(stuck).toContain('task 28 failed 7 times');
    expect(stuck).toContain('orphaned shard s.orders_102067');
    expect(stuck).not.toContain('CONTEXT');
  });

  it('a task running or retried once is not stuck', () => {
    expect(stuckTask(job([]))).toBeUndefined();
    expect(stuckTask(job([{ state: 'running', retried: 1, message: 'ERROR: x', task_id: 1 }]))).toBeUndefined();
  });
});

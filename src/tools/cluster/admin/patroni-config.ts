/**
 * config_patch: PATCH /config merges a patch into Patroni's dynamic configuration (objects merge recursively, null
 * removes a key, a scalar equal as text to the current one changes nothing). The plan lists each leaf it sets with its
 * value before; the outcome reads the configuration back.
 */
import type { PatroniClient } from '../../../cluster/patroni.js';
import { canonicalJson } from '../../../safety/canonical.js';
import { ToolError } from '../../errors.js';
import type { ActionPlan } from './action.js';

/** One value the patch sets: a dotted path, and the value (null: removed). */
export interface PatchLeaf {
  path: string[];
  value: unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0;

/** The leaves of a patch: every value that is not a non-empty object, with its path. */
export function patchLeaves(patch: Record<string, unknown>, prefix: string[] = []): PatchLeaf[] {
  return Object.entries(patch).flatMap(([k, v]) =>
    isObject(v) ? patchLeaves(v, [...prefix, k]) : [{ path: [...prefix, k], value: v }],
  );
}

/** The value at `path`, or undefined. */
export function valueAt(config: unknown, path: readonly string[]): unknown {
  let v: unknown = config;
  for (const k of path) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

/** Whether the configuration holds what a leaf sets, as Patroni compares (scalars as text). */
export function leafHolds(config: unknown, leaf: PatchLeaf): boolean {
  const actual = valueAt(config, leaf.path);
  if (leaf.value === null) return actual === undefined;
  if (actual === undefined) return false;
  const scalar = (v: unknown) => v === null || typeof v !== 'object';
  if (scalar(actual) && scalar(leaf.value)) return String(actual) === String(leaf.value);
  return canonicalJson(actual) === canonicalJson(leaf.value);
}

const shown = (v: unknown) => (v === undefined ? '(absent)' : JSON.stringify(v));

export function configPatchPlan(
  client: PatroniClient,
  current: Record<string, unknown>,
  patch: Record<string, unknown>,
): ActionPlan {
  const leaves = patchLeaves(patch);
  if (leaves.length === 0) throw new ToolError('config is empty: nothing to change', { code: 'invalid_arguments' });
  const changing = leaves.filter((l) => !leafHolds(current, l));
  if (changing.length === 0) {
    throw new ToolError('the dynamic configuration already holds every value of config: nothing to change', {
      code: 'nothing_to_do',
    });
  }
  const before = Object.fromEntries(leaves.map((l) => [l.path.join('.'), valueAt(current, l.path) ?? null]));
  const reasons = ['changes the cluster-wide dynamic configuration: every member applies it within loop_wait'];
  if (changing.some((l) => l.path[0] === 'postgresql')) {
    reasons.push('PostgreSQL settings change on every member; some take effect only after a restart (pending restart)');
  }
  if (changing.some((l) => ['ttl', 'loop_wait', 'retry_timeout'].includes(l.path[0] as string))) {
    reasons.push('the timing of leader elections changes (ttl, loop_wait, retry_timeout)');
  }
  const lines = changing.map((l) => `${l.path.join('.')}: ${shown(valueAt(current, l.path))} → ${shown(l.value)}`);
  return {
    target: 'dynamic configuration',
    summary: `patch the dynamic configuration: ${lines.join('; ')}`,
    reasons,
    steps: [
      { phase: 'check', what: 'GET /config: the values before', where: 'Patroni' },
      { phase: 'act', what: `PATCH /config ${JSON.stringify(patch)}`, where: 'Patroni REST API (any member)' },
      { phase: 'verify', what: 'GET /config holds every value of the patch', where: 'Patroni' },
    ],
    before,
    bind: before,
    notes:
      leaves.length > changing.length
        ? [
            `already so: ${leaves
              .filter((l) => !changing.includes(l))
              .map((l) => l.path.join('.'))
              .join(', ')}`,
          ]
        : [],
    async run(runner) {
      await runner.act('PATCH /config', () => client.patchConfig(patch));
      let seen: Record<string, unknown> = {};
      await runner.waitFor(
        'GET /config holds every value of the patch',
        async () => {
          seen = await client.config();
          return leaves.every((l) => leafHolds(seen, l)) ? true : undefined;
        },
        () =>
          leaves
            .filter((l) => !leafHolds(seen, l))
            .map((l) => `${l.path.join('.')} = ${shown(valueAt(seen, l.path))}`)
            .join(', '),
        { timeoutMs: 10_000 },
      );
      const after = Object.fromEntries(leaves.map((l) => [l.path.join('.'), valueAt(seen, l.path) ?? null]));
      return {
        after,
        notes: changing.some((l) => l.path[0] === 'postgresql')
          ? ['pg_patroni status shows the members with a setting waiting for a restart']
          : [],
      };
    },
  };
}

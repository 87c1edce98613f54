import type { z } from 'zod';
import type { ToolContext } from '../../context.js';
import type { CommonArgs } from './input.js';
import type { ActionRunner } from './runner.js';

/** The components pg_cluster_admin acts on. */
export const CLUSTER_COMPONENTS = ['patroni', 'haproxy', 'pgbouncer', 'citus'] as const;
export type ClusterComponent = (typeof CLUSTER_COMPONENTS)[number];

/** One step of a plan, as a dry run and a confirmation show it. */
export interface PlanStep {
  /** `check`: read before acting; `act`: the change itself; `verify`: read after acting until the outcome shows. */
  phase: 'check' | 'act' | 'verify';
  /** What happens, e.g. `POST /switchover {"leader":"node1","candidate":"node2"}`. */
  what: string;
  /** Where it happens, e.g. a member's REST URL, `HAProxy runtime API`, `PgBouncer admin console`. */
  where?: string;
}

/** What acting found: the state after, and anything the operator should know. */
export interface ActionOutcome {
  after: Record<string, unknown>;
  notes?: string[];
}

/**
 * Everything about one call before it runs, found by the pre-checks (which read only): shown in full by `dry_run` and
 * by the confirmation; `run` then acts and verifies.
 */
export interface ActionPlan {
  /** What is acted on, e.g. `member node2`, `replicas/node1`, `database postgres`. */
  target: string;
  /** One line, e.g. `switchover from node1 to node2`. */
  summary: string;
  /** Why it needs confirmation: what it interrupts or risks. */
  reasons: string[];
  /** Checks already done, the call, and what is verified after it, in order. */
  steps: PlanStep[];
  /** The state the pre-checks saw. */
  before: Record<string, unknown>;
  /** State a confirmation token is bound to besides the arguments (e.g. the leader): it is refused when that changed. */
  bind?: Record<string, unknown>;
  notes?: string[];
  /**
   * Acts and verifies. Use `runner.act` for the change, `runner.waitFor`/`runner.check` for what is verified,
   * `runner.progress` between long steps. A failing change throws a ToolError (what already ran is reported); a
   * verification that does not hold is a failed check, not an error (the change has happened).
   */
  run(runner: ActionRunner): Promise<ActionOutcome>;
}

/** What a planner gets: the call's arguments (common ones and the component's fields), the context, the time budget. */
export interface PlanInput<A> {
  args: A & CommonArgs;
  ctx: ToolContext;
  /** How long acting and verifying may take in all (timeout_seconds). */
  timeoutMs: number;
}

/** One action of a component. */
export interface ActionDefinition<A> {
  /** One line for the tool description, e.g. `switchover: moves the leader to candidate (or the best replica)`. */
  description: string;
  /** Fields the action needs; a call without one is refused before anything is read. */
  required?: readonly (keyof A & string)[];
  /** Fields the action takes besides the required ones; any other component field given is refused. */
  optional?: readonly (keyof A & string)[];
  /** Pre-checks (reads only; a ToolError names what is wrong) and the plan. */
  plan(input: PlanInput<A>): Promise<ActionPlan>;
}

/**
 * The actions of one component of pg_cluster_admin.
 *
 * To add a component's actions (e.g. Citus):
 * 1. write `src/tools/cluster/admin/<component>.ts` exporting `defineComponent({ component, fields, unavailable,
 *    actions })`: `fields` is a zod shape of the input fields its actions take (each `.optional()`, described for the
 *    model; a name may be shared with another component only by reusing the very same schema, e.g. `databaseField`
 *    from input.ts), `unavailable` says why the component cannot be used now (not configured or not detected), and
 *    `actions` maps each action name (unique across components) to its ActionDefinition: `required`/`optional`
 *    fields, and `plan`, which runs the pre-checks (reads only; a ToolError names what is wrong, e.g. an unknown node
 *    with the valid ones) and returns an ActionPlan whose `run` acts, reports progress and verifies;
 * 2. add it to the list in `src/tools/cluster/admin/components.ts` (its import and its name in COMPONENTS).
 * The tool's input schema, action list, description, confirmation, dry run, progress, timings and output come from
 * there; a database connection is `ctx.pools` in the PlanInput.
 */
export interface ComponentActions<F extends z.ZodRawShape = z.ZodRawShape> {
  component: ClusterComponent;
  fields: F;
  unavailable(ctx: ToolContext): string | undefined | Promise<string | undefined>;
  actions: Record<string, ActionDefinition<z.infer<z.ZodObject<F>>>>;
}

export function defineComponent<F extends z.ZodRawShape>(def: ComponentActions<F>): ComponentActions<F> {
  return def;
}

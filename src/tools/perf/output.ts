import { z } from 'zod';
import { PERF_ACTIONS } from './args.js';

const planNode = z.object({
  id: z.number().int(),
  parent: z.number().int().nullable(),
  depth: z.number().int(),
  node: z.string(),
  relation: z.string().optional(),
  alias: z.string().optional(),
  index: z.string().optional(),
  join: z.string().optional(),
  role: z.string().optional(),
  startupCost: z.number(),
  cost: z.number(),
  rows: z.number(),
  actualRows: z.number().optional(),
  loops: z.number().optional(),
  timeMs: z.number().optional(),
  selfCost: z.number(),
  selfMs: z.number().optional(),
  detail: z.string().optional(),
});

const planWarning = z.object({
  kind: z.string(),
  severity: z.enum(['info', 'warning']),
  node: z.number().int().optional(),
  message: z.string(),
});

const explainOutput = z.object({
  statement: z.string(),
  analyzed: z.boolean(),
  rolledBack: z.boolean().optional().describe('EXPLAIN ANALYZE of a write: it ran and was rolled back'),
  genericPlan: z.string().optional().describe('how $n was planned without values'),
  totalCost: z.number(),
  rows: z.number(),
  actualRows: z.number().optional(),
  planningMs: z.number().optional(),
  executionMs: z.number().optional(),
  nodes: z.array(planNode).describe('the plan tree in order (depth, parent)'),
  omittedNodes: z.number().int(),
  costliest: z.array(z.number().int()).describe('node ids, costliest own share first'),
  warnings: z.array(planWarning),
  settings: z.record(z.string(), z.string()).optional(),
  triggers: z
    .array(z.object({ name: z.string(), relation: z.string().optional(), timeMs: z.number(), calls: z.number() }))
    .optional(),
  hypothetical: z
    .object({
      costBefore: z.number(),
      costAfter: z.number(),
      indexes: z.array(z.object({ definition: z.string(), name: z.string(), bytes: z.number(), used: z.boolean() })),
    })
    .optional(),
});
export type ExplainOutput = z.infer<typeof explainOutput>;

const topQuery = z.object({
  queryid: z.string(),
  query: z.string(),
  user: z.string().nullable(),
  calls: z.number(),
  rows: z.number(),
  totalMs: z.number(),
  meanMs: z.number(),
  maxMs: z.number(),
  percent: z.number(),
  planMs: z.number().optional(),
  sharedHit: z.number(),
  sharedRead: z.number(),
  sharedWritten: z.number(),
  tempBlocks: z.number(),
  hitRatio: z.number().nullable(),
  ioMs: z.number().optional(),
  walBytes: z.string().optional(),
  toplevel: z.boolean().optional(),
});

const topQueriesOutput = z.object({
  orderBy: z.string(),
  extensionVersion: z.string(),
  statsSince: z.string().optional(),
  evicted: z.number().optional().describe('entries evicted since the reset (pg_stat_statements.max too small)'),
  queries: z.array(topQuery),
});
export type TopQueriesOutput = z.infer<typeof topQueriesOutput>;

const adviceOutput = z.object({
  source: z.enum(['statements', 'pg_stat_statements']),
  genericPlans: z.string().optional().describe('how statements with $n were planned'),
  budget: z.object({
    sizeMb: z.number(),
    timeS: z.number(),
    maxIndexes: z.number(),
    minImprovementPercent: z.number(),
  }),
  stoppedBy: z.string(),
  elapsedMs: z.number(),
  plans: z.number().int().describe('EXPLAINs run'),
  workloadCost: z.object({ before: z.number(), after: z.number(), factor: z.number() }),
  recommendations: z.array(
    z.object({
      create: z.string().describe('the statement to run yourself'),
      table: z.string(),
      keys: z.array(z.string()),
      include: z.array(z.string()),
      bytes: z.number().describe('estimated size (hypopg)'),
      benefitPercent: z.number().describe('share of the workload cost it saves with the others in place'),
      statements: z.array(z.number().int()).describe('statement numbers whose plans use it'),
      reason: z.string(),
      notes: z.array(z.string()).optional(),
    }),
  ),
  statements: z.array(
    z.object({
      n: z.number().int(),
      query: z.string(),
      calls: z.number().optional(),
      weight: z.number(),
      costBefore: z.number().nullable(),
      costAfter: z.number().nullable(),
      factor: z.number().nullable(),
      uses: z.array(z.number().int()).describe('recommendation numbers its plan uses'),
      skipped: z.string().optional(),
    }),
  ),
  considered: z.array(
    z.object({ definition: z.string(), verdict: z.string(), detail: z.string(), bytes: z.number().optional() }),
  ),
  consideredTotal: z.number().int(),
});
export type AdviceOutput = z.infer<typeof adviceOutput>;

const healthOutput = z.object({
  verdict: z.enum(['ok', 'warning', 'critical']),
  checks: z.array(z.object({ name: z.string(), status: z.string(), summary: z.string() })),
  findings: z.array(
    z.object({
      check: z.string(),
      severity: z.enum(['info', 'warning', 'critical']),
      object: z.string(),
      evidence: z.string(),
      fix: z.string().optional(),
    }),
  ),
});
export type HealthOutput = z.infer<typeof healthOutput>;

export const perfOutput = z.object({
  action: z.enum(PERF_ACTIONS),
  database: z.string(),
  serverVersion: z.number().int().describe('server_version_num'),
  explain: explainOutput.optional().describe('explain: plan summary'),
  topQueries: topQueriesOutput.optional().describe('top_queries'),
  advice: adviceOutput.optional().describe('index_advice'),
  health: healthOutput.optional().describe('health_report'),
});
export type PerfOutput = z.infer<typeof perfOutput>;

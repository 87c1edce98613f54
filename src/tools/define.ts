import type { z } from 'zod';
import type { ToolContext } from './context.js';

/** Toolsets group tools; a tool is registered only when its toolset is enabled. */
export const TOOLSETS = [
  'core',
  'write',
  'monitor',
  'perf',
  'admin',
  'cluster',
  'citus',
  'ha',
  'proxy',
  'cluster-admin',
] as const;
export type Toolset = (typeof TOOLSETS)[number];

export const ACCESS_LEVELS = ['read', 'write', 'admin'] as const;
export type AccessLevel = (typeof ACCESS_LEVELS)[number];

const ACCESS_RANK: Record<AccessLevel, number> = { read: 0, write: 1, admin: 2 };

/** True when `granted` is at least `needed`. */
export function accessAllows(granted: AccessLevel, needed: AccessLevel): boolean {
  return ACCESS_RANK[granted] >= ACCESS_RANK[needed];
}

/** What a handler returns: compact text for the model and the same data as JSON. */
export interface ToolOutput<O> {
  text: string;
  data: O;
}

// biome-ignore lint/suspicious/noExplicitAny: the registry holds definitions of every input and output shape
export type AnyZodObject = z.ZodObject<any>;

export interface ToolDefinition<I extends AnyZodObject = AnyZodObject, O extends AnyZodObject = AnyZodObject> {
  name: string;
  title: string;
  /** Shown to the model: what the tool does and how to call it. */
  description: string;
  toolset: Toolset;
  /** Required: whether the tool can change anything. Annotations are derived from it. */
  readOnly: boolean;
  /** The access level needed; derived from readOnly and toolset when absent. */
  access?: AccessLevel;
  /** An effectful tool whose actions can destroy data or availability (confirmed per action). */
  destructive?: boolean;
  /** Component the tool talks to; the tool is registered only when it is configured or detected. */
  component?: 'postgres' | 'citus' | 'patroni' | 'haproxy' | 'pgbouncer' | 'cluster';
  input: I;
  output: O;
  handler: (args: z.infer<I>, ctx: ToolContext) => Promise<ToolOutput<z.infer<O>>>;
}

export function defineTool<I extends AnyZodObject, O extends AnyZodObject>(
  def: ToolDefinition<I, O>,
): ToolDefinition<I, O> {
  return def;
}

const ADMIN_TOOLSETS: ReadonlySet<Toolset> = new Set(['admin', 'cluster-admin']);
const OPEN_WORLD_TOOLSETS: ReadonlySet<Toolset> = new Set(['cluster', 'ha', 'proxy', 'cluster-admin']);

/** The access level a tool needs: read for read-only tools, admin for admin toolsets, write otherwise. */
export function requiredAccess(def: ToolDefinition): AccessLevel {
  if (def.access) return def.access;
  if (def.readOnly) return 'read';
  return ADMIN_TOOLSETS.has(def.toolset) ? 'admin' : 'write';
}

export interface ToolAnnotations {
  title: string;
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
}

/** MCP annotations, derived in this one place from the definition. */
export function annotationsFor(def: ToolDefinition): ToolAnnotations {
  return {
    title: def.title,
    readOnlyHint: def.readOnly,
    destructiveHint: !def.readOnly && (def.destructive ?? ADMIN_TOOLSETS.has(def.toolset)),
    idempotentHint: def.readOnly,
    openWorldHint: OPEN_WORLD_TOOLSETS.has(def.toolset),
  };
}

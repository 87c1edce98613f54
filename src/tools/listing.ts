import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { type AnyZodObject, annotationsFor, type ToolDefinition } from './define.js';

/** Every tool's listing, worked out when the bundle or binary was built (scripts/tool-listings.ts); absent in source. */
declare const PGMCP_TOOL_LISTINGS: Readonly<Record<string, Tool>> | undefined;
const BUILT_LISTINGS: Readonly<Record<string, Tool>> =
  typeof PGMCP_TOOL_LISTINGS === 'object' && PGMCP_TOOL_LISTINGS !== null ? PGMCP_TOOL_LISTINGS : {};

const listings = new WeakMap<ToolDefinition, Tool>();
const strictInputs = new WeakMap<ToolDefinition, AnyZodObject>();

/**
 * How many levels of nested objects the declared output schema spells out: the top-level fields of every result are
 * typed; objects inside them are declared as plain objects (their descriptions stay). An SDK client compiles the
 * declared schemas when it lists the tools (and checks every result against them): spelled out in full, pgmcp's
 * schemas cost it about 170 ms per connection; to this depth about 35 ms (measured with the SDK's AJV validator).
 * The zod schema stays the whole truth: results are built against it and the tests check them against it.
 */
export const OUTPUT_SCHEMA_DEPTH = 1;

type JsonSchema = Record<string, unknown>;

/**
 * `schema` with objects nested `depth` or more levels down reduced to `{ type: 'object', description }`. References to
 * shared definitions (`#/definitions/…`, `#/$defs/…`) are inlined on the way, so the result needs no definitions.
 */
export function limitDepth(schema: JsonSchema, depth: number, defs?: Record<string, JsonSchema>): JsonSchema {
  const definitions = defs ?? {
    ...((schema.definitions as Record<string, JsonSchema> | undefined) ?? {}),
    ...((schema.$defs as Record<string, JsonSchema> | undefined) ?? {}),
  };
  if (typeof schema.$ref === 'string') {
    const target = definitions[schema.$ref.replace(/^#\/(definitions|\$defs)\//, '')];
    if (target) {
      const { $ref: _ref, ...rest } = schema;
      return limitDepth({ ...target, ...rest }, depth, definitions);
    }
  }
  const out: JsonSchema = { ...schema };
  delete out.definitions;
  delete out.$defs;
  if (out.properties && typeof out.properties === 'object') {
    if (depth <= 0) {
      delete out.properties;
      delete out.required;
      delete out.additionalProperties;
    } else {
      out.properties = Object.fromEntries(
        Object.entries(out.properties as Record<string, JsonSchema>).map(([k, v]) => [
          k,
          limitDepth(v, depth - 1, definitions),
        ]),
      );
    }
  }
  if (out.items && typeof out.items === 'object' && !Array.isArray(out.items)) {
    out.items = limitDepth(out.items as JsonSchema, depth, definitions);
  }
  if (out.additionalProperties && typeof out.additionalProperties === 'object') {
    out.additionalProperties = limitDepth(out.additionalProperties as JsonSchema, depth - 1, definitions);
  }
  for (const k of ['anyOf', 'oneOf', 'allOf'] as const) {
    if (Array.isArray(out[k])) out[k] = (out[k] as JsonSchema[]).map((v) => limitDepth(v, depth, definitions));
  }
  return out;
}

function jsonSchema(schema: AnyZodObject, io: 'input' | 'output'): Tool['inputSchema'] {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { target: 'draft-7', io }) as Record<string, unknown>;
  return rest as Tool['inputSchema'];
}

/**
 * A tool as tools/list shows it: JSON schemas of its input (unknown arguments refused) and output (to
 * OUTPUT_SCHEMA_DEPTH), and the annotations derived from the definition. Taken from the build (PGMCP_TOOL_LISTINGS)
 * when there is one, else worked out once per definition.
 */
export function toolListing(def: ToolDefinition): Tool {
  let listing = listings.get(def) ?? BUILT_LISTINGS[def.name];
  if (!listing) {
    listing = {
      name: def.name,
      title: def.title,
      description: def.description,
      inputSchema: jsonSchema(strictInput(def), 'input'),
      outputSchema: limitDepth(jsonSchema(def.output, 'output'), OUTPUT_SCHEMA_DEPTH) as Tool['outputSchema'],
      annotations: annotationsFor(def),
    };
    listings.set(def, listing);
  }
  return listing;
}

/** The input schema that refuses arguments it does not know (a misspelt `limt` is an error, never ignored). */
export function strictInput(def: ToolDefinition): AnyZodObject {
  let schema = strictInputs.get(def);
  if (!schema) {
    schema = def.input.strict();
    strictInputs.set(def, schema);
  }
  return schema;
}

/** Validates a call's arguments: the parsed arguments, or a message naming every argument that is wrong. */
export function parseArguments(
  def: ToolDefinition,
  args: unknown,
): { ok: true; args: Record<string, unknown> } | { ok: false; message: string } {
  const result = strictInput(def).safeParse(args ?? {});
  if (result.success) return { ok: true, args: result.data as Record<string, unknown> };
  const problems = result.error.issues.map((issue) => {
    const where = issue.path.length ? issue.path.join('.') : '(arguments)';
    const keys = 'keys' in issue && Array.isArray(issue.keys) ? ` ${issue.keys.join(', ')}` : '';
    return `${where}: ${issue.message}${keys}`;
  });
  return { ok: false, message: `invalid arguments for ${def.name}: ${problems.join('; ')}` };
}

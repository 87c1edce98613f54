import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { type AnyZodObject, annotationsFor, type ToolDefinition } from './define.js';

const listings = new WeakMap<ToolDefinition, Tool>();
const strictInputs = new WeakMap<ToolDefinition, AnyZodObject>();

function jsonSchema(schema: AnyZodObject, io: 'input' | 'output'): Tool['inputSchema'] {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { target: 'draft-7', io }) as Record<string, unknown>;
  return rest as Tool['inputSchema'];
}

/**
 * A tool as tools/list shows it: JSON schemas of its input (unknown arguments refused) and output, and the
 * annotations derived from the definition. Worked out once per definition.
 */
export function toolListing(def: ToolDefinition): Tool {
  let listing = listings.get(def);
  if (!listing) {
    listing = {
      name: def.name,
      title: def.title,
      description: def.description,
      inputSchema: jsonSchema(strictInput(def), 'input'),
      outputSchema: jsonSchema(def.output, 'output'),
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

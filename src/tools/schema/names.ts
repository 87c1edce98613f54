import { ToolError } from '../errors.js';

/**
 * Splits a possibly qualified, possibly double-quoted name into its parts: `sales.orders` → [sales, orders],
 * `"My Schema"."a.b"` → [My Schema, a.b]. Quoted parts keep their case and lose their quotes (`""` → `"`);
 * unquoted parts are kept as written (lookups try the exact spelling first, then ignore case).
 */
export function splitQualified(text: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  let wasQuoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          current += '"';
          i++;
        } else {
          quoted = false;
        }
      } else {
        current += ch;
      }
    } else if (ch === '"') {
      quoted = true;
      wasQuoted = true;
    } else if (ch === '.') {
      parts.push(wasQuoted ? current : current.trim());
      current = '';
      wasQuoted = false;
    } else {
      current += ch;
    }
  }
  if (quoted)
    throw new ToolError(`unbalanced double quote in name ${JSON.stringify(text)}`, { code: 'invalid_argument' });
  parts.push(wasQuoted ? current : current.trim());
  if (parts.some((p) => p === '')) {
    throw new ToolError(`empty part in name ${JSON.stringify(text)}`, { code: 'invalid_argument' });
  }
  return parts;
}

export interface ObjectRef {
  schema?: string;
  name: string;
  /** Argument types written after the name, `f(integer, text)` → `integer, text`. */
  signature?: string;
}

/**
 * The object a describe call means: `name` may be qualified (then it must agree with `schema` when both are given)
 * and, for functions, may end in an argument list.
 */
export function objectRef(name: string, schema: string | undefined, allowSignature: boolean): ObjectRef {
  let base = name.trim();
  let signature: string | undefined;
  if (allowSignature && base.endsWith(')')) {
    const open = base.indexOf('(');
    if (open > 0) {
      signature = base.slice(open + 1, -1).trim();
      base = base.slice(0, open).trim();
    }
  }
  const parts = splitQualified(base);
  if (parts.length > 2) {
    throw new ToolError(`name ${JSON.stringify(name)} has ${parts.length} parts; give \`schema.name\` or \`name\``, {
      code: 'invalid_argument',
      hint: 'to look into another database pass `database`',
    });
  }
  const [first, second] = parts as [string, string | undefined];
  if (second === undefined)
    return {
      ...(schema !== undefined ? { schema } : {}),
      name: first,
      ...(signature !== undefined ? { signature } : {}),
    };
  if (schema !== undefined && schema !== first) {
    throw new ToolError(`\`schema\` is "${schema}" but \`name\` says schema "${first}"`, { code: 'invalid_argument' });
  }
  return { schema: first, name: second, ...(signature !== undefined ? { signature } : {}) };
}

/** The ILIKE pattern for a `pattern` argument: used as given when it has a `%`, otherwise matched anywhere. */
export function ilikePattern(pattern: string | undefined): string | null {
  if (pattern === undefined) return null;
  return pattern.includes('%') ? pattern : `%${pattern}%`;
}

/** `schema.name` for display; parts that are not plain lower-case identifiers are double-quoted. */
export function qualified(schema: string, name: string): string {
  return `${displayIdent(schema)}.${displayIdent(name)}`;
}

export function displayIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

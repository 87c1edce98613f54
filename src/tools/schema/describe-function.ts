import type pg from 'pg';
import { FUNCTION_KINDS, VOLATILITY } from './list-routines.js';
import { qualified } from './names.js';
import type { FunctionOutput } from './output.js';
import type { Row } from './paging.js';
import { compactTable } from './text.js';
import { bool, num, str, strings } from './values.js';

const PARALLEL: Record<string, FunctionOutput['parallel']> = { s: 'safe', r: 'restricted', u: 'unsafe' };

/** Every overload in `oids`, with the CREATE statement when asked (aggregates have none to show). */
export async function describeFunctions(
  client: pg.PoolClient,
  oids: readonly number[],
  includeSource: boolean,
): Promise<FunctionOutput[]> {
  const r = await client.query(
    `select n.nspname as schema, p.proname as name, p.prokind::text as kind,
        pg_catalog.pg_get_function_arguments(p.oid) as arguments,
        pg_catalog.pg_get_function_identity_arguments(p.oid) as identity_arguments,
        pg_catalog.pg_get_function_result(p.oid) as result, p.proretset as returns_set, l.lanname as language,
        p.provolatile::text as volatility, p.proisstrict as strict, p.prosecdef as security_definer,
        p.proleakproof as leakproof, p.proparallel::text as parallel, p.procost::float8 as cost,
        p.prorows::float8 as est_rows, pg_catalog.pg_get_userbyid(p.proowner) as owner,
        pg_catalog.obj_description(p.oid, 'pg_proc') as comment, p.proconfig::text[] as config,
        case when $2::boolean and p.prokind <> 'a' then pg_catalog.pg_get_functiondef(p.oid) end as source
      from pg_catalog.pg_proc p
      join pg_catalog.pg_namespace n on n.oid = p.pronamespace
      join pg_catalog.pg_language l on l.oid = p.prolang
      where p.oid = any($1::oid[])
      order by n.nspname, p.proname, identity_arguments`,
    [oids, includeSource],
  );
  return (r.rows as Row[]).map((row) => {
    const f: FunctionOutput = {
      schema: String(row.schema),
      name: String(row.name),
      kind: (FUNCTION_KINDS[String(row.kind)] ?? 'function') as FunctionOutput['kind'],
      arguments: String(row.arguments ?? ''),
      identityArguments: String(row.identity_arguments ?? ''),
      result: str(row.result),
      returnsSet: bool(row.returns_set),
      language: String(row.language),
      volatility: (VOLATILITY[String(row.volatility)] ?? 'volatile') as FunctionOutput['volatility'],
      strict: bool(row.strict),
      securityDefiner: bool(row.security_definer),
      leakproof: bool(row.leakproof),
      parallel: PARALLEL[String(row.parallel)] ?? 'unsafe',
      cost: num(row.cost) ?? 0,
      rows: bool(row.returns_set) ? num(row.est_rows) : null,
      owner: String(row.owner),
      comment: str(row.comment),
      config: strings(row.config),
    };
    if (row.source !== null) f.source = String(row.source).trim();
    return f;
  });
}

function traits(f: FunctionOutput): string {
  const t: string[] = [f.language];
  if (f.kind !== 'procedure') t.push(f.volatility);
  if (f.strict) t.push('strict');
  if (f.securityDefiner) t.push('SECURITY DEFINER');
  if (f.leakproof) t.push('leakproof');
  if (f.kind !== 'procedure' && f.parallel !== 'unsafe') t.push(`parallel ${f.parallel}`);
  for (const c of f.config) t.push(`SET ${c}`);
  return t.join(', ');
}

export function functionsText(functions: FunctionOutput[], includeSource: boolean): string {
  const first = functions[0];
  if (!first) return 'no functions';
  const blocks: string[] = [];
  const label = qualified(first.schema, first.name);
  blocks.push(
    functions.length === 1
      ? `## ${first.kind} ${label}`
      : `## ${label}: ${functions.length} overloads (pass \`signature\` with the argument types to pick one)`,
  );
  blocks.push(
    compactTable(
      ['signature', 'returns', 'kind', 'traits', 'owner', 'comment'],
      functions.map((f) => [`${f.name}(${f.arguments})`, f.result, f.kind, traits(f), f.owner, f.comment]),
    ),
  );
  if (includeSource) {
    for (const f of functions) {
      blocks.push(
        f.source !== undefined
          ? `\`\`\`sql\n${f.source}\n\`\`\``
          : `${f.name}(${f.identityArguments}) is an aggregate: no source to show`,
      );
    }
  }
  return blocks.join('\n\n');
}

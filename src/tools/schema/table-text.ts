/** describe_table as compact markdown: a header, the columns table, then only the sections that have something. */

import { qualified } from './names.js';
import type { TableOutput } from './output.js';
import { compactTable } from './text.js';
import { count } from './values.js';

type Column = TableOutput['columns'][number];

/** `(expr)`, without doubling parentheses that already enclose the whole expression. */
export function parenthesized(expr: string): string {
  if (!expr.startsWith('(') || !expr.endsWith(')')) return `(${expr})`;
  let depth = 0;
  for (let i = 0; i < expr.length; i++) {
    if (expr[i] === '(') depth++;
    else if (expr[i] === ')') depth--;
    if (depth === 0 && i < expr.length - 1) return `(${expr})`;
  }
  return expr;
}

function defaultCell(c: Column): string | null {
  if (c.identity) return `generated ${c.identity} as identity`;
  if (c.generated) {
    return `generated always as ${parenthesized(c.generated.expression)}${c.generated.kind === 'stored' ? ' stored' : ''}`;
  }
  return c.default;
}

/** The columns table; the nullable, default and comment columns only when some column has something in them. */
function columnsTable(columns: TableOutput['columns']): string {
  const parts: [string, (c: Column) => string | number | null][] = [
    ['#', (c) => c.position],
    ['column', (c) => c.name],
    ['type', (c) => (c.collation ? `${c.type} collate "${c.collation}"` : c.type)],
    ['nullable', (c) => (c.nullable ? null : 'not null')],
    ['default', defaultCell],
    ['comment', (c) => c.comment],
  ];
  const shown = parts.filter(
    ([h, cell]) => h === 'column' || h === '#' || h === 'type' || columns.some((c) => cell(c) !== null),
  );
  return compactTable(
    shown.map(([h]) => h),
    columns.map((c) => shown.map(([, cell]) => cell(c))),
  );
}

function header(t: TableOutput): string[] {
  const lines = [`## ${t.kind} ${qualified(t.schema, t.name)}`];
  if (t.comment) lines.push(t.comment);
  const facts = [`owner ${t.owner}`];
  if (t.persistence !== 'permanent') facts.push(t.persistence);
  if (t.kind !== 'view' && t.kind !== 'foreign table') {
    facts.push(
      t.rowEstimate === null ? 'row estimate unknown (never analysed)' : `~${count(t.rowEstimate)} rows (estimate)`,
    );
  }
  if (t.sizes) {
    const s = t.sizes;
    facts.push(
      `${s.total.pretty} total (table ${s.table.pretty}, toast ${s.toast.pretty}, indexes ${s.indexes.pretty})`,
    );
  }
  if (t.populated === false) facts.push('NOT POPULATED (needs REFRESH MATERIALIZED VIEW)');
  if (t.rowLevelSecurity.enabled) facts.push(`row-level security on${t.rowLevelSecurity.forced ? ' (forced)' : ''}`);
  if (t.tablespace) facts.push(`tablespace ${t.tablespace}`);
  if (t.options) facts.push(`with (${t.options.join(', ')})`);
  lines.push(facts.join(' · '));
  if (t.partitionOf) {
    lines.push(
      `partition of ${qualified(t.partitionOf.schema, t.partitionOf.name)} ${t.partitionOf.bound ?? ''}`.trimEnd(),
    );
  }
  if (t.inherits) lines.push(`inherits from ${t.inherits.join(', ')}`);
  if (t.foreignServer) {
    lines.push(
      `foreign table on server ${t.foreignServer.server}${t.foreignServer.options.length ? ` options (${t.foreignServer.options.join(', ')})` : ''}`,
    );
  }
  if (t.partitionKey) lines.push(`partitioned by ${t.partitionKey}`);
  return lines;
}

/** `CREATE UNIQUE INDEX x ON s.t USING btree (a)` → `UNIQUE btree (a)`. */
function shortIndex(def: string, unique: boolean): string {
  const at = def.indexOf(' USING ');
  if (at < 0) return def;
  return `${unique ? 'UNIQUE ' : ''}${def.slice(at + 7)}`;
}

function section(title: string, lines: string[]): string[] {
  return lines.length ? [`${title}:`, ...lines.map((l) => `- ${l}`)] : [];
}

function actions(fk: { onUpdate: string; onDelete: string }): string {
  return [
    fk.onDelete !== 'no action' ? ` ON DELETE ${fk.onDelete.toUpperCase()}` : '',
    fk.onUpdate !== 'no action' ? ` ON UPDATE ${fk.onUpdate.toUpperCase()}` : '',
  ].join('');
}

function bodySections(t: TableOutput): string[] {
  const out: string[] = [];
  if (t.primaryKey) {
    out.push(
      `Primary key: ${t.primaryKey.name} (${t.primaryKey.columns.join(', ')})${t.primaryKey.inherited ? ' (inherited)' : ''}`,
    );
  }
  out.push(
    ...section(
      'Constraints',
      t.constraints.map(
        (c) => `${c.name}: ${c.definition}${c.deferrable ? ' (deferrable)' : ''}${c.inherited ? ' (inherited)' : ''}`,
      ),
    ),
  );
  out.push(
    ...section(
      'Indexes',
      t.indexes.map((i) => {
        const facts = [i.size ? i.size.pretty : null, i.scans !== null ? `${count(i.scans)} scans` : null];
        if (!i.valid) facts.unshift('INVALID');
        const shown = facts.filter((f) => f !== null);
        return `${i.name}: ${shortIndex(i.definition, i.unique)}${shown.length ? ` · ${shown.join(' · ')}` : ''}`;
      }),
    ),
  );
  out.push(
    ...section(
      'Foreign keys',
      t.foreignKeys.map(
        (f) =>
          `${f.name}: (${f.columns.join(', ')}) → ${qualified(f.references.schema, f.references.table)}(${f.references.columns.join(', ')})${actions(f)}${f.validated ? '' : ' NOT VALID'}${f.inherited ? ' (inherited)' : ''}`,
      ),
    ),
  );
  out.push(
    ...section(
      'Referenced by',
      t.referencedBy.map(
        (r) =>
          `${qualified(r.schema, r.table)}(${r.columns.join(', ')}) → (${r.referencedColumns.join(', ')}) via ${r.name}${actions(r)}`,
      ),
    ),
  );
  out.push(
    ...section(
      'Triggers',
      t.triggers.map(
        (g) => `${g.definition}${g.enabled !== 'enabled' ? ` [${g.enabled}]` : ''}${g.inherited ? ' (inherited)' : ''}`,
      ),
    ),
  );
  out.push(
    ...section(
      'Policies',
      t.policies.map(
        (p) =>
          `${p.name} (${p.permissive ? 'permissive' : 'restrictive'}, ${p.command}, to ${p.roles.join(', ')})${p.using ? ` USING ${parenthesized(p.using)}` : ''}${p.withCheck ? ` WITH CHECK ${parenthesized(p.withCheck)}` : ''}`,
      ),
    ),
  );
  return out;
}

function partitionsText(t: TableOutput): string[] {
  const p = t.partitions;
  if (!p) return [];
  if (p.total === 0) return ['Partitions: none yet'];
  const shown = p.items.length === p.total ? `${p.total}` : `${p.items.length} of ${p.total}`;
  const lines = [
    `Partitions (${shown}):`,
    compactTable(
      ['partition', 'bound', 'rows (est.)', 'size'],
      p.items.map((i) => [
        `${qualified(i.schema, i.name)}${i.kind === 'table' ? '' : ` (${i.kind})`}`,
        i.bound,
        i.rowEstimate === null ? 'not analysed' : count(i.rowEstimate),
        i.size?.pretty ?? null,
      ]),
    ),
  ];
  if (p.truncated) lines.push(`more partitions: call again with offset ${p.nextOffset}`);
  return lines;
}

function maintenanceText(t: TableOutput): string[] {
  const m = t.maintenance;
  if (!m) return [];
  const when = (manual: string | null, auto: string | null): string => {
    if (manual === null && auto === null) return 'never';
    if (auto !== null && (manual === null || auto > manual)) return `${auto} (auto)`;
    return String(manual);
  };
  const parts = [
    `last vacuum ${when(m.lastVacuum, m.lastAutovacuum)}`,
    `last analyze ${when(m.lastAnalyze, m.lastAutoanalyze)}`,
  ];
  if (m.deadRows !== null && m.deadRows !== 0) parts.unshift(`${m.deadRows} dead rows`);
  return [`Maintenance: ${parts.join(' · ')}`];
}

export function tableText(t: TableOutput): string {
  const blocks: string[] = [header(t).join('\n'), columnsTable(t.columns)];
  const body = bodySections(t);
  if (body.length) blocks.push(body.join('\n'));
  const parts = partitionsText(t);
  if (parts.length) blocks.push(parts.join('\n'));
  if (t.viewDefinition) blocks.push(`Definition:\n\`\`\`sql\n${t.viewDefinition}\n\`\`\``);
  const maintenance = maintenanceText(t);
  if (maintenance.length) blocks.push(maintenance.join('\n'));
  return blocks.join('\n\n');
}

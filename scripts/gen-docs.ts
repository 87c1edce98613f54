/**
 * Generates the README's tool table, configuration reference and alias table from the definitions (never written
 * twice).
 * `bun scripts/gen-docs.ts` rewrites README.md; `--check` fails when README.md is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { SETTINGS } from '../src/config/settings.js';
import { annotationsFor, requiredAccess } from '../src/tools/define.js';
import { ALL_TOOLS } from '../src/tools/registry.js';

const README = new URL('../README.md', import.meta.url);

const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function toolTable(): string {
  const rows = ALL_TOOLS.map((t) => {
    const a = annotationsFor(t);
    const effect = a.readOnlyHint ? 'read' : a.destructiveHint ? 'destructive' : 'write';
    const action = t.input.shape.action as { options?: readonly string[] } | undefined;
    const actions = action?.options ? action.options.map((o) => `\`${o}\``).join(', ') : '';
    return `| \`${t.name}\` | ${t.toolset} | ${requiredAccess(t)} | ${effect} | ${esc(t.title)}${actions ? `: ${actions}` : ''} |`;
  });
  return ['| tool | toolset | access | effect | what |', '|---|---|---|---|---|', ...rows].join('\n');
}

function showDefault(v: unknown): string {
  if (v === undefined) return '';
  if (Array.isArray(v)) return v.length ? `\`${v.join(',')}\`` : '(none)';
  return `\`${String(v)}\``;
}

function configTable(): string {
  const rows = SETTINGS.map((s) => {
    const type =
      s.type === 'enum'
        ? (s.values ?? []).join(' \\| ')
        : s.type === 'duration'
          ? 'duration (ms, or 30s, 5min)'
          : s.type;
    return `| ${s.env ? `\`${s.env}\`` : ''} | ${s.flag ? `\`${s.flag}\`` : ''} | \`${s.key}\` | ${type} | ${showDefault(s.default)} | ${esc(s.description)}${s.secret ? ' (secret: never shown)' : ''} |`;
  });
  return [
    '| environment | flag | config file key | type | default | meaning |',
    '|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

/** The aliases other deployments use (settings.ts `aliases`), each with the pgmcp name it stands for. */
function aliasTable(): string {
  const rows = SETTINGS.flatMap((s) =>
    (s.aliases ?? []).map((a) => {
      const own = [s.env ? `\`${s.env}\`` : '', s.flag ? `\`${s.flag}\`` : ''].filter(Boolean).join(' / ');
      const values = a.values
        ? Object.entries(a.values)
            .map(([from, to]) => `\`${from}\` → \`${to}\``)
            .join(', ')
        : `as ${s.env ? `\`${s.env}\`` : 'the setting'}`;
      return `| \`${a.env}\` | ${own} | \`${s.key}\` | ${values}${a.note ? `; ${esc(a.note)}` : ''} |`;
    }),
  );
  return ['| alias | pgmcp name | config file key | values |', '|---|---|---|---|', ...rows].join('\n');
}

function replaceSection(text: string, name: string, body: string): string {
  const start = `<!-- generated:${name} -->`;
  const end = `<!-- /generated:${name} -->`;
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i < 0 || j < i) throw new Error(`README.md lacks the markers ${start} … ${end}`);
  return `${text.slice(0, i + start.length)}\n${body}\n${text.slice(j)}`;
}

const current = readFileSync(README, 'utf8');
const next = replaceSection(
  replaceSection(replaceSection(current, 'tools', toolTable()), 'config', configTable()),
  'aliases',
  aliasTable(),
);
if (process.argv.includes('--check')) {
  if (next !== current) {
    process.stderr.write('README.md is stale: run `npm run docs` and commit the result\n');
    process.exit(1);
  }
  process.stdout.write('README.md generated sections are up to date\n');
} else if (next !== current) {
  writeFileSync(README, next);
  process.stdout.write('README.md updated\n');
}

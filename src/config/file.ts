import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from './resolve.js';

/** Reads a config file: JSON, or YAML (any other extension). */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('--config', JSON.stringify(path), `a readable file (${(err as Error).message})`, 'flag');
  }
  let parsed: unknown;
  try {
    parsed = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError(
      '--config',
      JSON.stringify(path),
      `valid ${path.endsWith('.json') ? 'JSON' : 'YAML'} (${(err as Error).message})`,
      'flag',
    );
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError('--config', JSON.stringify(path), 'a mapping of settings at the top level', 'flag');
  }
  return parsed as Record<string, unknown>;
}

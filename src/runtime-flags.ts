import v8 from 'node:v8';

/**
 * Under Node, keep the SQL parser's WebAssembly in V8's baseline tier: the optimising tier recompiles the hot parser
 * and holds about 100 MB more for no measurable gain per call (bench/README.md). Bun has its own engine: nothing to do.
 * Must run before the parser's module is instantiated (initParser), which the CLI does first thing.
 */
export function tuneRuntime(): void {
  if (process.versions.bun === undefined) v8.setFlagsFromString('--liftoff-only');
}

import v8 from 'node:v8';

/**
 * V8 flags pgmcp runs with under Node: the SQL parser's WebAssembly stays in V8's baseline tier (the optimising tier
 * recompiles the hot parser and holds about 100 MB more for no measurable gain per call, bench/README.md). The npm
 * launcher sets the same before it compiles the bundle (a code cache is accepted only under the flags it was made with).
 */
export const PARSER_WASM_V8_FLAGS = '--liftoff-only';

/**
 * Under Node, sets PARSER_WASM_V8_FLAGS. Bun has its own engine: nothing to do. Must run before the parser's module is
 * instantiated (initParser), which the CLI does first thing.
 */
export function tuneRuntime(): void {
  if (process.versions.bun === undefined) v8.setFlagsFromString(PARSER_WASM_V8_FLAGS);
}

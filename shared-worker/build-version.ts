/**
 * The client build, carried in the worker handshake. Vite replaces `__REALTIME_BUILD__` (see
 * demo/vite.demo.ts); elsewhere (tests, tsx) it is `dev`.
 */
declare const __REALTIME_BUILD__: string | undefined;

export const BUILD: string = typeof __REALTIME_BUILD__ === 'string' ? __REALTIME_BUILD__ : 'dev';

/**
 * Orders builds: ISO timestamps and dotted versions compare correctly with a numeric collation.
 * Positive when `a` is newer.
 */
export function compareBuilds(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

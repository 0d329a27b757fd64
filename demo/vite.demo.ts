import { resolve } from 'node:path';
import type { UserConfig } from 'vite';

const root = resolve(import.meta.dirname, '..');

/**
 * Builds the demo app (demo/index.html) and its SharedWorker into dist/demo.
 * - `__REALTIME_BUILD__`: the build version carried in the worker handshake (an ISO timestamp,
 *   so builds order by time; see shared-worker/build-version.ts).
 * - `worker.format: 'es'`: the SharedWorker is a module worker that shares chunks with the page.
 */
export function demoBuild(): UserConfig {
  return {
    root: resolve(root, 'demo'),
    base: '/',
    define: { __REALTIME_BUILD__: JSON.stringify(new Date().toISOString()) },
    worker: { format: 'es' },
    build: { outDir: resolve(root, 'dist/demo'), emptyOutDir: true, sourcemap: true },
  };
}

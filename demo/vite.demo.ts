import { resolve } from 'node:path';
import type { UserConfig } from 'vite';

const root = resolve(import.meta.dirname, '..');

/** Builds the demo app (demo/index.html) and its SharedWorker into dist/demo. */
export function demoBuild(): UserConfig {
  return {
    root: resolve(root, 'demo'),
    base: '/',
    build: { outDir: resolve(root, 'dist/demo'), emptyOutDir: true, sourcemap: true },
  };
}

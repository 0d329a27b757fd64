import { resolve } from 'node:path';
import type { UserConfig } from 'vite';

const root = resolve(import.meta.dirname, '..');

/** Builds the MV3 extension into dist/extension. (Filled in by the extension work.) */
export function extensionBuild(_mode: string): UserConfig {
  return { root: resolve(root, 'extension'), build: { outDir: resolve(root, 'dist/extension'), emptyOutDir: true } };
}

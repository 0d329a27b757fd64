/**
 * Builds the MV3 extension into dist/extension, in two Vite passes (see NOTES.md):
 * - `--mode extension`: the pages (popup, panel, devtools, stream) and the module service worker,
 *   plus manifest.json;
 * - `--mode extension-content`: the content script as ONE classic IIFE file (a declared content
 *   script cannot import chunks), added to the same folder, then a Firefox copy in
 *   dist/extension-firefox with its own manifest.
 */
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Plugin, UserConfig } from 'vite';
import { chromiumManifest, firefoxManifest } from './manifest.ts';

const root = resolve(import.meta.dirname, '..');
const src = resolve(root, 'extension');
const outDir = resolve(root, 'dist/extension');
const firefoxDir = resolve(root, 'dist/extension-firefox');

function version(): string {
  const pkg: unknown = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8'));
  const value = typeof pkg === 'object' && pkg !== null && 'version' in pkg ? pkg.version : undefined;
  // Manifest versions are 1–4 dot-separated integers: drop any pre-release suffix.
  return typeof value === 'string' ? value.replace(/[^0-9.].*$/, '') || '0.0.0' : '0.0.0';
}

function manifestPlugin(): Plugin {
  return {
    name: 'realtime-extension-manifest',
    generateBundle() {
      this.emitFile({ type: 'asset', fileName: 'manifest.json', source: `${JSON.stringify(chromiumManifest({ version: version() }), null, 2)}\n` });
    },
  };
}

function firefoxCopyPlugin(): Plugin {
  return {
    name: 'realtime-extension-firefox',
    closeBundle() {
      rmSync(firefoxDir, { recursive: true, force: true });
      cpSync(outDir, firefoxDir, { recursive: true });
      writeFileSync(resolve(firefoxDir, 'manifest.json'), `${JSON.stringify(firefoxManifest({ version: version() }), null, 2)}\n`);
    },
  };
}

/** The Vite config of one extension pass: `mode` is `extension` or `extension-content`. */
export function extensionBuild(mode: string): UserConfig {
  const shared: UserConfig = {
    root: src,
    base: './',
    publicDir: false,
    logLevel: 'warn',
    define: { 'process.env.NODE_ENV': JSON.stringify('production') },
  };
  if (mode === 'extension-content') {
    return {
      ...shared,
      plugins: [firefoxCopyPlugin()],
      build: {
        outDir,
        emptyOutDir: false,
        copyPublicDir: false,
        sourcemap: false,
        lib: { entry: resolve(src, 'content.ts'), formats: ['iife'], name: 'realtimeDevtoolsContent', fileName: () => 'content.js' },
      },
    };
  }
  return {
    ...shared,
    plugins: [manifestPlugin()],
    build: {
      outDir,
      emptyOutDir: true,
      sourcemap: true,
      modulePreload: { polyfill: false },
      rolldownOptions: {
        input: {
          popup: resolve(src, 'popup.html'),
          panel: resolve(src, 'panel.html'),
          devtools: resolve(src, 'devtools.html'),
          stream: resolve(src, 'stream.html'),
          background: resolve(src, 'background.ts'),
        },
        output: {
          // The manifest names the worker: keep its file name fixed.
          entryFileNames: (chunk) => (chunk.name === 'background' ? 'background.js' : 'assets/[name]-[hash].js'),
        },
      },
    },
  };
}

/**
 * One Vite config, two builds:
 * - default mode: the demo app and its SharedWorker → dist/demo (served by the server at `/`);
 * - `--mode extension` / `--mode extension-content`: the developer extension → dist/extension.
 * Each part lives beside the code it builds.
 */
import { defineConfig } from 'vite';
import { demoBuild } from './demo/vite.demo.ts';
import { extensionBuild } from './extension/vite.extension.ts';

export default defineConfig(({ mode }) => (mode.startsWith('extension') ? extensionBuild(mode) : demoBuild()));

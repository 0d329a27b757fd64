import { defineConfig } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './e2e/chromium.ts';

/**
 * End-to-end tests: the real server (a child process on a free loopback port, its own SQLite
 * file), the built demo and extension (`npm run build` first), Debian's Chromium. Never a
 * downloaded browser. Tests toggle server-wide state (the kill switch), so each file gets its
 * own server and files run one at a time.
 */
export default defineConfig({
  testDir: 'e2e',
  testMatch: '**/*.spec.ts',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [['list']],
  use: {
    launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS },
    trace: 'off',
  },
});

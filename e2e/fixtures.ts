/** A real server per test file (worker-scoped), shared by its tests. */
import { test as base } from '@playwright/test';
import { startServerProcess, type ServerProcess } from './server-process.ts';

export const test = base.extend<object, { server: ServerProcess }>({
  server: [
    async ({}, use) => {
      const server = await startServerProcess();
      await use(server);
      await server.stop('SIGTERM');
    },
    { scope: 'worker' },
  ],
});

export { expect } from '@playwright/test';

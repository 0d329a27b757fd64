/** The command loop every server under test runs in its child process (see ipc.ts). */
import { serveCommands } from '../ipc.ts';
import type { SeedResult, ServerCommands, ServerConfig, ServerStats, StartedServer } from '../peers/types.ts';

export interface ServerUnderTest {
  start(config: ServerConfig): Promise<StartedServer>;
  connections(): number;
  seed?(org: string, count: number): Promise<SeedResult>;
}

function stats(connections: number): ServerStats {
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  return {
    cpuUserMs: cpu.user / 1000,
    cpuSystemMs: cpu.system / 1000,
    rssBytes: memory.rss,
    heapUsedBytes: memory.heapUsed,
    externalBytes: memory.external,
    connections,
  };
}

async function collectGarbage(): Promise<void> {
  // --expose-gc is passed by ipc.ts; twice, with a turn between, so finalizers run too.
  globalThis.gc?.();
  await new Promise((resolve) => setImmediate(resolve));
  globalThis.gc?.();
}

export function serveServer(server: ServerUnderTest): void {
  serveCommands<ServerCommands>({
    start: (config) => server.start(config),
    stats: () => stats(server.connections()),
    gc: async () => {
      await collectGarbage();
      return stats(server.connections());
    },
    seed: ({ org, count }) => {
      if (!server.seed) throw new Error('this server has no event log to seed');
      return server.seed(org, count);
    },
  });
}

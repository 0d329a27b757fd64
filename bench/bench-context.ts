/**
 * What every scenario uses: the one load generator process, servers under test started in their
 * own child processes, and `measureLoad`, which runs a load while reading the server's CPU at the
 * exact edges of the measure window (the load generator announces them) and sampling its RSS.
 */
import { fileURLToPath } from 'node:url';
import { spawnChild, type ChildHandle } from './ipc.ts';
import type { LoadGeneratorCommands, LoadParams } from './load-types.ts';
import type { BenchParams } from './params.ts';
import { serverEntry, type PeerVariant, type ServerCommands, type ServerStats } from './peers/index.ts';
import type { MeasuredLoad } from './results-types.ts';

export interface ServerHandle {
  readonly url: string;
  stats(): Promise<ServerStats>;
  /** Collects garbage first (memory figures without garbage). */
  settledStats(): Promise<ServerStats>;
  seed(org: string, count: number): Promise<{ before: string; head: string }>;
  stop(): Promise<void>;
}

export interface BenchContext {
  readonly params: BenchParams;
  readonly loadGenerator: ChildHandle<LoadGeneratorCommands>;
  log(line: string): void;
  startServer(variant: PeerVariant): Promise<ServerHandle>;
}

const RSS_SAMPLE_MS = 250;
export const MiB = 2 ** 20;
const round1 = (value: number) => Math.round(value * 10) / 10;

export function createBenchContext(params: BenchParams, log: (line: string) => void): BenchContext {
  const loadGenerator = spawnChild<LoadGeneratorCommands>(fileURLToPath(new URL('./load-generator.ts', import.meta.url)), 'load-generator');
  return {
    params,
    loadGenerator,
    log,
    async startServer(variant) {
      const child = spawnChild<ServerCommands>(serverEntry(variant.peer), variant.label);
      try {
        const { url } = await child.request('start', variant.server, 30_000);
        return {
          url,
          stats: () => child.request('stats', null),
          settledStats: () => child.request('gc', null),
          seed: (org, count) => child.request('seed', { org, count }, 120_000),
          stop: () => child.stop(),
        };
      } catch (error) {
        await child.stop();
        throw error;
      }
    },
  };
}

/** Runs one load against `server` and reads the server's CPU over the same window. */
export async function measureLoad(ctx: BenchContext, server: ServerHandle, load: LoadParams): Promise<MeasuredLoad> {
  const edges: { start?: ServerStats; end?: ServerStats } = {};
  let rssPeak = 0;
  const pending: Array<Promise<unknown>> = [];
  // A sample may still be in flight when the server is stopped: its failure is not an error.
  const sampler = setInterval(() => {
    pending.push(server.stats().then((stats) => (rssPeak = Math.max(rssPeak, stats.rssBytes)), () => {}));
  }, RSS_SAMPLE_MS);
  const listener = (notice: string) => {
    if (notice === 'window-start') pending.push(server.stats().then((stats) => (edges.start = stats)));
    if (notice === 'window-end') pending.push(server.stats().then((stats) => (edges.end = stats)));
  };
  ctx.loadGenerator.onNotice(listener);
  try {
    const result = await ctx.loadGenerator.request('load', load);
    clearInterval(sampler);
    await Promise.allSettled(pending);
    const { start, end } = edges;
    if (!start || !end) throw new Error('the measure window was not announced');
    const cpuMs = end.cpuUserMs + end.cpuSystemMs - start.cpuUserMs - start.cpuSystemMs;
    return {
      load: result,
      server: {
        cpuPercent: Math.round((cpuMs / result.measuredMs) * 100),
        systemShare: cpuMs > 0 ? Math.round(((end.cpuSystemMs - start.cpuSystemMs) / cpuMs) * 100) / 100 : 0,
        rssMiB: round1(end.rssBytes / MiB),
        rssPeakMiB: round1(Math.max(rssPeak, end.rssBytes) / MiB),
        heapUsedMiB: round1(end.heapUsedBytes / MiB),
      },
    };
  } finally {
    clearInterval(sampler);
    ctx.loadGenerator.offNotice(listener);
  }
}

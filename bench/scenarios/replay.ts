/**
 * Replay: a client resuming `replayEvents` behind, while events keep being published, until
 * `live`; the ids it receives must be contiguous across the replay→live seam. Against the
 * in-memory log and the SQLite log (the real default store, in a temp directory).
 */
import type { BenchContext } from '../bench-context.ts';
import type { ReplayCase } from '../results-types.ts';

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

export async function runReplayCase(ctx: BenchContext, store: 'memory' | 'sqlite'): Promise<ReplayCase> {
  const { params, loadGenerator } = ctx;
  const result: ReplayCase = { store, events: params.replayEvents, runs: [], medianConnectToLiveMs: null, maxConnectToLiveMs: null, seamIntactEveryRun: false, seedMs: 0, error: null };
  const server = await ctx.startServer({ peer: 'ours', label: `ours (${store})`, server: { compression: false, store }, deflate: false });
  try {
    for (let run = 0; run < params.replayRuns; run++) {
      const org = `replay-${run}`;
      const seedStarted = Date.now();
      const { before, head } = await server.seed(org, params.replayEvents);
      result.seedMs += Date.now() - seedStarted;
      result.runs.push(await loadGenerator.request('replay', { url: server.url, org, cursor: before, head, deflate: false, liveRate: params.replayLiveRate, afterLiveMs: 300 }));
    }
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
  } finally {
    await server.stop();
  }
  const times = result.runs.map((run) => run.connectToLiveMs);
  result.medianConnectToLiveMs = median(times);
  result.maxConnectToLiveMs = times.length > 0 ? Math.max(...times) : null;
  result.seamIntactEveryRun = result.runs.length > 0 && result.runs.every((run) => run.seamIntact);
  ctx.log(`replay ${store} ${params.replayEvents} events: ${result.error ?? `median ${result.medianConnectToLiveMs} ms to live, seam ${result.seamIntactEveryRun ? 'intact' : 'BROKEN'}`}`);
  return result;
}

export async function runReplay(ctx: BenchContext): Promise<ReplayCase[]> {
  return [await runReplayCase(ctx, 'memory'), await runReplayCase(ctx, 'sqlite')];
}

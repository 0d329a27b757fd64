/**
 * Memory per idle connection: the server's RSS and heap before any socket, with N idle sockets,
 * and again after one event reached each of them (ws allocates a socket's zlib stream on its first
 * compressed message, so "idle with deflate" means little before that). Garbage is collected
 * before every reading.
 */
import { MiB, type BenchContext } from '../bench-context.ts';
import { DEFLATE_PEERS, FAN_OUT_PEERS, type PeerVariant, type ServerStats } from '../peers/index.ts';
import type { MemoryCase, MemoryFigures } from '../results-types.ts';

const round1 = (value: number) => Math.round(value * 10) / 10;
/** Above the deflate thresholds of every peer (ours: 256 bytes): the first message must actually be compressed. */
const FIRST_MESSAGE_BYTES = 1500;

function figures(baseline: ServerStats, now: ServerStats, sockets: number): MemoryFigures {
  return {
    rssMiB: round1(now.rssBytes / MiB),
    heapUsedMiB: round1(now.heapUsedBytes / MiB),
    rssPerConnectionKiB: round1((now.rssBytes - baseline.rssBytes) / 1024 / sockets),
    heapPerConnectionKiB: round1((now.heapUsedBytes - baseline.heapUsedBytes) / 1024 / sockets),
  };
}

export async function runMemoryCase(ctx: BenchContext, variant: PeerVariant): Promise<MemoryCase> {
  const { params, loadGenerator } = ctx;
  const sockets = params.memorySockets;
  const result: MemoryCase = { label: variant.label, peer: variant.peer, deflate: variant.deflate, sockets, connect: { connected: 0, failed: 0, ms: 0, errors: [] }, baseline: null, idle: null, afterFirstMessage: null, error: null };
  const server = await ctx.startServer(variant);
  try {
    const baseline = await server.settledStats();
    result.baseline = { rssMiB: round1(baseline.rssBytes / MiB), heapUsedMiB: round1(baseline.heapUsedBytes / MiB) };
    result.connect = await loadGenerator.request('connect', { peer: variant.peer, url: server.url, sockets, orgs: 1, deflate: variant.deflate });
    const connected = Math.max(1, result.connect.connected);
    result.idle = figures(baseline, await server.settledStats(), connected);
    const delivery = await loadGenerator.request('deliverOne', { minBytes: FIRST_MESSAGE_BYTES });
    result.afterFirstMessage = { ...figures(baseline, await server.settledStats(), connected), delivery };
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
  } finally {
    await loadGenerator.request('disconnect', null).catch(() => {});
    await server.stop();
  }
  ctx.log(`memory ${variant.label}: ${result.error ?? `${result.idle?.rssPerConnectionKiB} KiB/connection idle, ${result.afterFirstMessage?.rssPerConnectionKiB} after one message`}`);
  return result;
}

export async function runMemory(ctx: BenchContext): Promise<MemoryCase[]> {
  const cases: MemoryCase[] = [];
  for (const variant of [...FAN_OUT_PEERS, ...DEFLATE_PEERS]) cases.push(await runMemoryCase(ctx, variant));
  return cases;
}

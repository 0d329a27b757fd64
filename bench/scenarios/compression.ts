/**
 * Compression: bytes on the wire per event of the mix and saturated fan-out throughput, with
 * permessage-deflate off and on: ours (its ws options), ws's per-socket deflate, and the
 * raw ws broadcaster with compress-once frames (servers/compress-once.ts).
 */
import { measureLoad, type BenchContext } from '../bench-context.ts';
import { DEFLATE_PEERS, FAN_OUT_PEERS, type PeerVariant } from '../peers/index.ts';
import type { CompressionCase } from '../results-types.ts';

/** Compression off first (the baselines), then on. Socket.IO is left out: its deflate is off by default and not what the issue asks. */
export const COMPRESSION_VARIANTS: PeerVariant[] = [...FAN_OUT_PEERS.filter((variant) => variant.peer !== 'socket-io'), ...DEFLATE_PEERS];

export async function runCompressionCase(ctx: BenchContext, variant: PeerVariant): Promise<CompressionCase> {
  const { params, loadGenerator } = ctx;
  const sockets = params.compressionSockets;
  const result: CompressionCase = { label: variant.label, peer: variant.peer, deflate: variant.deflate, sockets, connect: { connected: 0, failed: 0, ms: 0, errors: [] }, saturation: null, error: null };
  const server = await ctx.startServer(variant);
  try {
    result.connect = await loadGenerator.request('connect', { peer: variant.peer, url: server.url, sockets, orgs: 1, deflate: variant.deflate });
    result.saturation = await measureLoad(ctx, server, { mode: 'saturation', rate: 0, inFlight: params.inFlight, warmupMs: params.warmupMs, measureMs: params.measureMs, drainMs: params.drainMs });
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
  } finally {
    await loadGenerator.request('disconnect', null).catch(() => {});
    await server.stop();
  }
  const load = result.saturation?.load;
  ctx.log(`compression ${variant.label}: ${result.error ?? `${load?.deliveriesPerSec}/s, ${load?.wireBytesPerDelivery} B/event on the wire`}`);
  return result;
}

export async function runCompression(ctx: BenchContext): Promise<CompressionCase[]> {
  const cases: CompressionCase[] = [];
  for (const variant of COMPRESSION_VARIANTS) cases.push(await runCompressionCase(ctx, variant));
  return cases;
}

/**
 * Fan-out: N sockets (one org, or spread over several), events at a fixed rate and at
 * saturation, for ours and each peer. Deliveries/s, publish→receive latency, server CPU and RSS.
 */
import { measureLoad, type BenchContext } from '../bench-context.ts';
import type { LoadParams } from '../load-types.ts';
import type { FanOutSize } from '../params.ts';
import { FAN_OUT_PEERS, type PeerVariant } from '../peers/index.ts';
import type { FanOutCase } from '../results-types.ts';

const NOT_CONNECTED = { connected: 0, failed: 0, ms: 0, errors: [] };

export async function runFanOutCase(ctx: BenchContext, variant: PeerVariant, size: FanOutSize): Promise<FanOutCase> {
  const { params, loadGenerator } = ctx;
  const result: FanOutCase = { label: variant.label, peer: variant.peer, sockets: size.sockets, orgs: size.orgs, connect: NOT_CONNECTED, saturation: null, fixed: [], error: null };
  const server = await ctx.startServer(variant);
  try {
    result.connect = await loadGenerator.request('connect', { peer: variant.peer, url: server.url, sockets: size.sockets, orgs: size.orgs, deflate: variant.deflate });
    const base: Omit<LoadParams, 'mode' | 'rate'> = { inFlight: params.inFlight, warmupMs: params.warmupMs, measureMs: params.measureMs, drainMs: params.drainMs };
    // Saturation first: it is closed-loop and leaves no backlog; an overloaded fixed rate can.
    result.saturation = await measureLoad(ctx, server, { ...base, rate: 0, mode: 'saturation' });
    for (const rate of size.rates) result.fixed.push(await measureLoad(ctx, server, { ...base, rate, mode: 'fixed' }));
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
  } finally {
    await loadGenerator.request('disconnect', null).catch(() => {});
    await server.stop();
  }
  const sat = result.saturation?.load;
  ctx.log(
    `fan-out ${variant.label} ${size.sockets}×${size.orgs}: ` +
      (result.error ??
        `saturation ${sat?.deliveriesPerSec}/s p99 ${sat?.latency.p99} ms; ` +
          result.fixed.map(({ load }) => `${load.rate}/s p50 ${load.latency.p50} p99 ${load.latency.p99} ms`).join('; ')),
  );
  return result;
}

export async function runFanOut(ctx: BenchContext): Promise<FanOutCase[]> {
  const cases: FanOutCase[] = [];
  for (const size of ctx.params.fanOut) {
    for (const variant of FAN_OUT_PEERS) cases.push(await runFanOutCase(ctx, variant, size));
  }
  return cases;
}

/** Sizes and durations of a full run and of `--quick` (tiny, for `npm test`). */

export interface FanOutSize {
  sockets: number;
  orgs: number;
  /** Fixed rates to run, events/s over all orgs (one below saturation, and the 100/s). */
  rates: number[];
}

/** Scale-out: SQLite in one process vs Redis Streams in one and in two processes, same load. */
export interface ScaleOutSize {
  sockets: number;
  orgs: number;
  /** Fixed rate, events/s over all orgs: below saturation in every case, so latency is not queueing. */
  rate: number;
  warmupMs: number;
  /** Measure window of each of a case's three loads (saturation, fixed rate, publish latency). */
  measureMs: number;
}

export interface BenchParams {
  fanOut: FanOutSize[];
  /** Saturation: events outstanding at once. */
  inFlight: number;
  warmupMs: number;
  measureMs: number;
  drainMs: number;
  compressionSockets: number;
  memorySockets: number;
  replayEvents: number;
  replayRuns: number;
  /** Events/s published while a replay runs. */
  replayLiveRate: number;
  browser: { tabs: number[]; measureMs: number; eventsPerSec: number } | null;
  scaleOut: ScaleOutSize;
}

export const FULL: BenchParams = {
  fanOut: [
    { sockets: 1000, orgs: 1, rates: [40, 100] },
    { sockets: 5000, orgs: 1, rates: [10] },
    { sockets: 5000, orgs: 10, rates: [100] },
  ],
  inFlight: 16,
  warmupMs: 1000,
  measureMs: 4000,
  drainMs: 4000,
  compressionSockets: 1000,
  memorySockets: 5000,
  replayEvents: 10_000,
  replayRuns: 3,
  replayLiveRate: 50,
  browser: { tabs: [1, 5], measureMs: 10_000, eventsPerSec: 5 },
  scaleOut: { sockets: 500, orgs: 5, rate: 100, warmupMs: 2000, measureMs: 5000 },
};

export const QUICK: BenchParams = {
  fanOut: [{ sockets: 20, orgs: 2, rates: [100] }],
  inFlight: 4,
  warmupMs: 200,
  measureMs: 500,
  drainMs: 1000,
  compressionSockets: 20,
  memorySockets: 20,
  replayEvents: 500,
  replayRuns: 1,
  replayLiveRate: 50,
  browser: null,
  scaleOut: { sockets: 20, orgs: 2, rate: 20, warmupMs: 200, measureMs: 300 },
};

/**
 * File descriptors one side needs for `sockets` connections, plus headroom for the runtime.
 * Each side of a loopback connection lives in its own process, so each needs one fd per socket.
 */
export function fdsNeeded(sockets: number): number {
  return sockets + 256;
}

/** Scales every socket count down to fit `fdLimit`; returns the new params and what changed. */
export function fitToFdLimit(params: BenchParams, fdLimit: number): { params: BenchParams; notes: string[] } {
  const notes: string[] = [];
  const cap = (sockets: number, what: string) => {
    if (fdsNeeded(sockets) <= fdLimit) return sockets;
    const fitted = Math.max(10, fdLimit - 256);
    notes.push(`${what}: ${sockets} sockets need ${fdsNeeded(sockets)} fds per process, ulimit -n is ${fdLimit}: scaled down to ${fitted}`);
    return fitted;
  };
  return {
    params: {
      ...params,
      fanOut: params.fanOut.map((size) => ({ ...size, sockets: cap(size.sockets, `fan-out ${size.sockets}×${size.orgs}`) })),
      compressionSockets: cap(params.compressionSockets, 'compression'),
      memorySockets: cap(params.memorySockets, 'memory'),
      scaleOut: { ...params.scaleOut, sockets: cap(params.scaleOut.sockets, 'scale-out') },
    },
    notes,
  };
}

/** The load generator's commands and results (shared by the runner and bench/load-generator.ts). */
import type { LatencySummary } from './latency-recorder.ts';
import type { PeerId } from './peers/types.ts';

export interface ConnectParams {
  peer: PeerId;
  url: string;
  sockets: number;
  /** Sockets are spread round-robin over `org-0` … `org-(orgs-1)`. */
  orgs: number;
  deflate: boolean;
}

export interface ConnectResult {
  connected: number;
  failed: number;
  ms: number;
  /** The first few connect errors, for the report. */
  errors: string[];
}

export interface LoadParams {
  /** `fixed`: `rate` events/s over all orgs (round-robin); `saturation`: `inFlight` events outstanding. */
  mode: 'fixed' | 'saturation';
  rate: number;
  inFlight: number;
  /** Publishing runs for warmup + measure; only the measure window counts. */
  warmupMs: number;
  measureMs: number;
  /** After publishing stops, how long to wait for outstanding deliveries. */
  drainMs: number;
}

export interface LoadResult {
  mode: LoadParams['mode'];
  /** Events/s asked for (fixed) or null (saturation). */
  rate: number | null;
  inFlight: number | null;
  measuredMs: number;
  /** Events published in the measure window. */
  published: number;
  publishErrors: number;
  /** Events received by all sockets within the measure window. */
  deliveries: number;
  deliveriesPerSec: number;
  /** Published events/s in the window. */
  eventsPerSec: number;
  /** Deliveries owed for events published in the window (sockets of the org at publish time). */
  expected: number;
  /** Of `expected`, not received by the end of the drain. */
  missing: number;
  /** Publish→receive for events published in the window, over every socket. */
  latency: LatencySummary;
  /** Client-side TCP bytes read in the window ÷ deliveries in the window. */
  wireBytesPerDelivery: number | null;
  /** Sockets the server closed during the run (e.g. slow consumer). */
  closedSockets: number;
  closeCodes: Record<string, number>;
  /** CPU of the load generator process in the window (100 = one core). */
  loadGeneratorCpuPercent: number;
}

export interface DeliverOneResult {
  /** Deliveries received / owed for one event per org. */
  delivered: number;
  expected: number;
  ms: number;
  wireBytesPerDelivery: number | null;
}

export interface ReplayParams {
  url: string;
  org: string;
  /** Resume after this cursor. */
  cursor: string;
  /** The org's head when the client resumes (the replay must reach it). */
  head: string;
  deflate: boolean;
  /** Events/s published while the replay runs (tests the seam). */
  liveRate: number;
  /** After `live`, keep receiving this long to check the seam. */
  afterLiveMs: number;
}

export interface ReplayResult {
  /** Connection opened → `live` received. */
  connectToLiveMs: number;
  /** `subscribe` sent → `live` received. */
  subscribeToLiveMs: number;
  replayedEvents: number;
  /** `live.replayed` as the server reported it. */
  serverReplayed: number | null;
  liveEventsDuringReplay: number;
  liveEventsAfter: number;
  /** Ids contiguous from the cursor to the last event received, no duplicates, no gap. */
  seamIntact: boolean;
  /** Why not, when `seamIntact` is false. */
  seamProblem: string | null;
  resets: number;
}

export type LoadGeneratorCommands = {
  connect: { params: ConnectParams; result: ConnectResult };
  load: { params: LoadParams; result: LoadResult };
  /**
   * One event per org of at least `minBytes` of JSON data (above every deflate threshold, so a
   * compressing server really compresses it), and waits until every socket has it.
   */
  deliverOne: { params: { minBytes: number }; result: DeliverOneResult };
  disconnect: { params: null; result: { ms: number } };
  replay: { params: ReplayParams; result: ReplayResult };
};

/**
 * Publishes numbered events at a fixed rate through the fixed publish API, whatever happens to
 * the server meanwhile: requests are fired on a clock (not one after another), a request that
 * fails (server down, connection reset) is counted and not retried, and only the ids the API
 * acknowledged with 201 count as published.
 */
import { randomBytes } from 'node:crypto';
import { seqOf } from './reliability-report.ts';
import type { ServerProcess } from './server-process.ts';

export interface PublishRun {
  /** Acknowledged ids in log order. */
  acked: string[];
  /** When each acknowledgement arrived (ms since epoch), by id. */
  ackedAt: Map<string, number>;
  /** Requests that got no 201 (refused, reset, server down). */
  failed: number;
  /** Ticks not sent because `maxInFlight` requests were still waiting (the server was slow or gone). */
  skipped: number;
  /** Requests sent. */
  attempted: number;
}

export interface LoadPublisher {
  /** Acknowledged so far (in arrival order of the acks). */
  ackedSoFar(): number;
  /** Stops sending, waits for requests in flight, returns the run. */
  stop(): Promise<PublishRun>;
}

export interface LoadOptions {
  org: string;
  service: string;
  perSecond: number;
  /** Requests in flight at most; beyond it a tick is skipped (counted in `skipped`). */
  maxInFlight?: number;
  /** Extra bytes of incompressible payload per event. */
  padBytes?: number;
}

/** Starts publishing at `perSecond` to `server` (its current URL, so a restart on the same port is followed). */
export function startLoad(server: ServerProcess, options: LoadOptions): LoadPublisher {
  const maxInFlight = options.maxInFlight ?? 64;
  const acked: string[] = [];
  const ackedAt = new Map<string, number>();
  const inFlight = new Set<Promise<void>>();
  let failed = 0;
  let skipped = 0;
  let attempted = 0;
  let n = 0;
  const startedAt = Date.now();

  async function publishOne(): Promise<void> {
    attempted += 1;
    const number = n++;
    try {
      // Random (base64) padding: compression must not shrink it, or a flood would not fill any buffer.
      const pad = options.padBytes ? randomBytes(Math.ceil((options.padBytes * 3) / 4)).toString('base64') : undefined;
      const id = await server.publish(options.org, options.service, 'test.numbered', pad ? { n: number, pad } : { n: number });
      acked.push(id);
      ackedAt.set(id, Date.now());
    } catch {
      failed += 1;
    }
  }

  // A clock, not a chain: catch up on ticks missed by a slow event loop, so the rate holds.
  const timer = setInterval(() => {
    const due = Math.floor(((Date.now() - startedAt) * options.perSecond) / 1000);
    while (attempted + skipped < due) {
      if (inFlight.size >= maxInFlight) {
        skipped += 1;
        continue;
      }
      const request = publishOne().finally(() => inFlight.delete(request));
      inFlight.add(request);
    }
  }, 5);

  return {
    ackedSoFar: () => acked.length,
    async stop() {
      clearInterval(timer);
      await Promise.all([...inFlight]);
      return { acked: [...acked].sort((a, b) => seqOf(a) - seqOf(b)), ackedAt, failed, skipped, attempted };
    },
  };
}

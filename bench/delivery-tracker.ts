/**
 * Counts every delivery of every published event to every socket: an event is complete when all
 * sockets of its org (at publish time) have it. Latency is recorded for events published inside
 * the measure window; deliveries/s counts receipts inside it.
 *
 * A socket the server closes mid-run stops being owed the events it had not received yet
 * (events arrive in order per socket, so "not yet" is everything after its last seq).
 */
import { createLatencyRecorder, type LatencySummary } from './latency-recorder.ts';

export interface TrackedSocket {
  org: string;
  /** benchSeq of the last event this socket received. */
  lastSeq: number;
  open: boolean;
}

interface Outstanding {
  org: string;
  remaining: number;
  measured: boolean;
}

export interface DeliveryCounts {
  deliveries: number;
  expected: number;
  missing: number;
  latency: LatencySummary;
}

export interface DeliveryTracker {
  /** Registers a published event; `measured` when it was published inside the window. */
  published(seq: number, org: string, measured: boolean): void;
  delivered(socket: TrackedSocket, seq: number, sentAt: number, now: number): void;
  socketClosed(socket: TrackedSocket): void;
  /** Events not yet received by every socket of their org. */
  outstanding(): number;
  setWindow(start: number, end: number): void;
  counts(): DeliveryCounts;
}

export function createDeliveryTracker(socketsOf: (org: string) => number, onComplete: (seq: number) => void): DeliveryTracker {
  const pending = new Map<number, Outstanding>();
  const latency = createLatencyRecorder();
  let windowStart = Infinity;
  let windowEnd = Infinity;
  let deliveries = 0;
  let expected = 0;
  let lostToClose = 0;

  function complete(seq: number): void {
    pending.delete(seq);
    onComplete(seq);
  }

  return {
    published(seq, org, measured) {
      const remaining = socketsOf(org);
      if (measured) expected += remaining;
      if (remaining === 0) {
        onComplete(seq);
        return;
      }
      pending.set(seq, { org, remaining, measured });
    },
    delivered(socket, seq, sentAt, now) {
      socket.lastSeq = seq;
      if (now >= windowStart && now < windowEnd) deliveries += 1;
      const entry = pending.get(seq);
      if (!entry) return;
      if (entry.measured) latency.record(now - sentAt);
      entry.remaining -= 1;
      if (entry.remaining === 0) complete(seq);
    },
    socketClosed(socket) {
      if (!socket.open) return;
      socket.open = false;
      for (const [seq, entry] of pending) {
        if (entry.org !== socket.org || seq <= socket.lastSeq) continue;
        // Owed but never delivered on this socket: missing (its client would resume from its cursor).
        if (entry.measured) lostToClose += 1;
        entry.remaining -= 1;
        if (entry.remaining === 0) complete(seq);
      }
    },
    outstanding: () => pending.size,
    setWindow(start, end) {
      windowStart = start;
      windowEnd = end;
    },
    counts() {
      let missing = lostToClose;
      for (const entry of pending.values()) if (entry.measured) missing += entry.remaining;
      return { deliveries, expected, missing, latency: latency.summary() };
    },
  };
}

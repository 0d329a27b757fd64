/**
 * Counters of what the server does, read as one JSON snapshot (`/v2/realtime/metrics`) and as
 * Prometheus text (`/metrics`): the Prometheus collectors read the same snapshot, so the two can
 * never disagree.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { HubStats } from './hub.ts';
import { createLatencyHistogram, type LatencySummary } from './latency-histogram.ts';

/** Figures that live elsewhere (open sockets, the hub, the kill switch), read at snapshot time. */
export interface LiveFigures {
  activeConnections: number;
  hub: HubStats;
  /** Bytes written to TCP by stream sockets, open and closed. */
  wireBytes: number;
  openPolls: number;
  streamingV2: boolean;
}

export interface MetricsSnapshot {
  activeConnections: number;
  connectionPoolStats: { totalSubscriptions: number; consumers: number; orgs: Record<string, number> };
  events: {
    /** Accepted by the publish API and the demo publisher. */
    published: number;
    /** Written to clients: v2 live and replayed, and v1 poll answers. */
    delivered: number;
    /** Of `delivered`, sent as v2 catch-up after a cursor. */
    replayed: number;
  };
  /** Reset answers (v2 `reset` messages and v1 `reset` fields). */
  resets: number;
  /** Publish (append) → socket write, live v2 events only. */
  deliveryLatencyMs: LatencySummary;
  /** Stream payload bytes before compression (`raw`) and bytes written to TCP (`wire`). */
  bytes: { raw: number; wire: number; ratio: number };
  longPoll: { requests: number; open: number };
  /** Close codes of stream sockets (the server's code when it closed, else the client's). */
  closeCodes: Record<string, number>;
  /** Refused inputs and requests, by error code. */
  rejected: Record<string, number>;
  streamingV2: { enabled: boolean };
}

export interface Metrics {
  published(count?: number): void;
  delivered(count: number, replayed: boolean): void;
  reset(): void;
  latency(ms: number): void;
  rawBytes(bytes: number): void;
  poll(): void;
  closed(code: number): void;
  rejected(code: string): void;
  snapshot(live: LiveFigures): MetricsSnapshot;
}

export function createMetrics(): Metrics {
  const latency = createLatencyHistogram();
  const closeCodes: Record<string, number> = {};
  const rejected: Record<string, number> = {};
  let published = 0;
  let delivered = 0;
  let replayed = 0;
  let resets = 0;
  let raw = 0;
  let pollRequests = 0;

  return {
    published(count = 1) {
      published += count;
    },
    delivered(count, wasReplayed) {
      delivered += count;
      if (wasReplayed) replayed += count;
    },
    reset() {
      resets += 1;
    },
    latency(ms) {
      latency.record(ms);
    },
    rawBytes(bytes) {
      raw += bytes;
    },
    poll() {
      pollRequests += 1;
    },
    closed(code) {
      closeCodes[code] = (closeCodes[code] ?? 0) + 1;
    },
    rejected(code) {
      rejected[code] = (rejected[code] ?? 0) + 1;
    },
    snapshot(live) {
      return {
        activeConnections: live.activeConnections,
        connectionPoolStats: {
          totalSubscriptions: live.hub.totalSubscriptions,
          consumers: live.hub.consumers,
          orgs: live.hub.orgs,
        },
        events: { published, delivered, replayed },
        resets,
        deliveryLatencyMs: latency.summary(),
        bytes: { raw, wire: live.wireBytes, ratio: raw === 0 ? 1 : Math.round((live.wireBytes / raw) * 1000) / 1000 },
        longPoll: { requests: pollRequests, open: live.openPolls },
        closeCodes: { ...closeCodes },
        rejected: { ...rejected },
        streamingV2: { enabled: live.streamingV2 },
      };
    },
  };
}

/**
 * A Prometheus registry whose collectors read `snapshot()` at scrape time. Counters are set from
 * the running totals in `collect` (reset + inc), gauges are set directly.
 */
export function createPrometheusRegistry(snapshot: () => MetricsSnapshot): Registry {
  const registry = new Registry();
  let current: MetricsSnapshot | null = null;
  // One snapshot per scrape, shared by all collectors of that scrape.
  const read = (): MetricsSnapshot => (current ??= snapshot());
  const settle = () => queueMicrotask(() => (current = null));

  const gauge = (name: string, help: string, value: (s: MetricsSnapshot) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(value(read()));
        settle();
      },
    });
  const counter = (name: string, help: string, value: (s: MetricsSnapshot) => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(value(read()));
        settle();
      },
    });
  const labelled = (name: string, help: string, value: (s: MetricsSnapshot) => Record<string, number>) =>
    new Counter({
      name,
      help,
      labelNames: ['code'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [code, count] of Object.entries(value(read()))) this.inc({ code }, count);
        settle();
      },
    });

  gauge('realtime_active_connections', 'Open v2 stream sockets.', (s) => s.activeConnections);
  gauge('realtime_pool_subscriptions', 'Upstream log subscriptions held by the hub (one per org).', (s) => s.connectionPoolStats.totalSubscriptions);
  gauge('realtime_pool_consumers', 'Consumers attached to the hub (sockets and open polls).', (s) => s.connectionPoolStats.consumers);
  counter('realtime_events_published_total', 'Events accepted by the publish API.', (s) => s.events.published);
  counter('realtime_events_delivered_total', 'Events written to clients (v2 and v1).', (s) => s.events.delivered);
  counter('realtime_events_replayed_total', 'Events sent as v2 catch-up after a cursor.', (s) => s.events.replayed);
  counter('realtime_resets_total', 'Cursors that could not be resumed (reset answers).', (s) => s.resets);
  gauge('realtime_delivery_latency_p50_ms', 'Publish to socket write, median (ms).', (s) => s.deliveryLatencyMs.p50);
  gauge('realtime_delivery_latency_p95_ms', 'Publish to socket write, 95th percentile (ms).', (s) => s.deliveryLatencyMs.p95);
  gauge('realtime_delivery_latency_p99_ms', 'Publish to socket write, 99th percentile (ms).', (s) => s.deliveryLatencyMs.p99);
  gauge('realtime_delivery_latency_max_ms', 'Publish to socket write, maximum (ms).', (s) => s.deliveryLatencyMs.max);
  counter('realtime_delivery_latency_samples_total', 'Latency samples recorded.', (s) => s.deliveryLatencyMs.count);
  counter('realtime_bytes_raw_total', 'Stream payload bytes before compression.', (s) => s.bytes.raw);
  counter('realtime_bytes_wire_total', 'Stream bytes written to TCP.', (s) => s.bytes.wire);
  counter('realtime_long_poll_requests_total', 'v1 long-poll requests.', (s) => s.longPoll.requests);
  gauge('realtime_long_poll_open', 'v1 long-polls waiting now.', (s) => s.longPoll.open);
  labelled('realtime_close_codes_total', 'Stream sockets closed, by close code.', (s) => s.closeCodes);
  labelled('realtime_rejected_total', 'Refused inputs and requests, by error code.', (s) => s.rejected);
  gauge('realtime_streaming_v2_enabled', '1 while streaming v2 is on, 0 while the kill switch is on.', (s) => (s.streamingV2.enabled ? 1 : 0));
  return registry;
}

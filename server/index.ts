/**
 * The realtime server: `startServer(options)` wires the log, the hub, the v2 stream, v1
 * long-polling, the publish API, metrics and the demo files onto one `node:http` server.
 */
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { EventInput } from '../protocol/index.ts';
import { createTokenAuthority, type TokenAuthority } from './auth.ts';
import { describeStore, resolveServerOptions, type ServerOptions } from './config.ts';
import type { ServerContext } from './context.ts';
import { startDemoPublisher, type DemoPublisher } from './demo-publisher.ts';
import type { EventLog } from './event-log.ts';
import { createHttpServer } from './http-server.ts';
import { createHub, type HubStats } from './hub.ts';
import { createLogger } from './logger.ts';
import { createLongPoll } from './long-poll.ts';
import { createMetrics, createPrometheusRegistry, type MetricsSnapshot } from './metrics.ts';
import { createRedisEventLog } from './redis-event-log.ts';
import { createSqliteEventLog } from './sqlite-event-log.ts';
import { watchStore } from './store-status.ts';
import { createStreamServer } from './stream-server.ts';
import { createStreamingSwitch } from './streaming-switch.ts';

export type { ServerOptions, StoreChoice } from './config.ts';
export type { EventLog } from './event-log.ts';
export type { MetricsSnapshot } from './metrics.ts';
export type { TokenClaims, Scope } from './auth.ts';
export { createMemoryEventLog } from './memory-event-log.ts';
export { createRedisEventLog, type RedisEventLog, type RedisEventLogOptions } from './redis-event-log.ts';
export { createLogger, redact, silentLogger } from './logger.ts';
export { acceptsDeflate, PREPARED_FRAME_DEFLATE, prepareTextFrame, type PreparedFrame } from './prepared-frame.ts';

export interface RunningServer {
  /** `http://127.0.0.1:PORT` (the bound host and port). */
  url: string;
  port: number;
  log: EventLog;
  /** Which store serves this process, e.g. `SQLite /srv/data/events.sqlite` or `Redis Streams redis://10.0.0.5:6379 (keys realtime:*)`. */
  store: string;
  /** Signs tokens with this server's secret (tests). */
  auth: TokenAuthority;
  hubStats(): HubStats;
  metrics(): MetricsSnapshot;
  /** The kill switch at runtime: false closes every socket with 4010 and refuses new ones. */
  setStreamingV2(enabled: boolean): void;
  streamingV2(): boolean;
  /** Appends through the publish path (counted like the API). */
  publish(input: EventInput): ReturnType<EventLog['append']>;
  /** Closes sockets with 1001, answers open polls, closes the log. */
  close(): Promise<void>;
}

/** The log `options` ask for: the one given, else SQLite under `dataDir` or Redis (REALTIME_STORE). */
async function openLog(options: ServerOptions): Promise<{ log: EventLog; store: string }> {
  if (options.log) return { log: options.log, store: 'the event log given to startServer' };
  const store = describeStore(options.store, options.dataDir);
  if (options.store.kind === 'redis') {
    // Rejects with STORE_UNAVAILABLE when Redis cannot be reached: the process must not start without its log.
    return { log: await createRedisEventLog({ url: options.store.url, keyPrefix: options.store.keyPrefix, retention: options.retention }), store };
  }
  return { log: createSqliteEventLog({ file: join(options.dataDir, 'events.sqlite'), retention: options.retention }), store };
}

export async function startServer(overrides: Partial<ServerOptions> = {}): Promise<RunningServer> {
  const options = resolveServerOptions(overrides);
  const logger = options.logger ?? createLogger();
  const { log, store } = await openLog(options);
  logger.info('server', `event store: ${store}`);
  const storeStatus = watchStore(log);
  storeStatus.onChange((available, reason) => {
    if (available) logger.info('store', 'the event store is available again', { reason });
    else logger.warn('store', 'the event store is unavailable: closing streams with 4013, publish answers 503', { reason });
  });
  const hub = createHub(log, logger);
  const metrics = createMetrics();
  const streaming = createStreamingSwitch(options.streamingV2);
  const ctx: ServerContext = {
    options,
    log,
    hub,
    auth: createTokenAuthority(options.tokenSecret),
    metrics,
    logger,
    streaming,
    async publish(input) {
      const event = await log.append(input);
      metrics.published();
      return event;
    },
  };
  const stream = createStreamServer(ctx, storeStatus);
  const poll = createLongPoll(ctx, storeStatus);
  const snapshot = () =>
    metrics.snapshot({
      activeConnections: stream.activeConnections(),
      hub: hub.stats(),
      wireBytes: stream.wireBytes(),
      openPolls: poll.open(),
      streamingV2: streaming.enabled,
    });
  const server = createHttpServer({ ctx, stream, poll, metrics: snapshot, prometheus: createPrometheusRegistry(snapshot) });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    // Port taken or similar: release the store so the process can report and exit cleanly.
    hub.close();
    storeStatus.close();
    await log.close();
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  const hostForUrl = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host.includes(':') ? `[${options.host}]` : options.host;

  const demo: DemoPublisher | null = options.demoPublisher ? startDemoPublisher(ctx.publish, options.demoIntervalMs, logger) : null;
  const trimTimer =
    options.trimIntervalMs > 0
      ? setInterval(() => {
          log.trim().catch((error: unknown) => logger.warn('log', 'trim failed', { error: String(error) }));
        }, options.trimIntervalMs).unref()
      : null;

  let closing: Promise<void> | null = null;
  return {
    url: `http://${hostForUrl}:${port}`,
    port,
    log,
    store,
    auth: ctx.auth,
    hubStats: () => hub.stats(),
    metrics: snapshot,
    setStreamingV2: (enabled) => streaming.set(enabled),
    streamingV2: () => streaming.enabled,
    publish: ctx.publish,
    close() {
      closing ??= (async () => {
        demo?.stop();
        if (trimTimer) clearInterval(trimTimer);
        poll.releaseAll();
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        await stream.close();
        server.closeAllConnections();
        await stopped;
        hub.close();
        storeStatus.close();
        await log.close();
        logger.info('server', 'stopped');
      })();
      return closing;
    },
  };
}

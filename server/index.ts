/**
 * The realtime server: `startServer(options)` wires the log, the hub, the v2 stream, v1
 * long-polling, the publish API, metrics and the demo files onto one `node:http` server.
 */
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { EventInput } from '../protocol/index.ts';
import { createTokenAuthority, type TokenAuthority } from './auth.ts';
import { resolveServerOptions, type ServerOptions } from './config.ts';
import type { ServerContext } from './context.ts';
import { startDemoPublisher, type DemoPublisher } from './demo-publisher.ts';
import type { EventLog } from './event-log.ts';
import { createHttpServer } from './http-server.ts';
import { createHub, type HubStats } from './hub.ts';
import { createLogger } from './logger.ts';
import { createLongPoll } from './long-poll.ts';
import { createMetrics, createPrometheusRegistry, type MetricsSnapshot } from './metrics.ts';
import { createSqliteEventLog } from './sqlite-event-log.ts';
import { createStreamServer } from './stream-server.ts';
import { createStreamingSwitch } from './streaming-switch.ts';

export type { ServerOptions } from './config.ts';
export type { EventLog } from './event-log.ts';
export type { MetricsSnapshot } from './metrics.ts';
export type { TokenClaims, Scope } from './auth.ts';
export { createMemoryEventLog } from './memory-event-log.ts';
export { createLogger, redact, silentLogger } from './logger.ts';

export interface RunningServer {
  /** `http://127.0.0.1:PORT` (the bound host and port). */
  url: string;
  port: number;
  log: EventLog;
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

export async function startServer(overrides: Partial<ServerOptions> = {}): Promise<RunningServer> {
  const options = resolveServerOptions(overrides);
  const logger = options.logger ?? createLogger();
  const log = options.log ?? createSqliteEventLog({ file: join(options.dataDir, 'events.sqlite') });
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
  const stream = createStreamServer(ctx);
  const poll = createLongPoll(ctx);
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
        await log.close();
        logger.info('server', 'stopped');
      })();
      return closing;
    },
  };
}

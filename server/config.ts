/**
 * Server configuration: environment variables read once into a typed object, every field
 * overridable by `startServer(options)` (tests pass small timeouts and their own log).
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { DEFAULT_RETENTION, type EventLog, type Retention } from './event-log.ts';
import type { Logger } from './logger.ts';

/** Token-bucket limit on client messages per socket. */
export interface MessageRate {
  /** Sustained messages per second. */
  perSecond: number;
  /** Messages allowed in one burst. */
  burst: number;
}

export interface ServerOptions {
  /** TCP port; 0 picks a free one (tests). */
  port: number;
  host: string;
  /** NODE_ENV=production: no /dev/token, a token secret is required. */
  production: boolean;
  /** HS256 signing secret for tokens. */
  tokenSecret: string;
  /** Extra browser origins allowed to open the stream or poll; the server's own origin always is. `*` allows any. */
  allowedOrigins: string[];
  /** Where the SQLite log lives when no `log` is given and `store` is SQLite. */
  dataDir: string;
  /**
   * Which store `startServer` opens when no `log` is given (REALTIME_STORE): the embedded SQLite file
   * under `dataDir` (the default), or Redis Streams for several processes sharing one log.
   */
  store: StoreChoice;
  /** The event log to use; default: the one `store` names. The server closes it on `close()`. */
  log: EventLog | undefined;
  /** Directory served at `/` (the built demo). */
  staticDir: string;
  /** Streaming v2 enabled at start (false: kill switch on). */
  streamingV2: boolean;
  /** The server pings every socket this often; silence for 2× closes it (4011). */
  heartbeatMs: number;
  /** Longest a v1 poll waits for events. */
  pollTimeoutMs: number;
  /** A live frame is not written past this send buffer: the socket is closed 4009 instead. */
  maxBufferedBytes: number;
  /** Replay pauses while the send buffer holds more than this (flow control for catch-up). */
  replayBufferBytes: number;
  /** Events per replay page (and per v1 answer). */
  replayPageSize: number;
  /** Live events queued for a socket during its replay before the queue is dropped and paging continues. */
  replayQueueLimit: number;
  messageRate: MessageRate;
  /** Open sockets per user (token `sub`); more are accepted and closed 4012. */
  maxSocketsPerUser: number;
  /** Open long-polls per user; more get 429. */
  maxPollsPerUser: number;
  /** Largest client frame (ws closes 1009 above it) and largest publish body (413). */
  maxPayloadBytes: number;
  /** After sending a close frame, the socket is destroyed if the peer has not finished closing in this time. */
  closeGraceMs: number;
  /** Negotiate permessage-deflate. */
  compression: boolean;
  /** Run the demo publisher (events for orgs 456 and 789). */
  demoPublisher: boolean;
  /** Mean time between demo events. */
  demoIntervalMs: number;
  /** How often retention is applied to the log (0: never). */
  trimIntervalMs: number;
  /** What the log keeps: events per org and their age (older ones are trimmed; resuming past them resets). */
  retention: Retention;
  /** Where log lines go; default: stdout, tokens redacted. */
  logger: Logger | undefined;
}

/** `sqlite`: one process, a file under `dataDir`. `redis`: any number of processes on one Redis. */
export type StoreChoice =
  | { kind: 'sqlite' }
  | {
      kind: 'redis';
      /** `redis://HOST:PORT` (or `rediss://`, with user and password if Redis needs them). */
      url: string;
      /** Prefix of every key (REALTIME_REDIS_PREFIX): deployments sharing one Redis keep apart. */
      keyPrefix: string;
    };

export const DEFAULT_REDIS_KEY_PREFIX = 'realtime:';

/**
 * Reads REALTIME_STORE: unset, empty or `sqlite` is the embedded SQLite log; `redis://HOST:PORT`
 * (fixed contract) is Redis Streams. Anything else throws: a typo must not silently fall back to a
 * single-process store while other processes believe they share one log.
 */
export function parseStore(raw: string | undefined, keyPrefix: string | undefined = undefined): StoreChoice {
  const value = raw?.trim() ?? '';
  if (value === '' || value === 'sqlite') return { kind: 'sqlite' };
  let url: URL | null = null;
  try {
    url = new URL(value);
  } catch {
    // reported below
  }
  if (!url || (url.protocol !== 'redis:' && url.protocol !== 'rediss:') || url.hostname === '') {
    throw new Error(`REALTIME_STORE must be redis://HOST:PORT (or unset for SQLite), got "${redactUrl(value)}"`);
  }
  return { kind: 'redis', url: value, keyPrefix: keyPrefix && keyPrefix.length > 0 ? keyPrefix : DEFAULT_REDIS_KEY_PREFIX };
}

/** The store for a log line: the Redis URL without its password. */
export function describeStore(store: StoreChoice, dataDir: string): string {
  if (store.kind === 'sqlite') return `SQLite ${resolve(dataDir, 'events.sqlite')}`;
  return `Redis Streams ${redactUrl(store.url)} (keys ${store.keyPrefix}*)`;
}

function redactUrl(text: string): string {
  return text.replace(/\/\/([^@/]*)@/, (_match, auth: string) => `//${auth.includes(':') ? `${auth.split(':')[0]}:***` : '***'}@`);
}

/** Used in development when REALTIME_TOKEN_SECRET is unset: fixed, so dev tokens survive a restart. */
export const DEV_TOKEN_SECRET = 'realtime-streaming-dev-secret-do-not-use-in-production';

function envNumber(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, got "${raw}"`);
  return value;
}

function envList(raw: string | undefined): string[] {
  if (!raw) return [];
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

/**
 * Merges `overrides` over the environment over the defaults.
 * Throws when production is asked for without a token secret: a server that would sign tokens
 * with a guessable key must not start.
 */
export function resolveServerOptions(
  overrides: Partial<ServerOptions> = {},
  env: NodeJS.ProcessEnv = process.env,
): ServerOptions {
  const production = overrides.production ?? env.NODE_ENV === 'production';
  const envSecret = env.REALTIME_TOKEN_SECRET && env.REALTIME_TOKEN_SECRET.length > 0 ? env.REALTIME_TOKEN_SECRET : undefined;
  const tokenSecret = overrides.tokenSecret ?? envSecret ?? (production ? undefined : DEV_TOKEN_SECRET);
  if (tokenSecret === undefined) {
    throw new Error('NODE_ENV=production needs REALTIME_TOKEN_SECRET: set it to a long random string (e.g. `openssl rand -hex 32`).');
  }
  const defaults: ServerOptions = {
    port: envNumber(env, 'PORT', 4000),
    host: env.HOST && env.HOST.length > 0 ? env.HOST : '127.0.0.1',
    production,
    tokenSecret,
    allowedOrigins: envList(env.ALLOWED_ORIGINS),
    dataDir: resolve(env.REALTIME_DATA_DIR && env.REALTIME_DATA_DIR.length > 0 ? env.REALTIME_DATA_DIR : './data'),
    store: parseStore(env.REALTIME_STORE, env.REALTIME_REDIS_PREFIX),
    log: undefined,
    staticDir: resolve('dist/demo'),
    streamingV2: env.REALTIME_STREAMING_V2 !== 'false',
    heartbeatMs: envNumber(env, 'REALTIME_HEARTBEAT_MS', 25_000),
    pollTimeoutMs: envNumber(env, 'REALTIME_POLL_TIMEOUT_MS', 25_000),
    maxBufferedBytes: envNumber(env, 'REALTIME_MAX_BUFFERED_BYTES', 1024 * 1024),
    replayBufferBytes: 256 * 1024,
    replayPageSize: 500,
    replayQueueLimit: 10_000,
    messageRate: { perSecond: 20, burst: 50 },
    maxSocketsPerUser: envNumber(env, 'REALTIME_MAX_SOCKETS_PER_USER', 32),
    maxPollsPerUser: envNumber(env, 'REALTIME_MAX_POLLS_PER_USER', 16),
    maxPayloadBytes: 64 * 1024,
    closeGraceMs: 1000,
    compression: true,
    demoPublisher: env.REALTIME_DEMO_PUBLISHER !== 'false',
    demoIntervalMs: envNumber(env, 'REALTIME_DEMO_INTERVAL_MS', 400),
    trimIntervalMs: envNumber(env, 'REALTIME_TRIM_INTERVAL_MS', 60_000),
    retention: {
      maxEventsPerOrg: envNumber(env, 'REALTIME_RETENTION_MAX_EVENTS', DEFAULT_RETENTION.maxEventsPerOrg),
      maxAgeMs: envNumber(env, 'REALTIME_RETENTION_MAX_AGE_MS', DEFAULT_RETENTION.maxAgeMs),
    },
    logger: undefined,
  };
  // A random secret for an explicit `tokenSecret: ''` would be surprising; only undefined falls back.
  const merged: ServerOptions = { ...defaults };
  for (const [key, value] of Object.entries(overrides)) {
    if (value !== undefined) (merged as unknown as Record<string, unknown>)[key] = value;
  }
  merged.tokenSecret = tokenSecret;
  merged.production = production;
  return merged;
}

/** A fresh random secret, for tests that want tokens of one server to fail on another. */
export function randomSecret(): string {
  return randomBytes(32).toString('hex');
}

/**
 * The stream engine: one connection's worth of logic, environment-agnostic. It runs in the
 * SharedWorker, in the leader tab (no SharedWorker) and in the page (v1 rollback), and talks to
 * the network only through the transport seam (`connectV2`) and the `poll` function.
 *
 * It holds the cursor per org, drops anything at or before it (at-least-once on the wire,
 * exactly-once out of here), reconnects with backoff, and moves between v2 and v1:
 *
 *            ┌──── 4010 (kill switch) ─────────────┐
 *            │                                      ▼
 *   v2 socket ── N failed connects ──────────▶  v1 polls  (reason websocket-unavailable:
 *      ▲                                            │       a v2 probe every `v2ProbeMs`)
 *      └──── poll says v2:true (server-off only) ───┘
 *
 * One state machine (`setState`) for the connection; transport + reason beside it, changed only
 * by `setTransport`. The pieces it wires, each in its own module:
 * - v2-session.ts: one socket's life (welcome, subscriptions, heartbeat, renewal), ending in a
 *   `SessionEnd` the engine acts on here (retry with backoff, next server, v1, stop);
 * - v1-poller.ts: the per-org poll loops;
 * - server-ring.ts: which of `servers` is in use. A failed socket, connect or poll moves the next
 *   attempt to the next server, with the same backoff (the attempt count keeps growing across the
 *   ring until a connection is stable) and the same cursors: every server reads the same log;
 * - token-cache.ts: a reconnect reuses the last token while it has more than a minute left, so
 *   recovery does not wait on the app's getToken(). A fresh one is asked for after an attempt
 *   that failed before `welcome` (the server may have refused that token), on 4002, and for
 *   every renewal.
 */
import {
  CloseCode,
  ErrorCode,
  StreamError,
  cursorBefore,
  isAfter,
  parseCursor,
  type ConnectionEventKind,
  type ConnectionState,
  type PollResponse,
  type ResetReason,
  type StreamEvent,
  type Transport as TransportKind,
  type TransportReason,
} from '../protocol/index.ts';
import { backoff, DEFAULT_BACKOFF, type BackoffRange } from './backoff.ts';
import { silentLogger, type Logger } from './logger.ts';
import { PollError, type Poll } from './poll.ts';
import { createServerRing } from './server-ring.ts';
import { createTokenCache } from './token-cache.ts';
import { TOKEN_REUSE_MARGIN_MS } from './token-reuse.ts';
import type { ConnectV2 } from './transport.ts';
import { createV1Poller } from './v1-poller.ts';
import { openV2Session, type DeliveryFrame, type SessionEnd, type V2Session } from './v2-session.ts';

export interface EngineStatus {
  transport: TransportKind;
  state: ConnectionState;
  reason: TransportReason;
  /** The server base URL in use (or tried next). */
  server: string;
}

export interface ResetInfo {
  reason: ResetReason;
  /** The cursor the client resumed from. */
  from: string;
  /** The new position: delivery continues after it. */
  cursor: string;
  /** Events that will never arrive, where known. */
  lost: number | null;
}

export interface StateChange {
  from: ConnectionState;
  to: ConnectionState;
  reason: string;
}

/** What the engine tells its owner (the worker hub). */
export interface EngineListener {
  /** New events of `org`, in order, none at or before the previous cursor. */
  onEvents(org: string, events: StreamEvent[], replayed: boolean): void;
  /** The org's position is known and delivery is live from `cursor` on. */
  onLive(org: string, cursor: string): void;
  /** The server could not fill the gap: the app must refetch its state. */
  onReset(org: string, reset: ResetInfo): void;
  onStatus(status: EngineStatus, change: StateChange): void;
  /** An error the app should see (terminal close codes, refused auth, fallback to v1…). */
  onError(error: StreamError): void;
  /** Connection happenings for logs and the devtools stream view. */
  onConnection(what: ConnectionEventKind, detail: string): void;
}

export interface EngineOptions extends EngineListener {
  /**
   * A fresh token. Asked for every renewal, and before a connect or poll unless the last token
   * is a JWT with more than `tokenReuseMarginMs` left and nothing suggests it was refused.
   */
  getToken(): Promise<string>;
  /** Server base URLs (at least one), in the order they are tried; a failure moves to the next. */
  servers: readonly string[];
  /** Opens a v2 transport to one of `servers` (absent: this engine only long-polls). */
  connectV2?: ConnectV2;
  /** Long-polls; each request names the server it goes to. */
  poll: Poll;
  /** Why v2 is on or off from the page's point of view: `forced-off` means v1 only. */
  flagReason: 'default' | 'forced-on' | 'forced-off';
  backoff?: BackoffRange;
  random?: () => number;
  /** Consecutive connects without a `welcome` before falling back to v1 (websocket-unavailable). */
  maxFailedConnects?: number;
  /** The retry counter resets only after a connection stayed up this long (ms). */
  stableAfterMs?: number;
  /** On v1 because WebSocket failed: try v2 again this often (ms). */
  v2ProbeMs?: number;
  /** A connect attempt without `welcome` after this long counts as failed (ms). */
  connectTimeoutMs?: number;
  /** Reuse the last token while it has more than this left (ms). */
  tokenReuseMarginMs?: number;
  logger?: Logger;
}

export interface Engine {
  /** Starts (or restarts after `stop`) on the current transport. */
  start(): void;
  /** Closes the socket and polls; keeps cursors and interest for a later `start`. */
  stop(): void;
  /**
   * Sets the services wanted for `org` (empty: drop the org). `startCursor` seeds the org's
   * cursor when the engine has none yet (resume after it).
   */
  setInterest(org: string, services: string[], startCursor?: string | null): void;
  /** The last cursor received for `org`. */
  cursor(org: string): string | null;
  status(): EngineStatus;
  /** The network is back (`online` event): retry now instead of waiting out the backoff. */
  online(): void;
}

/** Creates an engine; nothing happens until `start()`. */
export function createEngine(options: EngineOptions): Engine {
  const logger = options.logger ?? silentLogger;
  const range = options.backoff ?? DEFAULT_BACKOFF;
  const random = options.random ?? Math.random;
  const maxFailedConnects = options.maxFailedConnects ?? 4;
  const stableAfterMs = options.stableAfterMs ?? 10_000;
  const v2ProbeMs = options.v2ProbeMs ?? 60_000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  if (options.servers.length === 0) throw new StreamError(ErrorCode.BAD_MESSAGE, 'createEngine needs at least one server URL');
  const ring = createServerRing(options.servers);
  const tokens = createTokenCache(options.getToken, options.tokenReuseMarginMs ?? TOKEN_REUSE_MARGIN_MS);
  const v2Reason: TransportReason = options.flagReason === 'forced-off' ? 'default' : options.flagReason;

  const interest = new Map<string, Set<string>>();
  const cursors = new Map<string, string>();
  /** Orgs whose position is known on the current transport (logged `connected` once each). */
  const liveOrgs = new Set<string>();

  let state: ConnectionState = 'idle';
  let transport: TransportKind = options.flagReason === 'forced-off' || !options.connectV2 ? 'v1' : 'v2';
  let reason: TransportReason = options.flagReason === 'forced-off' ? 'forced-off' : v2Reason;
  /** Bumped by stop/transport switches: async continuations of an older generation give up. */
  let generation = 0;

  // v2: the open socket (null between sockets), and the retry policy around it.
  let session: V2Session | null = null;
  /** Retries since the last stable connection: the backoff exponent. */
  let attempt = 0;
  /** Consecutive connects that ended before `welcome`: `maxFailedConnects` of them mean v1. */
  let failedConnects = 0;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let probeTimer: ReturnType<typeof setTimeout> | undefined;

  const status = (): EngineStatus => ({ transport, state, reason, server: ring.url() });

  function setState(next: ConnectionState, why: string): void {
    if (next === state) return;
    const change = { from: state, to: next, reason: why };
    state = next;
    options.onStatus(status(), change);
  }

  function setTransport(next: TransportKind, nextReason: TransportReason): void {
    if (next === transport && nextReason === reason) return;
    transport = next;
    reason = nextReason;
    options.onStatus(status(), { from: state, to: state, reason: `transport ${next} (${nextReason})` });
  }

  /** The server at `from` (a ring position) failed: say so when the next attempt goes elsewhere. */
  function failover(from: number, why: string): void {
    const next = ring.failed(from);
    if (next === null) return;
    connection('reconnecting', { transport, failover: true, from: ring.url(from), to: next, why });
    options.onStatus(status(), { from: state, to: state, reason: `server ${next} (${why})` });
  }

  function connection(what: ConnectionEventKind, detail: Record<string, unknown>): void {
    logger.log(what, detail, what === 'error' ? 'error' : 'info');
    options.onConnection(what, JSON.stringify(detail));
  }

  function deliver(org: string, events: StreamEvent[], replayed: boolean): void {
    const fresh: StreamEvent[] = [];
    let last = cursors.get(org);
    for (const event of events) {
      if (event.org !== org || !isAfter(event.id, last)) continue;
      fresh.push(event);
      last = event.id;
    }
    if (last) cursors.set(org, last);
    if (fresh.length > 0) options.onEvents(org, fresh, replayed);
  }

  function clearRetry(): void {
    if (retryTimer !== undefined) clearTimeout(retryTimer);
    retryTimer = undefined;
  }

  /** Forgets the current socket (its late frames are ignored) and closes it. */
  function dropSession(code: number, why: string): void {
    const old = session;
    session = null;
    clearRetry();
    old?.close(code, why);
  }

  // ─── v2 ──────────────────────────────────────────────────────────────────────────────────────

  async function connect(): Promise<void> {
    const gen = ++generation;
    clearRetry();
    setState(state === 'idle' || state === 'closed' || state === 'connecting' ? 'connecting' : 'reconnecting', 'connecting v2');
    let granted: string;
    try {
      granted = await tokens.reusable();
    } catch (error) {
      if (gen !== generation) return;
      connection('error', { transport: 'v2', getToken: error instanceof Error ? error.message : String(error) });
      scheduleRetry('getToken failed');
      return;
    }
    if (gen !== generation || !options.connectV2) return;
    const position = ring.position();
    const server = ring.url(position);
    session = openV2Session({
      transport: options.connectV2(granted, server),
      tokens,
      interest,
      cursor: (org) => cursors.get(org),
      connectTimeoutMs,
      stableAfterMs,
      logger,
      log: connection,
      onWelcome() {
        failedConnects = 0;
        setState('connected', 'welcome');
      },
      onStable() {
        attempt = 0;
      },
      onDelivery: (frame) => onDelivery(frame, server),
      onError: (error) => options.onError(error),
      onUnsubscribed: (org) => liveOrgs.delete(org),
      onEnd: (end) => onSessionEnd(end, position),
    });
  }

  function scheduleRetry(why: string): void {
    const delay = backoff(attempt, range, random);
    attempt += 1;
    setState('reconnecting', why);
    connection('reconnecting', { transport: 'v2', inMs: delay, attempt, why, server: ring.url() });
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void connect();
    }, delay);
  }

  /** The socket opened to the server at `position` ended: retry, move on, fall back or stop. */
  function onSessionEnd(end: SessionEnd, position: number): void {
    session = null;
    liveOrgs.clear();
    switch (end.kind) {
      case 'refused':
        setState('failed', `closed ${end.code}`);
        connection('error', { transport: 'v2', code: end.code, error: end.error.code });
        options.onError(end.error);
        return;
      case 'v2-disabled':
        switchToV1('server-off');
        return;
      case 'token-expired':
        tokens.forget();
        connection('reconnecting', { transport: 'v2', code: end.code, why: 'token expired: fresh token, reconnecting now' });
        setState('reconnecting', 'token expired');
        void connect();
        return;
      case 'dropped':
        failover(position, `closed ${end.code}`);
        if (!end.welcomed) {
          // Refused before welcome: maybe for its token (a refused upgrade is just 1006 to a browser).
          tokens.forget();
          failedConnects += 1;
          if (failedConnects >= maxFailedConnects) {
            switchToV1('websocket-unavailable');
            return;
          }
        }
        scheduleRetry(`closed ${end.code}`);
        return;
    }
  }

  function onDelivery(frame: DeliveryFrame, server: string): void {
    switch (frame.type) {
      case 'events':
        deliver(frame.org, frame.events, frame.replayed);
        return;
      case 'live': {
        const known = cursors.get(frame.org);
        const live = parseCursor(frame.cursor);
        const mine = known ? parseCursor(known) : null;
        // Keep our own position unless we had none or it is from another epoch (the log was reset).
        if (!mine || (live && mine.epoch !== live.epoch)) cursors.set(frame.org, frame.cursor);
        liveOrgs.add(frame.org);
        connection('connected', { org: frame.org, transport: 'v2', replayed: frame.replayed, server });
        options.onLive(frame.org, cursors.get(frame.org) ?? frame.cursor);
        return;
      }
      case 'reset': {
        cursors.set(frame.org, frame.cursor);
        const reset = { reason: frame.reason, from: frame.from, cursor: frame.cursor, lost: frame.lost };
        connection('reset', { org: frame.org, ...reset });
        options.onReset(frame.org, reset);
        return;
      }
    }
  }

  // ─── v1 ──────────────────────────────────────────────────────────────────────────────────────

  const poller = createV1Poller({
    poll: options.poll,
    tokens,
    ring,
    backoff: range,
    random,
    generation: () => generation,
    cursor: (org) => cursors.get(org) ?? null,
    onPolling() {
      if (state !== 'failed') setState('connected', 'polling');
    },
    onAnswer: onPollAnswer,
    onV2Allowed() {
      if (reason === 'server-off') switchToV2();
    },
    onRefused(org, error) {
      setState('failed', `poll refused: ${error.code}`);
      connection('error', { org, transport: 'v1', code: error.code });
      options.onError(new StreamError(error.code, error.message));
    },
    onRetry(org, position, delay, error) {
      // Only a server that failed (unreachable, 5xx) is left for the next one: a 429 or an expired
      // token says nothing about the server, and moving would only spread the load.
      if (!(error instanceof PollError) || error.status === 0 || error.status >= 500) failover(position, 'poll failed');
      setState('reconnecting', 'poll failed');
      connection('reconnecting', {
        org,
        transport: 'v1',
        inMs: delay,
        error: error instanceof StreamError ? error.code : String(error),
        server: ring.url(),
      });
    },
  });

  function onPollAnswer(org: string, response: PollResponse): void {
    if (!liveOrgs.has(org)) {
      liveOrgs.add(org);
      connection('connected', { org, transport: 'v1' });
    }
    if (response.reset) {
      // The position just before the first event we get, so that event is delivered, not dropped.
      const first = response.events[0];
      const position = (first && cursorBefore(first.id)) || response.cursor;
      cursors.set(org, position);
      const reset = { ...response.reset, cursor: position };
      connection('reset', { org, ...reset });
      options.onReset(org, reset);
    } else if (!cursors.has(org)) {
      cursors.set(org, response.cursor);
      options.onLive(org, response.cursor);
    }
    deliver(org, response.events, false);
    if (isAfter(response.cursor, cursors.get(org))) cursors.set(org, response.cursor);
  }

  function switchToV1(nextReason: TransportReason): void {
    dropSession(CloseCode.NORMAL, 'switching to v1');
    generation += 1;
    liveOrgs.clear();
    setTransport('v1', nextReason);
    setState('connecting', `fallback to v1 (${nextReason})`);
    connection('fallback', { transport: 'v1', reason: nextReason });
    if (nextReason === 'websocket-unavailable') {
      options.onError(
        new StreamError(ErrorCode.WEBSOCKET_UNAVAILABLE, 'WebSocket could not connect: events now arrive over long-polling; nothing to do'),
      );
      if (options.connectV2) {
        probeTimer = setTimeout(() => {
          probeTimer = undefined;
          // One failure short of the limit: a probe that fails once goes straight back to v1.
          if (transport === 'v1' && reason === 'websocket-unavailable') switchToV2(maxFailedConnects - 1);
        }, v2ProbeMs);
      }
    }
    startPolls();
  }

  function switchToV2(failuresSoFar = 0): void {
    poller.stopAll();
    generation += 1;
    if (probeTimer !== undefined) clearTimeout(probeTimer);
    probeTimer = undefined;
    attempt = 0;
    failedConnects = failuresSoFar;
    setTransport('v2', v2Reason);
    connection('reconnecting', { transport: 'v2', why: 'the server allows v2 again' });
    void connect();
  }

  function startPolls(): void {
    for (const org of interest.keys()) startPoll(org);
  }

  function startPoll(org: string): void {
    if (transport !== 'v1' || state === 'closed' || state === 'idle' || state === 'failed') return;
    poller.start(org);
  }

  // ─── public ──────────────────────────────────────────────────────────────────────────────────

  return {
    start() {
      if (state !== 'idle' && state !== 'closed' && state !== 'failed') return;
      state = state === 'failed' ? 'closed' : state;
      generation += 1;
      if (transport === 'v2') {
        failedConnects = 0;
        attempt = 0;
        void connect();
      } else {
        setState('connecting', `starting v1 (${reason})`);
        startPolls();
      }
    },
    stop() {
      if (state === 'idle' || state === 'closed') return;
      generation += 1;
      dropSession(CloseCode.NORMAL, 'client closed');
      poller.stopAll();
      if (probeTimer !== undefined) clearTimeout(probeTimer);
      probeTimer = undefined;
      liveOrgs.clear();
      setState('closed', 'stopped');
      connection('closed', { transport });
    },
    setInterest(org, services, startCursor) {
      if (startCursor && !cursors.has(org)) cursors.set(org, startCursor);
      if (services.length === 0) {
        if (!interest.delete(org)) return;
        poller.stop(org);
      } else {
        const next = new Set(services);
        const previous = interest.get(org);
        if (previous && previous.size === next.size && [...next].every((service) => previous.has(service))) return;
        interest.set(org, next);
      }
      if (transport === 'v2') session?.sync();
      else startPoll(org);
    },
    cursor(org) {
      return cursors.get(org) ?? null;
    },
    status,
    online() {
      if (transport === 'v2' && retryTimer !== undefined) {
        clearRetry();
        connection('reconnecting', { transport: 'v2', why: 'online' });
        void connect();
      } else if (transport === 'v1') {
        poller.wake();
      }
    },
  };
}

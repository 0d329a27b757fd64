/**
 * The stream engine: one connection's worth of logic, environment-agnostic. It runs in the
 * SharedWorker, in the leader tab (no SharedWorker) and in the page (v1 rollback), and talks to
 * the network only through the transport seam (`connectV2`) and the `poll` function.
 *
 * It holds the cursor per org, drops anything at or before it (at-least-once on the wire,
 * exactly-once out of here), reconnects with backoff, renews the token, and moves between v2 and
 * v1:
 *
 *            ┌──── 4010 (kill switch) ─────────────┐
 *            │                                      ▼
 *   v2 socket ── N failed connects ──────────▶  v1 polls  (reason websocket-unavailable:
 *      ▲                                            │       a v2 probe every `v2ProbeMs`)
 *      └──── poll says v2:true (server-off only) ───┘
 *
 * One state machine (`setState`) for the connection; transport + reason beside it, changed only
 * by `setTransport`, and the server beside them, changed only by `failover`.
 *
 * Several servers (`servers`, e.g. processes sharing one Redis log): the engine uses one at a
 * time. When it fails (a socket closes with a retryable code, a connect fails, a poll fails), the
 * next attempt goes to the next one, round-robin, with the same backoff and the same cursors:
 * every server reads the same log, so resuming there loses and repeats nothing.
 *
 *   A ──fails──▶ B ──fails──▶ C ──fails──▶ A …   (backoff(attempt) before each, attempt keeps
 *                                                  growing across the ring until a stable connection)
 *
 * Tokens: a reconnect reuses the last connection's token while it has more than a minute left
 * (token-reuse.ts), so recovery does not wait on the app's getToken(). It asks for a fresh one
 * after an attempt that failed before `welcome` (the server may have refused that token), on 4002,
 * and for every renewal.
 */
import {
  CloseCode,
  ErrorCode,
  parseServerMessage,
  StreamError,
  TERMINAL_CLOSE_CODES,
  isAfter,
  parseCursor,
  type ConnectionEventKind,
  type ConnectionState,
  type ResetReason,
  type ServerMessage,
  type StreamEvent,
  type Transport as TransportKind,
  type TransportReason,
} from '../protocol/index.ts';
import { backoff, DEFAULT_BACKOFF, type BackoffRange } from './backoff.ts';
import { silentLogger, type Logger } from './logger.ts';
import { PollError, type Poll } from './poll.ts';
import { isReusable, TOKEN_REUSE_MARGIN_MS } from './token-reuse.ts';
import type { ConnectV2, Transport, TransportClose } from './transport.ts';

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

const CLOSE_TO_ERROR: Record<number, ErrorCode> = {
  [CloseCode.BAD_MESSAGE]: ErrorCode.BAD_MESSAGE,
  [CloseCode.UNAUTHORIZED]: ErrorCode.TOKEN_INVALID,
};

/** Error frames that precede a close the engine recovers from: logged, not surfaced to the app. */
const HANDLED_BY_CLOSE: ReadonlySet<string> = new Set([
  ErrorCode.V2_DISABLED,
  ErrorCode.SLOW_CONSUMER,
  ErrorCode.HEARTBEAT_TIMEOUT,
  ErrorCode.RATE_LIMITED,
  ErrorCode.TOKEN_EXPIRED,
  ErrorCode.STORE_UNAVAILABLE,
]);

/** HTTP error codes after which polling again with a fresh token cannot help. */
const TERMINAL_HTTP_CODES: ReadonlySet<string> = new Set([
  ErrorCode.TOKEN_INVALID,
  ErrorCode.TOKEN_MISSING,
  ErrorCode.FORBIDDEN_ORG,
  ErrorCode.MISSING_SCOPE,
  ErrorCode.ORIGIN_NOT_ALLOWED,
  ErrorCode.BAD_CURSOR,
  ErrorCode.BAD_NAME,
]);

/** Creates an engine; nothing happens until `start()`. */
export function createEngine(options: EngineOptions): Engine {
  const logger = options.logger ?? silentLogger;
  const range = options.backoff ?? DEFAULT_BACKOFF;
  const random = options.random ?? Math.random;
  const maxFailedConnects = options.maxFailedConnects ?? 4;
  const stableAfterMs = options.stableAfterMs ?? 10_000;
  const v2ProbeMs = options.v2ProbeMs ?? 60_000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  const tokenReuseMarginMs = options.tokenReuseMarginMs ?? TOKEN_REUSE_MARGIN_MS;
  if (options.servers.length === 0) throw new StreamError(ErrorCode.BAD_MESSAGE, 'createEngine needs at least one server URL');
  const servers = [...options.servers];
  const v2Reason: TransportReason = options.flagReason === 'forced-off' ? 'default' : options.flagReason;

  const interest = new Map<string, Set<string>>();
  const cursors = new Map<string, string>();

  let state: ConnectionState = 'idle';
  let transport: TransportKind = options.flagReason === 'forced-off' || !options.connectV2 ? 'v1' : 'v2';
  let reason: TransportReason = options.flagReason === 'forced-off' ? 'forced-off' : v2Reason;
  /** Bumped by stop/transport switches: async continuations of an older generation give up. */
  let generation = 0;
  /** Index into `servers` of the one in use. */
  let serverIndex = 0;
  /** The token of the last connect or poll, reused while it has life left; null: ask for a fresh one. */
  let lastToken: string | null = null;

  // v2 connection
  let socket: Transport | null = null;
  /** The server of the latest connect attempt (the one to move away from when it fails). */
  let socketServer = 0;
  let welcomed = false;
  let subscribed = new Map<string, Set<string>>();
  let attempt = 0;
  let failedConnects = 0;
  let heartbeatMs = 0;
  let lastFrameAt = 0;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  let renewTimer: ReturnType<typeof setTimeout> | undefined;
  let stableTimer: ReturnType<typeof setTimeout> | undefined;
  let connectTimer: ReturnType<typeof setTimeout> | undefined;
  let probeTimer: ReturnType<typeof setTimeout> | undefined;

  // v1 polls: one loop per org
  interface PollLoop {
    controller: AbortController;
    wake: () => void;
  }
  const polls = new Map<string, PollLoop>();
  const liveOrgs = new Set<string>();

  const status = (): EngineStatus => ({ transport, state, reason, server: servers[serverIndex] ?? '' });

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

  /**
   * `from` (an index into `servers`) failed: the next attempt goes to the one after it. A no-op
   * when another failure already moved on (several poll loops fail together when a server dies).
   */
  function failover(from: number, why: string): void {
    if (servers.length < 2 || from !== serverIndex) return;
    serverIndex = (serverIndex + 1) % servers.length;
    const next = servers[serverIndex] ?? '';
    connection('reconnecting', { transport, failover: true, from: servers[from], to: next, why });
    options.onStatus(status(), { from: state, to: state, reason: `server ${next} (${why})` });
  }

  /** The last token while it has life left, else a fresh one from the app (kept for next time). */
  async function token(): Promise<string> {
    if (lastToken !== null && isReusable(lastToken, Date.now(), tokenReuseMarginMs)) return lastToken;
    const fresh = await options.getToken();
    lastToken = fresh;
    return fresh;
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

  function clearTimers(): void {
    for (const timer of [retryTimer, renewTimer, stableTimer, connectTimer]) if (timer !== undefined) clearTimeout(timer);
    if (heartbeatTimer !== undefined) clearInterval(heartbeatTimer);
    retryTimer = renewTimer = stableTimer = connectTimer = heartbeatTimer = undefined;
  }

  /** Forgets the current socket (its late events are ignored) and closes it. */
  function dropSocket(code: number, why: string): void {
    const old = socket;
    socket = null;
    welcomed = false;
    subscribed = new Map();
    clearTimers();
    old?.close(code, why);
  }

  // ─── v2 ──────────────────────────────────────────────────────────────────────────────────────

  async function connect(): Promise<void> {
    const gen = ++generation;
    clearTimers();
    setState(state === 'idle' || state === 'closed' || state === 'connecting' ? 'connecting' : 'reconnecting', 'connecting v2');
    let granted: string;
    try {
      granted = await token();
    } catch (error) {
      if (gen !== generation) return;
      connection('error', { transport: 'v2', getToken: error instanceof Error ? error.message : String(error) });
      scheduleRetry('getToken failed');
      return;
    }
    if (gen !== generation || !options.connectV2) return;
    socketServer = serverIndex;
    const current = options.connectV2(granted, servers[socketServer] ?? '');
    socket = current;
    welcomed = false;
    subscribed = new Map();
    lastFrameAt = Date.now();
    connectTimer = setTimeout(() => {
      if (socket === current && !welcomed) closeAndHandle(CloseCode.HEARTBEAT_TIMEOUT, 'no welcome in time');
    }, connectTimeoutMs);
    current.onMessage((text) => {
      if (socket === current) onFrame(current, text);
    });
    current.onClose((info) => {
      if (socket === current) onSocketClose(info);
    });
  }

  /** Closes our own socket and handles it as if the server had closed it with `code`. */
  function closeAndHandle(code: number, why: string): void {
    const wasOpen = welcomed;
    dropSocket(code, why);
    onSocketClose({ code, reason: why, wasOpen }, wasOpen);
  }

  function scheduleRetry(why: string): void {
    const delay = backoff(attempt, range, random);
    attempt += 1;
    setState('reconnecting', why);
    connection('reconnecting', { transport: 'v2', inMs: delay, attempt, why, server: servers[serverIndex] });
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void connect();
    }, delay);
  }

  function onSocketClose(info: TransportClose, hadWelcome = welcomed): void {
    if (socket) dropSocket(info.code, info.reason);
    liveOrgs.clear();
    if (TERMINAL_CLOSE_CODES.has(info.code)) {
      const error = new StreamError(
        CLOSE_TO_ERROR[info.code] ?? ErrorCode.BAD_MESSAGE,
        `the server refused the stream (${info.code} ${info.reason}): check the token and the client version, then call createRealtime() again`,
        info.code,
      );
      setState('failed', `closed ${info.code}`);
      connection('error', { transport: 'v2', code: info.code, error: error.code });
      options.onError(error);
      return;
    }
    if (info.code === CloseCode.V2_DISABLED) {
      switchToV1('server-off');
      return;
    }
    if (info.code === CloseCode.TOKEN_EXPIRED) {
      // Not the server's fault: same server, fresh token, at once.
      lastToken = null;
      connection('reconnecting', { transport: 'v2', code: info.code, why: 'token expired: fresh token, reconnecting now' });
      setState('reconnecting', 'token expired');
      void connect();
      return;
    }
    failover(socketServer, `closed ${info.code}`);
    if (!hadWelcome) {
      // Refused before welcome: maybe for its token (a refused upgrade is just 1006 to a browser).
      lastToken = null;
      failedConnects += 1;
      if (failedConnects >= maxFailedConnects) {
        switchToV1('websocket-unavailable');
        return;
      }
    }
    scheduleRetry(`closed ${info.code}`);
  }

  function onFrame(current: Transport, text: string): void {
    lastFrameAt = Date.now();
    const parsed = parseServerMessage(text);
    if (!parsed.ok) {
      logger.log('error', { transport: 'v2', badFrame: parsed.error.code }, 'warn');
      return;
    }
    handle(current, parsed.value);
  }

  function handle(current: Transport, message: ServerMessage): void {
    switch (message.type) {
      case 'welcome': {
        welcomed = true;
        failedConnects = 0;
        if (connectTimer !== undefined) clearTimeout(connectTimer);
        connectTimer = undefined;
        heartbeatMs = message.heartbeatMs;
        setState('connected', 'welcome');
        startHeartbeat(current);
        scheduleRenewal(current, message.tokenExpiresAt);
        stableTimer = setTimeout(() => {
          attempt = 0;
        }, stableAfterMs);
        syncSubscriptions();
        return;
      }
      case 'events':
        deliver(message.org, message.events, message.replayed);
        return;
      case 'live': {
        const known = cursors.get(message.org);
        const live = parseCursor(message.cursor);
        const mine = known ? parseCursor(known) : null;
        if (!mine || (live && mine.epoch !== live.epoch)) cursors.set(message.org, message.cursor);
        liveOrgs.add(message.org);
        connection('connected', { org: message.org, transport: 'v2', replayed: message.replayed, server: servers[socketServer] });
        options.onLive(message.org, cursors.get(message.org) ?? message.cursor);
        return;
      }
      case 'reset': {
        cursors.set(message.org, message.cursor);
        const reset = { reason: message.reason, from: message.from, cursor: message.cursor, lost: message.lost };
        connection('reset', { org: message.org, ...reset });
        options.onReset(message.org, reset);
        return;
      }
      case 'ping':
        current.send({ type: 'pong', t: message.t });
        return;
      case 'authenticated':
        scheduleRenewal(current, message.tokenExpiresAt);
        return;
      case 'error': {
        connection('error', { transport: 'v2', code: message.code, org: message.org });
        // These announce a close that the engine handles by itself (fallback, resume, reconnect).
        if (!HANDLED_BY_CLOSE.has(message.code)) options.onError(new StreamError(message.code, message.message));
        return;
      }
      case 'subscribed':
      case 'pong':
        return;
    }
  }

  function startHeartbeat(current: Transport): void {
    if (heartbeatMs <= 0) return;
    heartbeatTimer = setInterval(() => {
      if (socket !== current) return;
      if (Date.now() - lastFrameAt >= 2 * heartbeatMs) {
        connection('reconnecting', { transport: 'v2', why: 'heartbeat timeout', silentMs: Date.now() - lastFrameAt });
        closeAndHandle(CloseCode.HEARTBEAT_TIMEOUT, 'heartbeat timeout');
        return;
      }
      current.send({ type: 'ping', t: Date.now() });
    }, heartbeatMs);
  }

  function scheduleRenewal(current: Transport, expiresAt: number): void {
    if (renewTimer !== undefined) clearTimeout(renewTimer);
    renewTimer = undefined;
    const remaining = expiresAt - Date.now();
    if (!Number.isFinite(remaining) || remaining <= 0) return;
    // Renew at ~80% of the remaining life: early enough to survive a slow getToken().
    const delay = Math.max(1_000, Math.floor(remaining * 0.8));
    renewTimer = setTimeout(() => void renew(current), delay);
  }

  async function renew(current: Transport): Promise<void> {
    renewTimer = undefined;
    try {
      // Always fresh: renewing with the token that is running out would renew nothing.
      const fresh = await options.getToken();
      lastToken = fresh;
      if (socket === current) current.send({ type: 'auth', token: fresh });
    } catch (error) {
      logger.log('error', { transport: 'v2', renewal: error instanceof Error ? error.message : String(error) }, 'warn');
      // Try again shortly; if the token runs out first, the server closes with 4002 and we reconnect.
      if (socket === current) renewTimer = setTimeout(() => void renew(current), 5_000);
    }
  }

  function syncSubscriptions(): void {
    if (!socket || !welcomed) return;
    for (const [org, wanted] of interest) {
      const sent = subscribed.get(org);
      if (!sent) {
        const cursor = cursors.get(org);
        socket.send({ type: 'subscribe', org, services: [...wanted], ...(cursor ? { cursor } : {}) });
        subscribed.set(org, new Set(wanted));
        continue;
      }
      const added = [...wanted].filter((service) => !sent.has(service));
      const removed = [...sent].filter((service) => !wanted.has(service));
      if (added.length > 0) socket.send({ type: 'subscribe', org, services: added });
      if (removed.length > 0) socket.send({ type: 'unsubscribe', org, services: removed });
      subscribed.set(org, new Set(wanted));
    }
    for (const [org, sent] of subscribed) {
      if (interest.has(org)) continue;
      socket.send({ type: 'unsubscribe', org, services: [...sent] });
      subscribed.delete(org);
      liveOrgs.delete(org);
    }
  }

  // ─── v1 ──────────────────────────────────────────────────────────────────────────────────────

  function switchToV1(nextReason: TransportReason): void {
    dropSocket(CloseCode.NORMAL, 'switching to v1');
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
          if (transport === 'v1' && reason === 'websocket-unavailable') switchToV2(maxFailedConnects - 1);
        }, v2ProbeMs);
      }
    }
    startPolls();
  }

  function switchToV2(failuresSoFar = 0): void {
    stopPolls();
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

  function stopPolls(): void {
    for (const poll of polls.values()) poll.controller.abort();
    polls.clear();
  }

  function startPoll(org: string): void {
    if (polls.has(org) || transport !== 'v1' || state === 'closed' || state === 'idle' || state === 'failed') return;
    void pollLoop(org, generation);
  }

  async function pollLoop(org: string, gen: number): Promise<void> {
    let failures = 0;
    let tokenRetried = false;
    const loop: PollLoop = { controller: new AbortController(), wake: () => {} };
    polls.set(org, loop);
    const stale = (): boolean => gen !== generation || polls.get(org) !== loop || transport !== 'v1';
    while (!stale()) {
      const controller = new AbortController();
      loop.controller = controller;
      let pollServer = serverIndex;
      try {
        const granted = await token();
        if (stale()) break;
        if (state !== 'failed') setState('connected', 'polling');
        pollServer = serverIndex;
        const server = servers[pollServer] ?? '';
        const response = await options.poll({ org, cursor: cursors.get(org) ?? null, token: granted, server, signal: controller.signal });
        if (stale()) break;
        failures = 0;
        tokenRetried = false;
        if (!liveOrgs.has(org)) {
          liveOrgs.add(org);
          connection('connected', { org, transport: 'v1' });
        }
        if (response.reset) {
          const first = response.events[0] ? parseCursor(response.events[0].id) : null;
          const position = first ? `${first.epoch}:${Math.max(0, first.seq - 1)}` : response.cursor;
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
        if (reason === 'server-off' && response.v2) {
          switchToV2();
          return;
        }
      } catch (error) {
        if (stale() || controller.signal.aborted) break;
        if (error instanceof PollError && error.code === ErrorCode.TOKEN_EXPIRED && !tokenRetried) {
          tokenRetried = true;
          lastToken = null;
          continue;
        }
        if (error instanceof PollError && TERMINAL_HTTP_CODES.has(error.code)) {
          setState('failed', `poll refused: ${error.code}`);
          connection('error', { org, transport: 'v1', code: error.code });
          options.onError(new StreamError(error.code, error.message));
          break;
        }
        if (error instanceof PollError && error.code === ErrorCode.TOKEN_EXPIRED) lastToken = null;
        failover(pollServer, 'poll failed');
        const delay = backoff(failures, range, random);
        failures += 1;
        setState('reconnecting', 'poll failed');
        connection('reconnecting', {
          org,
          transport: 'v1',
          inMs: delay,
          error: error instanceof StreamError ? error.code : String(error),
          server: servers[serverIndex],
        });
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          loop.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        loop.wake = () => {};
      }
    }
    if (polls.get(org) === loop) polls.delete(org);
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
      dropSocket(CloseCode.NORMAL, 'client closed');
      stopPolls();
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
        polls.get(org)?.controller.abort();
        polls.delete(org);
      } else {
        const next = new Set(services);
        const previous = interest.get(org);
        if (previous && previous.size === next.size && [...next].every((service) => previous.has(service))) return;
        interest.set(org, next);
      }
      if (transport === 'v2') syncSubscriptions();
      else startPoll(org);
    },
    cursor(org) {
      return cursors.get(org) ?? null;
    },
    status,
    online() {
      if (transport === 'v2' && retryTimer !== undefined) {
        clearTimeout(retryTimer);
        retryTimer = undefined;
        connection('reconnecting', { transport: 'v2', why: 'online' });
        void connect();
      } else if (transport === 'v1') {
        for (const poll of polls.values()) poll.wake();
      }
    },
  };
}

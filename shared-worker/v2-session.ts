/**
 * One v2 socket's life, from an opened transport to its close. The session never reconnects: it
 * ends once, says how (`SessionEnd`), and the engine decides what follows (retry, next server,
 * v1, stop).
 *
 *   engine              session                               server
 *     │─ openV2Session ───▶│  connect timer: no welcome in time → ends 4011
 *     │                    │◀─────────────── welcome ───────────────│
 *     │◀── onWelcome ──────│  heartbeat, renewal and stable timers start
 *     │                    │── subscribe {org, services, cursor?} ─▶│
 *     │◀── onDelivery ─────│◀────────── events / live / reset ──────│
 *     │                    │◀── ping ─┐ ┌─ pong ──▶ (and our own ping every heartbeatMs)
 *     │                    │── auth {fresh token} at ~80% of its life ─▶│
 *     │◀── onEnd(end) ─────│◀── close (or our own: 2× heartbeat of silence) │
 *
 * After `close()` or `onEnd` nothing more is reported: late frames of a dropped socket are ignored.
 */
import {
  CloseCode,
  ErrorCode,
  parseServerMessage,
  StreamError,
  TERMINAL_CLOSE_CODES,
  type ConnectionEventKind,
  type EventsMessage,
  type LiveMessage,
  type ResetMessage,
  type ServerMessage,
} from '../protocol/index.ts';
import type { Logger } from './logger.ts';
import type { TokenCache } from './token-cache.ts';
import type { Transport } from './transport.ts';

/** How a session ended, as the engine acts on it. */
export type SessionEnd =
  /** A terminal close code (bad message, unauthorized): retrying cannot help; the app must act. */
  | { kind: 'refused'; code: number; error: StreamError }
  /** The server's kill switch (4010): fall back to v1 polls. */
  | { kind: 'v2-disabled'; code: number }
  /** The token ran out (4002): not the server's fault; same server, fresh token, at once. */
  | { kind: 'token-expired'; code: number }
  /** Anything else (network, restart, heartbeat, slow consumer…): back off and try the next server. */
  | { kind: 'dropped'; code: number; welcomed: boolean };

/** Frames that carry events and positions: the engine owns cursors, so they go to it as they are. */
export type DeliveryFrame = EventsMessage | LiveMessage | ResetMessage;

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

/** What a close with `code` means; `welcomed`: the socket got its `welcome` before it closed. */
export function classifyClose(code: number, reason: string, welcomed: boolean): SessionEnd {
  if (TERMINAL_CLOSE_CODES.has(code)) {
    const error = new StreamError(
      CLOSE_TO_ERROR[code] ?? ErrorCode.BAD_MESSAGE,
      `the server refused the stream (${code} ${reason}): check the token and the client version, then call createRealtime() again`,
      code,
    );
    return { kind: 'refused', code, error };
  }
  if (code === CloseCode.V2_DISABLED) return { kind: 'v2-disabled', code };
  if (code === CloseCode.TOKEN_EXPIRED) return { kind: 'token-expired', code };
  return { kind: 'dropped', code, welcomed };
}

export interface V2SessionOptions {
  /** The socket, just opened by `connectV2`. */
  transport: Transport;
  /** Renewals ask it for a fresh token (and leave it there for the next reconnect to reuse). */
  tokens: TokenCache;
  /** The services wanted per org, read at every `sync()`: the session only sends the difference. */
  interest: ReadonlyMap<string, ReadonlySet<string>>;
  /** The position to subscribe an org from (resume after it). */
  cursor(org: string): string | undefined;
  /** Without `welcome` after this long the connect counts as failed (ms). */
  connectTimeoutMs: number;
  /** `onStable` fires once the socket stayed up this long after `welcome` (ms). */
  stableAfterMs: number;
  logger: Logger;
  /** Reports a connection happening (logs, devtools stream view). */
  log(what: ConnectionEventKind, detail: Record<string, unknown>): void;
  /** `welcome` arrived: the socket is usable. */
  onWelcome(): void;
  /** The socket stayed up `stableAfterMs` after welcome. */
  onStable(): void;
  onDelivery(frame: DeliveryFrame): void;
  /** An error frame the app should see (those announcing a handled close are only logged). */
  onError(error: StreamError): void;
  /** `org` left the interest and was unsubscribed. */
  onUnsubscribed(org: string): void;
  /** The socket closed (the server's close, or ours after a timeout); the session is over. */
  onEnd(end: SessionEnd): void;
}

export interface V2Session {
  /** Subscribes and unsubscribes so the server's view matches `interest` (a no-op before welcome). */
  sync(): void;
  /** Closes the socket without reporting `onEnd`: the engine dropped it. */
  close(code: number, reason: string): void;
}

/** Drives one opened transport until it closes. */
export function openV2Session(options: V2SessionOptions): V2Session {
  const { transport, tokens, logger } = options;
  let closed = false;
  let welcomed = false;
  const subscribed = new Map<string, Set<string>>();
  let heartbeatMs = 0;
  let lastFrameAt = Date.now();
  let heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  let renewTimer: ReturnType<typeof setTimeout> | undefined;
  let stableTimer: ReturnType<typeof setTimeout> | undefined;
  let connectTimer: ReturnType<typeof setTimeout> | undefined = setTimeout(() => {
    if (!closed && !welcomed) end(CloseCode.HEARTBEAT_TIMEOUT, 'no welcome in time');
  }, options.connectTimeoutMs);

  function shutdown(code: number, reason: string): void {
    closed = true;
    welcomed = false;
    subscribed.clear();
    for (const timer of [renewTimer, stableTimer, connectTimer]) if (timer !== undefined) clearTimeout(timer);
    if (heartbeatTimer !== undefined) clearInterval(heartbeatTimer);
    renewTimer = stableTimer = connectTimer = heartbeatTimer = undefined;
    transport.close(code, reason);
  }

  /** Closes the socket (ours or the server's close) and tells the engine what it means. */
  function end(code: number, reason: string): void {
    const hadWelcome = welcomed;
    shutdown(code, reason);
    options.onEnd(classifyClose(code, reason, hadWelcome));
  }

  function onFrame(text: string): void {
    lastFrameAt = Date.now();
    const parsed = parseServerMessage(text);
    if (!parsed.ok) {
      logger.log('error', { transport: 'v2', badFrame: parsed.error.code }, 'warn');
      return;
    }
    handle(parsed.value);
  }

  function handle(message: ServerMessage): void {
    switch (message.type) {
      case 'welcome': {
        // The server sends one welcome per socket; a second one (a misbehaving peer) must not
        // start a second heartbeat or a second onWelcome.
        if (welcomed) return;
        welcomed = true;
        if (connectTimer !== undefined) clearTimeout(connectTimer);
        connectTimer = undefined;
        heartbeatMs = message.heartbeatMs;
        options.onWelcome();
        startHeartbeat();
        scheduleRenewal(message.tokenExpiresAt);
        stableTimer = setTimeout(() => options.onStable(), options.stableAfterMs);
        sync();
        return;
      }
      case 'events':
      case 'live':
      case 'reset':
        options.onDelivery(message);
        return;
      case 'ping':
        transport.send({ type: 'pong', t: message.t });
        return;
      case 'authenticated':
        scheduleRenewal(message.tokenExpiresAt);
        return;
      case 'error': {
        options.log('error', { transport: 'v2', code: message.code, org: message.org });
        // These announce a close that the engine handles by itself (fallback, resume, reconnect).
        if (!HANDLED_BY_CLOSE.has(message.code)) options.onError(new StreamError(message.code, message.message));
        return;
      }
      case 'subscribed':
      case 'pong':
        return;
    }
  }

  // Pings find a half-open socket from this side: the browser's WebSocket never notices one.
  function startHeartbeat(): void {
    if (heartbeatMs <= 0) return;
    heartbeatTimer = setInterval(() => {
      if (closed) return;
      if (Date.now() - lastFrameAt >= 2 * heartbeatMs) {
        options.log('reconnecting', { transport: 'v2', why: 'heartbeat timeout', silentMs: Date.now() - lastFrameAt });
        end(CloseCode.HEARTBEAT_TIMEOUT, 'heartbeat timeout');
        return;
      }
      transport.send({ type: 'ping', t: Date.now() });
    }, heartbeatMs);
  }

  function scheduleRenewal(expiresAt: number): void {
    if (renewTimer !== undefined) clearTimeout(renewTimer);
    renewTimer = undefined;
    const remaining = expiresAt - Date.now();
    if (!Number.isFinite(remaining) || remaining <= 0) return;
    // Renew at ~80% of the remaining life: early enough to survive a slow getToken().
    const delay = Math.max(1_000, Math.floor(remaining * 0.8));
    renewTimer = setTimeout(() => void renew(), delay);
  }

  async function renew(): Promise<void> {
    renewTimer = undefined;
    try {
      const fresh = await tokens.fresh();
      if (!closed) transport.send({ type: 'auth', token: fresh });
    } catch (error) {
      logger.log('error', { transport: 'v2', renewal: error instanceof Error ? error.message : String(error) }, 'warn');
      // Try again shortly; if the token runs out first, the server closes with 4002 and we reconnect.
      if (!closed) renewTimer = setTimeout(() => void renew(), 5_000);
    }
  }

  function sync(): void {
    if (closed || !welcomed) return;
    for (const [org, wanted] of options.interest) {
      const sent = subscribed.get(org);
      if (!sent) {
        const cursor = options.cursor(org);
        transport.send({ type: 'subscribe', org, services: [...wanted], ...(cursor ? { cursor } : {}) });
        subscribed.set(org, new Set(wanted));
        continue;
      }
      const added = [...wanted].filter((service) => !sent.has(service));
      const removed = [...sent].filter((service) => !wanted.has(service));
      if (added.length > 0) transport.send({ type: 'subscribe', org, services: added });
      if (removed.length > 0) transport.send({ type: 'unsubscribe', org, services: removed });
      subscribed.set(org, new Set(wanted));
    }
    for (const [org, sent] of subscribed) {
      if (options.interest.has(org)) continue;
      transport.send({ type: 'unsubscribe', org, services: [...sent] });
      subscribed.delete(org);
      options.onUnsubscribed(org);
    }
  }

  transport.onMessage((text) => {
    if (!closed) onFrame(text);
  });
  transport.onClose((info) => {
    if (!closed) end(info.code, info.reason);
  });

  return {
    sync,
    close(code, reason) {
      if (closed) return;
      shutdown(code, reason);
    },
  };
}

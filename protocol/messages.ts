import type { ErrorCode, ResetReason } from './codes.ts';
import type { StreamEvent } from './event.ts';

/**
 * The v2 wire protocol: JSON text frames on `ws://HOST/v2/realtime/stream`.
 *
 *   client                                   server
 *     | -- upgrade (token, Origin) ---------->  |  refused with HTTP 401/403 + JSON error body
 *     | <------------------------ welcome ---- |
 *     | -- subscribe {org, services, cursor} -> |
 *     | <-- events {replayed: true} (pages) --- |  replay after the cursor, flow-controlled
 *     | <-- reset (only if the gap is lost) --- |
 *     | <------------------- live {cursor} ---- |  replay done: from here on, live events
 *     | <-- events {replayed: false} ---------- |
 *     | <-- ping / -- pong -->  (both ways)     |
 *     | -- auth {token} --> <-- authenticated - |  token renewal on the open socket
 */

// ─── client → server ────────────────────────────────────────────────────────────────────────────

/**
 * Start (or widen) the stream of one org. The first `subscribe` for an org may carry the cursor
 * of the last event the client has: the server replays everything after it, then goes live.
 * A later `subscribe` for the same org only adds services (no replay for the added ones).
 */
export interface SubscribeMessage {
  type: 'subscribe';
  org: string;
  /** Service names, or `['*']` for all services of the org. */
  services: string[];
  /** Resume after this cursor; omitted: live from now. */
  cursor?: string;
}

/** Stop receiving some services of an org; with no services left, the org is dropped. */
export interface UnsubscribeMessage {
  type: 'unsubscribe';
  org: string;
  services: string[];
}

/** Replace the socket's token before it expires (renewal without reconnecting). */
export interface AuthMessage {
  type: 'auth';
  token: string;
}

/** Heartbeat: either side may send `ping`; the other answers `pong` with the same `t`. */
export interface PingMessage {
  type: 'ping';
  t: number;
}
export interface PongMessage {
  type: 'pong';
  t: number;
}

export type ClientMessage = SubscribeMessage | UnsubscribeMessage | AuthMessage | PingMessage | PongMessage;

// ─── server → client ────────────────────────────────────────────────────────────────────────────

/** First frame on every socket. */
export interface WelcomeMessage {
  type: 'welcome';
  connectionId: string;
  /** The server pings every `heartbeatMs`; a client that hears nothing for 2× that should reconnect. */
  heartbeatMs: number;
  /** When the socket's token expires (ms since epoch): send `auth` with a fresh one before then. */
  tokenExpiresAt: number;
  /** Orgs the token may read. */
  orgs: string[];
  /** The log's current epoch. */
  epoch: string;
}

/** A batch of events of one org, in order. `replayed` marks catch-up after a cursor. */
export interface EventsMessage {
  type: 'events';
  org: string;
  replayed: boolean;
  events: StreamEvent[];
}

/** Catch-up for `org` is done; events after `cursor` arrive live from now on. */
export interface LiveMessage {
  type: 'live';
  org: string;
  /** The org's position when live delivery started (the last event sent, or the head). */
  cursor: string;
  /** How many events were replayed before going live. */
  replayed: number;
}

/**
 * The server could not fill the gap after the client's cursor: the app must refetch its state.
 * Never silent: it says why, what was lost where known, and the new position.
 */
export interface ResetMessage {
  type: 'reset';
  org: string;
  reason: ResetReason;
  /** The cursor the client resumed from. */
  from: string;
  /** The new position: live delivery continues after it. */
  cursor: string;
  /** How many events the client will not receive, where known (null for another epoch). */
  lost: number | null;
}

/** Acknowledges an `auth` message. */
export interface AuthenticatedMessage {
  type: 'authenticated';
  tokenExpiresAt: number;
  orgs: string[];
}

/** Subscription state after a `subscribe` or `unsubscribe`. */
export interface SubscribedMessage {
  type: 'subscribed';
  org: string;
  services: string[];
}

/** A request failed. With a close code following when fatal; otherwise the socket stays usable. */
export interface ErrorMessage {
  type: 'error';
  code: ErrorCode;
  message: string;
  /** The org the failed request was about, when there was one. */
  org?: string;
}

export type ServerMessage =
  | WelcomeMessage
  | EventsMessage
  | LiveMessage
  | ResetMessage
  | AuthenticatedMessage
  | SubscribedMessage
  | ErrorMessage
  | PingMessage
  | PongMessage;

// ─── v1 long-poll (HTTP) ─────────────────────────────────────────────────────────────────────────

/** `GET /v1/realtime/poll?org=ORG&cursor=C` → 200 with this body. */
export interface PollResponse {
  events: StreamEvent[];
  /** Poll from here next time. */
  cursor: string;
  /** Present only when the gap after the given cursor could not be filled (same meaning as v2's `reset`). */
  reset?: { reason: ResetReason; from: string; lost: number | null };
  /** False while the server's kill switch has v2 off: a client that fell back stays on v1 until true. */
  v2: boolean;
}

/** Body of every HTTP error answer. */
export interface HttpErrorBody {
  error: { code: ErrorCode; message: string };
}

/**
 * Every WebSocket close code and every error code of the product, in one place.
 * App close codes live in 4000–4999 (RFC 6455 §7.4.2); standard ones are listed where we send them.
 */

export const CloseCode = {
  /** Normal closure: the client or server is done. */
  NORMAL: 1000,
  /** The server is shutting down or restarting: reconnect with backoff and resume from your cursor. */
  GOING_AWAY: 1001,
  /** A frame broke RFC 6455 (unmasked, reserved opcode or RSV bits, bad close code…): sent by `ws` itself. */
  PROTOCOL_ERROR: 1002,
  /** A text frame was not valid UTF-8: sent by `ws` itself. */
  INVALID_PAYLOAD: 1007,
  /** Too many fragments in one message (ws `maxFragments`, 16 Ki): sent by `ws` itself. */
  POLICY_VIOLATION: 1008,
  /** A message was larger than `maxPayload` (64 KiB), also after inflate: sent by `ws` itself. */
  MESSAGE_TOO_BIG: 1009,
  /** A text frame was not a valid client message (bad JSON, unknown type, wrong field types). Do not retry. */
  BAD_MESSAGE: 4000,
  /** The token sent in an `auth` message is missing, forged or malformed. Do not retry with it. */
  UNAUTHORIZED: 4001,
  /** The token expired on an open socket: get a fresh one and reconnect at once. */
  TOKEN_EXPIRED: 4002,
  /** Too many client messages per second: reconnect after backoff. */
  RATE_LIMITED: 4008,
  /** The socket's send buffer passed its bound: reconnect and resume from your cursor, nothing is lost. */
  SLOW_CONSUMER: 4009,
  /** Streaming v2 is switched off on the server (kill switch): use v1 long-polling until it returns. */
  V2_DISABLED: 4010,
  /** No message (not even a pong) arrived within the heartbeat bound: the socket was half-open. */
  HEARTBEAT_TIMEOUT: 4011,
  /** The user already holds the maximum number of sockets: close another tab or wait. */
  TOO_MANY_CONNECTIONS: 4012,
  /** The event store is unreachable: reconnect with backoff, resume from your cursor. */
  STORE_UNAVAILABLE: 4013,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Close codes after which a client must not reconnect on its own: the problem is not transient. */
export const TERMINAL_CLOSE_CODES: ReadonlySet<number> = new Set([CloseCode.BAD_MESSAGE, CloseCode.UNAUTHORIZED]);

/** Stable error codes, carried in `error` messages, HTTP error bodies and `StreamError.code`. */
export const ErrorCode = {
  /** The frame or body is not valid JSON. */
  BAD_JSON: 'STREAM_ERR_BAD_JSON',
  /** The JSON is not a known message, or a field has the wrong type or shape. */
  BAD_MESSAGE: 'STREAM_ERR_BAD_MESSAGE',
  /** A cursor is not of the form `epoch:seq`. */
  BAD_CURSOR: 'STREAM_ERR_BAD_CURSOR',
  /** An org or service name is not 1–64 of [A-Za-z0-9_.-]. */
  BAD_NAME: 'STREAM_ERR_BAD_NAME',
  /** No token was given. */
  TOKEN_MISSING: 'STREAM_ERR_TOKEN_MISSING',
  /** The token's signature, algorithm or claims are not valid. */
  TOKEN_INVALID: 'STREAM_ERR_TOKEN_INVALID',
  /** The token expired (or is not valid yet): get a fresh one. */
  TOKEN_EXPIRED: 'STREAM_ERR_TOKEN_EXPIRED',
  /** The token does not grant this org. */
  FORBIDDEN_ORG: 'STREAM_ERR_FORBIDDEN_ORG',
  /** The token lacks the scope this endpoint needs (`read`, `publish`, `admin`). */
  MISSING_SCOPE: 'STREAM_ERR_MISSING_SCOPE',
  /** The request's Origin is not on the allow-list (cross-site WebSocket hijacking guard). */
  ORIGIN_NOT_ALLOWED: 'STREAM_ERR_ORIGIN_NOT_ALLOWED',
  /** Too many messages or requests in a short time. */
  RATE_LIMITED: 'STREAM_ERR_RATE_LIMITED',
  /** Too many sockets or open polls for one user. */
  TOO_MANY_CONNECTIONS: 'STREAM_ERR_TOO_MANY_CONNECTIONS',
  /** The message or body exceeds the size limit. */
  PAYLOAD_TOO_LARGE: 'STREAM_ERR_PAYLOAD_TOO_LARGE',
  /** The socket could not keep up with its events. */
  SLOW_CONSUMER: 'STREAM_ERR_SLOW_CONSUMER',
  /** Streaming v2 is switched off: use v1. */
  V2_DISABLED: 'STREAM_ERR_V2_DISABLED',
  /** No heartbeat arrived in time. */
  HEARTBEAT_TIMEOUT: 'STREAM_ERR_HEARTBEAT_TIMEOUT',
  /** The event store is unreachable. */
  STORE_UNAVAILABLE: 'STREAM_ERR_STORE_UNAVAILABLE',
  /** No such endpoint or method. */
  NOT_FOUND: 'STREAM_ERR_NOT_FOUND',
  /** WebSocket failed to connect repeatedly; the client fell back to long-polling. */
  WEBSOCKET_UNAVAILABLE: 'STREAM_ERR_WEBSOCKET_UNAVAILABLE',
  /** A newer build of the client took over this origin's SharedWorker. */
  BUILD_SUPERSEDED: 'STREAM_ERR_BUILD_SUPERSEDED',
  /** Anything unexpected on the server; the request had no effect. */
  INTERNAL: 'STREAM_ERR_INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Why the server could not fill a gap after a cursor (see the `reset` message). */
export const ResetReason = {
  /** The cursor is older than the log's retention: events after it were deleted. */
  RETENTION: 'retention',
  /** The cursor belongs to another epoch of the log (the log was wiped or replaced). */
  EPOCH: 'epoch',
  /** The cursor points past the end of this org's log (never issued by this log). */
  UNKNOWN_POSITION: 'unknown_position',
} as const;
export type ResetReason = (typeof ResetReason)[keyof typeof ResetReason];

/**
 * One v2 socket after the upgrade: subscriptions, replay then live, heartbeats, token renewal,
 * rate limit and backpressure. Every client frame goes through protocol's `parseClientMessage`.
 *
 * Writing. Every data frame of a session is a prepared frame (prepared-frame.ts) written whole,
 * with one `write`, to the socket's TCP stream; `ws.send` is never called on a session's socket.
 * That is what makes sharing one frame between sockets safe:
 * - order: ws deflates `send`s asynchronously and queues later frames behind them; a frame written
 *   past that queue could overtake it. With no `ws.send`, ws's queue stays empty.
 * - whole frames: the only frames ws still writes itself are control frames (its automatic pong
 *   to a client's ping, and the close frame of `ws.close`). ws writes those synchronously when
 *   its queue is empty (ws 8 `Sender#sendFrame`), and ours are whole buffers in one `write`, so
 *   neither can land inside the other.
 * The ws API this relies on is public: `WebSocket#extensions` (was deflate negotiated?),
 * `WebSocket#readyState` (no data after a close frame), and the TCP socket of the upgrade. One ws
 * behaviour it relies on is not API: control frames written at once, whole, while nothing is
 * queued; stream-fan-out.test.ts checks it (ws pings answered between our frames, in order).
 * No ws internals are called: frames are built by prepared-frame.ts. Backpressure reads the TCP socket's `writableLength`, which is what ws's `bufferedAmount`
 * reports too when ws has nothing queued (ws 8: `_writableState.length + sender._bufferedBytes`).
 */
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import {
  CloseCode,
  ErrorCode,
  parseClientMessage,
  parseCursor,
  StreamError,
  type ClientMessage,
  type Cursor,
  type ServerMessage,
  type StreamEvent,
} from '../protocol/index.ts';
import { requireScope, type TokenClaims } from './auth.ts';
import type { ServerContext } from './context.ts';
import type { Deadlines } from './deadlines.ts';
import type { Heartbeat } from './heartbeat.ts';
import { wantsService, type HubFrame } from './hub.ts';
import { acceptsDeflate, prepareTextFrame, type PreparedFrame } from './prepared-frame.ts';
import { createTokenBucket } from './rate-limit.ts';

type SocketState = 'open' | 'closing' | 'closed';

/*
 * Sessions and their subscriptions are classes, not factories of closures, on purpose: thousands
 * of idle sockets are the normal load, and a factory allocated ~20 closures per socket (over 4 KiB
 * per socket under tsx, whose keepNames gives every named inner function a 256-byte property
 * dictionary; the bench measured 16.6 KiB per idle connection before, under 10 after). Methods
 * live once on the prototype; ws listeners are shared functions that find their session through
 * `sessionOf`.
 */

/** The timers every session of one server shares (one heartbeat tick, bucketed token expiry). */
export interface SessionTimers {
  heartbeat: Heartbeat<StreamSession>;
  /** Token expiry: `expire()` is called at the token's `exp`. */
  expiry: Deadlines<StreamSession>;
}

export interface StreamSessionParams {
  ws: WebSocket;
  /** The TCP socket of the upgrade: prepared frames are written to it directly. */
  tcp: Socket;
  ctx: ServerContext;
  timers: SessionTimers;
  claims: TokenClaims;
  connectionId: string;
  /** Called once, when the socket has closed (shared by every session of a server). */
  onClosed: (session: StreamSession) => void;
}

export interface StreamSession {
  readonly connectionId: string;
  readonly sub: string;
  /** Closes the socket with `code` (an `error` message first when `error` is given). */
  close(code: number, error?: StreamError): void;
  /** A heartbeat tick: closes a silent socket (4011), else writes `ping` (shared by every socket). */
  beat(now: number, ping: PreparedFrame): void;
  /** The token's expiry time came: closes 4002 unless a newer token was sent. */
  expire(): void;
}

/**
 * The seq of an event id when it belongs to `epoch`, else null. Ids come from our own log, so a
 * split is enough: this runs for every live frame on every socket.
 */
function seqInEpoch(id: string, epoch: string): number | null {
  if (id.length <= epoch.length + 1 || id.charCodeAt(epoch.length) !== 58 /* ':' */ || !id.startsWith(epoch)) return null;
  const seq = Number(id.slice(epoch.length + 1));
  return Number.isSafeInteger(seq) ? seq : null;
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

const detached = (): void => {};

/**
 * One org on one socket, and the hub's consumer for it. `catching-up` holds live events back in
 * `queue` while the replay pages through the log; `live` writes them at once.
 */
class OrgSubscription {
  mode: 'catching-up' | 'live' = 'catching-up';
  /** Live events held during catch-up; null after it overflowed (the log still has them). */
  queue: StreamEvent[] | null = [];
  /** In `live`: the last position sent (the seam, then each live event). Live events at or before it are dropped. */
  sent: Cursor | null = null;
  detach: () => void = detached;

  constructor(
    readonly session: Session,
    readonly org: string,
    readonly services: Set<string>,
  ) {}

  deliver(frame: HubFrame): void {
    if (this.mode === 'live') {
      this.session.writeLive(this, frame);
      return;
    }
    if (this.queue === null) return;
    if (this.queue.length + frame.events.length > this.session.ctx.options.replayQueueLimit) this.queue = null;
    else this.queue.push(...frame.events);
  }
}

const sessionOf = new WeakMap<WebSocket, Session>();

function onSocketMessage(this: WebSocket, data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
  sessionOf.get(this)?.onMessage(data, isBinary);
}

function onSocketError(this: WebSocket, error: Error & { code?: string }): void {
  const session = sessionOf.get(this);
  if (!session) return;
  if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') session.ctx.metrics.rejected(ErrorCode.PAYLOAD_TOO_LARGE);
  session.ctx.logger.warn('stream', 'socket error', { connectionId: session.connectionId, error: error.message, code: error.code });
}

function onSocketClose(this: WebSocket, code: number): void {
  sessionOf.get(this)?.onClosed(code);
  sessionOf.delete(this);
}

class Session implements StreamSession {
  readonly ws: WebSocket;
  readonly tcp: Socket;
  readonly ctx: ServerContext;
  readonly connectionId: string;
  private readonly timers: SessionTimers;
  private readonly closedCallback: (session: StreamSession) => void;
  /** Read once: the extensions are fixed by the handshake. */
  private readonly deflate: boolean;
  private readonly bucket: ReturnType<typeof createTokenBucket>;
  private readonly subscriptions = new Map<string, OrgSubscription>();
  private state: SocketState = 'open';
  private claims: TokenClaims;
  private lastSeen = Date.now();
  private graceTimer: NodeJS.Timeout | undefined = undefined;

  constructor({ ws, tcp, ctx, timers, claims, connectionId, onClosed }: StreamSessionParams) {
    this.ws = ws;
    this.tcp = tcp;
    this.ctx = ctx;
    this.timers = timers;
    this.claims = claims;
    this.connectionId = connectionId;
    this.closedCallback = onClosed;
    this.deflate = acceptsDeflate(ws.extensions);
    this.bucket = createTokenBucket(ctx.options.messageRate.perSecond, ctx.options.messageRate.burst);
  }

  get sub(): string {
    return this.claims.sub;
  }

  start(): void {
    sessionOf.set(this.ws, this);
    this.ws.on('message', onSocketMessage);
    this.ws.on('error', onSocketError);
    this.ws.on('close', onSocketClose);
    this.timers.heartbeat.add(this);
    this.timers.expiry.set(this, this.claims.exp * 1000);
    this.send({
      type: 'welcome',
      connectionId: this.connectionId,
      heartbeatMs: this.ctx.options.heartbeatMs,
      tokenExpiresAt: this.claims.exp * 1000,
      orgs: this.claims.orgs,
      epoch: this.ctx.log.epoch,
    });
  }

  private setState(next: SocketState, reason: string): void {
    if (next === this.state) return;
    this.ctx.logger.info('stream', `socket ${this.state} → ${next}`, { connectionId: this.connectionId, reason });
    this.state = next;
  }

  /** Writes one whole prepared frame (see the file comment); nothing once ws is closing. */
  private write(frame: PreparedFrame): void {
    if (this.ws.readyState !== this.ws.OPEN || !this.tcp.writable) return;
    this.tcp.write(this.deflate ? frame.deflated() : frame.plain);
    this.ctx.metrics.rawBytes(frame.rawBytes);
  }

  private send(message: ServerMessage): void {
    if (this.state !== 'open') return;
    this.write(prepareTextFrame(JSON.stringify(message)));
  }

  close(code: number, error?: StreamError): void {
    if (this.state !== 'open') return;
    const { metrics, options } = this.ctx;
    if (error) {
      this.send({ type: 'error', code: error.code, message: error.message });
      metrics.rejected(error.code);
    }
    this.setState('closing', error?.code ?? String(code));
    metrics.closed(code);
    this.ws.close(code, error?.code ?? '');
    // A peer that never answers the close frame (half-open, or not reading) is cut off.
    const ws = this.ws;
    this.graceTimer = setTimeout(() => ws.terminate(), options.closeGraceMs);
    this.graceTimer.unref();
  }

  // App-level heartbeat (not ws ping frames): browsers cannot see or send ws pings, and the
  // client needs to notice a dead server as much as we need to notice a dead client.
  beat(now: number, ping: PreparedFrame): void {
    if (this.state !== 'open') return;
    if (now - this.lastSeen > 2 * this.ctx.options.heartbeatMs) {
      this.close(CloseCode.HEARTBEAT_TIMEOUT, new StreamError(ErrorCode.HEARTBEAT_TIMEOUT, 'nothing heard from the client within two heartbeats'));
      return;
    }
    this.write(ping);
  }

  expire(): void {
    if (Date.now() < this.claims.exp * 1000) {
      this.timers.expiry.set(this, this.claims.exp * 1000);
      return;
    }
    this.close(CloseCode.TOKEN_EXPIRED, new StreamError(ErrorCode.TOKEN_EXPIRED, 'the token expired: send auth with a fresh token before tokenExpiresAt'));
  }

  private isCurrent(subscription: OrgSubscription): boolean {
    return this.state === 'open' && this.subscriptions.get(subscription.org) === subscription;
  }

  /**
   * Writes live events: the hub's shared frame when every event in it is new to this socket, a
   * frame of its own for the new ones otherwise (rare: duplicates at the seam).
   */
  writeLive(subscription: OrgSubscription, frame: HubFrame): void {
    if (this.state !== 'open') return;
    const { metrics, options } = this.ctx;
    // Backpressure: a socket that cannot drain its buffer is closed; it resumes from its cursor.
    if (this.tcp.writableLength > options.maxBufferedBytes) {
      this.close(CloseCode.SLOW_CONSUMER, new StreamError(ErrorCode.SLOW_CONSUMER, 'the socket fell too far behind: reconnect and resume from your cursor'));
      return;
    }
    const admitted = this.admitLive(subscription, frame.events);
    if (admitted === null || admitted.length === 0) return;
    if (admitted === frame.events) this.write(frame.frame);
    else this.send({ type: 'events', org: subscription.org, replayed: false, events: [...admitted] });
    metrics.delivered(admitted.length, false);
    const now = Date.now();
    for (const event of admitted) metrics.latency(now - event.ts);
  }

  /**
   * The live events that are after the last position sent (`events` itself when all are), and
   * moves that position; null after closing the socket. A networked log may deliver an event
   * again (Redis: at-least-once to a new subscriber, an event the replay already carried), and
   * the wire must never carry a duplicate. An event of another epoch means the log was wiped
   * under this subscription: the socket closes 4013 and the client's resume gets a `reset`
   * instead of a silent jump.
   */
  private admitLive(subscription: OrgSubscription, events: readonly StreamEvent[]): readonly StreamEvent[] | null {
    const sent = subscription.sent;
    if (!sent) return events;
    let admitted: StreamEvent[] | null = null;
    for (let i = 0; i < events.length; i++) {
      const event = events[i] as StreamEvent;
      const seq = seqInEpoch(event.id, sent.epoch);
      if (seq === null) {
        this.close(CloseCode.STORE_UNAVAILABLE, new StreamError(ErrorCode.STORE_UNAVAILABLE, 'the event log was replaced: reconnect and resume from your cursor to get a reset', CloseCode.STORE_UNAVAILABLE));
        return null;
      }
      if (seq <= sent.seq) {
        // First duplicate: from here on, collect the admitted ones separately.
        admitted ??= events.slice(0, i);
        continue;
      }
      sent.seq = seq;
      admitted?.push(event);
    }
    return admitted ?? events;
  }

  private sendReplayed(org: string, events: StreamEvent[]): void {
    if (events.length === 0) return;
    this.send({ type: 'events', org, replayed: true, events });
    this.ctx.metrics.delivered(events.length, true);
  }

  /**
   * Replay after `from`, then live, with no gap and no duplicate at the seam:
   *
   *   attach to hub (catching-up: live events queue up)      ── before the first read, so nothing
   *   read(org, position, page) → events {replayed} ──┐         appended from now on is missed
   *        ▲   wait while the send buffer > bound       │
   *        └────────── page was full ───────────────────┘
   *   short page → flush queued events with seq > position, then `live`, then mode = live
   *                (synchronous: no event can slip between the flush and the switch)
   *
   * A queue that overflows is dropped and paging continues: the log has those events too. Events
   * the hub has not flushed yet at the switch arrive later on the live path, where the ones the
   * replay already carried are dropped (`admitLive`).
   */
  private async catchUp(subscription: OrgSubscription, from: string): Promise<void> {
    const { options, log, metrics } = this.ctx;
    const { org } = subscription;
    let position: Cursor | null = parseCursor(from);
    let positionId = from;
    let replayed = 0;
    let resets = 0;
    while (position) {
      const page = await log.read(org, position, options.replayPageSize);
      if (!this.isCurrent(subscription)) return;
      if (page.kind === 'reset') {
        this.send({ type: 'reset', org, reason: page.reason, from, cursor: page.head, lost: page.lost });
        metrics.reset();
        resets += 1;
        position = parseCursor(page.head);
        positionId = page.head;
        // The head of this log always reads; a second reset means the store misbehaves.
        if (resets > 1) break;
        continue;
      }
      const sendable = page.events.filter((event) => wantsService(subscription.services, event.service));
      this.sendReplayed(org, sendable);
      replayed += sendable.length;
      const last = page.events.at(-1);
      if (last) {
        position = parseCursor(last.id);
        positionId = last.id;
      }
      if (page.events.length < options.replayPageSize) {
        if (subscription.queue !== null) break;
        subscription.queue = [];
        continue;
      }
      // Flow control: a far-behind client gets its pages as fast as it reads them, no faster.
      while (this.state === 'open' && this.tcp.writableLength > options.replayBufferBytes) await delay(5);
      await nextTurn();
      if (!this.isCurrent(subscription)) return;
    }
    if (!position) return;
    const seam = position;
    const tail = (subscription.queue ?? []).filter((event) => {
      const at = parseCursor(event.id);
      return at !== null && at.epoch === seam.epoch && at.seq > seam.seq && wantsService(subscription.services, event.service);
    });
    this.sendReplayed(org, tail);
    replayed += tail.length;
    const lastTail = tail.at(-1);
    if (lastTail) positionId = lastTail.id;
    subscription.queue = null;
    subscription.sent = parseCursor(positionId);
    subscription.mode = 'live';
    this.send({ type: 'live', org, cursor: positionId, replayed });
  }

  private async run(subscription: OrgSubscription, cursor: string | undefined): Promise<void> {
    // Without a cursor: live from the head, through the same seam (events appended while the
    // head is looked up are flushed, not lost).
    const from = cursor ?? (await this.ctx.log.head(subscription.org));
    if (!this.isCurrent(subscription)) return;
    await this.catchUp(subscription, from);
  }

  private startSubscription(org: string, services: string[], cursor: string | undefined): void {
    const subscription = new OrgSubscription(this, org, new Set(services));
    subscription.detach = this.ctx.hub.attach(org, subscription);
    this.subscriptions.set(org, subscription);
    this.send({ type: 'subscribed', org, services: [...subscription.services] });
    this.run(subscription, cursor).catch((error: unknown) => {
      this.ctx.logger.error('stream', 'replay failed', { connectionId: this.connectionId, org, error: String(error) });
      this.close(CloseCode.STORE_UNAVAILABLE, new StreamError(ErrorCode.STORE_UNAVAILABLE, 'the event store failed: reconnect with backoff and resume from your cursor'));
    });
  }

  private dropSubscription(subscription: OrgSubscription): void {
    subscription.detach();
    if (this.subscriptions.get(subscription.org) === subscription) this.subscriptions.delete(subscription.org);
  }

  private onSubscribe(message: Extract<ClientMessage, { type: 'subscribe' }>): void {
    if (!this.claims.orgs.includes(message.org)) {
      this.ctx.metrics.rejected(ErrorCode.FORBIDDEN_ORG);
      this.send({ type: 'error', code: ErrorCode.FORBIDDEN_ORG, message: `the token does not grant org "${message.org}"`, org: message.org });
      return;
    }
    const existing = this.subscriptions.get(message.org);
    if (!existing) {
      this.startSubscription(message.org, message.services, message.cursor);
      return;
    }
    for (const service of message.services) existing.services.add(service);
    this.send({ type: 'subscribed', org: message.org, services: [...existing.services] });
  }

  private onUnsubscribe(message: Extract<ClientMessage, { type: 'unsubscribe' }>): void {
    const existing = this.subscriptions.get(message.org);
    if (existing) {
      for (const service of message.services) existing.services.delete(service);
      if (existing.services.size === 0) this.dropSubscription(existing);
    }
    this.send({ type: 'subscribed', org: message.org, services: existing ? [...existing.services] : [] });
  }

  private async onAuth(token: string): Promise<void> {
    const verified = await this.ctx.auth.verifyToken(token);
    if (this.state !== 'open') return;
    if (verified instanceof StreamError) {
      this.close(verified.code === ErrorCode.TOKEN_EXPIRED ? CloseCode.TOKEN_EXPIRED : CloseCode.UNAUTHORIZED, verified);
      return;
    }
    if (verified.sub !== this.claims.sub) {
      this.close(CloseCode.UNAUTHORIZED, new StreamError(ErrorCode.TOKEN_INVALID, 'the new token is for another user: reconnect with it instead'));
      return;
    }
    const scopeError = requireScope(verified, 'read');
    if (scopeError) {
      this.close(CloseCode.UNAUTHORIZED, scopeError);
      return;
    }
    this.claims = verified;
    this.timers.expiry.set(this, verified.exp * 1000);
    // Replay and live delivery are authorized by the token in force now: orgs it lost are dropped.
    for (const subscription of [...this.subscriptions.values()]) {
      if (verified.orgs.includes(subscription.org)) continue;
      this.dropSubscription(subscription);
      this.ctx.metrics.rejected(ErrorCode.FORBIDDEN_ORG);
      this.send({ type: 'error', code: ErrorCode.FORBIDDEN_ORG, message: `the new token does not grant org "${subscription.org}"`, org: subscription.org });
    }
    this.send({ type: 'authenticated', tokenExpiresAt: verified.exp * 1000, orgs: verified.orgs });
  }

  onMessage(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
    if (this.state !== 'open') return;
    this.lastSeen = Date.now();
    if (!this.bucket.take(this.lastSeen)) {
      this.close(CloseCode.RATE_LIMITED, new StreamError(ErrorCode.RATE_LIMITED, 'too many messages: slow down and reconnect after a backoff'));
      return;
    }
    if (isBinary) {
      this.close(CloseCode.BAD_MESSAGE, new StreamError(ErrorCode.BAD_MESSAGE, 'binary frames are not part of the protocol: send JSON text'));
      return;
    }
    const text = Buffer.isBuffer(data)
      ? data.toString('utf8')
      : Array.isArray(data)
        ? Buffer.concat(data).toString('utf8')
        : Buffer.from(new Uint8Array(data)).toString('utf8');
    const parsed = parseClientMessage(text);
    if (!parsed.ok) {
      this.close(CloseCode.BAD_MESSAGE, parsed.error);
      return;
    }
    const message = parsed.value;
    switch (message.type) {
      case 'subscribe':
        this.onSubscribe(message);
        return;
      case 'unsubscribe':
        this.onUnsubscribe(message);
        return;
      case 'auth':
        void this.onAuth(message.token);
        return;
      case 'ping':
        this.send({ type: 'pong', t: message.t });
        return;
      case 'pong':
        return;
    }
  }

  onClosed(code: number): void {
    if (this.state === 'open') this.ctx.metrics.closed(code);
    this.setState('closed', String(code));
    this.timers.heartbeat.delete(this);
    this.timers.expiry.delete(this);
    clearTimeout(this.graceTimer);
    for (const subscription of [...this.subscriptions.values()]) this.dropSubscription(subscription);
    this.closedCallback(this);
  }
}

/** Starts the session of an accepted socket: listeners, timers, then `welcome`. */
export function createStreamSession(params: StreamSessionParams): StreamSession {
  const session = new Session(params);
  session.start();
  return session;
}

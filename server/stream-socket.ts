/**
 * One v2 socket after the upgrade: subscriptions, replay then live, heartbeats, token renewal,
 * rate limit and backpressure. Every client frame goes through protocol's `parseClientMessage`.
 */
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
import { wantsService, type HubFrame } from './hub.ts';
import { createTokenBucket } from './rate-limit.ts';

type SocketState = 'open' | 'closing' | 'closed';

/**
 * One org on one socket. `catching-up` holds live frames back in `queue` while the replay pages
 * through the log; `live` writes them at once.
 */
interface OrgSubscription {
  org: string;
  services: Set<string>;
  mode: 'catching-up' | 'live';
  /** Live frames held during catch-up; null after it overflowed (the log still has them). */
  queue: HubFrame[] | null;
  /** In `live`: the last position sent (the seam, then each live event). Live frames at or before it are dropped. */
  sent: Cursor | null;
  detach: () => void;
}

export interface StreamSessionParams {
  ws: WebSocket;
  ctx: ServerContext;
  claims: TokenClaims;
  connectionId: string;
  /** Called once, when the socket has closed. */
  onClosed: () => void;
}

export interface StreamSession {
  readonly connectionId: string;
  readonly sub: string;
  /** Closes the socket with `code` (an `error` message first when `error` is given). */
  close(code: number, error?: StreamError): void;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

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

export function createStreamSession({ ws, ctx, claims: initialClaims, connectionId, onClosed }: StreamSessionParams): StreamSession {
  const { options, log, hub, metrics, logger, auth } = ctx;
  let state: SocketState = 'open';
  let claims = initialClaims;
  let lastSeen = Date.now();
  let graceTimer: NodeJS.Timeout | undefined;
  let expiryTimer: NodeJS.Timeout | undefined;
  const subscriptions = new Map<string, OrgSubscription>();
  const bucket = createTokenBucket(options.messageRate.perSecond, options.messageRate.burst);

  function setState(next: SocketState, reason: string): void {
    if (next === state) return;
    logger.info('stream', `socket ${state} → ${next}`, { connectionId, reason });
    state = next;
  }

  function write(text: string | Buffer, bytes: number): void {
    ws.send(text, { binary: false });
    metrics.rawBytes(bytes);
  }

  function send(message: ServerMessage): void {
    if (state !== 'open') return;
    const text = JSON.stringify(message);
    write(text, Buffer.byteLength(text));
  }

  function close(code: number, error?: StreamError): void {
    if (state !== 'open') return;
    if (error) {
      send({ type: 'error', code: error.code, message: error.message });
      metrics.rejected(error.code);
    }
    setState('closing', error?.code ?? String(code));
    metrics.closed(code);
    ws.close(code, error?.code ?? '');
    // A peer that never answers the close frame (half-open, or not reading) is cut off.
    graceTimer = setTimeout(() => ws.terminate(), options.closeGraceMs);
    graceTimer.unref();
  }

  const isCurrent = (subscription: OrgSubscription) => state === 'open' && subscriptions.get(subscription.org) === subscription;

  function writeLive(frame: HubFrame): void {
    if (state !== 'open') return;
    // Backpressure: a socket that cannot drain its buffer is closed; it resumes from its cursor.
    if (ws.bufferedAmount > options.maxBufferedBytes) {
      close(CloseCode.SLOW_CONSUMER, new StreamError(ErrorCode.SLOW_CONSUMER, 'the socket fell too far behind: reconnect and resume from your cursor'));
      return;
    }
    write(frame.data, frame.data.length);
    metrics.delivered(1, false);
    metrics.latency(Date.now() - frame.event.ts);
  }

  /**
   * Lets a live frame through only when it is after the last position sent. A networked log may
   * deliver an event again (Redis: at-least-once to a new subscriber, an event the replay already
   * carried), and the wire must never carry a duplicate. A frame of another epoch means the log
   * was wiped under this subscription: the socket closes 4013 and the client's resume gets a
   * `reset` instead of a silent jump.
   */
  function admitLive(subscription: OrgSubscription, frame: HubFrame): boolean {
    const sent = subscription.sent;
    if (!sent) return true;
    const seq = seqInEpoch(frame.event.id, sent.epoch);
    if (seq === null) {
      close(CloseCode.STORE_UNAVAILABLE, new StreamError(ErrorCode.STORE_UNAVAILABLE, 'the event log was replaced: reconnect and resume from your cursor to get a reset', CloseCode.STORE_UNAVAILABLE));
      return false;
    }
    if (seq <= sent.seq) return false;
    sent.seq = seq;
    return true;
  }

  function sendReplayed(org: string, events: StreamEvent[]): void {
    if (events.length === 0) return;
    send({ type: 'events', org, replayed: true, events });
    metrics.delivered(events.length, true);
  }

  /**
   * Replay after `from`, then live, with no gap and no duplicate at the seam:
   *
   *   attach to hub (catching-up: live frames queue up)      ── before the first read, so nothing
   *   read(org, position, page) → events {replayed} ──┐         appended from now on is missed
   *        ▲   wait while bufferedAmount > bound        │
   *        └────────── page was full ───────────────────┘
   *   short page → flush queued frames with seq > position, then `live`, then mode = live
   *                (synchronous: no event can slip between the flush and the switch)
   *
   * A queue that overflows is dropped and paging continues: the log has those events too.
   */
  async function catchUp(subscription: OrgSubscription, from: string): Promise<void> {
    const { org } = subscription;
    let position: Cursor | null = parseCursor(from);
    let positionId = from;
    let replayed = 0;
    let resets = 0;
    while (position) {
      const page = await log.read(org, position, options.replayPageSize);
      if (!isCurrent(subscription)) return;
      if (page.kind === 'reset') {
        send({ type: 'reset', org, reason: page.reason, from, cursor: page.head, lost: page.lost });
        metrics.reset();
        resets += 1;
        position = parseCursor(page.head);
        positionId = page.head;
        // The head of this log always reads; a second reset means the store misbehaves.
        if (resets > 1) break;
        continue;
      }
      const sendable = page.events.filter((event) => wantsService(subscription.services, event.service));
      sendReplayed(org, sendable);
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
      while (state === 'open' && ws.bufferedAmount > options.replayBufferBytes) await delay(5);
      await nextTurn();
      if (!isCurrent(subscription)) return;
    }
    if (!position) return;
    const seam = position;
    const tail = (subscription.queue ?? [])
      .map((frame) => frame.event)
      .filter((event) => {
        const at = parseCursor(event.id);
        return at !== null && at.epoch === seam.epoch && at.seq > seam.seq && wantsService(subscription.services, event.service);
      });
    sendReplayed(org, tail);
    replayed += tail.length;
    const lastTail = tail.at(-1);
    if (lastTail) positionId = lastTail.id;
    subscription.queue = null;
    subscription.sent = parseCursor(positionId);
    subscription.mode = 'live';
    send({ type: 'live', org, cursor: positionId, replayed });
  }

  function startSubscription(org: string, services: string[], cursor: string | undefined): void {
    const subscription: OrgSubscription = {
      org,
      services: new Set(services),
      mode: 'catching-up',
      queue: [],
      sent: null,
      detach: () => {},
    };
    subscription.detach = hub.attach(org, {
      services: subscription.services,
      deliver(frame) {
        if (subscription.mode === 'live') {
          if (admitLive(subscription, frame)) writeLive(frame);
          return;
        }
        if (subscription.queue === null) return;
        if (subscription.queue.length >= options.replayQueueLimit) subscription.queue = null;
        else subscription.queue.push(frame);
      },
    });
    subscriptions.set(org, subscription);
    send({ type: 'subscribed', org, services: [...subscription.services] });
    const run = async () => {
      // Without a cursor: live from the head, through the same seam (events appended while the
      // head is looked up are flushed, not lost).
      const from = cursor ?? (await log.head(org));
      if (!isCurrent(subscription)) return;
      await catchUp(subscription, from);
    };
    run().catch((error: unknown) => {
      logger.error('stream', 'replay failed', { connectionId, org, error: String(error) });
      close(CloseCode.STORE_UNAVAILABLE, new StreamError(ErrorCode.STORE_UNAVAILABLE, 'the event store failed: reconnect with backoff and resume from your cursor'));
    });
  }

  function dropSubscription(subscription: OrgSubscription): void {
    subscription.detach();
    if (subscriptions.get(subscription.org) === subscription) subscriptions.delete(subscription.org);
  }

  function onSubscribe(message: Extract<ClientMessage, { type: 'subscribe' }>): void {
    if (!claims.orgs.includes(message.org)) {
      metrics.rejected(ErrorCode.FORBIDDEN_ORG);
      send({ type: 'error', code: ErrorCode.FORBIDDEN_ORG, message: `the token does not grant org "${message.org}"`, org: message.org });
      return;
    }
    const existing = subscriptions.get(message.org);
    if (!existing) {
      startSubscription(message.org, message.services, message.cursor);
      return;
    }
    for (const service of message.services) existing.services.add(service);
    send({ type: 'subscribed', org: message.org, services: [...existing.services] });
  }

  function onUnsubscribe(message: Extract<ClientMessage, { type: 'unsubscribe' }>): void {
    const existing = subscriptions.get(message.org);
    if (existing) {
      for (const service of message.services) existing.services.delete(service);
      if (existing.services.size === 0) dropSubscription(existing);
    }
    send({ type: 'subscribed', org: message.org, services: existing ? [...existing.services] : [] });
  }

  function scheduleExpiry(): void {
    clearTimeout(expiryTimer);
    const remaining = claims.exp * 1000 - Date.now();
    expiryTimer = setTimeout(() => {
      if (Date.now() < claims.exp * 1000) {
        scheduleExpiry();
        return;
      }
      close(CloseCode.TOKEN_EXPIRED, new StreamError(ErrorCode.TOKEN_EXPIRED, 'the token expired: send auth with a fresh token before tokenExpiresAt'));
    }, Math.min(Math.max(remaining, 0), MAX_TIMER_MS));
    expiryTimer.unref();
  }

  async function onAuth(token: string): Promise<void> {
    const verified = await auth.verifyToken(token);
    if (state !== 'open') return;
    if (verified instanceof StreamError) {
      close(verified.code === ErrorCode.TOKEN_EXPIRED ? CloseCode.TOKEN_EXPIRED : CloseCode.UNAUTHORIZED, verified);
      return;
    }
    if (verified.sub !== claims.sub) {
      close(CloseCode.UNAUTHORIZED, new StreamError(ErrorCode.TOKEN_INVALID, 'the new token is for another user: reconnect with it instead'));
      return;
    }
    const scopeError = requireScope(verified, 'read');
    if (scopeError) {
      close(CloseCode.UNAUTHORIZED, scopeError);
      return;
    }
    claims = verified;
    scheduleExpiry();
    // Replay and live delivery are authorized by the token in force now: orgs it lost are dropped.
    for (const subscription of [...subscriptions.values()]) {
      if (claims.orgs.includes(subscription.org)) continue;
      dropSubscription(subscription);
      metrics.rejected(ErrorCode.FORBIDDEN_ORG);
      send({ type: 'error', code: ErrorCode.FORBIDDEN_ORG, message: `the new token does not grant org "${subscription.org}"`, org: subscription.org });
    }
    send({ type: 'authenticated', tokenExpiresAt: claims.exp * 1000, orgs: claims.orgs });
  }

  function onMessage(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
    if (state !== 'open') return;
    lastSeen = Date.now();
    if (!bucket.take(lastSeen)) {
      close(CloseCode.RATE_LIMITED, new StreamError(ErrorCode.RATE_LIMITED, 'too many messages: slow down and reconnect after a backoff'));
      return;
    }
    if (isBinary) {
      close(CloseCode.BAD_MESSAGE, new StreamError(ErrorCode.BAD_MESSAGE, 'binary frames are not part of the protocol: send JSON text'));
      return;
    }
    const text = Buffer.isBuffer(data)
      ? data.toString('utf8')
      : Array.isArray(data)
        ? Buffer.concat(data).toString('utf8')
        : Buffer.from(new Uint8Array(data)).toString('utf8');
    const parsed = parseClientMessage(text);
    if (!parsed.ok) {
      close(CloseCode.BAD_MESSAGE, parsed.error);
      return;
    }
    const message = parsed.value;
    switch (message.type) {
      case 'subscribe':
        onSubscribe(message);
        return;
      case 'unsubscribe':
        onUnsubscribe(message);
        return;
      case 'auth':
        void onAuth(message.token);
        return;
      case 'ping':
        send({ type: 'pong', t: message.t });
        return;
      case 'pong':
        return;
    }
  }

  // App-level heartbeat (not ws ping frames): browsers cannot see or send ws pings, and the
  // client needs to notice a dead server as much as we need to notice a dead client.
  const heartbeat = setInterval(() => {
    if (state !== 'open') return;
    if (Date.now() - lastSeen > 2 * options.heartbeatMs) {
      close(CloseCode.HEARTBEAT_TIMEOUT, new StreamError(ErrorCode.HEARTBEAT_TIMEOUT, 'nothing heard from the client within two heartbeats'));
      return;
    }
    send({ type: 'ping', t: Date.now() });
  }, options.heartbeatMs);
  heartbeat.unref();

  ws.on('message', onMessage);
  ws.on('error', (error: Error & { code?: string }) => {
    if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') metrics.rejected(ErrorCode.PAYLOAD_TOO_LARGE);
    logger.warn('stream', 'socket error', { connectionId, error: error.message, code: error.code });
  });
  ws.on('close', (code: number) => {
    if (state === 'open') metrics.closed(code);
    setState('closed', String(code));
    clearInterval(heartbeat);
    clearTimeout(expiryTimer);
    clearTimeout(graceTimer);
    for (const subscription of [...subscriptions.values()]) dropSubscription(subscription);
    onClosed();
  });

  scheduleExpiry();
  send({
    type: 'welcome',
    connectionId,
    heartbeatMs: options.heartbeatMs,
    tokenExpiresAt: claims.exp * 1000,
    orgs: claims.orgs,
    epoch: log.epoch,
  });

  return {
    connectionId,
    get sub() {
      return claims.sub;
    },
    close,
  };
}

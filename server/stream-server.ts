/**
 * The v2 endpoint `ws://HOST/v2/realtime/stream`: checks an upgrade (path, Origin, token, scope)
 * before accepting it, then hands the socket to a stream session.
 *
 *   upgrade ──path?──404 ──Origin?──403 ──token?──401 ──read scope?──403 ──accept
 *                                                                   │
 *        kill switch on → close 4010   store unavailable → close 4013
 *        user over socket cap → close 4012   else → welcome
 *
 * Refusals after the accept (4010, 4013, 4012) are deliberate: a browser never sees the status of
 * a refused upgrade, only a close code, and the client needs the code to know to fall back to v1
 * (4010) or to retry with backoff and resume (4013).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { CloseCode, ErrorCode, StreamError } from '../protocol/index.ts';
import { requireScope, STREAM_SUBPROTOCOL, tokenFromRequest } from './auth.ts';
import type { ServerContext } from './context.ts';
import { createDeadlines } from './deadlines.ts';
import { createHeartbeat } from './heartbeat.ts';
import { refuseUpgrade } from './http-io.ts';
import { isOriginAllowed } from './origin.ts';
import { PREPARED_FRAME_DEFLATE, prepareTextFrame } from './prepared-frame.ts';
import type { StoreStatus } from './store-status.ts';
import { createStreamSession, type SessionTimers, type StreamSession } from './stream-socket.ts';

export const STREAM_PATH = '/v2/realtime/stream';

export interface StreamServer {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  activeConnections(): number;
  /** Bytes written to TCP by stream sockets, closed and open. */
  wireBytes(): number;
  /** Closes every open socket with `code` (and an error message when given). */
  closeAll(code: number, error?: StreamError): void;
  /** Closes every socket with 1001 and waits until they are gone. */
  close(): Promise<void>;
}

/**
 * The v2 endpoint over `ctx`. `store` closes every socket with 4013 when the event store becomes
 * unavailable and turns new sockets away with 4013 until it is back.
 */
export function createStreamServer(ctx: ServerContext, store: StoreStatus): StreamServer {
  const { options, auth, metrics, logger, streaming } = ctx;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxPayloadBytes,
    clientTracking: false,
    handleProtocols: (protocols) => (protocols.has(STREAM_SUBPROTOCOL) ? STREAM_SUBPROTOCOL : false),
    // Sessions deflate each message once for all sockets (prepared-frame.ts); ws only negotiates
    // and inflates what clients send. ws never deflates, so it keeps no deflate stream per socket.
    perMessageDeflate: options.compression ? PREPARED_FRAME_DEFLATE : false,
  });
  const timers: SessionTimers = {
    // One tick for every socket; its ping frame is prepared once per tick.
    heartbeat: createHeartbeat(options.heartbeatMs, (members, now) => {
      const ping = prepareTextFrame(JSON.stringify({ type: 'ping', t: now }));
      for (const session of members) session.beat(now, ping);
    }),
    expiry: createDeadlines((session) => session.expire()),
  };
  const sessions = new Set<StreamSession>();
  const sockets = new Set<WebSocket>();
  const tcpSockets = new Set<Socket>();
  const perUser = new Map<string, number>();
  let closedWireBytes = 0;

  function refuse(socket: Duplex, error: StreamError): void {
    metrics.rejected(error.code);
    refuseUpgrade(socket, error);
  }

  function closeAccepted(ws: WebSocket, code: number, error: StreamError): void {
    metrics.rejected(error.code);
    metrics.closed(code);
    ws.send(JSON.stringify({ type: 'error', code: error.code, message: error.message }));
    ws.close(code, error.code);
    setTimeout(() => ws.terminate(), options.closeGraceMs).unref();
  }

  // Listeners shared by every socket (`this` is the emitter): no closures per connection.
  function onTcpClose(this: Socket): void {
    closedWireBytes += this.bytesWritten;
    tcpSockets.delete(this);
  }
  function onWsClose(this: WebSocket): void {
    sockets.delete(this);
  }
  function onSocketError(error: Error): void {
    logger.warn('stream', 'socket error', { error: error.message });
  }
  function onUpgradeSocketError(error: Error): void {
    logger.warn('upgrade', 'socket error', { error: error.message });
  }
  function onSessionClosed(session: StreamSession): void {
    sessions.delete(session);
    const left = (perUser.get(session.sub) ?? 1) - 1;
    if (left <= 0) perUser.delete(session.sub);
    else perUser.set(session.sub, left);
  }

  function track(ws: WebSocket, tcp: Socket): void {
    sockets.add(ws);
    tcpSockets.add(tcp);
    tcp.on('close', onTcpClose);
    ws.on('close', onWsClose);
    // Sockets refused after the accept have no session: without a listener an error would crash the process.
    ws.on('error', onSocketError);
  }

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    // http-server.ts routes only STREAM_PATH here (anything else got 404) and has checked the target parses.
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (!isOriginAllowed(req, options.allowedOrigins)) {
      logger.warn('upgrade', 'origin refused', { origin: req.headers.origin });
      refuse(socket, new StreamError(ErrorCode.ORIGIN_NOT_ALLOWED, 'this Origin may not open the stream'));
      return;
    }
    const claims = await auth.verifyToken(tokenFromRequest(req, url, { allowQuery: true, allowProtocol: true }));
    if (claims instanceof StreamError) {
      refuse(socket, claims);
      return;
    }
    const scopeError = requireScope(claims, 'read');
    if (scopeError) {
      refuse(socket, scopeError);
      return;
    }
    if (socket.destroyed) return;
    wss.handleUpgrade(req, socket, head, (ws) => {
      track(ws, socket as Socket);
      if (!streaming.enabled) {
        closeAccepted(ws, CloseCode.V2_DISABLED, new StreamError(ErrorCode.V2_DISABLED, 'streaming v2 is switched off: use v1 long-polling'));
        return;
      }
      if (!store.available) {
        closeAccepted(ws, CloseCode.STORE_UNAVAILABLE, store.unavailableError());
        return;
      }
      const count = perUser.get(claims.sub) ?? 0;
      if (count >= options.maxSocketsPerUser) {
        closeAccepted(ws, CloseCode.TOO_MANY_CONNECTIONS, new StreamError(ErrorCode.TOO_MANY_CONNECTIONS, `at most ${options.maxSocketsPerUser} sockets per user: close another tab or wait`));
        return;
      }
      perUser.set(claims.sub, count + 1);
      const connectionId = randomUUID();
      const session = createStreamSession({ ws, tcp: socket as Socket, ctx, timers, claims, connectionId, onClosed: onSessionClosed });
      sessions.add(session);
      logger.info('upgrade', 'stream opened', { connectionId, sub: claims.sub, orgs: claims.orgs });
    });
  }

  function closeAll(code: number, error?: StreamError): void {
    for (const session of [...sessions]) session.close(code, error);
  }

  streaming.onChange((enabled) => {
    if (!enabled) closeAll(CloseCode.V2_DISABLED, new StreamError(ErrorCode.V2_DISABLED, 'streaming v2 was switched off: use v1 long-polling'));
  });
  // Clients must learn that nothing is published or delivered now (and after an epoch change, that
  // their cursors need a reset): close, and they retry with backoff and resume from their cursors.
  store.onChange((available) => {
    if (!available) closeAll(CloseCode.STORE_UNAVAILABLE, store.unavailableError());
  });

  return {
    handleUpgrade(req, socket, head) {
      socket.on('error', onUpgradeSocketError);
      upgrade(req, socket, head).catch((error: unknown) => {
        logger.error('upgrade', 'upgrade failed', { error: String(error) });
        refuse(socket, new StreamError(ErrorCode.INTERNAL, 'the upgrade failed on the server'));
      });
    },
    activeConnections: () => sessions.size,
    wireBytes() {
      let total = closedWireBytes;
      for (const tcp of tcpSockets) total += tcp.bytesWritten;
      return total;
    },
    closeAll,
    async close() {
      closeAll(CloseCode.GOING_AWAY);
      const open = [...sockets];
      await Promise.all(
        open.map(
          (ws) =>
            new Promise<void>((resolve) => {
              if (ws.readyState === ws.CLOSED) {
                resolve();
                return;
              }
              ws.once('close', () => resolve());
              // Sockets closed before a session existed (4010/4012/4013) close themselves; others get the grace timer.
              setTimeout(() => {
                ws.terminate();
                resolve();
              }, options.closeGraceMs + 100).unref();
            }),
        ),
      );
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      timers.heartbeat.close();
      timers.expiry.close();
    },
  };
}

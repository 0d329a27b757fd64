/**
 * The transport seam: the engine talks to `{ send, close, onMessage, onClose }`, never to
 * `WebSocket` directly, so unit tests drive it with a fake socket and the browser with a real one.
 */
import type { ClientMessage } from '../protocol/index.ts';

export interface TransportClose {
  code: number;
  reason: string;
  /** False when the socket never opened (refused upgrade, network down: code 1006). */
  wasOpen: boolean;
}

export interface Transport {
  send(message: ClientMessage): void;
  close(code?: number, reason?: string): void;
  onMessage(handler: (text: string) => void): void;
  onClose(handler: (info: TransportClose) => void): void;
}

/** Opens a v2 stream to `server` (a base URL, e.g. `https://eu1.example.com`) with `token`. */
export type ConnectV2 = (token: string, server: string) => Transport;

/** `http(s)://host` → `ws(s)://host/v2/realtime/stream`. */
export function streamUrl(base: string): string {
  const url = new URL('/v2/realtime/stream', base);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

/**
 * A transport over the browser's WebSocket. The token travels as a subprotocol
 * (`bearer.<token>`) so it stays out of URLs and access logs.
 */
export function createWebSocketTransport(
  base: string,
  token: string,
  WebSocketImpl: typeof WebSocket = WebSocket,
): Transport {
  const socket = new WebSocketImpl(streamUrl(base), ['realtime.v2', `bearer.${token}`]);
  let opened = false;
  let closeHandler: ((info: TransportClose) => void) | undefined;
  let closed = false;
  const finish = (info: TransportClose): void => {
    if (closed) return;
    closed = true;
    closeHandler?.(info);
  };
  socket.addEventListener('open', () => {
    opened = true;
  });
  socket.addEventListener('close', (event) => finish({ code: event.code, reason: event.reason, wasOpen: opened }));
  return {
    send(message) {
      if (socket.readyState === WebSocketImpl.OPEN) socket.send(JSON.stringify(message));
    },
    close(code = 1000, reason = '') {
      try {
        socket.close(code, reason);
      } catch {
        socket.close();
      }
    },
    onMessage(handler) {
      socket.addEventListener('message', (event) => {
        if (typeof event.data === 'string') handler(event.data);
      });
    },
    onClose(handler) {
      closeHandler = handler;
    },
  };
}

/**
 * Bytes on the wire as the clients see them: the sum of `bytesRead` over every TCP socket this
 * process opens (found through the `net.client.socket` diagnostics channel, so it covers `ws`
 * and socket.io-client alike without reaching into either). WebSocket frame headers and
 * compression are included; TCP/IP headers are not.
 */
import { subscribe } from 'node:diagnostics_channel';
import type { Socket } from 'node:net';

export interface WireMeter {
  /** Bytes read so far by metered sockets, open and closed. */
  bytesRead(): number;
  /** Stops metering `socket` (e.g. the publisher's HTTP connections). */
  exclude(socket: Socket): void;
}

function isSocketMessage(message: unknown): message is { socket: Socket } {
  return typeof message === 'object' && message !== null && 'socket' in message;
}

export function createWireMeter(): WireMeter {
  const open = new Set<Socket>();
  const excluded = new WeakSet<Socket>();
  let closedBytes = 0;
  subscribe('net.client.socket', (message) => {
    if (!isSocketMessage(message)) return;
    const { socket } = message;
    open.add(socket);
    socket.once('close', () => {
      if (open.delete(socket) && !excluded.has(socket)) closedBytes += socket.bytesRead;
    });
  });
  return {
    bytesRead() {
      let total = closedBytes;
      for (const socket of open) total += socket.bytesRead;
      return total;
    },
    exclude(socket) {
      excluded.add(socket);
      open.delete(socket);
    },
  };
}

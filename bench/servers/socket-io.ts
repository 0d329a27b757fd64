/**
 * Peer: Socket.IO 4.8 as most teams would set it up: one room per org, connection-state
 * recovery on (it keeps recent packets so a client that reconnects gets what it missed),
 * WebSocket transport only. `POST /publish` emits the event to the org's room.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { createStamper, handlePublish } from './bench-events.ts';
import { serveServer } from './server-commands.ts';

let io: Server | null = null;

serveServer({
  connections: () => io?.engine.clientsCount ?? 0,
  async start() {
    const stamp = createStamper();
    const http = createServer((req, res) =>
      handlePublish(req, res, (input) => {
        const event = stamp(input);
        io?.to(event.org).emit('events', { type: 'events', org: event.org, replayed: false, events: [event] });
        return event;
      }),
    );
    io = new Server(http, {
      transports: ['websocket'],
      connectionStateRecovery: { maxDisconnectionDuration: 2 * 60_000, skipMiddlewares: true },
      maxHttpBufferSize: 64 * 1024,
    });
    io.on('connection', (socket) => {
      const org = socket.handshake.query.org;
      void socket.join(typeof org === 'string' ? org : 'default');
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const { port } = http.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}` };
  },
});

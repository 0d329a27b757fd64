/** Load-generator side of the Socket.IO peer: socket.io-client sockets (one Manager each), `POST /publish`. */
import { io } from 'socket.io-client';
import { createHttpPublisher } from '../http-publisher.ts';
import { readStamps, type PeerClient } from './client-types.ts';

const CONNECT_TIMEOUT_MS = 15_000;

export const socketIoClient: PeerClient = {
  async prepare(baseUrl, _orgs, onPublisherSocket) {
    const publisher = createHttpPublisher({ url: `${baseUrl}/publish`, onSocket: onPublisherSocket });
    return {
      connect(org, handlers) {
        // forceNew: without it every io() to one URL shares a single multiplexed connection.
        const socket = io(baseUrl, { transports: ['websocket'], forceNew: true, reconnection: false, timeout: CONNECT_TIMEOUT_MS, query: { org } });
        let closing = false;
        socket.on('events', (message: unknown) => handlers.onEvents(readStamps(message)));
        return new Promise((resolve, reject) => {
          socket.once('connect', () => resolve({ close: () => ((closing = true), socket.disconnect()) }));
          socket.once('connect_error', reject);
          socket.on('disconnect', () => {
            if (!closing) handlers.onClose(0);
          });
        });
      },
      publish: (input) => publisher.publish(input),
      close: () => publisher.close(),
    };
  },
};

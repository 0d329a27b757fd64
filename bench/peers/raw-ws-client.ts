/** Load-generator side of the raw `ws` peer: `ws` clients on `/?org=`, publish with `POST /publish`. */
import WebSocket from 'ws';
import { createHttpPublisher } from '../http-publisher.ts';
import { clientDeflateOptions, parseFrame, readStamps, toWebSocketUrl, type PeerClient } from './client-types.ts';

const CONNECT_TIMEOUT_MS = 15_000;

export const rawWsClient: PeerClient = {
  async prepare(baseUrl, _orgs, onPublisherSocket) {
    const publisher = createHttpPublisher({ url: `${baseUrl}/publish`, onSocket: onPublisherSocket });
    return {
      connect(org, handlers, deflate) {
        const ws = new WebSocket(toWebSocketUrl(baseUrl, `/?org=${encodeURIComponent(org)}`), { perMessageDeflate: clientDeflateOptions(deflate), skipUTF8Validation: true, handshakeTimeout: CONNECT_TIMEOUT_MS });
        let closing = false;
        ws.on('message', (data) => handlers.onEvents(readStamps(parseFrame(data))));
        return new Promise((resolve, reject) => {
          ws.once('open', () => resolve({ close: () => ((closing = true), ws.close()) }));
          ws.once('error', reject);
          ws.on('close', (code) => {
            if (!closing) handlers.onClose(code);
          });
        });
      },
      publish: (input) => publisher.publish(input),
      close: () => publisher.close(),
    };
  },
};

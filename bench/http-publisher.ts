/** Publishes events over HTTP with kept-alive connections, as an app backend would. */
import { Agent, request } from 'node:http';
import { Socket } from 'node:net';

export interface HttpPublisher {
  /** POSTs `body` as JSON; resolves once the server answered 2xx, rejects otherwise. */
  publish(body: unknown): Promise<void>;
  close(): void;
}

export interface HttpPublisherOptions {
  url: string;
  authorization?: string;
  /** Called with each TCP socket the publisher opens (the wire meter excludes them). */
  onSocket?: (socket: Socket) => void;
}

export function createHttpPublisher({ url, authorization, onSocket }: HttpPublisherOptions): HttpPublisher {
  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  const target = new URL(url);
  // Agent.createConnection is the documented hook where an agent's sockets are made.
  const createConnection = agent.createConnection.bind(agent);
  agent.createConnection = (options, callback) => {
    const socket = createConnection(options, callback);
    if (socket instanceof Socket) onSocket?.(socket);
    return socket;
  };
  return {
    publish(body) {
      const payload = JSON.stringify(body);
      return new Promise((resolve, reject) => {
        const req = request(
          {
            agent,
            method: 'POST',
            host: target.hostname,
            port: target.port,
            path: target.pathname,
            headers: {
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(payload),
              ...(authorization ? { authorization } : {}),
            },
          },
          (res) => {
            res.resume();
            res.on('end', () => {
              const status = res.statusCode ?? 0;
              if (status >= 200 && status < 300) resolve();
              else reject(new Error(`publish answered ${status}`));
            });
          },
        );
        req.on('error', reject);
        req.end(payload);
      });
    },
    close() {
      agent.destroy();
    },
  };
}

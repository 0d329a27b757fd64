/**
 * A loopback TCP proxy that counts what one browser tab costs on the network: bytes both ways and
 * HTTP requests (a chunk from the client that starts with a request line). It sits in front of
 * the server, so it sees the page, its SharedWorker, polls and the WebSocket alike, whatever the
 * browser hides from DevTools protocol listeners (NOTES.md: a SharedWorker's socket is invisible
 * to page.on('websocket')).
 */
import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net';

export interface MeterReading {
  bytesUp: number;
  bytesDown: number;
  requests: number;
  connections: number;
}

export interface MeteringProxy {
  readonly url: string;
  reading(): MeterReading;
  close(): Promise<void>;
}

const REQUEST_LINE = /^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) \S+ HTTP\/1\.[01]\r\n/;

export async function startMeteringProxy(target: URL): Promise<MeteringProxy> {
  const totals: MeterReading = { bytesUp: 0, bytesDown: 0, requests: 0, connections: 0 };
  const open = new Set<Socket>();
  const server = createServer((client) => {
    totals.connections += 1;
    const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
    open.add(client).add(upstream);
    client.on('data', (chunk: Buffer) => {
      totals.bytesUp += chunk.length;
      if (REQUEST_LINE.test(chunk.subarray(0, 256).toString('latin1'))) totals.requests += 1;
    });
    upstream.on('data', (chunk: Buffer) => (totals.bytesDown += chunk.length));
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    reading: () => ({ ...totals }),
    async close() {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

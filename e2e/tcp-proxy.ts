/**
 * A TCP proxy on loopback for network faults, written for the tests (node:net only): the browser
 * talks to the proxy, the proxy to the server. `cut()` blackholes the connections open at that
 * moment: bytes in either direction are read and dropped, and neither end is closed or told, which
 * is what a dead NAT entry or a pulled cable looks like to both peers (a half-open connection).
 * Connections opened after the cut pass normally, as on a network that came back with new routes.
 */
import { createConnection, createServer, type Socket } from 'node:net';

export interface ProxyConnection {
  readonly id: number;
  /** The first bytes the client sent (the HTTP request line), to tell WebSockets from fetches. */
  head: string;
  readonly openedAt: number;
  blackholed: boolean;
  /** Bytes forwarded (or dropped, once blackholed) from the client and from the server. */
  fromClient: number;
  fromServer: number;
  /** When the client last sent anything (ms since epoch). */
  lastFromClientAt: number;
  closedAt: number | null;
}

export interface TcpProxy {
  /** `http://127.0.0.1:PORT`: open the demo here so every request goes through the proxy. */
  readonly url: string;
  /** Connections currently open through the proxy. */
  connections(): ProxyConnection[];
  /** Every connection since the start, closed ones included. */
  history(): ProxyConnection[];
  /**
   * Blackholes every open connection that `match` selects (default: all). Returns how many. The
   * ends stay open: only a heartbeat can find out.
   */
  cut(match?: (connection: ProxyConnection) => boolean): number;
  /** Destroys every connection and stops listening. */
  close(): Promise<void>;
}

/** Starts a proxy on a free loopback port forwarding to `target` (`http://127.0.0.1:PORT`). */
export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const { hostname, port } = new URL(target);
  const open = new Map<number, { info: ProxyConnection; client: Socket; upstream: Socket }>();
  const all: ProxyConnection[] = [];
  let nextId = 0;

  const server = createServer((client) => {
    const info: ProxyConnection = {
      id: ++nextId,
      head: '',
      openedAt: Date.now(),
      blackholed: false,
      fromClient: 0,
      fromServer: 0,
      lastFromClientAt: 0,
      closedAt: null,
    };
    all.push(info);
    const upstream = createConnection({ host: hostname, port: Number(port) });
    open.set(info.id, { info, client, upstream });
    const forward = (from: Socket, to: Socket, fromClient: boolean): void => {
      from.on('data', (chunk: Buffer) => {
        if (fromClient) {
          if (info.head.length < 512) info.head += chunk.toString('latin1', 0, Math.min(chunk.length, 512));
          info.fromClient += chunk.length;
          info.lastFromClientAt = Date.now();
        } else {
          info.fromServer += chunk.length;
        }
        if (info.blackholed) return;
        // Backpressure as on a real link: stop reading while the other side cannot take more.
        if (!to.write(chunk)) {
          from.pause();
          to.once('drain', () => from.resume());
        }
      });
      from.on('end', () => {
        if (!info.blackholed) to.end();
      });
    };
    forward(client, upstream, true);
    forward(upstream, client, false);
    const finish = (): void => {
      // A blackholed connection's ends learn nothing of each other, not even that one closed.
      if (!info.blackholed) {
        client.destroy();
        upstream.destroy();
      }
      if (client.destroyed && upstream.destroyed) {
        info.closedAt ??= Date.now();
        open.delete(info.id);
      }
    };
    client.on('close', finish);
    upstream.on('close', finish);
    client.on('error', () => {});
    upstream.on('error', () => {});
  });

  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');

  return {
    url: `http://127.0.0.1:${address.port}`,
    connections: () => [...open.values()].map(({ info }) => info),
    history: () => [...all],
    cut(match = () => true) {
      let count = 0;
      for (const { info, client, upstream } of open.values()) {
        if (info.blackholed || !match(info)) continue;
        info.blackholed = true;
        // Keep reading (and dropping) so neither peer's writes back up into an error.
        client.resume();
        upstream.resume();
        count += 1;
      }
      return count;
    },
    async close() {
      for (const { client, upstream } of open.values()) {
        client.destroy();
        upstream.destroy();
      }
      open.clear();
      await new Promise<void>((closed) => server.close(() => closed()));
    },
  };
}

/** True for a connection that began with a WebSocket upgrade request. */
export const isWebSocket = (connection: ProxyConnection): boolean => /^GET [^ ]*\/v2\/realtime\/stream/.test(connection.head);

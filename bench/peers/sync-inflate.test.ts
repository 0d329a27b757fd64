import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { installSyncInflate } from './sync-inflate.ts';

let server: WebSocketServer | null = null;
afterEach(() => server?.close());

async function roundTrip(serverNoContextTakeover: boolean, send: (ws: WebSocket) => void, count: number): Promise<string[]> {
  installSyncInflate();
  server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: { serverNoContextTakeover, threshold: 0 } });
  await once(server, 'listening');
  server.on('connection', send);
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`, { perMessageDeflate: true });
  const received: string[] = [];
  await new Promise<void>((resolve, reject) => {
    client.on('message', (data) => {
      received.push(String(data));
      if (received.length === count) resolve();
    });
    client.on('error', reject);
  });
  client.close();
  return received;
}

describe('sync inflate (load generator)', () => {
  it('inflates every message byte-exactly without context takeover, fragmented ones included', async () => {
    const texts = Array.from({ length: 300 }, (_, index) => JSON.stringify({ index, text: 'event '.repeat(index % 50) }));
    const received = await roundTrip(
      true,
      (ws) => {
        for (const text of texts) ws.send(text);
        ws.send('part one, ', { fin: false });
        ws.send('part two', { fin: true });
      },
      texts.length + 1,
    );
    expect(received).toEqual([...texts, 'part one, part two']);
  });

  it("leaves sockets with context takeover to ws's own inflate", async () => {
    const texts = ['{"a":1}', '{"a":1}', '{"a":1,"b":2}'];
    expect(await roundTrip(false, (ws) => texts.forEach((text) => ws.send(text)), texts.length)).toEqual(texts);
  });
});

import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { createEventMix } from '../event-mix.ts';
import { acceptsDeflate, COMPRESS_ONCE_DEFLATE, prepareTextFrame } from './compress-once.ts';

let server: WebSocketServer | null = null;

afterEach(async () => {
  server?.close();
  server = null;
});

/** A server that writes `frames` straight to the TCP socket of each client, as the compress-once broadcaster does. */
async function serveFrames(texts: string[]): Promise<{ url: string; negotiated: Promise<boolean> }> {
  server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: COMPRESS_ONCE_DEFLATE });
  await once(server, 'listening');
  const negotiated = new Promise<boolean>((resolve) => {
    server?.once('connection', (ws, req) => {
      const deflate = acceptsDeflate(ws.extensions);
      for (const text of texts) (req.socket as Socket).write(prepareTextFrame(text, deflate));
      resolve(deflate);
    });
  });
  return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`, negotiated };
}

async function receive(url: string, count: number, perMessageDeflate: boolean): Promise<string[]> {
  const client = new WebSocket(url, { perMessageDeflate });
  const messages: string[] = [];
  await new Promise<void>((resolve, reject) => {
    client.on('message', (data) => {
      messages.push(String(data));
      if (messages.length === count) resolve();
    });
    client.on('error', reject);
  });
  client.close();
  return messages;
}

describe('compress once', () => {
  it('frames one deflated message that a ws client inflates byte-exactly, for the whole event mix', async () => {
    const mix = createEventMix(1);
    // Sizes over 125 and 65,535 bytes exercise the 16- and 64-bit length headers.
    const texts = [...Array.from({ length: 50 }, () => JSON.stringify(mix.next())), 'x', 'é'.repeat(40_000)];
    const { url, negotiated } = await serveFrames(texts);
    expect(await receive(url, texts.length, true)).toEqual(texts);
    expect(await negotiated).toBe(true);
  });

  it('falls back to plain frames for a client that did not negotiate deflate', async () => {
    const texts = ['{"type":"events"}', 'y'.repeat(300)];
    const { url, negotiated } = await serveFrames(texts);
    expect(await receive(url, texts.length, false)).toEqual(texts);
    expect(await negotiated).toBe(false);
  });

  it('makes the compressed frame smaller than the plain one for a realistic event, with RSV1 set', () => {
    const text = JSON.stringify(createEventMix(2).next());
    const compressed = prepareTextFrame(text, true);
    const plain = prepareTextFrame(text, false);
    expect(compressed.length).toBeLessThan(plain.length);
    expect(compressed[0]).toBe(0x80 | 0x40 | 0x1);
    expect(plain[0]).toBe(0x80 | 0x1);
  });

  it('reads the negotiated extensions of a ws socket', () => {
    expect(acceptsDeflate('permessage-deflate')).toBe(true);
    expect(acceptsDeflate('')).toBe(false);
  });
});

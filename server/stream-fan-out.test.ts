/**
 * Fan-out through prepared frames (prepared-frame.ts, hub.ts, stream-socket.ts) over real sockets:
 * one frame per event burst, the same bytes to every socket, deflated once for the sockets that
 * negotiated permessage-deflate, whole frames in order, one shared heartbeat tick.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Opcode, openRawWebSocket, type RawWebSocket, type ServerFrame } from './raw-websocket.ts';
import { connectReady, range, seqs, startTestServer, type TestClient, type TestServer } from './test-support.ts';

let server: TestServer | null = null;
const clients: TestClient[] = [];
const raws: RawWebSocket[] = [];

afterEach(async () => {
  for (const raw of raws.splice(0)) raw.destroy();
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await server?.close();
  server = null;
});

async function until(check: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const isText = (frame: ServerFrame) => frame.opcode === Opcode.TEXT;
const parsed = (raw: RawWebSocket) => raw.texts.map((text) => JSON.parse(text) as { type: string; events?: Array<{ id: string; data: unknown }>; t?: number });

/** A raw socket subscribed to org `a`, live. */
async function rawLive(running: TestServer, deflate: boolean): Promise<RawWebSocket> {
  const token = await running.token({ sub: `raw-${raws.length}`, orgs: ['a'] });
  const raw = await openRawWebSocket(`${running.wsUrl}?access_token=${token}`, { deflate });
  raws.push(raw);
  raw.send({ opcode: Opcode.TEXT, payload: JSON.stringify({ type: 'subscribe', org: 'a', services: ['*'] }) });
  await until(() => parsed(raw).some((message) => message.type === 'live'), 'live');
  return raw;
}

/** A 4 KB event that compresses well, like real JSON. */
const bigData = (n: number) => ({ n, rows: Array.from({ length: 40 }, (_, i) => ({ invoice: `INV-${n}-${i}`, status: 'posted', amount: i * 10 })) });

describe('stream fan-out', () => {
  it('writes one deflated frame, byte for byte, to every deflate socket and one plain frame to the others; all decode to the same event', async () => {
    server = await startTestServer();
    const deflating = [await rawLive(server, true), await rawLive(server, true), await rawLive(server, true)];
    const plain = [await rawLive(server, false), await rawLive(server, false)];
    expect(deflating.every((raw) => raw.extensions.includes('permessage-deflate') && raw.extensions.includes('server_no_context_takeover'))).toBe(true);
    expect(plain.every((raw) => raw.extensions === '')).toBe(true);
    const before = [...deflating, ...plain].map((raw) => raw.frames.filter(isText).length);

    const data = bigData(1);
    expect(JSON.stringify(data).length).toBeGreaterThan(2000);
    const event = await server.publish({ org: 'a', service: 'finance', type: 'invoice.batch', data });
    const all = [...deflating, ...plain];
    await until(() => all.every((raw, i) => raw.frames.filter(isText).length > before[i]!), 'the event on every socket');

    const lastFrame = (raw: RawWebSocket) => raw.frames.filter(isText).at(-1)!;
    const deflatedFrames = deflating.map(lastFrame);
    const plainFrames = plain.map(lastFrame);
    for (const frame of deflatedFrames) {
      expect(frame.rsv1).toBe(true);
      expect(frame.payload.equals(deflatedFrames[0]!.payload)).toBe(true);
    }
    for (const frame of plainFrames) {
      expect(frame.rsv1).toBe(false);
      expect(frame.payload.equals(plainFrames[0]!.payload)).toBe(true);
    }
    expect(deflatedFrames[0]!.payload.length).toBeLessThan(plainFrames[0]!.payload.length / 3);
    for (const raw of all) {
      const last = parsed(raw).at(-1)!;
      expect(last).toEqual({ type: 'events', org: 'a', replayed: false, events: [event] });
    }
  });

  it('sends the events of one turn as one events frame, and a lone event at once in a frame of its own', async () => {
    server = await startTestServer();
    const client = await connectReady(server);
    clients.push(client);
    client.send({ type: 'subscribe', org: 'a', services: ['*'] });
    await client.waitFor('live');
    const running = server;
    await Promise.all(range(1, 20).map((n) => running.publish({ org: 'a', service: 'finance', type: 't', data: n })));
    await client.waitForEvents('a', 20);
    const live = () => client.messages.filter((message) => message.type === 'events' && !message.replayed);
    expect(live().map((message) => (message.type === 'events' ? message.events.length : 0))).toEqual([20]);

    await server.publish({ org: 'a', service: 'finance', type: 't', data: 21 });
    await client.waitForEvents('a', 21);
    expect(live().map((message) => (message.type === 'events' ? message.events.length : 0))).toEqual([20, 1]);
    expect(seqs(client.events('a'))).toEqual(range(1, 21));
  });

  it('keeps whole frames in order on a deflate socket while bursts, pings and pongs interleave', async () => {
    server = await startTestServer();
    const raw = await rawLive(server, true);
    let published = 0;
    for (let round = 0; round < 30; round++) {
      raw.send({ opcode: Opcode.TEXT, payload: JSON.stringify({ type: 'ping', t: round }) });
      // A ws-level ping too: ws answers it with its own pong frame, between ours.
      raw.send({ opcode: Opcode.PING, payload: `p${round}` });
      const burst = 1 + (round % 4);
      const running = server;
      await Promise.all(range(1, burst).map(() => running.publish({ org: 'a', service: 's', type: 't', data: bigData(round) })));
      published += burst;
    }
    await until(() => parsed(raw).flatMap((message) => message.events ?? []).length >= published && parsed(raw).filter((m) => m.type === 'pong').length === 30, 'every event and pong');
    const events = parsed(raw).flatMap((message) => (message.type === 'events' ? message.events ?? [] : []));
    expect(events.map((event) => Number(event.id.split(':')[1]))).toEqual(range(1, published));
    expect(parsed(raw).filter((m) => m.type === 'pong').map((m) => m.t)).toEqual(range(0, 29));
    expect(raw.frames.filter((frame) => frame.opcode === Opcode.PONG).map((frame) => frame.payload.toString())).toEqual(range(0, 29).map((n) => `p${n}`));
    expect(raw.frames.some((frame) => isText(frame) && frame.rsv1)).toBe(true);
  });

  it('counts raw bytes before compression and wire bytes as written, for a deflate and a plain socket', async () => {
    const growth = new Map<boolean, { raw: number; wire: number }>();
    for (const deflate of [true, false]) {
      const running = await startTestServer();
      server = running;
      const raw = await rawLive(running, deflate);
      const before = running.metrics().bytes;
      const received = raw.texts.length;
      await running.publish({ org: 'a', service: 'finance', type: 'invoice.batch', data: bigData(2) });
      await until(() => raw.texts.length > received, 'the event');
      const after = running.metrics().bytes;
      growth.set(deflate, { raw: after.raw - before.raw, wire: after.wire - before.wire });
      raw.destroy();
      await running.close();
      server = null;
    }
    const plain = growth.get(false)!;
    const deflated = growth.get(true)!;
    // Plain: the message plus a 4-byte header (a 126…65,535-byte payload).
    expect(plain.wire).toBe(plain.raw + 4);
    // Same message (ids and timestamps of equal length), far fewer bytes on the wire.
    expect(Math.abs(deflated.raw - plain.raw)).toBeLessThan(16);
    expect(deflated.wire).toBeLessThan(deflated.raw / 3);
  });

  it('pings every socket from one shared tick', async () => {
    server = await startTestServer({ heartbeatMs: 300 });
    const sockets: TestClient[] = [];
    for (let n = 0; n < 10; n++) sockets.push(await connectReady(server, { sub: `user-${n}` }));
    clients.push(...sockets);
    await Promise.all(sockets.map((client) => client.waitFor('ping', undefined, 3000)));
    const firstPings = sockets.map((client) => client.messages.find((message) => message.type === 'ping'));
    // Timers per socket would stamp ~10 different times; one tick stamps one (two if a tick fell mid-connect).
    expect(new Set(firstPings.map((ping) => (ping?.type === 'ping' ? ping.t : null))).size).toBeLessThanOrEqual(2);
  });
});

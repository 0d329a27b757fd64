/**
 * The server's WebSocket edge against frames a real client library would never send, written by
 * hand over a bare TCP socket (raw-websocket.ts). Each violation is refused as RFC 6455 says, with
 * the close code of protocol/codes.ts, and a witness socket on the same server keeps getting events.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CloseCode, ErrorCode } from '../protocol/index.ts';
import { closePayload, deflateMessage, encodeFrame, Opcode, openRawWebSocket, type RawOpenOptions, type RawWebSocket } from './raw-websocket.ts';
import { connectReady, startTestServer, type TestClient, type TestServer } from './test-support.ts';

let server: TestServer;
let witness: TestClient;
const raws: RawWebSocket[] = [];
let published = 0;

beforeEach(async () => {
  server = await startTestServer();
  published = 0;
  witness = await connectReady(server, { sub: 'witness', orgs: ['a'] });
  witness.send({ type: 'subscribe', org: 'a', services: ['*'] });
  await witness.waitFor('live');
});

afterEach(async () => {
  for (const raw of raws.splice(0)) raw.destroy();
  await witness.close();
  await server.close();
});

async function openRaw(options: RawOpenOptions = {}): Promise<RawWebSocket> {
  const token = await server.token({ sub: 'raw-user', orgs: ['a'] });
  const raw = await openRawWebSocket(`${server.wsUrl}?access_token=${token}`, options);
  raws.push(raw);
  // The server speaks first: a welcome proves the session is up before the test misbehaves.
  await until(() => raw.texts.some((text) => text.includes('"type":"welcome"')), 'welcome');
  return raw;
}

async function until(check: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Publishes one event and waits for the witness to get it: the bad socket harmed nobody else. */
async function expectWitnessServed(): Promise<void> {
  published += 1;
  await server.publish({ org: 'a', service: 'edge', type: 'after.bad.frame', data: { n: published } });
  const events = await witness.waitForEvents('a', published);
  expect(events.map((event) => event.data)).toEqual(Array.from({ length: published }, (_, i) => ({ n: i + 1 })));
  expect(witness.ws.readyState).toBe(witness.ws.OPEN);
}

const pingText = (t: number) => JSON.stringify({ type: 'ping', t });

describe('raw WebSocket client (sanity: the edge tests below fail for the reason they name)', () => {
  it('gets a pong for a well-formed masked ping, plain and compressed', async () => {
    const plain = await openRaw();
    plain.send({ opcode: Opcode.TEXT, payload: pingText(7) });
    await until(() => plain.texts.includes('{"type":"pong","t":7}'), 'pong');

    const compressed = await openRaw({ deflate: true });
    expect(compressed.extensions).toContain('permessage-deflate');
    compressed.send({ opcode: Opcode.TEXT, rsv1: true, payload: deflateMessage(pingText(8)) });
    await until(() => compressed.texts.includes('{"type":"pong","t":8}'), 'compressed pong');
  });
});

describe('RFC 6455 violations close the socket with the standard code', () => {
  it('closes 1002 on an unmasked client frame (§5.1)', async () => {
    const raw = await openRaw();
    raw.send({ opcode: Opcode.TEXT, payload: pingText(1), mask: false });
    expect((await raw.closed).code).toBe(CloseCode.PROTOCOL_ERROR);
    expect(raw.texts.some((text) => text.includes('"pong"'))).toBe(false);
    await expectWitnessServed();
  });

  it('closes 1009 on a frame announcing more than 64 KiB, before the payload is sent', async () => {
    const raw = await openRaw();
    // Only the header and a few bytes go out: the server must not wait to buffer 70 KiB.
    raw.send({ opcode: Opcode.TEXT, payload: '{"type":', declaredLength: 70 * 1024 });
    const closed = await raw.closed;
    expect(closed.code).toBe(CloseCode.MESSAGE_TOO_BIG);
    expect(closed.afterMs).toBeLessThan(2000);
    expect(server.metrics().rejected[ErrorCode.PAYLOAD_TOO_LARGE]).toBe(1);
    await expectWitnessServed();
  });

  it('closes 1009 on a small compressed frame that inflates past 64 KiB (deflate bomb)', async () => {
    const raw = await openRaw({ deflate: true });
    const bomb = deflateMessage(`{"type":"ping","t":1,"pad":"${' '.repeat(1024 * 1024)}"}`);
    expect(bomb.length).toBeLessThan(4096);
    raw.send({ opcode: Opcode.TEXT, rsv1: true, payload: bomb });
    expect((await raw.closed).code).toBe(CloseCode.MESSAGE_TOO_BIG);
    expect(raw.texts.some((text) => text.includes('"pong"'))).toBe(false);
    expect(server.metrics().rejected[ErrorCode.PAYLOAD_TOO_LARGE]).toBe(1);
    await expectWitnessServed();
  });

  it.each([
    ['a byte that never starts a sequence', Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d])],
    ['an overlong encoding of "/"', Buffer.from([0x22, 0xc0, 0xaf, 0x22])],
    ['a UTF-16 surrogate encoded as UTF-8', Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22])],
    ['a sequence cut short at the end', Buffer.from([0x22, 0xe2, 0x82])],
  ])('closes 1007 on invalid UTF-8 in a text frame: %s', async (_what, payload) => {
    const raw = await openRaw();
    raw.send({ opcode: Opcode.TEXT, payload });
    expect((await raw.closed).code).toBe(CloseCode.INVALID_PAYLOAD);
    await expectWitnessServed();
  });

  it.each([1005, 999, 1004, 1006, 1015, 2999, 5000])('closes 1002 on a close frame with the reserved or invalid code %i', async (code) => {
    const raw = await openRaw();
    raw.send({ opcode: Opcode.CLOSE, payload: closePayload(code) });
    expect((await raw.closed).code).toBe(CloseCode.PROTOCOL_ERROR);
    await expectWitnessServed();
  });

  it('closes 1002 on a close frame with a one-byte payload, and echoes a valid close code', async () => {
    const broken = await openRaw();
    broken.send({ opcode: Opcode.CLOSE, payload: Buffer.from([0x03]) });
    expect((await broken.closed).code).toBe(CloseCode.PROTOCOL_ERROR);
    const polite = await openRaw();
    polite.send({ opcode: Opcode.CLOSE, payload: closePayload(1000, 'bye') });
    expect((await polite.closed).code).toBe(CloseCode.NORMAL);
    await expectWitnessServed();
  });

  it.each([
    ['a ping over 125 bytes (§5.5)', { opcode: Opcode.PING, payload: Buffer.alloc(126, 1) }],
    ['a fragmented ping (§5.5)', { opcode: Opcode.PING, payload: 'x', fin: false }],
    ['a reserved opcode 0x3 (§5.2)', { opcode: 0x3, payload: 'x' }],
    ['RSV2 set without an extension (§5.2)', { opcode: Opcode.TEXT, payload: pingText(1), rsv2: true }],
    ['RSV1 set without permessage-deflate', { opcode: Opcode.TEXT, payload: pingText(1), rsv1: true }],
    ['a continuation with no message to continue', { opcode: Opcode.CONTINUATION, payload: 'x' }],
  ])('closes 1002 on %s', async (_what, frame) => {
    const raw = await openRaw();
    raw.send(frame);
    expect((await raw.closed).code).toBe(CloseCode.PROTOCOL_ERROR);
    await expectWitnessServed();
  });

  it('closes 1002 on a new text frame in the middle of a fragmented message', async () => {
    const raw = await openRaw();
    raw.send({ opcode: Opcode.TEXT, payload: '{"type":', fin: false });
    raw.send({ opcode: Opcode.TEXT, payload: pingText(1) });
    expect((await raw.closed).code).toBe(CloseCode.PROTOCOL_ERROR);
    await expectWitnessServed();
  });

  it('closes a binary frame with an error and 4000 (the protocol is JSON text)', async () => {
    const raw = await openRaw();
    raw.send({ opcode: Opcode.BINARY, payload: Buffer.from(pingText(1)) });
    expect((await raw.closed).code).toBe(CloseCode.BAD_MESSAGE);
    expect(raw.texts.map((text) => JSON.parse(text) as { type: string; code?: string }).filter((m) => m.type === 'error')).toEqual([
      expect.objectContaining({ code: ErrorCode.BAD_MESSAGE }),
    ]);
    await expectWitnessServed();
  });
});

describe('fragment floods are cut off within bounds', () => {
  /** One buffer holding a started text message and `count` continuation fragments of `size` bytes. */
  function fragmentFlood(count: number, size: number): Buffer {
    const parts = [Buffer.from([0x01, 0x80, 0, 0, 0, 0])]; // text, fin=0, masked, empty, zero mask key
    const fragment = Buffer.from([0x00, 0x80 | size, 0, 0, 0, 0, ...Buffer.alloc(size, 0x20)]);
    for (let i = 0; i < count; i++) parts.push(fragment);
    return Buffer.concat(parts);
  }

  it('closes 1009 once non-empty fragments add up past 64 KiB (no final fragment ever sent)', async () => {
    const raw = await openRaw();
    // 16-byte fragments: 64 KiB is crossed at the 4,097th, far below ws's fragment-count cap.
    raw.writeRaw(fragmentFlood(6000, 16));
    const closed = await raw.closed;
    expect(closed.code).toBe(CloseCode.MESSAGE_TOO_BIG);
    expect(closed.afterMs).toBeLessThan(2000);
    await expectWitnessServed();
  });

  it('closes 1008 after 16,384 empty fragments (they never grow the message, so the size cap alone would not stop them)', async () => {
    const raw = await openRaw();
    raw.writeRaw(fragmentFlood(20_000, 0));
    const closed = await raw.closed;
    // 1008 "policy violation" is ws's answer to too many fragments (its `maxFragments`, default 16 Ki).
    expect(closed.code).toBe(CloseCode.POLICY_VIOLATION);
    expect(closed.afterMs).toBeLessThan(2000);
    await expectWitnessServed();
  });

  it('cuts off a flood of ws-level pings whose pongs pile up (ws maxPendingAutoPongs): no close frame, the TCP connection is dropped', async () => {
    const raw = await openRaw();
    // The app rate limit sees messages, not control frames: ws bounds the pongs it queues instead.
    const ping = encodeFrame({ opcode: Opcode.PING, payload: Buffer.alloc(125, 7) });
    raw.writeRaw(Buffer.concat(Array.from({ length: 5000 }, () => ping)));
    const closed = await raw.closed;
    expect(closed.code).toBeNull();
    expect(closed.afterMs).toBeLessThan(2000);
    expect(raw.frames.filter((frame) => frame.opcode === Opcode.PONG).length).toBeLessThan(500);
    await expectWitnessServed();
  });

  it('keeps serving the socket itself when a fragmented message is within bounds', async () => {
    const raw = await openRaw();
    const text = pingText(99);
    raw.send({ opcode: Opcode.TEXT, payload: text.slice(0, 5), fin: false });
    for (let i = 5; i < text.length - 1; i++) raw.send({ opcode: Opcode.CONTINUATION, payload: text[i] as string, fin: false });
    raw.send({ opcode: Opcode.CONTINUATION, payload: text.slice(-1) });
    await until(() => raw.texts.includes('{"type":"pong","t":99}'), 'pong for the fragmented ping');
  });
});

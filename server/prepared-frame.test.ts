import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { constants, inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { acceptsDeflate, DEFLATE_THRESHOLD_BYTES, frameBytes, prepareTextFrame } from './prepared-frame.ts';

interface WsFrameOptions {
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  mask: boolean;
  readOnly: boolean;
}

/** ws's own framer (exported at runtime, not in @types/ws): the reference our header must match. */
function wsFrame(payload: Buffer, rsv1: boolean): Buffer {
  const ws: unknown = createRequire(import.meta.url)('ws');
  const sender = (ws as { Sender?: { frame?: (data: Buffer, options: WsFrameOptions) => Buffer[] } }).Sender;
  if (typeof sender?.frame !== 'function') throw new Error('ws no longer exports Sender.frame: compare against another reference');
  return Buffer.concat(sender.frame(payload, { fin: true, rsv1, opcode: 1, mask: false, readOnly: false }));
}

/** Reads a server frame (RFC 6455 §5.2): the RSV1 bit and the payload. */
function parseFrame(frame: Buffer): { fin: boolean; rsv1: boolean; opcode: number; payload: Buffer } {
  const first = frame[0]!;
  const second = frame[1]!;
  expect(second & 0x80).toBe(0); // never masked
  let length = second & 0x7f;
  let offset = 2;
  if (length === 126) {
    length = frame.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    length = Number(frame.readBigUInt64BE(2));
    offset = 10;
  }
  expect(frame.length).toBe(offset + length);
  return { fin: (first & 0x80) !== 0, rsv1: (first & 0x40) !== 0, opcode: first & 0x0f, payload: frame.subarray(offset) };
}

/** Inflates a permessage-deflate payload as a receiver does (RFC 7692 §7.2.2: append 00 00 ff ff). */
function inflate(payload: Buffer): string {
  return inflateRawSync(Buffer.concat([payload, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: constants.Z_SYNC_FLUSH }).toString();
}

describe('prepared frame', () => {
  it('builds the same bytes as ws for the 7-, 16- and 64-bit length forms, plain and RSV1', () => {
    for (const size of [0, 1, 125, 126, 127, 65_535, 65_536, 70_000]) {
      const payload = randomBytes(size);
      expect(frameBytes(payload, false).equals(wsFrame(payload, false))).toBe(true);
      expect(frameBytes(payload, true).equals(wsFrame(payload, true))).toBe(true);
    }
  });

  it('frames text once as a final text frame with its UTF-8 bytes, and counts them as raw bytes', () => {
    for (const text of ['{"type":"ping","t":1}', 'é'.repeat(100), `{"pad":"${'x'.repeat(70_000)}"}`]) {
      const prepared = prepareTextFrame(text);
      expect(prepared.rawBytes).toBe(Buffer.byteLength(text));
      expect(prepared.plain.equals(wsFrame(Buffer.from(text), false))).toBe(true);
      expect(parseFrame(prepared.plain)).toMatchObject({ fin: true, rsv1: false, opcode: 1 });
    }
  });

  it('deflates a message over the threshold once, with RSV1, into bytes any inflater decodes to the text', () => {
    const text = JSON.stringify({ type: 'events', org: 'a', replayed: false, events: Array.from({ length: 8 }, (_, n) => ({ id: `e:${n}`, service: 'finance', type: 'invoice.posted', data: { amount: n * 100, currency: 'EUR' } })) });
    const prepared = prepareTextFrame(text);
    const deflated = prepared.deflated();
    expect(prepared.deflated()).toBe(deflated); // built once, then shared
    const frame = parseFrame(deflated);
    expect(frame).toMatchObject({ fin: true, rsv1: true, opcode: 1 });
    expect(deflated.length).toBeLessThan(prepared.plain.length / 2);
    expect(inflate(frame.payload)).toBe(text);
    // RFC 7692 §7.2.1: the 00 00 ff ff tail is not sent.
    expect(frame.payload.subarray(-4).equals(Buffer.from([0, 0, 0xff, 0xff]))).toBe(false);

    // A replay-page-sized message (deflated at the fast level, 64-bit length header) decodes too.
    const page = JSON.stringify({ type: 'events', events: Array.from({ length: 1500 }, (_, n) => ({ id: `e:${n}`, data: { amount: n, note: 'é✓ replayed' } })) });
    expect(Buffer.byteLength(page)).toBeGreaterThan(65_536);
    const pageFrame = parseFrame(prepareTextFrame(page).deflated());
    expect(pageFrame.rsv1).toBe(true);
    expect(inflate(pageFrame.payload)).toBe(page);
  });

  it('sends messages under the threshold uncompressed to deflate sockets too', () => {
    const short = prepareTextFrame('x'.repeat(DEFLATE_THRESHOLD_BYTES - 1));
    expect(short.deflated()).toBe(short.plain);
    const long = prepareTextFrame('x'.repeat(DEFLATE_THRESHOLD_BYTES));
    expect(parseFrame(long.deflated()).rsv1).toBe(true);
  });

  it('reads the negotiated extensions of a ws socket', () => {
    expect(acceptsDeflate('permessage-deflate')).toBe(true);
    expect(acceptsDeflate('permessage-deflate; server_no_context_takeover; client_no_context_takeover')).toBe(true);
    expect(acceptsDeflate('')).toBe(false);
    expect(acceptsDeflate('x-permessage-deflate-ish')).toBe(false);
  });
});

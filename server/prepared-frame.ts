/**
 * A server message prepared once for any number of sockets: one complete WebSocket text frame,
 * and (lazily) one permessage-deflate frame, written byte-for-byte to every socket.
 *
 * `ws` deflates every `send` separately, one zlib stream per socket (NOTES.md: fan-out fell from
 * ~50k to ~10k deliveries/s and RSS rose ~200 KiB per socket). With `server_no_context_takeover`
 * negotiated for every socket (RFC 7692 §7.1.1.1) each message is deflated on its own, so its
 * compressed bytes do not depend on the socket: deflate once, frame once (RSV1 set: "this message
 * is compressed", RFC 7692 §6), write the same buffer to every socket. Clients inflate it with
 * their normal inflater; nothing in the protocol changes.
 *
 * The frame header is built here (RFC 6455 §5.2, server→client frames are never masked), so no
 * ws internals are needed to frame; `prepared-frame.test.ts` checks it against ws's own framer.
 */
import { constants, deflateRawSync } from 'node:zlib';

/**
 * Messages smaller than this go uncompressed even to sockets that negotiated deflate: a short
 * JSON message deflated on its own (no shared context) barely shrinks and costs a zlib call.
 */
export const DEFLATE_THRESHOLD_BYTES = 256;

/**
 * Messages from this size on (replay pages: up to 500 events, ~300 KB) are deflated at zlib's
 * fastest level: deflate runs on the event loop, and level 1 takes ~2 ms for such a page instead
 * of ~5 ms, for a few percent more bytes. Live events and bursts stay at the default level.
 */
const FAST_DEFLATE_BYTES = 64 * 1024;

/** One message, framed once for every socket. */
export interface PreparedFrame {
  /** UTF-8 size of the message before framing and compression (what `bytes.raw` counts). */
  readonly rawBytes: number;
  /** The complete unmasked text frame, uncompressed. */
  readonly plain: Buffer;
  /**
   * The complete frame for a socket that negotiated permessage-deflate: deflated with RSV1 when
   * the message reaches the threshold, else `plain`. Built on first use, then shared.
   */
  deflated(): Buffer;
}

/** Opcode of a text frame (RFC 6455 §5.2). */
const TEXT = 0x1;
const FIN = 0x80;
const RSV1 = 0x40;
/** RFC 7692 §7.2.1: the sender drops the 00 00 ff ff that ends a sync-flushed deflate block. */
const DEFLATE_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

function headerLength(payloadLength: number): number {
  return payloadLength < 126 ? 2 : payloadLength < 0x10000 ? 4 : 10;
}

/** Writes the header of an unmasked final frame for `payloadLength` bytes at the start of `frame`. */
function writeHeader(frame: Buffer, payloadLength: number, rsv1: boolean): void {
  frame[0] = FIN | (rsv1 ? RSV1 : 0) | TEXT;
  if (payloadLength < 126) {
    frame[1] = payloadLength;
  } else if (payloadLength < 0x10000) {
    frame[1] = 126;
    frame.writeUInt16BE(payloadLength, 2);
  } else {
    frame[1] = 127;
    // 64-bit length; a Buffer never reaches 2^53, so the high word fits a uint32.
    frame.writeUInt32BE(Math.floor(payloadLength / 0x1_0000_0000), 2);
    frame.writeUInt32BE(payloadLength >>> 0, 6);
  }
}

/** A final, unmasked text frame around `payload` (deflated when `rsv1`). */
export function frameBytes(payload: Buffer, rsv1: boolean): Buffer {
  const offset = headerLength(payload.length);
  const frame = Buffer.allocUnsafe(offset + payload.length);
  writeHeader(frame, payload.length, rsv1);
  payload.copy(frame, offset);
  return frame;
}

/**
 * Deflates one message as a permessage-deflate sender with no context takeover does: raw deflate,
 * sync flush, the 00 00 ff ff tail removed. Null when zlib did not end on that tail (it always
 * does for a non-empty input; the caller then sends the message uncompressed).
 */
export function deflateMessage(payload: Buffer): Buffer | null {
  const level = payload.length >= FAST_DEFLATE_BYTES ? constants.Z_BEST_SPEED : constants.Z_DEFAULT_COMPRESSION;
  const deflated = deflateRawSync(payload, { level, finishFlush: constants.Z_SYNC_FLUSH });
  const end = deflated.length - DEFLATE_TAIL.length;
  if (end <= 0 || !deflated.subarray(end).equals(DEFLATE_TAIL)) return null;
  return deflated.subarray(0, end);
}

/** Prepares `text` (a serialized server message) as one text frame for every socket. */
export function prepareTextFrame(text: string): PreparedFrame {
  const rawBytes = Buffer.byteLength(text);
  const offset = headerLength(rawBytes);
  // One allocation and one copy of the text: header and UTF-8 payload written in place.
  const plain = Buffer.allocUnsafe(offset + rawBytes);
  writeHeader(plain, rawBytes, false);
  plain.write(text, offset, 'utf8');
  let compressed: Buffer | null = rawBytes < DEFLATE_THRESHOLD_BYTES ? plain : null;
  return {
    rawBytes,
    plain,
    deflated() {
      if (compressed) return compressed;
      const payload = deflateMessage(plain.subarray(offset));
      // Deflate that does not shrink the message (random data) is not worth the client's inflate.
      compressed = payload && payload.length < rawBytes ? frameBytes(payload, true) : plain;
      return compressed;
    },
  };
}

/**
 * True when the socket negotiated permessage-deflate (so it accepts RSV1 frames). `extensions` is
 * ws's `WebSocket#extensions`: the negotiated Sec-WebSocket-Extensions value.
 */
export function acceptsDeflate(extensions: string): boolean {
  return extensions.split(',').some((extension) => extension.split(';')[0]?.trim() === 'permessage-deflate');
}

/**
 * The ws `perMessageDeflate` server options under which a prepared deflated frame is valid for
 * every socket that negotiates the extension:
 * - `serverNoContextTakeover`: ws always puts `server_no_context_takeover` in its answer (RFC 7692
 *   §7.1.1.1 lets a server add it unasked), so no client expects a shared LZ77 window.
 * - no `serverMaxWindowBits`: we deflate with zlib's default 15-bit window, so clients must keep
 *   their default 15-bit window too (a smaller negotiated window could not decode our frames).
 * - `threshold` never reached: ws itself must never deflate (and so never queue a frame behind an
 *   async deflate) on these sockets; everything we send goes through prepared frames.
 * - `clientNoContextTakeover`: ws may then reset its inflater after each client message.
 */
export const PREPARED_FRAME_DEFLATE = {
  serverNoContextTakeover: true,
  clientNoContextTakeover: true,
  threshold: Number.MAX_SAFE_INTEGER,
} as const;

/**
 * "Compress once": one deflate and one frame per event, the same bytes written to every socket.
 *
 * `ws` deflates each `send` separately, one zlib stream per socket (NOTES.md: fan-out fell from
 * ~50k to ~10k deliveries/s). With `server_no_context_takeover` negotiated (RFC 7692 §7.1.1.1)
 * every message is deflated on its own, so the compressed bytes of an event do not depend on the
 * socket: deflate it once, frame it once (RSV1 set: "this message is compressed", §6) and write
 * that buffer to each socket's underlying TCP socket. Clients decode it with their normal
 * inflater; nothing in the protocol changes.
 */
import { createRequire } from 'node:module';
import { constants, deflateRawSync } from 'node:zlib';

interface FrameOptions {
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  mask: boolean;
  readOnly: boolean;
}

type FrameFunction = (data: Buffer, options: FrameOptions) => Buffer[];

// ws exports Sender at runtime but @types/ws does not declare it: load it and check its shape.
function loadFrameFunction(): FrameFunction {
  const wsModule: unknown = createRequire(import.meta.url)('ws');
  const sender = typeof wsModule === 'function' ? (wsModule as { Sender?: { frame?: unknown } }).Sender : undefined;
  const frame = sender?.frame;
  if (typeof frame !== 'function') throw new Error('ws no longer exports Sender.frame: compress-once needs another framer');
  return frame.bind(sender) as FrameFunction;
}

const frame = loadFrameFunction();

/** RFC 7692 §7.2.1: the sender drops the 00 00 ff ff that ends a sync-flushed deflate block. */
const DEFLATE_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** Opcode of a text frame (RFC 6455 §5.2). */
const TEXT = 0x1;

/** A complete, unmasked server→client text frame for `text`, deflated when `compress`. */
export function prepareTextFrame(text: string, compress: boolean): Buffer {
  let payload = Buffer.from(text);
  if (compress) {
    const deflated = deflateRawSync(payload, { finishFlush: constants.Z_SYNC_FLUSH });
    payload = deflated.subarray(0, deflated.length - DEFLATE_TAIL.length);
  }
  return Buffer.concat(frame(payload, { fin: true, rsv1: compress, opcode: TEXT, mask: false, readOnly: false }));
}

/** The `perMessageDeflate` server options that make a prepared compressed frame valid for every socket. */
export const COMPRESS_ONCE_DEFLATE = {
  serverNoContextTakeover: true,
  clientNoContextTakeover: true,
  // ws would never deflate through this path; threshold and zlib options only matter for ws.send().
  threshold: Number.MAX_SAFE_INTEGER,
} as const;

/** True when the socket negotiated permessage-deflate (so it accepts RSV1 frames). */
export function acceptsDeflate(extensions: string): boolean {
  return extensions.split(',').some((name) => name.trim() === 'permessage-deflate');
}

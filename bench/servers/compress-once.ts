/**
 * "Compress once" for the raw ws peer: the server's prepared frames (server/prepared-frame.ts),
 * which began here as a prototype. Each event is deflated once with `server_no_context_takeover`
 * (RFC 7692 §7.1.1.1), framed once (RSV1 set, §6) and the same bytes are written to every socket's
 * TCP socket; clients decode it with their normal inflater.
 */
import { acceptsDeflate, PREPARED_FRAME_DEFLATE, prepareTextFrame as prepareFrame, type PreparedFrame } from '../../server/index.ts';

export { acceptsDeflate, prepareFrame, type PreparedFrame };

/** A complete, unmasked server→client text frame for `text`, deflated when `compress` (and the text reaches the server's threshold). */
export function prepareTextFrame(text: string, compress: boolean): Buffer {
  const prepared = prepareFrame(text);
  return compress ? prepared.deflated() : prepared.plain;
}

/** The `perMessageDeflate` server options that make a prepared compressed frame valid for every socket. */
export const COMPRESS_ONCE_DEFLATE = PREPARED_FRAME_DEFLATE;

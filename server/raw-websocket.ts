/**
 * A tiny WebSocket client over a bare `net.Socket`, for tests of the server's RFC 6455 edge: it
 * writes whatever frames a test builds (unmasked, oversized, bad UTF-8, bad close codes, endless
 * fragments), which a real client library refuses to send, and reads the server's frames back.
 *
 *   client                                        server
 *     | -- GET + Upgrade + Sec-WebSocket-Key ---->  |
 *     | <-- 101 + Sec-WebSocket-Accept ------------ |   accept = base64(sha1(key + GUID)), §4.2.2
 *     | -- encodeFrame(…) (anything) ------------>  |
 *     | <-- frames … close {code} ----------------- |   `closed` resolves with that code
 *
 * Test-only: never imported by the server.
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect as connectTcp, type Socket } from 'node:net';
import { constants as zlibConstants, deflateRawSync, inflateRawSync } from 'node:zlib';

/** RFC 6455 §5.2 opcodes. */
export const Opcode = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;

const ACCEPT_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** RFC 7692 §7.2.1: a compressed message ends with this empty stored block, which senders strip. */
const DEFLATE_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

export interface FrameSpec {
  opcode: number;
  payload?: Buffer | string;
  /** Final fragment of the message (default true). */
  fin?: boolean;
  /** RSV1: "this message is compressed" under permessage-deflate. */
  rsv1?: boolean;
  rsv2?: boolean;
  rsv3?: boolean;
  /** Clients must mask every frame (§5.3); false writes an unmasked frame (default true). */
  mask?: boolean;
  /**
   * Declare this payload length in the header instead of the real one (the payload written is
   * still `payload`): an oversized frame can be announced without sending 64 KiB.
   */
  declaredLength?: number;
}

/** Encodes one frame as a client would (masked unless told otherwise). */
export function encodeFrame(spec: FrameSpec): Buffer {
  const payload = typeof spec.payload === 'string' ? Buffer.from(spec.payload, 'utf8') : (spec.payload ?? Buffer.alloc(0));
  const length = spec.declaredLength ?? payload.length;
  const mask = spec.mask ?? true;
  const first = ((spec.fin ?? true) ? 0x80 : 0) | (spec.rsv1 ? 0x40 : 0) | (spec.rsv2 ? 0x20 : 0) | (spec.rsv3 ? 0x10 : 0) | (spec.opcode & 0x0f);
  let header: Buffer;
  if (length < 126) {
    header = Buffer.from([first, (mask ? 0x80 : 0) | length]);
  } else if (length < 65536) {
    header = Buffer.alloc(4);
    header[0] = first;
    header[1] = (mask ? 0x80 : 0) | 126;
    header.writeUInt16BE(length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = first;
    header[1] = (mask ? 0x80 : 0) | 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  if (!mask) return Buffer.concat([header, payload]);
  const key = randomBytes(4);
  const masked = Buffer.alloc(payload.length);
  for (let i = 0; i < payload.length; i++) masked[i] = (payload[i] as number) ^ (key[i % 4] as number);
  return Buffer.concat([header, key, masked]);
}

/** A close frame's payload: the 2-byte code (written raw, so invalid codes can be sent) and a reason. */
export function closePayload(code: number, reason = ''): Buffer {
  const out = Buffer.alloc(2 + Buffer.byteLength(reason));
  out.writeUInt16BE(code & 0xffff, 0);
  out.write(reason, 2, 'utf8');
  return out;
}

/**
 * Compresses one message the way a permessage-deflate sender does (§7.2.1): raw deflate, sync
 * flush, the 4-byte tail removed. Send it with `rsv1: true`.
 */
export function deflateMessage(data: Buffer | string): Buffer {
  const compressed = deflateRawSync(typeof data === 'string' ? Buffer.from(data, 'utf8') : data, { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  return compressed.subarray(0, compressed.length - DEFLATE_TAIL.length);
}

export interface ServerFrame {
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  payload: Buffer;
}

export interface CloseResult {
  /** The code in the server's close frame; null when the TCP connection ended without one. */
  code: number | null;
  reason: string;
  /** Milliseconds from `openRawWebSocket` resolving to the close. */
  afterMs: number;
}

export interface RawWebSocket {
  socket: Socket;
  /** The `Sec-WebSocket-Extensions` the server answered (empty when none). */
  extensions: string;
  /** Every frame the server sent, in order. */
  frames: ServerFrame[];
  /** Text messages the server sent (decompressed when RSV1 was set), in order. */
  texts: string[];
  /** Writes a frame; false when the socket is already gone. */
  send(spec: FrameSpec): boolean;
  /** Writes bytes as they are. */
  writeRaw(bytes: Buffer): boolean;
  /** Resolves when the server sent a close frame or the connection ended. */
  closed: Promise<CloseResult>;
  /** Ends the TCP connection (no close handshake). */
  destroy(): void;
}

export interface RawOpenOptions {
  /** Offer permessage-deflate (`client_no_context_takeover`, as the server requires). */
  deflate?: boolean;
  /** Extra request headers (`Origin`, `Authorization`…). */
  headers?: Record<string, string>;
  /** Offered subprotocols; default `['realtime.v2']`. */
  protocols?: string[];
  timeoutMs?: number;
}

/** A refused handshake: the HTTP status and the body the server answered with. */
export class RawUpgradeRefused extends Error {
  override readonly name = 'RawUpgradeRefused';
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`upgrade refused with ${status}`);
  }
}

/** Decodes as many complete server frames as `buffer` holds; returns them and the unread rest. */
export function decodeFrames(buffer: Buffer): { frames: ServerFrame[]; rest: Buffer } {
  const frames: ServerFrame[] = [];
  let offset = 0;
  for (;;) {
    if (buffer.length - offset < 2) break;
    const b0 = buffer[offset] as number;
    const b1 = buffer[offset + 1] as number;
    let length = b1 & 0x7f;
    let headerLength = 2;
    if (length === 126) {
      if (buffer.length - offset < 4) break;
      length = buffer.readUInt16BE(offset + 2);
      headerLength = 4;
    } else if (length === 127) {
      if (buffer.length - offset < 10) break;
      length = Number(buffer.readBigUInt64BE(offset + 2));
      headerLength = 10;
    }
    const masked = (b1 & 0x80) !== 0;
    const maskLength = masked ? 4 : 0;
    if (buffer.length - offset < headerLength + maskLength + length) break;
    const start = offset + headerLength + maskLength;
    let payload = Buffer.from(buffer.subarray(start, start + length));
    if (masked) {
      const key = buffer.subarray(offset + headerLength, start);
      for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] as number) ^ (key[i % 4] as number);
    }
    frames.push({ fin: (b0 & 0x80) !== 0, rsv1: (b0 & 0x40) !== 0, opcode: b0 & 0x0f, payload });
    offset = start + length;
  }
  return { frames, rest: buffer.subarray(offset) };
}

/** Opens a WebSocket on `url` (`ws://host:port/path?query`) by hand and resolves after the 101. */
export function openRawWebSocket(url: string, options: RawOpenOptions = {}): Promise<RawWebSocket> {
  const target = new URL(url);
  const key = randomBytes(16).toString('base64');
  const expectedAccept = createHash('sha1').update(key + ACCEPT_GUID).digest('base64');
  const lines = [
    `GET ${target.pathname}${target.search} HTTP/1.1`,
    `Host: ${target.host}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`,
    'Sec-WebSocket-Version: 13',
    `Sec-WebSocket-Protocol: ${(options.protocols ?? ['realtime.v2']).join(', ')}`,
  ];
  if (options.deflate) lines.push('Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover');
  for (const [name, value] of Object.entries(options.headers ?? {})) lines.push(`${name}: ${value}`);

  return new Promise<RawWebSocket>((resolve, reject) => {
    const socket = connectTcp({ host: target.hostname, port: Number(target.port) }, () => {
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('raw WebSocket handshake timed out'));
    }, options.timeoutMs ?? 3000);
    let pending: Buffer = Buffer.alloc(0);
    let opened: RawWebSocket | null = null;
    let handshakeDone = false;
    let openedAt = 0;
    let resolveClosed: (result: CloseResult) => void = () => {};
    const closed = new Promise<CloseResult>((done) => (resolveClosed = done));
    let closeSeen = false;
    const frames: ServerFrame[] = [];
    const texts: string[] = [];
    let message: { opcode: number; compressed: boolean; parts: Buffer[] } | null = null;

    const finishClose = (code: number | null, reason: string) => {
      if (closeSeen) return;
      closeSeen = true;
      resolveClosed({ code, reason, afterMs: Date.now() - openedAt });
    };

    function onFrame(frame: ServerFrame): void {
      frames.push(frame);
      if (frame.opcode === Opcode.CLOSE) {
        const code = frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : null;
        finishClose(code, frame.payload.subarray(2).toString('utf8'));
        // Complete the closing handshake (§5.5.1) so the server need not wait for its timeout.
        if (!socket.destroyed) {
          socket.write(encodeFrame({ opcode: Opcode.CLOSE, payload: frame.payload.subarray(0, 2) }));
          socket.end();
        }
        return;
      }
      if (frame.opcode >= 0x8) return;
      if (frame.opcode !== Opcode.CONTINUATION) message = { opcode: frame.opcode, compressed: frame.rsv1, parts: [] };
      if (!message) return;
      message.parts.push(frame.payload);
      if (!frame.fin) return;
      let data = Buffer.concat(message.parts);
      if (message.compressed) data = inflateRawSync(Buffer.concat([data, DEFLATE_TAIL]), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
      if (message.opcode === Opcode.TEXT) texts.push(data.toString('utf8'));
      message = null;
    }

    function onHandshake(head: string, rest: Buffer): void {
      const [statusLine = '', ...headerLines] = head.split('\r\n');
      const status = Number(statusLine.split(' ')[1]);
      const headers = new Map<string, string>();
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
      if (status !== 101) {
        // A refusal is a whole HTTP answer: its body arrives until the server closes.
        pending = rest;
        socket.once('close', () => reject(new RawUpgradeRefused(status, pending.toString('utf8'))));
        return;
      }
      if (headers.get('sec-websocket-accept') !== expectedAccept) {
        socket.destroy();
        reject(new Error('the server answered a wrong Sec-WebSocket-Accept'));
        return;
      }
      openedAt = Date.now();
      opened = {
        socket,
        extensions: headers.get('sec-websocket-extensions') ?? '',
        frames,
        texts,
        send: (spec) => (socket.destroyed ? false : socket.write(encodeFrame(spec))),
        writeRaw: (bytes) => (socket.destroyed ? false : socket.write(bytes)),
        closed,
        destroy: () => socket.destroy(),
      };
      pending = rest;
      drain();
      resolve(opened);
    }

    function drain(): void {
      const { frames: decoded, rest } = decodeFrames(pending);
      pending = Buffer.from(rest);
      for (const frame of decoded) onFrame(frame);
    }

    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      if (opened) {
        drain();
        return;
      }
      if (handshakeDone) return;
      const end = pending.indexOf('\r\n\r\n');
      if (end < 0) return;
      handshakeDone = true;
      clearTimeout(timer);
      const head = pending.subarray(0, end).toString('latin1');
      const rest = Buffer.from(pending.subarray(end + 4));
      pending = Buffer.alloc(0);
      onHandshake(head, rest);
    });
    // Writes after the server has gone (a flood still in flight) fail with EPIPE/ECONNRESET: expected here.
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      if (opened) finishClose(null, '');
      else if (!handshakeDone) reject(new Error('the connection closed during the handshake'));
    });
  });
}

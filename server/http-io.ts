/** Reading requests and writing JSON answers with plain `node:http`. */
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ErrorCode, StreamError } from '../protocol/index.ts';

/** HTTP status for each error code an endpoint may answer with. */
export const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.BAD_JSON]: 400,
  [ErrorCode.BAD_MESSAGE]: 400,
  [ErrorCode.BAD_CURSOR]: 400,
  [ErrorCode.BAD_NAME]: 400,
  [ErrorCode.TOKEN_MISSING]: 401,
  [ErrorCode.TOKEN_INVALID]: 401,
  [ErrorCode.TOKEN_EXPIRED]: 401,
  [ErrorCode.FORBIDDEN_ORG]: 403,
  [ErrorCode.MISSING_SCOPE]: 403,
  [ErrorCode.ORIGIN_NOT_ALLOWED]: 403,
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.PAYLOAD_TOO_LARGE]: 413,
  [ErrorCode.RATE_LIMITED]: 429,
  [ErrorCode.TOO_MANY_CONNECTIONS]: 429,
  [ErrorCode.STORE_UNAVAILABLE]: 503,
  [ErrorCode.V2_DISABLED]: 503,
  [ErrorCode.INTERNAL]: 500,
};

export function statusFor(code: ErrorCode): number {
  return HTTP_STATUS[code] ?? 400;
}

/**
 * The request's URL, or null when its target is neither origin-form (`/path?query`) nor
 * absolute-form (`http://host/path?query`), RFC 9112 §3.2.
 *
 * An origin-form target is appended to a fixed origin, never resolved as a relative reference:
 * `new URL('//x/y', base)` reads `x` as a host (so `//x/v1/realtime/poll` would route to the poll)
 * and throws on targets such as `//` or `//[`, which Node's parser lets through.
 */
export function requestUrl(req: IncomingMessage): URL | null {
  const target = req.url ?? '/';
  try {
    if (target.startsWith('/')) return new URL(`http://localhost${target}`);
    const absolute = new URL(target);
    if (!['http:', 'https:', 'ws:', 'wss:'].includes(absolute.protocol)) return null;
    return new URL(`http://localhost${absolute.pathname}${absolute.search}`);
  } catch {
    return null;
  }
}

/** Answers a refused WebSocket upgrade on the raw socket: status line, JSON error body, close. */
export function refuseUpgrade(socket: Duplex, error: StreamError): void {
  if (socket.destroyed) return;
  const status = statusFor(error.code);
  const body = JSON.stringify({ error: { code: error.code, message: error.message } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.writableEnded) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

/** Answers `{ error: { code, message } }` with the code's HTTP status. */
export function sendError(res: ServerResponse, error: StreamError): void {
  sendJson(res, statusFor(error.code), { error: { code: error.code, message: error.message } });
}

/** The request's body as text, refused with PAYLOAD_TOO_LARGE past `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      reject(new StreamError(ErrorCode.PAYLOAD_TOO_LARGE, `the body exceeds ${limit} bytes`));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        reject(new StreamError(ErrorCode.PAYLOAD_TOO_LARGE, `the body exceeds ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', (error) => {
      if (!failed) reject(error);
    });
  });
}

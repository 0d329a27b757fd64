/**
 * CORS for the few endpoints a page on another origin needs: a page served by process A that
 * streams from processes B and C (failover) long-polls them, fetches dev tokens from them and may
 * read their metrics. The allow-list is the same as for the WebSocket upgrade (`ALLOWED_ORIGINS`,
 * see origin.ts); a disallowed Origin gets no CORS header at all, so the browser withholds the
 * answer (and the poll itself still answers 403).
 *
 *   browser (origin A)                  process B
 *     | -- OPTIONS /v1/realtime/poll ----> |  Origin: A, Access-Control-Request-Headers: authorization
 *     | <-- 204 Allow-Origin: A, ---------- |  (A on ALLOWED_ORIGINS; else 403, no CORS headers)
 *     |     Allow-Methods, Allow-Headers    |
 *     | -- GET + Authorization: Bearer ---> |
 *     | <-- 200 Allow-Origin: A, Vary ----- |
 *
 * No credentials (cookies) are involved: tokens travel in the Authorization header, so
 * `Access-Control-Allow-Credentials` is never sent and the origin is echoed, never `*`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, StreamError } from '../protocol/index.ts';
import { sendError } from './http-io.ts';
import { isOriginAllowed } from './origin.ts';

/** Methods a cross-origin page may use on a CORS endpoint (all of them read). */
export const CORS_METHODS = 'GET, HEAD, OPTIONS';
/** Request headers a cross-origin page may send: the bearer token. */
export const CORS_HEADERS = 'Authorization';
/** How long a browser may cache a preflight answer (s). */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

/** The request's Origin when it is a cross-origin request from an allowed origin; null otherwise. */
function allowedOrigin(req: IncomingMessage, allowed: readonly string[]): string | null {
  const origin = req.headers.origin;
  if (origin === undefined || origin === '' || origin === 'null') return null;
  return isOriginAllowed(req, allowed) ? origin : null;
}

/**
 * Adds the CORS headers to `res` when the request comes from an allowed Origin. `Vary: Origin`
 * is sent on every answer of a CORS endpoint: a cache must not serve one origin's answer to another.
 */
export function applyCors(req: IncomingMessage, res: ServerResponse, allowed: readonly string[]): void {
  res.setHeader('vary', 'Origin');
  const origin = allowedOrigin(req, allowed);
  if (origin !== null) res.setHeader('access-control-allow-origin', origin);
}

/**
 * Answers an `OPTIONS` request on a CORS endpoint: 204 with the allowed methods and headers for
 * an allowed Origin, 403 ORIGIN_NOT_ALLOWED without any CORS header for any other, and a plain
 * 204 with `Allow` for a request without Origin (not a browser preflight).
 */
export function answerPreflight(req: IncomingMessage, res: ServerResponse, allowed: readonly string[]): void {
  const origin = req.headers.origin;
  if (origin === undefined || origin === '') {
    res.writeHead(204, { allow: CORS_METHODS });
    res.end();
    return;
  }
  const granted = allowedOrigin(req, allowed);
  if (granted === null) {
    res.setHeader('vary', 'Origin');
    sendError(res, new StreamError(ErrorCode.ORIGIN_NOT_ALLOWED, 'this Origin may not call this endpoint: add it to ALLOWED_ORIGINS'));
    return;
  }
  res.writeHead(204, {
    'access-control-allow-origin': granted,
    'access-control-allow-methods': CORS_METHODS,
    'access-control-allow-headers': CORS_HEADERS,
    'access-control-max-age': String(PREFLIGHT_MAX_AGE_SECONDS),
    vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
    'content-length': '0',
  });
  res.end();
}

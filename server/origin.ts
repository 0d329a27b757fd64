/**
 * The Origin allow-list (cross-site WebSocket hijacking guard): browsers always send Origin on a
 * WebSocket upgrade, and a page of another site must not open a stream with the user's token.
 * Requests without Origin come from non-browser clients (curl, server-side tools) and pass.
 */
import type { IncomingMessage } from 'node:http';

/** True when the request's Origin is absent, the server's own origin, or on `allowed` (`*` allows all). */
export function isOriginAllowed(req: IncomingMessage, allowed: readonly string[]): boolean {
  const origin = req.headers.origin;
  if (origin === undefined || origin === '') return true;
  if (allowed.includes('*') || allowed.includes(origin)) return true;
  const host = req.headers.host;
  if (!host) return false;
  return origin === `http://${host}` || origin === `https://${host}`;
}

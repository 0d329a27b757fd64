/**
 * When a reconnect may reuse the token of the last connection instead of asking the app again.
 *
 * Asking costs a round trip through a tab (`getToken()` lives in the page) and often an HTTP
 * request that a network cut can leave hanging on a dead keep-alive connection: after a cut,
 * recovery waited on it for seconds. A token with plenty of life left is as good as a fresh one,
 * so the engine keeps it. Its `exp` is read from the JWT payload without verifying the signature:
 * the server verifies; the client only needs a hint of when to stop reusing it. A token that is
 * not a JWT (or has no numeric `exp`) is never reused: its lifetime is unknown.
 */

/** A token with less than this left is not reused (ms): it might expire before the server reads it. */
export const TOKEN_REUSE_MARGIN_MS = 60_000;

function decodeBase64Url(segment: string): string | null {
  if (!/^[A-Za-z0-9_-]+$/.test(segment)) return null;
  const base64 = segment.replace(/-/g, '+').replace(/_/g, '/');
  try {
    const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
    return new TextDecoder().decode(Uint8Array.from(binary, (char) => char.charCodeAt(0)));
  } catch {
    return null;
  }
}

/** The `exp` of a JWT (ms since the epoch), read without verifying anything; null when `token` is not a JWT with one. */
export function jwtExpiresAt(token: string): number | null {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1] === undefined) return null;
  const json = decodeBase64Url(parts[1]);
  if (json === null) return null;
  let payload: unknown;
  try {
    payload = JSON.parse(json);
  } catch {
    return null;
  }
  if (typeof payload !== 'object' || payload === null || !('exp' in payload)) return null;
  const exp = payload.exp;
  return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : null;
}

/** True when `token` is a JWT that stays valid for more than `marginMs` after `now`. */
export function isReusable(token: string, now: number, marginMs = TOKEN_REUSE_MARGIN_MS): boolean {
  const expiresAt = jwtExpiresAt(token);
  return expiresAt !== null && expiresAt - now > marginMs;
}

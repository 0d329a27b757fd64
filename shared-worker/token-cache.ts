/**
 * Which token the next connect or poll carries. A reconnect reuses the last token while it has
 * more than a margin left (token-reuse.ts), so recovery does not wait on the app's getToken().
 * One cache for the socket and the polls: a token renewed on the socket is the one the next poll
 * or reconnect reuses.
 */
import { isReusable, TOKEN_REUSE_MARGIN_MS } from './token-reuse.ts';

export interface TokenCache {
  /** The last token while it has more than the margin left, else a fresh one (kept for next time). */
  reusable(): Promise<string>;
  /** Always a fresh one, kept for next time: renewing with the token that is running out would renew nothing. */
  fresh(): Promise<string>;
  /** Drops the last token (the server may have refused it, or said it expired): the next `reusable()` asks the app. */
  forget(): void;
}

/** A cache in front of the app's `getToken`; tokens with `marginMs` or less left are never reused. */
export function createTokenCache(getToken: () => Promise<string>, marginMs: number = TOKEN_REUSE_MARGIN_MS): TokenCache {
  let last: string | null = null;
  return {
    async reusable() {
      if (last !== null && isReusable(last, Date.now(), marginMs)) return last;
      const token = await getToken();
      last = token;
      return token;
    },
    async fresh() {
      const token = await getToken();
      last = token;
      return token;
    },
    forget() {
      last = null;
    },
  };
}

/** A token bucket: `burst` messages at once, refilled at `perSecond`. O(1), no timers. */
export interface TokenBucket {
  /** Takes one token; false when the bucket is empty (the caller is over its rate). */
  take(now?: number): boolean;
}

export function createTokenBucket(perSecond: number, burst: number, start: number = Date.now()): TokenBucket {
  let tokens = burst;
  let last = start;
  return {
    take(now = Date.now()) {
      tokens = Math.min(burst, tokens + ((now - last) / 1000) * perSecond);
      last = now;
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
  };
}

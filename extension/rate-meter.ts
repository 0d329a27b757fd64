/**
 * Counts events per second over a sliding window of whole-second buckets. Until the window has
 * filled, it divides by the time since the first event, so a fresh page does not read low.
 */
export interface RateMeter {
  mark(at: number): void;
  /** Average events per second over the window ending at `at`. */
  perSecond(at: number): number;
}

/** Creates a meter over the last `windowSeconds` seconds (default 5). */
export function createRateMeter(windowSeconds = 5): RateMeter {
  const buckets = new Map<number, number>(); // second → count
  let firstSecond: number | null = null;
  function prune(second: number): void {
    for (const key of buckets.keys()) if (key <= second - windowSeconds) buckets.delete(key);
  }
  return {
    mark(at) {
      const second = Math.floor(at / 1000);
      firstSecond ??= second;
      buckets.set(second, (buckets.get(second) ?? 0) + 1);
      prune(second);
    },
    perSecond(at) {
      const second = Math.floor(at / 1000);
      prune(second);
      let total = 0;
      for (const count of buckets.values()) total += count;
      if (total === 0 || firstSecond === null) return 0;
      // Whole seconds observed, counting the current (partial) one.
      const observed = Math.min(windowSeconds, Math.max(1, second - firstSecond + 1));
      return total / observed;
    },
  };
}

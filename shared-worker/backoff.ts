/**
 * Reconnect delays: exponential growth with full jitter and a cap
 * (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/).
 * Full jitter spreads a crowd of clients that lost the same server across the whole window,
 * so a restart is not followed by a thundering herd.
 */

export interface BackoffRange {
  /** Ceiling of the first retry's window (ms). */
  min: number;
  /** The window never grows past this (ms). */
  max: number;
}

/** The defaults the engine uses: first retry within 0.5 s, never more than 30 s apart. */
export const DEFAULT_BACKOFF: BackoffRange = { min: 500, max: 30_000 };

/**
 * Delay before retry number `attempt` (0 for the first retry): uniform in
 * [0, min(max, min·2^attempt)). Pure: `random` is injected so tests assert exact sequences.
 */
export function backoff(attempt: number, range: BackoffRange = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const exponent = Math.max(0, Math.min(attempt, 30));
  const ceiling = Math.min(range.max, range.min * 2 ** exponent);
  return Math.floor(random() * ceiling);
}

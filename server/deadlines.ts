/**
 * Many deadlines on few timers: members due within the same bucket (a second by default) share
 * one timer. JWT `exp` is a whole second, so the sockets of tokens issued together (a fleet of
 * tabs, a reconnect storm) share one token-expiry timer instead of holding one each.
 */

export interface Deadlines<T> {
  /** Calls `onDue(member)` at `atMs` rounded up to the bucket; replaces the member's earlier deadline. */
  set(member: T, atMs: number): void;
  delete(member: T): void;
  /** Timers pending now (one per bucket in use). */
  timers(): number;
  /** Cancels every deadline. */
  close(): void;
}

/** Node's timers overflow past 2^31−1 ms (~24.8 days): longer waits are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Bucket<T> {
  dueAt: number;
  members: Set<T>;
  timer: NodeJS.Timeout | null;
}

export function createDeadlines<T>(onDue: (member: T) => void, bucketMs = 1000): Deadlines<T> {
  const buckets = new Map<number, Bucket<T>>();
  const bucketOf = new Map<T, Bucket<T>>();

  function arm(bucket: Bucket<T>): NodeJS.Timeout {
    const timer = setTimeout(() => fire(bucket), Math.min(Math.max(bucket.dueAt - Date.now(), 0), MAX_TIMER_MS));
    timer.unref();
    return timer;
  }

  function fire(bucket: Bucket<T>): void {
    if (Date.now() < bucket.dueAt) {
      bucket.timer = arm(bucket);
      return;
    }
    buckets.delete(bucket.dueAt);
    for (const member of bucket.members) {
      bucketOf.delete(member);
      onDue(member);
    }
  }

  function remove(member: T): void {
    const bucket = bucketOf.get(member);
    if (!bucket) return;
    bucketOf.delete(member);
    bucket.members.delete(member);
    if (bucket.members.size > 0) return;
    if (bucket.timer) clearTimeout(bucket.timer);
    buckets.delete(bucket.dueAt);
  }

  return {
    set(member, atMs) {
      remove(member);
      const dueAt = Math.ceil(atMs / bucketMs) * bucketMs;
      let bucket = buckets.get(dueAt);
      if (!bucket) {
        bucket = { dueAt, members: new Set(), timer: null };
        bucket.timer = arm(bucket);
        buckets.set(dueAt, bucket);
      }
      bucket.members.add(member);
      bucketOf.set(member, bucket);
    },
    delete: remove,
    timers: () => buckets.size,
    close() {
      for (const bucket of buckets.values()) if (bucket.timer) clearTimeout(bucket.timer);
      buckets.clear();
      bucketOf.clear();
    },
  };
}

/**
 * One timer for the heartbeats of every stream socket. A `setInterval` per socket costs a timer
 * object and a closure per connection and wakes the process once per socket per period; one
 * shared tick visits every member instead, and runs only while there are members.
 *
 * A member added just before a tick is visited early; members check their own silence against
 * their last-seen time, so a silent peer is still found within two to three periods.
 */

export interface Heartbeat<T> {
  add(member: T): void;
  delete(member: T): void;
  /** Members now. */
  size(): number;
  /** Stops the timer and forgets every member. */
  close(): void;
}

/** Calls `beat(members, now)` every `intervalMs` while there is at least one member. */
export function createHeartbeat<T>(intervalMs: number, beat: (members: ReadonlySet<T>, now: number) => void): Heartbeat<T> {
  const members = new Set<T>();
  let timer: NodeJS.Timeout | null = null;

  function stop(): void {
    if (timer) clearInterval(timer);
    timer = null;
  }

  return {
    add(member) {
      members.add(member);
      if (timer || !(intervalMs > 0)) return;
      timer = setInterval(() => beat(members, Date.now()), intervalMs);
      // The heartbeat alone must not keep a process alive.
      timer.unref();
    },
    delete(member) {
      members.delete(member);
      if (members.size === 0) stop();
    },
    size: () => members.size,
    close() {
      members.clear();
      stop();
    },
  };
}

/**
 * Web Locks as a death notice. Neither a MessagePort nor a SharedWorker tells anyone when the
 * other side dies, but the browser releases a Web Lock when its holder goes away (closed,
 * crashed, killed). So a holder keeps a lock for its whole life, and a watcher asks for the same
 * lock: the request is granted only once the holder is gone. Tabs (tab-lock.ts) and the
 * SharedWorker (worker-port.ts) both use this.
 */

const forever = (): Promise<never> => new Promise<never>(() => {});

/** Takes `name` and holds it until `until` settles (by default for the holder's life); resolves once held. */
export function holdLifetimeLock(name: string, locks: LockManager | undefined, until: Promise<unknown> = forever()): Promise<void> {
  if (!locks) return Promise.resolve();
  return new Promise<void>((held) => {
    void locks.request(name, () => {
      held();
      return until;
    });
  });
}

/**
 * Calls `onGone` once the holder of `name` is gone; the returned function stops watching.
 * The lock is released again at once (a successor may need it). `shared` lets many watchers
 * wait on one holder without queueing behind each other.
 */
export function watchLifetimeLock(
  name: string,
  mode: LockMode,
  onGone: () => void,
  locks: LockManager | undefined,
): () => void {
  if (!locks) return () => {};
  const controller = new AbortController();
  locks
    .request(name, { mode, signal: controller.signal }, () => {
      onGone();
    })
    .catch(() => {
      // Aborted: the watcher stopped watching (it detached, or is already replacing the holder).
    });
  return () => controller.abort();
}

/**
 * Noticing a dead SharedWorker. A worker can die while its tabs live on (the browser kills it
 * under memory pressure, a crash, devtools' "terminate"); its MessagePorts then go silent, with no
 * event in any browser. So the worker holds a Web Lock named after its build for its whole life,
 * and each tab, once attached, asks for the same lock in `shared` mode: the browser grants it only
 * when the worker is gone. The tab then releases it at once, starts a new worker and attaches
 * again with its own cursors; the new worker resumes from the stored cursor (see worker-hub.ts).
 *
 *   worker                             tab
 *    | holds lock (exclusive) ──┐       |
 *    | connects ports only then │       |
 *    | -- attached ------------------->  | requests lock (shared): pending
 *    ✝ (killed)                 └────▶  | granted → release, new SharedWorker, attach again
 *
 * Watching starts only after `attached`, so a tab never mistakes a worker that has not taken the
 * lock yet for a dead one.
 */
import { holdLifetimeLock, watchLifetimeLock } from './lifetime-lock.ts';
import { silentLogger, type Logger } from './logger.ts';
import { wrapMessagePort, type TabPort, type TabToHub } from './port-messages.ts';

const workerLockName = (build: string): string => `realtime-worker-${build}`;

/**
 * Holds the worker's lifetime lock until `until` settles (by default never: the worker's death
 * releases it); resolves once held.
 */
export function holdWorkerLock(
  build: string,
  locks: LockManager | undefined = globalThis.navigator?.locks,
  until?: Promise<unknown>,
): Promise<void> {
  return holdLifetimeLock(workerLockName(build), locks, until);
}

/** Calls `onGone` once when the worker of `build` no longer holds its lock; returns a cancel function. */
export function watchWorkerLock(
  build: string,
  onGone: () => void,
  locks: LockManager | undefined = globalThis.navigator?.locks,
): () => void {
  // Shared: every tab of the origin waits on the one worker.
  return watchLifetimeLock(workerLockName(build), 'shared', onGone, locks);
}

export interface WorkerPortOptions {
  build: string;
  /** Starts (or reaches) the SharedWorker and returns its port; called again after the worker died. */
  start(): MessagePort;
  locks?: LockManager;
  logger?: Logger;
}

/** The tab's port to the SharedWorker that survives the worker's death (see the comment above). */
export function connectToWorker(options: WorkerPortOptions): TabPort {
  const logger = options.logger ?? silentLogger;
  let messageHandler: ((message: unknown) => void) | undefined;
  let reconnectHandler: (() => void) | undefined;
  let cancelWatch: (() => void) | undefined;
  let restarts = 0;
  let closed = false;
  let port = open();

  function open(): ReturnType<typeof wrapMessagePort<TabToHub>> {
    const next = wrapMessagePort<TabToHub>(options.start());
    next.onMessage((message) => {
      if (next !== port || closed) return;
      if (cancelWatch === undefined && isAttached(message)) cancelWatch = watchWorkerLock(options.build, onWorkerGone, options.locks);
      messageHandler?.(message);
    });
    return next;
  }

  function onWorkerGone(): void {
    cancelWatch = undefined;
    if (closed) return;
    restarts += 1;
    logger.log('worker', { gone: true, restarting: true, restarts }, 'warn');
    port.close();
    port = open();
    reconnectHandler?.();
  }

  return {
    post: (message) => port.post(message),
    onMessage(handler) {
      messageHandler = handler;
    },
    onReconnect(handler) {
      reconnectHandler = handler;
    },
    close() {
      closed = true;
      cancelWatch?.();
      cancelWatch = undefined;
      port.close();
    },
  };
}

function isAttached(message: unknown): boolean {
  return typeof message === 'object' && message !== null && 'type' in message && message.type === 'attached';
}

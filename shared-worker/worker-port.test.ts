import { describe, expect, it } from 'vitest';
import type { AttachMessage } from './port-messages.ts';
import { connectToWorker, holdWorkerLock } from './worker-port.ts';

/** A minimal Web Locks with exclusive and shared modes, granted in request order. */
function fakeLocks(): LockManager {
  interface Waiter {
    mode: LockMode;
    grant(): void;
  }
  const queues = new Map<string, Waiter[]>();
  const holders = new Map<string, { mode: LockMode; count: number }>();
  const next = (name: string): void => {
    const queue = queues.get(name) ?? [];
    while (queue.length > 0) {
      const head = queue[0]!;
      const current = holders.get(name);
      if (current && (current.mode === 'exclusive' || head.mode === 'exclusive')) return;
      queue.shift();
      head.grant();
    }
  };
  const request = (name: string, ...rest: unknown[]): Promise<unknown> => {
    const callback = rest.at(-1) as (lock: Lock | null) => unknown;
    const options = (rest.length > 1 ? rest[0] : {}) as LockOptions;
    const mode = options.mode ?? 'exclusive';
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        mode,
        grant() {
          const current = holders.get(name);
          holders.set(name, { mode, count: (current?.count ?? 0) + 1 });
          Promise.resolve(callback({ name, mode }))
            .then(resolve, reject)
            .finally(() => {
              const holder = holders.get(name)!;
              if (--holder.count === 0) holders.delete(name);
              next(name);
            });
        },
      };
      const queue = queues.get(name) ?? [];
      queues.set(name, queue);
      queue.push(waiter);
      options.signal?.addEventListener('abort', () => {
        const index = queue.indexOf(waiter);
        if (index >= 0) queue.splice(index, 1);
        reject(new DOMException('aborted', 'AbortError'));
      });
      next(name);
    });
  };
  return { request, query: async () => ({ held: [], pending: [] }) } as unknown as LockManager;
}

const tick = (ms = 20): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A stand-in SharedWorker: holds the lifetime lock until killed, answers `attach` with `attached`. */
function fakeWorker(locks: LockManager, build: string) {
  let kill: () => void = () => {};
  const dead = new Promise<void>((resolve) => (kill = resolve));
  const attaches: unknown[] = [];
  const channel = new MessageChannel();
  const ready = holdWorkerLock(build, locks, dead);
  channel.port2.addEventListener('message', (event: MessageEvent<unknown>) => {
    attaches.push(event.data);
    void ready.then(() => channel.port2.postMessage({ type: 'attached', build, status: {} }));
  });
  channel.port2.start();
  return { port: channel.port1, attaches, kill: () => (kill(), channel.port2.close()) };
}

describe('worker port', () => {
  it('starts a new worker and asks the tab to attach again when the worker dies, and not before', async () => {
    const locks = fakeLocks();
    const workers: Array<ReturnType<typeof fakeWorker>> = [];
    const port = connectToWorker({
      build: 'b1',
      locks,
      start() {
        const worker = fakeWorker(locks, 'b1');
        workers.push(worker);
        return worker.port;
      },
    });
    const received: unknown[] = [];
    let reattached = 0;
    port.onMessage((message) => received.push(message));
    const attach: AttachMessage = { type: 'attach', tabId: 't1', build: 'b1', urls: ['http://x'], flagReason: 'default', orgs: ['456'], services: ['*'], cursors: {} };
    port.onReconnect?.(() => {
      reattached += 1;
      port.post(attach);
    });
    port.post(attach);
    await tick();
    expect(received).toEqual([{ type: 'attached', build: 'b1', status: {} }]);
    await tick(50);
    // The worker lives: the tab's shared request for its lock stays pending.
    expect(workers).toHaveLength(1);
    expect(reattached).toBe(0);

    workers[0]!.kill();
    await tick();
    expect(workers).toHaveLength(2);
    expect(reattached).toBe(1);
    expect(workers[1]!.attaches).toEqual([attach]);
    expect(received).toHaveLength(2);

    // The new worker is watched in turn; closing the port stops watching.
    port.close();
    workers[1]!.kill();
    await tick();
    expect(workers).toHaveLength(2);
    expect(reattached).toBe(1);
  });
});

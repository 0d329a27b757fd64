import { describe, expect, it } from 'vitest';
import type { StreamEvent } from '../protocol/index.ts';
import { openCursorStore } from './cursor-store.ts';
import type { Engine } from './engine.ts';
import { connectViaLeader } from './leader-election.ts';
import { createSessionCursors } from './session-cursors.ts';
import { createTabClient } from './tab-client.ts';
import { createWorkerHub, type EngineContext, type WorkerHub } from './worker-hub.ts';

const ORG = '456';
const ev = (seq: number): StreamEvent => ({ id: `e1:${seq}`, org: ORG, service: 'finance', type: 't', data: seq, ts: seq });

/** A minimal Web Locks: exclusive locks granted in request order, released when the callback settles. */
function fakeLocks(): LockManager {
  const queues = new Map<string, Array<() => void>>();
  const held = new Set<string>();
  const next = (name: string): void => {
    if (held.has(name)) return;
    const grant = queues.get(name)?.shift();
    if (grant) grant();
  };
  const request = (name: string, ...rest: unknown[]): Promise<unknown> => {
    const callback = rest.at(-1) as (lock: Lock | null) => unknown;
    const signal = (rest.length > 1 ? (rest[0] as LockOptions).signal : undefined) ?? undefined;
    return new Promise((resolve, reject) => {
      const grant = (): void => {
        held.add(name);
        Promise.resolve(callback({ name, mode: 'exclusive' })).then(resolve, reject).finally(() => {
          held.delete(name);
          next(name);
        });
      };
      const queue = queues.get(name) ?? [];
      queues.set(name, queue);
      queue.push(grant);
      signal?.addEventListener('abort', () => {
        const index = queue.indexOf(grant);
        if (index >= 0) queue.splice(index, 1);
        reject(new DOMException('aborted', 'AbortError'));
      });
      next(name);
    });
  };
  return { request, query: async () => ({ held: [], pending: [] }) } as unknown as LockManager;
}

const settle = (ms = 20): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('leader election (no SharedWorker)', () => {
  it('runs one hub for all tabs, relays events over BroadcastChannel, and hands over when the leader goes', async () => {
    const locks = fakeLocks();
    const channelName = `leader-test-${Math.random()}`;
    const hubs: Array<{ hub: WorkerHub; context: () => EngineContext; interest: Map<string, string[]> }> = [];

    async function createHub(): Promise<WorkerHub> {
      let context: EngineContext | null = null;
      const interest = new Map<string, string[]>();
      const engine: Engine = {
        start() {},
        stop() {},
        setInterest: (org, services) => void (services.length ? interest.set(org, services) : interest.delete(org)),
        cursor: () => null,
        status: () => ({ transport: 'v2', state: 'connected', reason: 'default', server: 'http://127.0.0.1:1' }),
        online() {},
      };
      const hub = createWorkerHub({
        build: 'b1',
        mode: 'leader-tab',
        store: await openCursorStore({ name: `leader-${Math.random()}` }),
        createEngine: (ctx) => {
          context = ctx;
          return engine;
        },
        createPoll: () => () => new Promise(() => {}),
      });
      hubs.push({
        hub,
        interest,
        context: () => {
          if (!context) throw new Error('no engine yet');
          return context;
        },
      });
      return hub;
    }

    function openTab(tabId: string, service: string) {
      const seen: string[] = [];
      const port = connectViaLeader({ tabId, createHub, locks, channel: new BroadcastChannel(channelName) });
      const client = createTabClient({
        port,
        tabId,
        build: 'b1',
        urls: ['http://127.0.0.1:1'],
        flagReason: 'default',
        orgs: [ORG],
        session: createSessionCursors(null),
        getToken: async () => `token-${tabId}`,
        initialStatus: { transport: 'none', state: 'idle', reason: 'default', mode: 'leader-tab', storage: 'memory', cursors: {}, tabs: 0, build: 'b1' },
        onEvents: (_org, events) => seen.push(...events.map((event) => event.id)),
        onStatus: () => {},
        onReset: () => {},
        onError: () => {},
        onConnection: () => {},
      });
      client.attach([service]);
      return { port, client, seen };
    }

    const a = openTab('A', 'finance');
    await settle();
    const b = openTab('B', 'finance');
    const c = openTab('C', 'chat');
    await settle();

    expect(hubs).toHaveLength(1);
    const first = hubs[0];
    if (!first) throw new Error('no hub');
    expect(first.hub.tabs()).toBe(3);
    expect(first.interest.get(ORG)).toEqual(['chat', 'finance']);
    await expect(first.context().getToken()).resolves.toBe('token-C');

    first.context().onLive(ORG, 'e1:0');
    first.context().onEvents(ORG, [ev(1), ev(2)], false);
    await settle();
    expect([a.seen, b.seen, c.seen]).toEqual([['e1:1', 'e1:2'], ['e1:1', 'e1:2'], []]);

    // The leader tab goes away: B takes the lock, starts a hub, and B and C attach to it.
    a.port.close();
    await settle(50);
    expect(hubs).toHaveLength(2);
    const second = hubs[1];
    if (!second) throw new Error('no second hub');
    expect(second.hub.tabs()).toBe(2);
    expect(second.interest.get(ORG)).toEqual(['chat', 'finance']);
    second.context().onEvents(ORG, [ev(2), ev(3)], false);
    await settle();
    expect(b.seen).toEqual(['e1:1', 'e1:2', 'e1:3']);
    b.port.close();
    c.port.close();
  });
});

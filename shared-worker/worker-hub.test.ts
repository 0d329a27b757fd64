import { describe, expect, it } from 'vitest';
import { ErrorCode, type ClientStatus, type PollResponse, type StreamEvent } from '../protocol/index.ts';
import { openCursorStore, type CursorStore } from './cursor-store.ts';
import type { Engine, EngineStatus } from './engine.ts';
import { createPortPair, type HubToTab } from './port-messages.ts';
import type { PollRequest } from './poll.ts';
import { createSessionCursors } from './session-cursors.ts';
import { createTabClient } from './tab-client.ts';
import { createWorkerHub, type EngineContext, type WorkerHub } from './worker-hub.ts';

const ORG = '456';
const ev = (seq: number, service = 'finance'): StreamEvent => ({ id: `e1:${seq}`, org: ORG, service, type: 't', data: seq, ts: seq });
const range = (from: number, to: number, service = 'finance'): StreamEvent[] =>
  Array.from({ length: to - from + 1 }, (_, index) => ev(from + index, service));
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));
/** Resolves once `check()` holds (polled every 5 ms), or rejects after 2 s. */
async function eventually(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 2_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in 2 s');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function fakeEngine() {
  const fake = {
    context: null as EngineContext | null,
    interest: new Map<string, string[]>(),
    seeds: new Map<string, string>(),
    starts: 0,
    stops: 0,
    status: { transport: 'v2', state: 'idle', reason: 'default' } as EngineStatus,
    get ctx(): EngineContext {
      if (!fake.context) throw new Error('engine not created');
      return fake.context;
    },
    create(context: EngineContext): Engine {
      fake.context = context;
      return {
        start() {
          fake.starts += 1;
          fake.status = { ...fake.status, state: 'connected' };
        },
        stop() {
          fake.stops += 1;
          fake.status = { ...fake.status, state: 'closed' };
        },
        setInterest(org, services, seed) {
          if (seed && !fake.seeds.has(org)) fake.seeds.set(org, seed);
          if (services.length === 0) fake.interest.delete(org);
          else fake.interest.set(org, services);
        },
        cursor: (org) => fake.seeds.get(org) ?? null,
        status: () => fake.status,
        online() {},
      };
    },
  };
  return fake;
}

interface Setup {
  hub: WorkerHub;
  engine: ReturnType<typeof fakeEngine>;
  store: CursorStore;
  kill(tabId: string): void;
  polls: PollRequest[];
  answerPoll(response: PollResponse): void;
}

async function setup(options: { ringCapacity?: number; store?: CursorStore; tokenHedgeMs?: number; tokenTimeoutMs?: number } = {}): Promise<Setup> {
  const engine = fakeEngine();
  const store = options.store ?? (await openCursorStore({ name: `hub-${Math.random()}` }));
  const watchers = new Map<string, () => void>();
  const polls: PollRequest[] = [];
  const waiting: Array<(response: PollResponse) => void> = [];
  const hub = createWorkerHub({
    build: 'b1',
    mode: 'shared-worker',
    store,
    ringCapacity: options.ringCapacity ?? 1000,
    ...(options.tokenHedgeMs === undefined ? {} : { tokenHedgeMs: options.tokenHedgeMs }),
    ...(options.tokenTimeoutMs === undefined ? {} : { tokenTimeoutMs: options.tokenTimeoutMs }),
    createEngine: (context) => engine.create(context),
    createPoll: () => (request) => {
      polls.push(request);
      return new Promise((resolve) => waiting.push(resolve));
    },
    watchTab: (tabId, onGone) => {
      watchers.set(tabId, onGone);
      return () => watchers.delete(tabId);
    },
  });
  return {
    hub,
    engine,
    store,
    kill: (tabId) => watchers.get(tabId)?.(),
    polls,
    answerPoll: (response) => waiting.shift()?.(response),
  };
}

/** A raw tab: attaches, records what it gets, answers token requests (unless `answerTokens` is false: they are kept). */
function rawTab(hub: WorkerHub, tabId: string, services: string[], cursors: Record<string, string> = {}, answerTokens = true) {
  const pair = createPortPair();
  hub.connect(pair.hub);
  const received: Array<{ id: string; replayed: boolean }> = [];
  const messages: HubToTab[] = [];
  const tokenRequests: number[] = [];
  const answerToken = (id: number): void => pair.tab.post({ type: 'token', id, token: `token-of-${tabId}` });
  pair.tab.onMessage((raw) => {
    const message = raw as HubToTab;
    messages.push(message);
    if (message.type === 'events') for (const event of message.events) received.push({ id: event.id, replayed: message.replayed });
    if (message.type !== 'token-request') return;
    if (answerTokens) answerToken(message.id);
    else tokenRequests.push(message.id);
  });
  pair.tab.post({ type: 'attach', tabId, build: 'b1', urls: ['http://127.0.0.1:1'], flagReason: 'default', orgs: [ORG], services, cursors });
  const ids = (): string[] => received.map((entry) => entry.id);
  const lastStatus = (): ClientStatus | undefined =>
    messages.filter((message): message is Extract<HubToTab, { type: 'status' }> => message.type === 'status').at(-1)?.status;
  return {
    pair,
    received,
    messages,
    ids,
    lastStatus,
    tokenRequests,
    answerToken,
    detach: () => pair.tab.post({ type: 'detach' }),
  };
}

describe('worker hub routing', () => {
  it('subscribes the engine to the union of services and routes each event only to the tabs that asked', async () => {
    const t = await setup();
    const finance = rawTab(t.hub, 'A', ['finance']);
    const chat = rawTab(t.hub, 'B', ['chat']);
    const everything = rawTab(t.hub, 'C', ['*']);
    await settle();
    expect(t.engine.interest.get(ORG)).toEqual(['*']);
    everything.detach();
    await settle();
    expect(t.engine.interest.get(ORG)).toEqual(['chat', 'finance']);
    expect(t.engine.starts).toBe(1);

    t.engine.ctx.onEvents(ORG, [ev(1, 'finance'), ev(2, 'chat'), ev(3, 'orders'), ev(4, 'finance')], false);
    await settle();
    expect(finance.ids()).toEqual(['e1:1', 'e1:4']);
    expect(chat.ids()).toEqual(['e1:2']);
    expect(finance.lastStatus()).toMatchObject({ tabs: 2, mode: 'shared-worker', transport: 'v2' });
  });

  it('notices a dead tab through its lock and releases the services no tab wants any more', async () => {
    const t = await setup();
    const finance = rawTab(t.hub, 'A', ['finance']);
    rawTab(t.hub, 'B', ['chat']);
    await settle();
    t.kill('B');
    await settle();
    expect(t.engine.interest.get(ORG)).toEqual(['finance']);
    expect(t.hub.tabs()).toBe(1);
    expect(finance.lastStatus()?.tabs).toBe(1);
    t.kill('A');
    expect(t.engine.interest.has(ORG)).toBe(false);
  });

  it('asks a tab for the token: tabs own getToken', async () => {
    const t = await setup();
    rawTab(t.hub, 'A', ['finance']);
    await settle();
    await expect(t.engine.ctx.getToken()).resolves.toBe('token-of-A');
  });

  it('asks the next tab when the newest has not answered within the hedge delay, without cancelling it; first answer wins', async () => {
    const t = await setup({ tokenHedgeMs: 40, tokenTimeoutMs: 5_000 });
    const older = rawTab(t.hub, 'A', ['finance'], {}, false);
    const newest = rawTab(t.hub, 'B', ['finance'], {}, false);
    await settle();
    const started = Date.now();
    const token = t.engine.ctx.getToken();
    await settle();
    expect([newest.tokenRequests.length, older.tokenRequests.length]).toEqual([1, 0]);
    await eventually(() => older.tokenRequests.length === 1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(35);
    expect(newest.tokenRequests).toHaveLength(1); // still waiting, not cancelled
    newest.answerToken(newest.tokenRequests[0]!); // the slow one answers first after all
    await expect(token).resolves.toBe('token-of-B');
    older.answerToken(older.tokenRequests[0]!);
    await settle();
    // A second request starts from the newest tab again.
    const again = t.engine.ctx.getToken();
    await settle();
    expect(newest.tokenRequests).toHaveLength(2);
    older.answerToken(-1); // an answer to no request is ignored
    newest.answerToken(newest.tokenRequests[1]!);
    await expect(again).resolves.toBe('token-of-B');
  });

  it('takes the token from whichever tab answers first when the newest is stuck', async () => {
    const t = await setup({ tokenHedgeMs: 20, tokenTimeoutMs: 5_000 });
    const alive = rawTab(t.hub, 'A', ['finance'], {}, false);
    rawTab(t.hub, 'B', ['finance'], {}, false); // stuck: never answers
    await settle();
    const started = Date.now();
    const token = t.engine.ctx.getToken();
    await eventually(() => alive.tokenRequests.length === 1);
    alive.answerToken(alive.tokenRequests[0]!);
    await expect(token).resolves.toBe('token-of-A');
    // Far sooner than the stuck tab's timeout (the old rule waited it out before asking the next).
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('gives the engine every server of the first tab, shows the one in use, and fetches catch-up from it', async () => {
    const t = await setup({ ringCapacity: 2 });
    const pair = createPortPair();
    t.hub.connect(pair.hub);
    pair.tab.post({ type: 'attach', tabId: 'A', build: 'b1', urls: ['http://a.test', 'http://b.test'], flagReason: 'default', orgs: [ORG], services: ['finance'], cursors: {} });
    await settle();
    expect(t.engine.ctx.urls).toEqual(['http://a.test', 'http://b.test']);
    t.engine.status = { ...t.engine.status, server: 'http://b.test' }; // the engine moved on after A failed
    expect(t.hub.status().server).toBe('http://b.test');
    t.engine.ctx.onLive(ORG, 'e1:0');
    t.engine.ctx.onEvents(ORG, range(1, 5), false);
    rawTab(t.hub, 'R', ['finance'], { [ORG]: 'e1:1' }); // behind the ring: fetched over v1
    await settle();
    expect(t.polls.map((poll) => [poll.cursor, poll.server])).toEqual([['e1:1', 'http://b.test']]);
  });

  it('keeps the stored cursor at the last event delivered to a tab, not the last received', async () => {
    const t = await setup();
    const tab = rawTab(t.hub, 'A', ['finance']);
    await settle();
    t.engine.ctx.onEvents(ORG, range(1, 3), false);
    tab.detach();
    await settle();
    t.engine.ctx.onEvents(ORG, range(4, 5), false);
    expect(t.store.get(ORG)).toBe('e1:3');
  });
});

describe('worker hub catch-up', () => {
  it('gives a reloaded tab what arrived while it was away, from the ring buffer, once and in order', async () => {
    const t = await setup();
    const before = rawTab(t.hub, 'A', ['finance']);
    await settle();
    t.engine.ctx.onLive(ORG, 'e1:0');
    t.engine.ctx.onEvents(ORG, range(1, 3), false);
    await settle();
    expect(before.ids()).toEqual(['e1:1', 'e1:2', 'e1:3']);
    before.detach();
    await settle();
    t.engine.ctx.onEvents(ORG, range(4, 5), false);

    const after = rawTab(t.hub, 'A', ['finance'], { [ORG]: 'e1:3' });
    await settle();
    t.engine.ctx.onEvents(ORG, [ev(5), ev(6)], false);
    await settle();
    expect(after.received).toEqual([
      { id: 'e1:4', replayed: true },
      { id: 'e1:5', replayed: true },
      { id: 'e1:6', replayed: false },
    ]);
  });

  it('fetches the gap with the v1 poll when the ring does not reach back, holding live events until caught up', async () => {
    const t = await setup({ ringCapacity: 3 });
    const first = rawTab(t.hub, 'A', ['finance']);
    await settle();
    t.engine.ctx.onLive(ORG, 'e1:0');
    t.engine.ctx.onEvents(ORG, range(1, 2), false);
    first.detach();
    await settle();
    t.engine.ctx.onEvents(ORG, range(3, 10), false); // ring keeps 8..10

    const reloaded = rawTab(t.hub, 'A', ['finance'], { [ORG]: 'e1:2' });
    await settle();
    expect(t.polls.map((poll) => [poll.org, poll.cursor, poll.token])).toEqual([[ORG, 'e1:2', 'token-of-A']]);
    t.engine.ctx.onEvents(ORG, [ev(11)], false); // live while the fetch runs: held back
    await settle();
    expect(reloaded.ids()).toEqual([]);
    t.answerPoll({ events: range(3, 7), cursor: 'e1:7', v2: true });
    await settle();
    // Event 11 pushed 8 out of the ring meanwhile: one more page, then the ring serves 9..11.
    expect(t.polls.map((poll) => poll.cursor)).toEqual(['e1:2', 'e1:7']);
    t.answerPoll({ events: [ev(8)], cursor: 'e1:8', v2: true });
    await settle();
    expect(reloaded.ids()).toEqual(range(3, 11).map((event) => event.id));
    expect(reloaded.received.every((entry) => entry.replayed)).toBe(true);
    t.engine.ctx.onEvents(ORG, [ev(12)], false);
    await settle();
    expect(reloaded.ids().at(-1)).toBe('e1:12');
    expect(new Set(reloaded.ids()).size).toBe(reloaded.ids().length);
  });

  it('starts a new tab (no cursor of its own) right after the last cursor any tab was given', async () => {
    const t = await setup();
    const old = rawTab(t.hub, 'A', ['finance']);
    await settle();
    t.engine.ctx.onLive(ORG, 'e1:0');
    t.engine.ctx.onEvents(ORG, range(1, 3), false);
    old.detach();
    await settle();
    t.engine.ctx.onEvents(ORG, range(4, 5), false);
    const fresh = rawTab(t.hub, 'N', ['finance']);
    await settle();
    expect(fresh.ids()).toEqual(['e1:4', 'e1:5']);
  });

  it('seeds a fresh engine with the older of the stored cursor and the first tab cursor', async () => {
    const store = await openCursorStore({ name: `seed-${Math.random()}` });
    store.set(ORG, 'e1:5');
    const t = await setup({ store });
    rawTab(t.hub, 'A', ['finance'], { [ORG]: 'e1:8' });
    await settle();
    expect(t.engine.seeds.get(ORG)).toBe('e1:5');
  });

  it('passes a reset to the tabs and moves the stored cursor to the new position', async () => {
    const t = await setup();
    const tab = rawTab(t.hub, 'A', ['finance'], { [ORG]: 'e1:3' });
    await settle();
    t.engine.ctx.onReset(ORG, { reason: 'retention', from: 'e1:3', cursor: 'e1:90', lost: 87 });
    t.engine.ctx.onEvents(ORG, [ev(91)], false);
    await settle();
    expect(tab.messages.filter((message) => message.type === 'reset')).toEqual([
      { type: 'reset', org: ORG, reason: 'retention', from: 'e1:3', cursor: 'e1:90', lost: 87 },
    ]);
    expect(tab.ids()).toEqual(['e1:91']);
    expect(t.store.get(ORG)).toBe('e1:91');
  });

  it('tells every tab BUILD_SUPERSEDED when a newer build takes over, stops, and refuses new tabs', async () => {
    const t = await setup();
    const tab = rawTab(t.hub, 'A', ['finance']);
    await settle();
    t.hub.supersede('b2');
    const late = rawTab(t.hub, 'B', ['finance']);
    await settle();
    expect(tab.messages).toContainEqual({ type: 'superseded', build: 'b2' });
    expect(late.messages).toEqual([{ type: 'superseded', build: 'b1' }]);
    expect(t.engine.stops).toBe(1);
    expect(t.hub.tabs()).toBe(0);
  });
});

describe('tab client with the hub', () => {
  it('a worker that restarts from an older stored cursor does not double events in a reloaded tab', async () => {
    const memory = new Map<string, string>();
    const storage = { getItem: (key: string) => memory.get(key) ?? null, setItem: (key: string, value: string) => void memory.set(key, value) };

    function openTab(hub: WorkerHub, seen: string[], errors: string[] = []) {
      const pair = createPortPair();
      hub.connect(pair.hub);
      const client = createTabClient({
        port: pair.tab,
        tabId: 'T',
        build: 'b1',
        urls: ['http://127.0.0.1:1'],
        flagReason: 'default',
        orgs: [ORG],
        session: createSessionCursors(storage),
        getToken: async () => 'tok',
        initialStatus: { transport: 'none', state: 'idle', reason: 'default', mode: 'shared-worker', storage: 'memory', cursors: {}, tabs: 0, build: 'b1' },
        onEvents: (_org, events) => seen.push(...events.map((event) => event.id)),
        onStatus: () => {},
        onReset: () => {},
        onError: (error) => errors.push(error.code),
        onConnection: () => {},
      });
      client.attach(['finance']);
      return client;
    }

    const first = await setup();
    const seen: string[] = [];
    openTab(first.hub, seen);
    await settle();
    first.engine.ctx.onLive(ORG, 'e1:0');
    first.engine.ctx.onEvents(ORG, range(1, 4), false);
    await settle();
    expect(seen).toEqual(['e1:1', 'e1:2', 'e1:3', 'e1:4']);

    // The worker died with its stored cursor behind (e1:2): the new one replays 3..6.
    const store = await openCursorStore({ name: `restart-${Math.random()}` });
    store.set(ORG, 'e1:2');
    const second = await setup({ store });
    const client = openTab(second.hub, seen);
    await settle();
    expect(second.engine.seeds.get(ORG)).toBe('e1:2');
    second.engine.ctx.onEvents(ORG, range(3, 6), true);
    await settle();
    expect(seen).toEqual(['e1:1', 'e1:2', 'e1:3', 'e1:4', 'e1:5', 'e1:6']);
    expect(client.status().cursors).toEqual({ [ORG]: 'e1:6' });
  });

  it('surfaces BUILD_SUPERSEDED to the app as an error with its code', async () => {
    const t = await setup();
    const errors: string[] = [];
    const pair = createPortPair();
    t.hub.connect(pair.hub);
    const client = createTabClient({
      port: pair.tab,
      tabId: 'T',
      build: 'b1',
      urls: ['http://127.0.0.1:1'],
      flagReason: 'default',
      orgs: [ORG],
      session: createSessionCursors(null),
      getToken: async () => 'tok',
      initialStatus: { transport: 'none', state: 'idle', reason: 'default', mode: 'shared-worker', storage: 'memory', cursors: {}, tabs: 0, build: 'b1' },
      onEvents: () => {},
      onStatus: () => {},
      onReset: () => {},
      onError: (error) => errors.push(error.code),
      onConnection: () => {},
    });
    client.attach(['finance']);
    await settle();
    t.hub.supersede('b2');
    await settle();
    expect(errors).toEqual([ErrorCode.BUILD_SUPERSEDED]);
    expect(client.status().state).toBe('closed');
  });
});

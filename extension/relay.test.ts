import { describe, expect, it, vi } from 'vitest';
import { BRIDGE_SOURCE } from '../protocol/index.ts';
import type { BridgeMessage } from '../protocol/index.ts';
import { createFakePort } from './fake-port.ts';
import { PAGE_PORT, VIEW_PORT, parseViewUpdate } from './messages.ts';
import type { RelayEntry, ViewUpdate } from './messages.ts';
import { createRelay } from './relay.ts';
import { createAreaRelayStore } from './relay-store.ts';
import type { StorageAreaLike } from './relay-store.ts';

function event(id: string, service = 'finance'): BridgeMessage {
  return {
    source: BRIDGE_SOURCE,
    kind: 'event',
    event: { id, org: '456', service, type: 'invoice.posted', data: { n: id }, ts: 1_000 },
    replayed: false,
    receivedAt: 1_010,
  };
}

function pagePort(tabId: number, url = `http://127.0.0.1:4000/?tab=${tabId}`) {
  return createFakePort(PAGE_PORT, { tab: { id: tabId }, url });
}

function updates(port: { posted: unknown[] }): ViewUpdate[] {
  return port.posted.map((message) => {
    const update = parseViewUpdate(message);
    if (!update) throw new Error('view got a malformed update');
    return update;
  });
}

function eventIds(entries: RelayEntry[]): string[] {
  return entries.flatMap((entry) => (entry.payload.kind === 'event' ? [entry.payload.event.id] : []));
}

function memoryArea(): StorageAreaLike & { items: Map<string, unknown> } {
  const items = new Map<string, unknown>();
  return {
    items,
    async get() {
      return Object.fromEntries(JSON.parse(JSON.stringify([...items])) as [string, unknown][]);
    },
    async set(values) {
      for (const [key, value] of Object.entries(values)) items.set(key, JSON.parse(JSON.stringify(value)));
    },
    async remove(keys) {
      for (const key of Array.isArray(keys) ? keys : [keys]) items.delete(key);
    },
  };
}

describe('relay', () => {
  it('sends a tab’s messages only to the views watching that tab', async () => {
    const relay = createRelay();
    const page = pagePort(7);
    const view7 = createFakePort(VIEW_PORT);
    const view8 = createFakePort(VIEW_PORT);
    relay.connect(page);
    relay.connect(view7);
    relay.connect(view8);
    view7.deliver({ type: 'watch', tabId: 7 });
    view8.deliver({ type: 'watch', tabId: 8 });
    await relay.ready;
    page.deliver({ type: 'batch', payloads: [event('e:1'), event('e:2')] });
    await relay.ready;

    const got7 = updates(view7);
    expect(got7.map((u) => u.type)).toEqual(['history', 'entries']);
    expect(eventIds(got7[1]?.entries ?? [])).toEqual(['e:1', 'e:2']);
    expect(updates(view8).map((u) => u.type)).toEqual(['history']);
  });

  it('gives a view opened later the last `capacity` messages of the tab, oldest first', async () => {
    const relay = createRelay({ capacity: 3 });
    const page = pagePort(1);
    relay.connect(page);
    page.deliver({ type: 'batch', payloads: ['e:1', 'e:2', 'e:3', 'e:4', 'e:5'].map((id) => event(id)) });
    const view = createFakePort(VIEW_PORT);
    relay.connect(view);
    view.deliver({ type: 'watch', tabId: 1 });
    await relay.ready;

    const [history] = updates(view);
    expect(history?.type).toBe('history');
    expect(eventIds(history?.entries ?? [])).toEqual(['e:3', 'e:4', 'e:5']);
    expect(new Set(history?.entries.map((e) => e.key)).size).toBe(3);
  });

  it('drops payloads that are not bridge messages and ports that are not from a tab', async () => {
    const relay = createRelay();
    const page = pagePort(2);
    const noTab = createFakePort(PAGE_PORT, { url: 'chrome-extension://x/popup.html' });
    relay.connect(page);
    relay.connect(noTab);
    page.deliver({ type: 'batch', payloads: [{ source: 'someone-else', kind: 'event' }, event('e:1'), 42] });
    noTab.deliver({ type: 'batch', payloads: [event('e:9')] });
    page.deliver({ type: 'not-a-batch' });
    await relay.ready;
    expect(eventIds(relay.history(2))).toEqual(['e:1']);
  });

  it('records the page going away (reload or navigation) as an `unloaded` notice', async () => {
    const relay = createRelay({ now: () => 5_000 });
    const page = pagePort(3, 'http://localhost:4000/');
    relay.connect(page);
    page.drop();
    await relay.ready;
    expect(relay.history(3).map((entry) => entry.payload)).toEqual([
      { source: 'extension', kind: 'page', what: 'unloaded', url: 'http://localhost:4000/', at: 5_000 },
    ]);
  });

  it('stops sending to a view whose port broke, and keeps serving the others', async () => {
    const relay = createRelay();
    const page = pagePort(4);
    const broken = createFakePort(VIEW_PORT);
    const healthy = createFakePort(VIEW_PORT);
    for (const port of [page, broken, healthy]) relay.connect(port);
    broken.deliver({ type: 'watch', tabId: 4 });
    healthy.deliver({ type: 'watch', tabId: 4 });
    await relay.ready;
    broken.broken = true;
    page.deliver({ type: 'batch', payloads: [event('e:1')] });
    page.deliver({ type: 'batch', payloads: [event('e:2')] });
    await relay.ready;
    expect(updates(healthy).filter((u) => u.type === 'entries')).toHaveLength(2);
    expect(broken.posted).toHaveLength(1); // the history only
  });

  it('survives a service-worker restart: the next relay loads the history, with keys that never collide', async () => {
    vi.useFakeTimers();
    try {
      const area = memoryArea();
      const first = createRelay({ store: createAreaRelayStore(area), boot: 'a', saveDelayMs: 1_000 });
      const page = pagePort(5);
      first.connect(page);
      page.deliver({ type: 'batch', payloads: [event('e:1'), event('e:2')] });
      await first.ready;
      expect(area.items.size).toBe(0); // writes wait for the save delay: one write per burst
      await vi.advanceTimersByTimeAsync(1_000);
      expect(area.items.has('relay:tab:5')).toBe(true);

      // The worker stopped; a new one starts with empty memory and a new boot id.
      const second = createRelay({ store: createAreaRelayStore(area), boot: 'b' });
      const page2 = pagePort(5);
      second.connect(page2);
      page2.deliver({ type: 'batch', payloads: [event('e:3')] });
      const view = createFakePort(VIEW_PORT);
      second.connect(view);
      view.deliver({ type: 'watch', tabId: 5 });
      await second.ready;

      const [history] = updates(view);
      expect(eventIds(history?.entries ?? [])).toEqual(['e:1', 'e:2', 'e:3']);
      const keys = history?.entries.map((entry) => entry.key) ?? [];
      expect(new Set(keys).size).toBe(3);
      expect(keys[0]?.startsWith('a.')).toBe(true);
      expect(keys[2]?.startsWith('b.')).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it('forgets a closed tab, in memory and in the store', async () => {
    const area = memoryArea();
    area.items.set('relay:tab:6', [{ key: 'old.1', payload: event('e:1') }]);
    const relay = createRelay({ store: createAreaRelayStore(area) });
    await relay.ready;
    expect(eventIds(relay.history(6))).toEqual(['e:1']);
    relay.dropTab(6);
    await relay.ready;
    await Promise.resolve();
    expect(relay.history(6)).toEqual([]);
    expect(area.items.has('relay:tab:6')).toBe(false);
  });

  it('does not bring a closed tab back when its page port disconnects after the tab was dropped', async () => {
    vi.useFakeTimers();
    try {
      const area = memoryArea();
      const relay = createRelay({ store: createAreaRelayStore(area), saveDelayMs: 10 });
      const page = pagePort(7);
      relay.connect(page);
      relay.dropTab(7);
      page.drop();
      await relay.ready;
      await vi.advanceTimersByTimeAsync(50);
      expect(relay.history(7)).toEqual([]);
      expect(area.items.has('relay:tab:7')).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });
});

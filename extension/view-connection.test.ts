import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BRIDGE_SOURCE } from '../protocol/index.ts';
import { createFakePort } from './fake-port.ts';
import type { FakePort } from './fake-port.ts';
import type { RelayEntry } from './messages.ts';
import { createRelay } from './relay.ts';
import { createStreamModel } from './stream-model.ts';
import { watchTab } from './view-connection.ts';

function entry(key: string, id: string): RelayEntry {
  return {
    key,
    payload: { source: BRIDGE_SOURCE, kind: 'event', event: { id, org: 'o', service: 's', type: 't', data: null, ts: 1 }, replayed: false, receivedAt: 2 },
  };
}

describe('view connection', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('asks for its tab, takes history then live entries, and ignores other tabs', () => {
    const ports: FakePort[] = [];
    const got: string[] = [];
    const links: boolean[] = [];
    watchTab(3, {
      connect: (name) => {
        const port = createFakePort(name);
        ports.push(port);
        return port;
      },
      onEntries: (entries) => got.push(...entries.map((e) => e.key)),
      onLink: (up) => links.push(up),
    });
    expect(ports[0]?.posted).toEqual([{ type: 'watch', tabId: 3 }]);
    ports[0]?.deliver({ type: 'history', tabId: 3, entries: [entry('a.1', 'x')] });
    ports[0]?.deliver({ type: 'entries', tabId: 4, entries: [entry('a.2', 'y')] });
    ports[0]?.deliver({ type: 'entries', tabId: 3, entries: [entry('a.3', 'z')] });
    expect(got).toEqual(['a.1', 'a.3']);
    expect(links).toEqual([true]);
  });

  it('reconnects after the worker stopped and, through the model, shows nothing twice', async () => {
    // A real relay behind fake ports: the worker "restarts" by replacing the relay.
    let relay = createRelay({ boot: 'a' });
    const model = createStreamModel();
    const links: boolean[] = [];
    const page = createFakePort('realtime-page', { tab: { id: 5 }, url: 'http://localhost/' });
    relay.connect(page);
    const views: FakePort[] = [];
    const watcher = watchTab(5, {
      connect: (name) => {
        const port = createFakePort(name);
        // Wire the port both ways to the current relay.
        const toRelay = createFakePort(name);
        port.postMessage = (message) => toRelay.deliver(message);
        toRelay.postMessage = (message) => port.deliver(message);
        relay.connect(toRelay);
        views.push(port);
        return port;
      },
      onEntries: (entries) => model.append(entries),
      onLink: (up) => links.push(up),
      retryMs: 500,
    });
    page.deliver({ type: 'batch', payloads: [entry('', 'e1').payload, entry('', 'e2').payload] });
    await relay.ready;
    expect(model.rows().map((row) => (row.kind === 'event' ? row.id : ''))).toEqual(['e1', 'e2']);

    // The worker stops: the view's port drops. A new worker keeps the same history (as if loaded from storage.session).
    const kept = relay.history(5);
    relay = createRelay({ boot: 'b', store: { load: async () => new Map([[5, kept]]), save: async () => {}, remove: async () => {} } });
    views[0]?.drop();
    await vi.advanceTimersByTimeAsync(500);
    expect(views).toHaveLength(2);
    await relay.ready;
    await vi.advanceTimersByTimeAsync(0);
    expect(model.rows()).toHaveLength(2);
    // Live delivery works again through the new worker: the page reconnects and sends a new event.
    const reconnectedPage = createFakePort('realtime-page', { tab: { id: 5 }, url: 'http://localhost/' });
    relay.connect(reconnectedPage);
    reconnectedPage.deliver({ type: 'batch', payloads: [entry('', 'e3').payload] });
    await vi.advanceTimersByTimeAsync(0);
    expect(model.rows().map((row) => (row.kind === 'event' ? row.id : ''))).toEqual(['e1', 'e2', 'e3']);
    expect(links.at(-1)).toBe(true);
    expect(links).toContain(false);
    watcher.stop();
  });
});

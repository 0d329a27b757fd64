import { describe, expect, it } from 'vitest';
import { BRIDGE_ATTRIBUTE, BRIDGE_READY_EVENT, BRIDGE_SOURCE, type ClientStatus, type StreamEvent } from '../protocol/index.ts';
import { createBridge } from './bridge.ts';

const STATUS: ClientStatus = {
  transport: 'v2',
  state: 'connected',
  reason: 'default',
  mode: 'shared-worker',
  storage: 'indexeddb',
  cursors: { '456': 'e1:3' },
  tabs: 2,
  build: 'test',
};
const EVENT: StreamEvent = { id: 'e1:3', org: '456', service: 'finance', type: 'invoice.posted', data: {}, ts: 1 };

/** A window with just what the bridge touches: the <html> attribute, postMessage and events. */
function fakeWindow(marked: boolean) {
  const attributes = new Set(marked ? [BRIDGE_ATTRIBUTE] : []);
  const posted: Array<{ message: unknown; origin: string }> = [];
  const listeners = new Map<string, Set<() => void>>();
  const win = {
    document: { documentElement: { hasAttribute: (name: string) => attributes.has(name) } },
    location: { origin: 'http://127.0.0.1:4000' },
    postMessage: (message: unknown, origin: string) => posted.push({ message, origin }),
    addEventListener: (type: string, listener: () => void) => {
      if (!listeners.has(type)) listeners.set(type, new Set());
      listeners.get(type)?.add(listener);
    },
    removeEventListener: (type: string, listener: () => void) => listeners.get(type)?.delete(listener),
  };
  return {
    win: win as unknown as Window,
    posted,
    /** What the extension's content script does: mark <html>, then announce it. */
    installExtension() {
      attributes.add(BRIDGE_ATTRIBUTE);
      for (const listener of listeners.get(BRIDGE_READY_EVENT) ?? []) listener();
    },
  };
}

describe('devtools bridge', () => {
  it('posts nothing when the extension did not mark the page', () => {
    const page = fakeWindow(false);
    const bridge = createBridge(page.win, () => STATUS);
    bridge.status(STATUS);
    bridge.event(EVENT, false, 2);
    bridge.connection('connected', '{}', 3);
    expect(page.posted).toEqual([]);
  });

  it('posts status, events and connection happenings to its own origin when marked', () => {
    const page = fakeWindow(true);
    const bridge = createBridge(page.win, () => STATUS);
    bridge.event(EVENT, true, 2);
    expect(page.posted).toEqual([
      { message: { source: BRIDGE_SOURCE, kind: 'event', event: EVENT, replayed: true, receivedAt: 2 }, origin: 'http://127.0.0.1:4000' },
    ]);
  });

  it('starts reporting, with the current status first, when the extension arrives later', () => {
    const page = fakeWindow(false);
    const bridge = createBridge(page.win, () => STATUS);
    bridge.event(EVENT, false, 2);
    page.installExtension();
    bridge.event(EVENT, false, 3);
    expect(page.posted.map((post) => (post.message as { kind: string }).kind)).toEqual(['status', 'event']);
    bridge.close();
  });
});

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BRIDGE_SOURCE } from '../protocol/index.ts';
import type { BridgeMessage, ClientStatus } from '../protocol/index.ts';
import { createContentBridge } from './content-bridge.ts';
import type { PagePort } from './content-bridge.ts';
import { createFakePort } from './fake-port.ts';
import type { FakePort } from './fake-port.ts';
import { PAGE_PORT, parsePageBatch } from './messages.ts';

const status: ClientStatus = {
  transport: 'v2',
  state: 'connected',
  reason: 'default',
  mode: 'shared-worker',
  storage: 'indexeddb',
  cursors: { '456': 'ep1:41' },
  tabs: 2,
  build: 'test',
};

function event(id: string, receivedAt: number): BridgeMessage {
  return {
    source: BRIDGE_SOURCE,
    kind: 'event',
    event: { id, org: '456', service: 'orders', type: 'order.moved', data: {}, ts: receivedAt - 5 },
    replayed: false,
    receivedAt,
  };
}

function setup(now = () => 10_000) {
  const page = {}; // stands for the page's window
  const ports: FakePort[] = [];
  const bridge = createContentBridge({
    window: page,
    url: 'http://127.0.0.1:4000/',
    now,
    connect: (): PagePort => {
      const port = createFakePort(PAGE_PORT);
      ports.push(port);
      return port;
    },
  });
  const sent = () =>
    ports.flatMap((port) =>
      port.posted.flatMap((message) => parsePageBatch(message)?.payloads ?? []),
    );
  return { page, ports, bridge, sent };
}

describe('content bridge', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('forwards the page’s bridge messages in one batch, after a `loaded` notice', async () => {
    const { page, bridge, ports, sent } = setup();
    bridge.onWindowMessage({ source: page, data: { source: BRIDGE_SOURCE, kind: 'status', status } });
    bridge.onWindowMessage({ source: page, data: event('ep1:42', 9_990) });
    await vi.advanceTimersByTimeAsync(16);
    expect(ports).toHaveLength(1);
    expect(ports[0]?.posted).toHaveLength(1);
    expect(sent().map((payload) => payload.kind)).toEqual(['page', 'status', 'event']);
  });

  it('ignores messages from other windows, other sources and malformed statuses', async () => {
    const { page, bridge, sent } = setup();
    bridge.onWindowMessage({ source: {}, data: event('ep1:1', 1) }); // an iframe or another window
    bridge.onWindowMessage({ source: page, data: { source: 'other-devtools', kind: 'event' } });
    bridge.onWindowMessage({ source: page, data: { source: BRIDGE_SOURCE, kind: 'status', status: { transport: 'v9' } } });
    await vi.advanceTimersByTimeAsync(16);
    expect(sent().map((payload) => payload.kind)).toEqual(['page']);
    expect(bridge.reply().status).toBeNull();
  });

  it('answers get-status with the latest status, last event time and rate', () => {
    let now = 10_000;
    const { page, bridge } = setup(() => now);
    expect(bridge.reply()).toMatchObject({ type: 'status-reply', status: null, lastEventAt: null, eventsPerSecond: 0 });
    bridge.onWindowMessage({ source: page, data: { source: BRIDGE_SOURCE, kind: 'status', status } });
    bridge.onWindowMessage({ source: page, data: { source: BRIDGE_SOURCE, kind: 'status', status: { ...status, tabs: 3 } } });
    for (let i = 0; i < 10; i += 1) bridge.onWindowMessage({ source: page, data: event(`ep1:${i}`, 9_000 + i) });
    now = 9_500;
    const reply = bridge.reply();
    expect(reply.status?.tabs).toBe(3);
    expect(reply.lastEventAt).toBe(9_009);
    expect(reply.eventsPerSecond).toBe(10); // 10 events within the one second seen so far
    expect(reply.url).toBe('http://127.0.0.1:4000/');
  });

  it('reopens the port after the service worker dropped it, and resends what failed', async () => {
    const { page, bridge, ports, sent } = setup();
    await vi.advanceTimersByTimeAsync(16);
    ports[0]?.drop(); // the worker stopped
    bridge.onWindowMessage({ source: page, data: event('ep1:1', 1) });
    await vi.advanceTimersByTimeAsync(16);
    expect(ports).toHaveLength(2);

    const current = ports[1];
    if (current) current.broken = true; // stopped without telling us yet: send throws
    bridge.onWindowMessage({ source: page, data: event('ep1:2', 2) });
    await vi.advanceTimersByTimeAsync(16);
    expect(ports).toHaveLength(3);
    expect(sent().flatMap((payload) => (payload.kind === 'event' ? [payload.event.id] : []))).toEqual(['ep1:1', 'ep1:2']);
  });

  it('stops forwarding once the extension is gone (connect throws)', async () => {
    const page = {};
    const connect = vi.fn((): PagePort => {
      throw new Error('Extension context invalidated.');
    });
    const bridge = createContentBridge({ window: page, url: 'http://localhost/', connect });
    await vi.advanceTimersByTimeAsync(16);
    bridge.onWindowMessage({ source: page, data: event('ep1:1', 1) });
    await vi.advanceTimersByTimeAsync(100);
    expect(connect).toHaveBeenCalledTimes(1);
    expect(vi.getTimerCount()).toBe(0);
  });
});

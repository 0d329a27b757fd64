/**
 * The wire never carries a duplicate, even from a log that delivers at least once (Redis: a new
 * subscriber can get events the replay already carried), and never jumps to another epoch
 * silently. Driven by a memory log wrapped to misbehave exactly that way.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { StreamEvent } from '../protocol/index.ts';
import type { EventLog } from './event-log.ts';
import { createMemoryEventLog } from './memory-event-log.ts';
import { appendEvents, connectReady, range, seqs, startTestServer, type TestClient, type TestServer } from './test-support.ts';

let server: TestServer;
const clients: TestClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await server?.close();
});

/**
 * A log whose subscribers get every event twice, and, shortly after subscribing (once the socket
 * is live), the org's last `stale` events again.
 */
function atLeastOnceLog(stale: number, inner: EventLog = createMemoryEventLog()): EventLog & { inject(event: StreamEvent): void } {
  const delivered: StreamEvent[] = [];
  const listeners = new Set<(event: StreamEvent) => void>();
  return {
    get epoch() {
      return inner.epoch;
    },
    append: async (input) => {
      const event = await inner.append(input);
      delivered.push(event);
      return event;
    },
    read: (org, after, limit) => inner.read(org, after, limit),
    head: (org) => inner.head(org),
    trim: (now) => inner.trim(now),
    close: () => inner.close(),
    subscribe(org, listener) {
      listeners.add(listener);
      const stop = inner.subscribe(org, (event) => {
        listener(event);
        listener(event);
      });
      const timer = setTimeout(() => {
        for (const event of delivered.filter((e) => e.org === org).slice(-stale)) listener(event);
      }, 30);
      return () => {
        clearTimeout(timer);
        listeners.delete(listener);
        stop();
      };
    },
    inject(event) {
      for (const listener of listeners) listener(event);
    },
  };
}

describe('v2 stream: no duplicate on the wire from an at-least-once log', () => {
  it('drops live frames at or before the last replayed cursor, and repeated live frames', async () => {
    const log = atLeastOnceLog(5);
    server = await startTestServer({ log });
    const before = await appendEvents(server, 'a', 10);
    const client = await connectReady(server);
    clients.push(client);
    client.send({ type: 'subscribe', org: 'a', services: ['*'], cursor: before[3]!.id });
    expect((await client.waitFor('live')).cursor).toBe(before[9]!.id);
    // Let the stale re-delivery of seq 6..10 happen, then publish more (each delivered twice).
    await new Promise((resolve) => setTimeout(resolve, 60));
    await appendEvents(server, 'a', 5);
    await client.waitForEvents('a', 11);
    // A marker after the doubled ones: any duplicate would have arrived before it.
    await appendEvents(server, 'a', 1);
    await client.waitForEvents('a', 12);
    expect(seqs(client.events('a'))).toEqual(range(5, 16));
    expect(server.metrics().events.delivered).toBe(12);
  });

  it('closes 4013 instead of writing a live event of another epoch (the resume then gets a reset)', async () => {
    const log = atLeastOnceLog(0);
    server = await startTestServer({ log });
    await appendEvents(server, 'a', 2);
    const client = await connectReady(server);
    clients.push(client);
    client.send({ type: 'subscribe', org: 'a', services: ['*'], cursor: `${server.log.epoch}:0` });
    await client.waitFor('live');
    log.inject({ id: 'otherepoch:1', org: 'a', service: 'finance', type: 't', data: null, ts: Date.now() });
    const error = await client.waitFor('error');
    expect(error.code).toBe('STREAM_ERR_STORE_UNAVAILABLE');
    expect((await client.closed).code).toBe(4013);
    expect(client.events('a').map((event) => event.id)).toEqual([`${server.log.epoch}:1`, `${server.log.epoch}:2`]);
  });
});

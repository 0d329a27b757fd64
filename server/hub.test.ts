import { describe, expect, it } from 'vitest';
import type { EventLog } from './event-log.ts';
import { createHub, MAX_EVENTS_PER_FRAME, type HubConsumer, type HubFrame } from './hub.ts';
import { createMemoryEventLog } from './memory-event-log.ts';

/** The hub flushes on setImmediate: this resolves after that flush. */
const flushed = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The JSON message inside a hub frame's plain WebSocket frame (the payload is its last `rawBytes`). */
const messageOf = (frame: HubFrame): unknown => JSON.parse(frame.frame.plain.subarray(frame.frame.plain.length - frame.frame.rawBytes).toString());

/** A memory log that counts live upstream subscriptions. */
function countingLog(): { log: EventLog; upstream: () => number } {
  const inner = createMemoryEventLog();
  let live = 0;
  const log: EventLog = {
    ...inner,
    epoch: inner.epoch,
    subscribe(org, listener) {
      live += 1;
      const stop = inner.subscribe(org, listener);
      let stopped = false;
      return () => {
        if (stopped) return;
        stopped = true;
        live -= 1;
        stop();
      };
    },
  };
  return { log, upstream: () => live };
}

function consumer(services: string[]): HubConsumer & { frames: HubFrame[] } {
  const frames: HubFrame[] = [];
  return { services: new Set(services), frames, deliver: (frame) => frames.push(frame) };
}

describe('hub', () => {
  it('keeps one upstream subscription per org across 10 orgs × 1,000 consumers, and releases each with its last consumer', async () => {
    const { log, upstream } = countingLog();
    const hub = createHub(log);
    const detachers: Array<() => void> = [];
    const consumers: Array<ReturnType<typeof consumer>> = [];
    for (let org = 0; org < 10; org++) {
      for (let n = 0; n < 1000; n++) {
        const c = consumer(['*']);
        consumers.push(c);
        detachers.push(hub.attach(`org${org}`, c));
      }
    }
    expect(hub.stats().totalSubscriptions).toBe(10);
    expect(hub.stats().consumers).toBe(10_000);
    expect(upstream()).toBe(10);

    await log.append({ org: 'org4', service: 'finance', type: 't', data: 1 });
    await flushed();
    const receivers = consumers.filter((c) => c.frames.length > 0);
    expect(receivers).toHaveLength(1000);
    // Serialized once: every consumer got the very same frame object.
    expect(new Set(receivers.map((c) => c.frames[0])).size).toBe(1);
    expect(messageOf(receivers[0]!.frames[0]!)).toEqual({
      type: 'events',
      org: 'org4',
      replayed: false,
      events: [expect.objectContaining({ org: 'org4', service: 'finance', data: 1 })],
    });

    // Org 0's consumers leave one by one: the upstream subscription goes with the last.
    for (let n = 0; n < 999; n++) detachers[n]!();
    expect(hub.stats().totalSubscriptions).toBe(10);
    detachers[999]!();
    detachers[999]!(); // idempotent
    expect(hub.stats().totalSubscriptions).toBe(9);
    expect(upstream()).toBe(9);
    for (const detach of detachers) detach();
    expect(hub.stats()).toEqual({ totalSubscriptions: 0, consumers: 0, orgs: {} });
    expect(upstream()).toBe(0);
  });

  it('hands each event only to consumers whose services include it (or *), and sees service changes', async () => {
    const log = createMemoryEventLog();
    const hub = createHub(log);
    const finance = consumer(['finance']);
    const chat = consumer(['chat']);
    const all = consumer(['*']);
    for (const c of [finance, chat, all]) hub.attach('a', c);
    await log.append({ org: 'a', service: 'finance', type: 't', data: 1 });
    await flushed();
    await log.append({ org: 'a', service: 'chat', type: 't', data: 2 });
    await log.append({ org: 'b', service: 'chat', type: 't', data: 3 });
    await flushed();
    (finance.services as Set<string>).add('chat');
    await log.append({ org: 'a', service: 'chat', type: 't', data: 4 });
    await flushed();
    const data = (c: ReturnType<typeof consumer>) => c.frames.flatMap((f) => f.events.map((event) => event.data));
    expect(data(finance)).toEqual([1, 4]);
    expect(data(chat)).toEqual([2, 4]);
    expect(data(all)).toEqual([1, 2, 4]);
  });

  it('keeps delivering to the others when one consumer throws', async () => {
    const log = createMemoryEventLog();
    const hub = createHub(log);
    const good = consumer(['*']);
    hub.attach('a', { services: new Set(['*']), deliver: () => { throw new Error('broken'); } });
    hub.attach('a', good);
    await log.append({ org: 'a', service: 's', type: 't', data: 1 });
    await flushed();
    expect(good.frames).toHaveLength(1);
  });

  it('sends a burst of one turn as one frame per consumer, each consumer only its services, frames shared by equal subsets', async () => {
    const log = createMemoryEventLog();
    const hub = createHub(log);
    const all = [consumer(['*']), consumer(['*'])];
    const finance = [consumer(['finance']), consumer(['finance', 'hr'])];
    const chat = consumer(['chat']);
    const none = consumer(['other']);
    for (const c of [...all, ...finance, chat, none]) hub.attach('a', c);
    // Appended in one turn: nothing is handed out before the turn ends.
    const appends = ['finance', 'chat', 'finance'].map((service, n) => log.append({ org: 'a', service, type: 't', data: n }));
    await Promise.all(appends);
    expect(all[0]!.frames).toHaveLength(0);
    await flushed();

    for (const c of all) expect(c.frames.map((f) => f.events.map((e) => e.data))).toEqual([[0, 1, 2]]);
    for (const c of finance) expect(c.frames.map((f) => f.events.map((e) => e.data))).toEqual([[0, 2]]);
    expect(chat.frames.map((f) => f.events.map((e) => e.data))).toEqual([[1]]);
    expect(none.frames).toHaveLength(0);
    expect(all[0]!.frames[0]).toBe(all[1]!.frames[0]);
    expect(finance[0]!.frames[0]).toBe(finance[1]!.frames[0]);
    const message = messageOf(finance[0]!.frames[0]!) as { type: string; events: Array<{ data: number }> };
    expect(message).toMatchObject({ type: 'events', org: 'a', replayed: false });
    expect(message.events.map((e) => e.data)).toEqual([0, 2]);

    // A lone event in a later turn is its own frame, not held for company.
    await log.append({ org: 'a', service: 'chat', type: 't', data: 3 });
    await flushed();
    expect(chat.frames.map((f) => f.events.map((e) => e.data))).toEqual([[1], [3]]);
  });

  it('splits a burst larger than MAX_EVENTS_PER_FRAME into several frames, in order', async () => {
    const log = createMemoryEventLog();
    const hub = createHub(log);
    const c = consumer(['*']);
    hub.attach('a', c);
    const total = MAX_EVENTS_PER_FRAME * 2 + 5;
    await Promise.all(Array.from({ length: total }, (_, n) => log.append({ org: 'a', service: 's', type: 't', data: n })));
    await flushed();
    expect(c.frames.map((f) => f.events.length)).toEqual([MAX_EVENTS_PER_FRAME, MAX_EVENTS_PER_FRAME, 5]);
    expect(c.frames.flatMap((f) => f.events.map((e) => e.data))).toEqual(Array.from({ length: total }, (_, n) => n));
  });

  it('drops pending events of an org whose last consumer left before the flush, and stops after close()', async () => {
    const log = createMemoryEventLog();
    const hub = createHub(log);
    const gone = consumer(['*']);
    const detach = hub.attach('a', gone);
    await log.append({ org: 'a', service: 's', type: 't', data: 1 });
    detach();
    const stays = consumer(['*']);
    hub.attach('b', stays);
    await log.append({ org: 'b', service: 's', type: 't', data: 2 });
    hub.close();
    await flushed();
    expect(gone.frames).toHaveLength(0);
    expect(stays.frames).toHaveLength(0);
  });
});

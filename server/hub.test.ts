import { describe, expect, it } from 'vitest';
import type { EventLog } from './event-log.ts';
import { createHub, type HubConsumer, type HubFrame } from './hub.ts';
import { createMemoryEventLog } from './memory-event-log.ts';

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
    const receivers = consumers.filter((c) => c.frames.length > 0);
    expect(receivers).toHaveLength(1000);
    // Serialized once: every consumer got the very same frame object.
    expect(new Set(receivers.map((c) => c.frames[0])).size).toBe(1);
    expect(JSON.parse(receivers[0]!.frames[0]!.text)).toEqual({
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
    await log.append({ org: 'a', service: 'chat', type: 't', data: 2 });
    await log.append({ org: 'b', service: 'chat', type: 't', data: 3 });
    (finance.services as Set<string>).add('chat');
    await log.append({ org: 'a', service: 'chat', type: 't', data: 4 });
    const data = (c: ReturnType<typeof consumer>) => c.frames.map((f) => f.event.data);
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
    expect(good.frames).toHaveLength(1);
  });
});

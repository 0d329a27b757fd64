import { describe, expect, it } from 'vitest';
import { createDeliveryTracker, type TrackedSocket } from './delivery-tracker.ts';

const socket = (org: string): TrackedSocket => ({ org, lastSeq: 0, open: true });

describe('delivery tracker', () => {
  it('completes an event once every socket of its org has it, and records one latency per delivery', () => {
    const completed: number[] = [];
    const tracker = createDeliveryTracker((org) => (org === 'a' ? 2 : 1), (seq) => completed.push(seq));
    tracker.setWindow(0, 1000);
    const [a1, a2, b1] = [socket('a'), socket('a'), socket('b')];
    tracker.published(1, 'a', true);
    tracker.published(2, 'b', true);
    tracker.delivered(a1, 1, 100, 110);
    expect(completed).toEqual([]);
    tracker.delivered(b1, 2, 100, 105);
    tracker.delivered(a2, 1, 100, 130);
    expect(completed).toEqual([2, 1]);
    const counts = tracker.counts();
    expect(counts).toMatchObject({ deliveries: 3, expected: 3, missing: 0 });
    expect(counts.latency.count).toBe(3);
    expect(counts.latency.max).toBeCloseTo(30, 1);
  });

  it('counts deliveries only inside the window and latency only for events published inside it', () => {
    const tracker = createDeliveryTracker(() => 1, () => {});
    tracker.setWindow(100, 200);
    const s = socket('a');
    tracker.published(1, 'a', false);
    tracker.delivered(s, 1, 90, 150);
    tracker.published(2, 'a', true);
    tracker.delivered(s, 2, 150, 250);
    const counts = tracker.counts();
    expect(counts.deliveries).toBe(1);
    expect(counts.latency.count).toBe(1);
    expect(counts.latency.p50).toBeCloseTo(100, 0);
  });

  it('stops owing a closed socket the events it had not received, and counts them missing', () => {
    const completed: number[] = [];
    const tracker = createDeliveryTracker(() => 2, (seq) => completed.push(seq));
    tracker.setWindow(0, 1000);
    const [fast, slow] = [socket('a'), socket('a')];
    tracker.published(1, 'a', true);
    tracker.published(2, 'a', true);
    tracker.delivered(fast, 1, 0, 1);
    tracker.delivered(fast, 2, 0, 1);
    tracker.delivered(slow, 1, 0, 1);
    tracker.socketClosed(slow);
    expect(completed).toEqual([1, 2]);
    expect(tracker.outstanding()).toBe(0);
    expect(tracker.counts()).toMatchObject({ expected: 4, missing: 1, deliveries: 3 });
  });
});

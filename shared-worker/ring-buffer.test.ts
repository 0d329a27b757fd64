import { describe, expect, it } from 'vitest';
import type { StreamEvent } from '../protocol/index.ts';
import { createRingBuffer } from './ring-buffer.ts';

const ev = (seq: number, epoch = 'e1'): StreamEvent => ({ id: `${epoch}:${seq}`, org: 'o', service: 's', type: 't', data: null, ts: seq });
const ids = (answer: ReturnType<ReturnType<typeof createRingBuffer>['since']>) => (answer.kind === 'events' ? answer.events.map((event) => event.id) : answer.kind);

describe('ring buffer', () => {
  it('serves the events after a cursor it covers, and reports a gap once they were pushed out', () => {
    const ring = createRingBuffer(3);
    expect(ids(ring.since('o', 'e1:0'))).toBe('unknown');
    ring.anchor('o', 'e1:0');
    ring.push('o', [ev(1), ev(2), ev(3)]);
    expect(ids(ring.since('o', 'e1:1'))).toEqual(['e1:2', 'e1:3']);
    ring.push('o', [ev(3), ev(4), ev(5)]);
    expect(ids(ring.since('o', 'e1:2'))).toEqual(['e1:3', 'e1:4', 'e1:5']);
    expect(ids(ring.since('o', 'e1:1'))).toBe('gap');
    expect(ids(ring.since('o', 'e1:9'))).toEqual([]);
    expect(ids(ring.since('o', 'other:9'))).toBe('gap');
    expect(ring.head('o')).toBe('e1:5');
  });

  it('restarts at the new position after a reset', () => {
    const ring = createRingBuffer(10);
    ring.anchor('o', 'e1:0');
    ring.push('o', [ev(1)]);
    ring.restart('o', 'e2:40');
    expect(ids(ring.since('o', 'e1:1'))).toBe('gap');
    ring.push('o', [ev(41, 'e2')]);
    expect(ids(ring.since('o', 'e2:40'))).toEqual(['e2:41']);
  });
});

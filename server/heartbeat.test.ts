import { afterEach, describe, expect, it, vi } from 'vitest';
import { createHeartbeat } from './heartbeat.ts';

afterEach(() => {
  vi.useRealTimers();
});

describe('heartbeat', () => {
  it('visits every member on one shared tick, and ticks only while there are members', () => {
    vi.useFakeTimers();
    const visits: Array<{ members: string[]; now: number }> = [];
    const heartbeat = createHeartbeat<string>(100, (members, now) => visits.push({ members: [...members], now }));
    vi.advanceTimersByTime(500);
    expect(visits).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);

    const start = Date.now();
    heartbeat.add('a');
    heartbeat.add('b');
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(100);
    expect(visits).toEqual([{ members: ['a', 'b'], now: start + 100 }]);
    heartbeat.delete('a');
    vi.advanceTimersByTime(100);
    expect(visits.at(-1)).toEqual({ members: ['b'], now: start + 200 });

    heartbeat.delete('b');
    expect(heartbeat.size()).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1000);
    expect(visits).toHaveLength(2);

    heartbeat.add('c');
    heartbeat.close();
    expect(vi.getTimerCount()).toBe(0);
    expect(heartbeat.size()).toBe(0);
  });

  it('keeps 5,000 members on one timer', () => {
    vi.useFakeTimers();
    let visited = 0;
    const heartbeat = createHeartbeat<number>(1000, (members) => (visited += members.size));
    for (let n = 0; n < 5000; n++) heartbeat.add(n);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(1000);
    expect(visited).toBe(5000);
    heartbeat.close();
  });
});

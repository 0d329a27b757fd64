import { afterEach, describe, expect, it, vi } from 'vitest';
import { createDeadlines } from './deadlines.ts';

afterEach(() => {
  vi.useRealTimers();
});

describe('deadlines', () => {
  it('shares one timer among members due in the same second and fires each once, at the rounded-up second', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const due: Array<{ member: string; at: number }> = [];
    const deadlines = createDeadlines<string>((member) => due.push({ member, at: Date.now() }));
    deadlines.set('a', 1_005_000);
    deadlines.set('b', 1_004_200);
    deadlines.set('c', 1_009_000);
    expect(deadlines.timers()).toBe(2);
    expect(vi.getTimerCount()).toBe(2);
    vi.advanceTimersByTime(4_999);
    expect(due).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(due).toEqual([
      { member: 'a', at: 1_005_000 },
      { member: 'b', at: 1_005_000 },
    ]);
    vi.advanceTimersByTime(10_000);
    expect(due.map((entry) => entry.member)).toEqual(['a', 'b', 'c']);
    expect(deadlines.timers()).toBe(0);
  });

  it('moves a member to its new deadline (token renewed) and forgets deleted ones', () => {
    vi.useFakeTimers({ now: 0 });
    const due: string[] = [];
    const deadlines = createDeadlines<string>((member) => due.push(member));
    deadlines.set('renewed', 2_000);
    deadlines.set('closed', 2_000);
    deadlines.set('renewed', 60_000);
    deadlines.delete('closed');
    expect(deadlines.timers()).toBe(1);
    vi.advanceTimersByTime(59_999);
    expect(due).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(due).toEqual(['renewed']);
  });

  it('waits past the 24.8-day limit of one Node timer by chaining', () => {
    vi.useFakeTimers({ now: 0 });
    const due: string[] = [];
    const deadlines = createDeadlines<string>((member) => due.push(member));
    const thirtyDays = 30 * 24 * 3600 * 1000;
    deadlines.set('long', thirtyDays);
    vi.advanceTimersByTime(2 ** 31 - 1);
    expect(due).toEqual([]);
    vi.advanceTimersByTime(thirtyDays - (2 ** 31 - 1));
    expect(due).toEqual(['long']);
    deadlines.close();
  });
});

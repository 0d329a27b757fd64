import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { firstAnswer } from './first-answer.ts';

interface Pending {
  source: string;
  at: number;
  resolve(value: string): void;
  reject(error: Error): void;
}

function sources() {
  const asked: Pending[] = [];
  const ask = (source: string): Promise<string> =>
    new Promise<string>((resolve, reject) => asked.push({ source, at: Date.now(), resolve, reject }));
  return { asked, ask, names: () => asked.map((entry) => `${entry.source}@${entry.at}`) };
}

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('firstAnswer', () => {
  it('asks the next source after hedgeMs without cancelling the first, and the first answer wins', async () => {
    const s = sources();
    const result = firstAnswer(['a', 'b', 'c'], s.ask, { hedgeMs: 1_000 });
    await vi.advanceTimersByTimeAsync(999);
    expect(s.names()).toEqual(['a@0']);
    await vi.advanceTimersByTimeAsync(1);
    expect(s.names()).toEqual(['a@0', 'b@1000']);
    s.asked[0]!.resolve('from a'); // the slow first one answers after all
    await expect(result).resolves.toBe('from a');
    s.asked[1]!.resolve('from b');
    await vi.advanceTimersByTimeAsync(5_000);
    expect(s.names()).toEqual(['a@0', 'b@1000']);
  });

  it('asks the next source at once when one fails, and rejects with the last error when all failed', async () => {
    const s = sources();
    const result = firstAnswer(['a', 'b'], s.ask, { hedgeMs: 1_000 }).catch((error: Error) => error.message);
    await vi.advanceTimersByTimeAsync(0);
    s.asked[0]!.reject(new Error('a failed'));
    await vi.advanceTimersByTimeAsync(0);
    expect(s.names()).toEqual(['a@0', 'b@0']);
    s.asked[1]!.reject(new Error('b failed'));
    await expect(result).resolves.toBe('b failed');
  });

  it('waits for every request still running before giving up', async () => {
    const s = sources();
    const result = firstAnswer(['a', 'b'], s.ask, { hedgeMs: 100 });
    await vi.advanceTimersByTimeAsync(100);
    s.asked[1]!.reject(new Error('b failed'));
    await vi.advanceTimersByTimeAsync(0);
    s.asked[0]!.resolve('from a');
    await expect(result).resolves.toBe('from a');
  });

  it('rejects at once with nothing to ask', async () => {
    await expect(firstAnswer([], async () => 'x', { hedgeMs: 10 })).rejects.toThrow();
  });
});

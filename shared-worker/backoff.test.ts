import { describe, expect, it } from 'vitest';
import { backoff } from './backoff.ts';

/** A scripted "random": the jittered sequence is exact. */
function scripted(values: number[]): () => number {
  let index = 0;
  return () => values[index++ % values.length] ?? 0;
}

describe('backoff', () => {
  it('grows the window exponentially and caps it (random = 1 shows the ceilings)', () => {
    const top = () => 0.999999;
    const delays = Array.from({ length: 9 }, (_, attempt) => backoff(attempt, { min: 500, max: 30_000 }, top));
    expect(delays).toEqual([499, 999, 1999, 3999, 7999, 15999, 29999, 29999, 29999]);
  });

  it('draws full jitter in [0, ceiling) from the injected random: exact sequence', () => {
    const random = scripted([0.1, 0.5, 0.9, 0.25, 0.75, 0.5]);
    const delays = Array.from({ length: 6 }, (_, attempt) => backoff(attempt, { min: 100, max: 1_000 }, random));
    // ceilings 100, 200, 400, 800, 1000 (capped), 1000
    expect(delays).toEqual([10, 100, 360, 200, 750, 500]);
  });

  it('never returns a negative delay or exceeds the cap for absurd attempts', () => {
    expect(backoff(-3, { min: 500, max: 30_000 }, () => 0.5)).toBe(250);
    expect(backoff(10_000, { min: 500, max: 30_000 }, () => 0.5)).toBe(15_000);
  });
});

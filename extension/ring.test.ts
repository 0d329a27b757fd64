import { describe, expect, it } from 'vitest';
import { createRing } from './ring.ts';

describe('ring', () => {
  it('keeps the newest items in order and returns what it evicts', () => {
    const ring = createRing<number>(3);
    expect([1, 2, 3].map((n) => ring.push(n))).toEqual([undefined, undefined, undefined]);
    expect(ring.push(4)).toBe(1);
    expect(ring.push(5)).toBe(2);
    expect(ring.toArray()).toEqual([3, 4, 5]);
    expect(ring.size).toBe(3);
  });

  it('starts over after clear', () => {
    const ring = createRing<string>(2);
    ring.push('a');
    ring.push('b');
    ring.push('c');
    ring.clear();
    expect(ring.size).toBe(0);
    ring.push('d');
    expect(ring.toArray()).toEqual(['d']);
  });

  it('refuses a capacity below one', () => {
    expect(() => createRing(0)).toThrow(RangeError);
  });
});

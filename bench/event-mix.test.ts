import { describe, expect, it } from 'vitest';
import { createEventMix, MIX_MAX_BYTES, MIX_MIN_BYTES } from './event-mix.ts';

describe('event mix', () => {
  it('publishes JSON data of about 150–2,000 bytes, the same sequence for the same seed', () => {
    const sizes = Array.from({ length: 2000 }, (() => {
      const mix = createEventMix(3);
      return () => JSON.stringify(mix.next().data).length;
    })());
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(MIX_MIN_BYTES * 0.9);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(MIX_MAX_BYTES * 1.05);
    expect(Math.max(...sizes)).toBeGreaterThan(MIX_MAX_BYTES * 0.8);
    const [a, b] = [createEventMix(5), createEventMix(5)];
    expect(JSON.stringify([a.next(), a.next()])).toBe(JSON.stringify([b.next(), b.next()]));
  });

  it('uses several services so per-service routing is exercised', () => {
    const mix = createEventMix(1);
    const services = new Set(Array.from({ length: 200 }, () => mix.next().service));
    expect([...services].sort()).toEqual(['audit', 'chat', 'finance', 'orders']);
  });
});

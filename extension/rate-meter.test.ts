import { describe, expect, it } from 'vitest';
import { createRateMeter } from './rate-meter.ts';

describe('rate meter', () => {
  it('averages over the last five seconds once the window is full', () => {
    const meter = createRateMeter(5);
    for (let ms = 0; ms < 10_000; ms += 50) meter.mark(ms); // 20 events a second for 10 s
    expect(meter.perSecond(9_999)).toBe(20);
  });

  it('does not read low for a page that started a moment ago', () => {
    const meter = createRateMeter(5);
    for (let ms = 100_000; ms < 101_500; ms += 50) meter.mark(ms); // 1.5 s at 20/s
    expect(meter.perSecond(101_500)).toBe(15); // 30 events over the 2 whole seconds seen
    expect(meter.perSecond(200_000)).toBe(0); // long quiet: the window empties
  });
});

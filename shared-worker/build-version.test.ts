import { describe, expect, it } from 'vitest';
import { compareBuilds } from './build-version.ts';

describe('compareBuilds (the newer build keeps the SharedWorker)', () => {
  it('orders ISO build timestamps by time', () => {
    expect(compareBuilds('2026-12-04T17:32:59.439Z', '2026-12-04T09:05:00.000Z')).toBeGreaterThan(0);
    expect(compareBuilds('2026-12-04T09:05:00.000Z', '2026-12-04T17:32:59.439Z')).toBeLessThan(0);
    expect(compareBuilds('2026-12-04T09:05:00.000Z', '2026-12-04T09:05:00.000Z')).toBe(0);
  });

  it('orders dotted versions numerically, not as text', () => {
    expect(compareBuilds('1.10.0', '1.9.3')).toBeGreaterThan(0);
    expect(compareBuilds('2.0.0', '10.0.0')).toBeLessThan(0);
  });
});

import { afterEach, describe, expect, it, vi } from 'vitest';
import { readFlagInPage, writeFlagInPage } from './page-functions.ts';

function stubStorage(): Map<string, string> {
  const items = new Map<string, string>();
  vi.stubGlobal('localStorage', {
    getItem: (key: string) => items.get(key) ?? null,
    setItem: (key: string, value: string) => void items.set(key, value),
    removeItem: (key: string) => void items.delete(key),
  });
  return items;
}

describe('page functions', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('sets the flag to "false" and removes it again, reading back what the page holds', () => {
    const items = stubStorage();
    expect(writeFlagInPage('REALTIME_STREAMING_V2', 'false')).toBe('false');
    expect(readFlagInPage('REALTIME_STREAMING_V2')).toBe('false');
    expect(writeFlagInPage('REALTIME_STREAMING_V2', null)).toBeNull();
    expect(items.has('REALTIME_STREAMING_V2')).toBe(false);
  });

  it('is self-contained, as executeScript serializes it by its source', () => {
    // Rebuilding from source text fails on any reference to this module's scope.
    const rebuilt = new Function(`return (${writeFlagInPage.toString()})`)() as typeof writeFlagInPage;
    stubStorage();
    expect(rebuilt('K', 'false')).toBe('false');
  });
});

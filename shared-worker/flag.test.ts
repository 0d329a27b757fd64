import { describe, expect, it } from 'vitest';
import { readStreamingFlag } from './flag.ts';

const storageWith = (value: string | null) => ({ getItem: (key: string) => (key === 'REALTIME_STREAMING_V2' ? value : null) });

describe('readStreamingFlag', () => {
  it('selects v2 by default when the key is missing', () => {
    expect(readStreamingFlag(storageWith(null))).toEqual({ v2: true, reason: 'default', raw: null });
  });

  it("selects v1 only for the exact string 'false'", () => {
    expect(readStreamingFlag(storageWith('false'))).toMatchObject({ v2: false, reason: 'forced-off' });
    for (const value of ['true', 'FALSE', '0', '', 'no']) {
      expect(readStreamingFlag(storageWith(value))).toMatchObject({ v2: true, reason: 'forced-on', raw: value });
    }
  });

  it('falls back to v2 and says why when localStorage throws', () => {
    const throwing = {
      getItem(): string | null {
        throw new Error('SecurityError: access denied');
      },
    };
    const flag = readStreamingFlag(throwing);
    expect(flag).toMatchObject({ v2: true, reason: 'default' });
    expect(flag.storageError).toContain('SecurityError');
    expect(readStreamingFlag(null)).toMatchObject({ v2: true, reason: 'default', storageError: expect.any(String) });
  });
});

import { describe, expect, it } from 'vitest';
import { isReusable, jwtExpiresAt } from './token-reuse.ts';

const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const token = (payload: unknown): string => `${part({ alg: 'HS256' })}.${part(payload)}.c2lnbmF0dXJl`;
const NOW = 1_800_000_000_000;

describe('token reuse', () => {
  it("reads a JWT's exp without verifying it", () => {
    expect(jwtExpiresAt(token({ sub: 'u', exp: 1_800_000_600 }))).toBe(1_800_000_600_000);
    expect(jwtExpiresAt(token({ sub: 'ü', exp: 12 }))).toBe(12_000);
  });

  it('knows no lifetime for anything that is not a JWT with a numeric exp', () => {
    for (const opaque of ['tok-1', 'a.b', '', token({ sub: 'u' }), token({ exp: '99999999999' }), token(42), 'x.!!!.y', `${part({})}.${'%%'}.s`]) {
      expect(jwtExpiresAt(opaque)).toBeNull();
    }
  });

  it('reuses only a JWT with more than the margin left', () => {
    expect(isReusable(token({ exp: NOW / 1000 + 3600 }), NOW)).toBe(true);
    expect(isReusable(token({ exp: NOW / 1000 + 61 }), NOW)).toBe(true);
    expect(isReusable(token({ exp: NOW / 1000 + 60 }), NOW)).toBe(false);
    expect(isReusable(token({ exp: NOW / 1000 - 5 }), NOW)).toBe(false);
    expect(isReusable('opaque-session-token', NOW)).toBe(false);
  });
});

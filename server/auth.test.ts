import { describe, expect, it } from 'vitest';
import { createTokenAuthority } from './auth.ts';
import { StreamError } from '../protocol/index.ts';
import { createLogger, redact } from './logger.ts';

describe('tokens', () => {
  it('round-trips claims and maps failures to stable codes', async () => {
    const authority = createTokenAuthority('s'.repeat(40));
    const token = await authority.issueToken({ sub: 'u1', orgs: ['456'], scopes: ['read', 'publish'], ttlSeconds: 60 });
    const claims = await authority.verifyToken(token);
    expect(claims).toMatchObject({ sub: 'u1', orgs: ['456'], scope: ['read', 'publish'] });
    const code = async (t: string | null) => {
      const result = await authority.verifyToken(t);
      return result instanceof StreamError ? result.code : 'valid';
    };
    expect(await code(null)).toBe('STREAM_ERR_TOKEN_MISSING');
    expect(await code(`${token.slice(0, -3)}abc`)).toBe('STREAM_ERR_TOKEN_INVALID');
    expect(await code(await createTokenAuthority('t'.repeat(40)).issueToken({ sub: 'u1', orgs: [], scopes: [], ttlSeconds: 60 }))).toBe('STREAM_ERR_TOKEN_INVALID');
    expect(await code(await authority.issueToken({ sub: 'u1', orgs: [], scopes: [], ttlSeconds: -1 }))).toBe('STREAM_ERR_TOKEN_EXPIRED');
    expect(await code(await authority.issueToken({ sub: 'u1', orgs: [], scopes: [], ttlSeconds: 60, notBeforeSeconds: 120 }))).toBe('STREAM_ERR_TOKEN_EXPIRED');
  });
});

describe('logger', () => {
  it('redacts access_token params, bearer subprotocols, Authorization values and bare JWTs from every line', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl';
    const lines: string[] = [];
    const logger = createLogger((line) => lines.push(line));
    logger.info('upgrade', `GET /v2/realtime/stream?org=1&access_token=${jwt}&x=1`, { protocols: `realtime.v2, bearer.${jwt}`, auth: `Bearer ${jwt}`, raw: jwt });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain(jwt);
    expect(lines[0]).not.toContain('c2lnbmF0dXJl');
    expect(lines[0]).toContain('access_token=[redacted]&x=1');
    expect(lines[0]).toContain('bearer.[redacted]');
    expect(redact(`token ${jwt} end`)).toBe('token [redacted] end');
  });
});

import { describe, expect, it } from 'vitest';
import { createTokenCache } from './token-cache.ts';

/** A JWT-shaped token (unsigned: the cache never verifies) expiring `inSeconds` from now. */
function jwt(inSeconds: number, n: number): string {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'HS256' })}.${part({ n, exp: Math.floor(Date.now() / 1000) + inSeconds })}.c2ln`;
}

function counting(make: (n: number) => string) {
  const issued: string[] = [];
  const getToken = async (): Promise<string> => {
    const token = make(issued.length + 1);
    issued.push(token);
    return token;
  };
  return { issued, getToken };
}

describe('token cache', () => {
  it('reuses a JWT with more than the margin left, until told to forget it', async () => {
    const app = counting((n) => jwt(3600, n));
    const tokens = createTokenCache(app.getToken, 60_000);
    const first = await tokens.reusable();
    expect(await tokens.reusable()).toBe(first);
    tokens.forget();
    const second = await tokens.reusable();
    expect(second).not.toBe(first);
    expect(app.issued).toEqual([first, second]);
  });

  it('asks the app every time for opaque tokens and for JWTs within the margin', async () => {
    const opaque = counting((n) => `tok-${n}`);
    const tokens = createTokenCache(opaque.getToken, 60_000);
    expect([await tokens.reusable(), await tokens.reusable()]).toEqual(['tok-1', 'tok-2']);

    const expiring = counting((n) => jwt(30, n));
    const short = createTokenCache(expiring.getToken, 60_000);
    await short.reusable();
    await short.reusable();
    expect(expiring.issued).toHaveLength(2);
  });

  it('fresh() always asks the app, and the fresh token is the one reused next', async () => {
    const app = counting((n) => jwt(3600, n));
    const tokens = createTokenCache(app.getToken);
    await tokens.reusable();
    const renewed = await tokens.fresh();
    expect(app.issued).toHaveLength(2);
    expect(await tokens.reusable()).toBe(renewed);
    expect(app.issued).toHaveLength(2);
  });
});

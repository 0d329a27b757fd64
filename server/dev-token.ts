/**
 * `GET /dev/token?org=ORG&scope=read|publish|admin` → `{ "token" }` (a fixed contract; absent in
 * production). Optional: `org` as a comma list, `scope` as a comma list, `sub` (default
 * `dev-user`), `ttl` in seconds (default 3600).
 */
import type { ServerResponse } from 'node:http';
import { ErrorCode, isName, StreamError } from '../protocol/index.ts';
import { isScope, type Scope } from './auth.ts';
import type { ServerContext } from './context.ts';
import { sendError, sendJson } from './http-io.ts';

export const DEV_TOKEN_PATH = '/dev/token';
const MAX_TTL_SECONDS = 7 * 24 * 3600;

function list(value: string | null): string[] {
  return (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

export async function handleDevToken(ctx: ServerContext, res: ServerResponse, url: URL): Promise<void> {
  const orgs = list(url.searchParams.get('org'));
  if (orgs.length === 0 || !orgs.every(isName)) {
    sendError(res, new StreamError(ErrorCode.BAD_NAME, '"org" must be one or more comma-separated names of [A-Za-z0-9_.-]'));
    return;
  }
  const scopeNames = list(url.searchParams.get('scope') ?? 'read');
  const scopes: Scope[] = [];
  for (const name of scopeNames.length > 0 ? scopeNames : ['read']) {
    if (!isScope(name)) {
      sendError(res, new StreamError(ErrorCode.BAD_MESSAGE, '"scope" must be read, publish or admin (comma-separated for several)'));
      return;
    }
    scopes.push(name);
  }
  const sub = url.searchParams.get('sub') ?? 'dev-user';
  if (!isName(sub)) {
    sendError(res, new StreamError(ErrorCode.BAD_NAME, '"sub" must be 1-64 of [A-Za-z0-9_.-]'));
    return;
  }
  const ttlParam = url.searchParams.get('ttl');
  const ttlSeconds = ttlParam === null ? 3600 : Number(ttlParam);
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0 || ttlSeconds > MAX_TTL_SECONDS) {
    sendError(res, new StreamError(ErrorCode.BAD_MESSAGE, `"ttl" must be 1 to ${MAX_TTL_SECONDS} seconds`));
    return;
  }
  // Up, not to the nearest: `ttl=0.4` rounded to 0 issued a token that was expired on arrival.
  const token = await ctx.auth.issueToken({ sub, orgs: [...new Set(orgs)], scopes, ttlSeconds: Math.ceil(ttlSeconds) });
  sendJson(res, 200, { token });
}

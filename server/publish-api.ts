/**
 * `POST /v1/events` (a fixed contract): `Authorization: Bearer <token with publish scope>` and
 * `{ org, service, type, data }` → `201 { "id" }` once the append is durable.
 *
 * An append that rejects is never acknowledged: a store error answers with its code (Redis away:
 * 503 STORE_UNAVAILABLE, retry with backoff). The event may still have been written when only the
 * reply was lost, so a retrying publisher can cause a duplicate, never a loss.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, parseEventInput, parseJson, StreamError } from '../protocol/index.ts';
import { requireOrg, requireScope, tokenFromRequest } from './auth.ts';
import type { ServerContext } from './context.ts';
import { readBody, sendError, sendJson } from './http-io.ts';
import { isOriginAllowed } from './origin.ts';

export const PUBLISH_PATH = '/v1/events';

export async function handlePublish(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const refuse = (error: StreamError) => {
    ctx.metrics.rejected(error.code);
    sendError(res, error);
  };
  if (!isOriginAllowed(req, ctx.options.allowedOrigins)) {
    refuse(new StreamError(ErrorCode.ORIGIN_NOT_ALLOWED, 'this Origin may not publish'));
    return;
  }
  // Header only: a publish token in a URL would end up in proxies' logs.
  const claims = await ctx.auth.verifyToken(tokenFromRequest(req, url, { allowQuery: false, allowProtocol: false }));
  if (claims instanceof StreamError) {
    refuse(claims);
    return;
  }
  const scopeError = requireScope(claims, 'publish');
  if (scopeError) {
    refuse(scopeError);
    return;
  }
  let body: string;
  try {
    body = await readBody(req, ctx.options.maxPayloadBytes);
  } catch (error) {
    refuse(error instanceof StreamError ? error : new StreamError(ErrorCode.BAD_MESSAGE, 'the body could not be read'));
    return;
  }
  const json = parseJson(body);
  if (!json.ok) {
    refuse(json.error);
    return;
  }
  const input = parseEventInput(json.value);
  if (!input.ok) {
    refuse(input.error);
    return;
  }
  const orgError = requireOrg(claims, input.value.org);
  if (orgError) {
    refuse(orgError);
    return;
  }
  let id: string;
  try {
    id = (await ctx.publish(input.value)).id;
  } catch (error) {
    // Anything else is a bug: the router answers 500 INTERNAL.
    if (!(error instanceof StreamError)) throw error;
    refuse(error);
    return;
  }
  sendJson(res, 201, { id });
}

/**
 * `POST /v1/events` (a fixed contract): `Authorization: Bearer <token with publish scope>` and
 * `{ org, service, type, data }` → `201 { "id" }` once the append is durable.
 *
 * An append that rejects is never acknowledged: a store error answers with its code (Redis away:
 * 503 STORE_UNAVAILABLE, retry with backoff). The event may still have been written when only the
 * reply was lost, so a retrying publisher can cause a duplicate, never a loss.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseEventInput, StreamError } from '../protocol/index.ts';
import { requireOrg } from './auth.ts';
import { readAuthorizedJson, refuseRequest } from './authorized-json.ts';
import type { ServerContext } from './context.ts';
import { sendJson } from './http-io.ts';

export const PUBLISH_PATH = '/v1/events';

export async function handlePublish(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const request = await readAuthorizedJson(ctx, req, url, {
    scope: 'publish',
    allowQueryToken: false,
    maxBodyBytes: ctx.options.maxPayloadBytes,
    originRefusal: 'this Origin may not publish',
  });
  if (request instanceof StreamError) {
    refuseRequest(ctx, res, request);
    return;
  }
  const input = parseEventInput(request.body);
  if (!input.ok) {
    refuseRequest(ctx, res, input.error);
    return;
  }
  const orgError = requireOrg(request.claims, input.value.org);
  if (orgError) {
    refuseRequest(ctx, res, orgError);
    return;
  }
  let id: string;
  try {
    id = (await ctx.publish(input.value)).id;
  } catch (error) {
    // Anything else is a bug: the router answers 500 INTERNAL.
    if (!(error instanceof StreamError)) throw error;
    refuseRequest(ctx, res, error);
    return;
  }
  sendJson(res, 201, { id });
}

/**
 * The runtime kill switch: `GET /admin/streaming-v2` → `{ enabled }`; `POST` with
 * `{ "enabled": boolean }` and a token with the `admin` scope flips it. Turning v2 off closes every
 * open socket with 4010; clients fall back to v1 and watch the poll's `v2` field to return.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, StreamError } from '../protocol/index.ts';
import { readAuthorizedJson, refuseRequest } from './authorized-json.ts';
import type { ServerContext } from './context.ts';
import { sendJson } from './http-io.ts';

export const ADMIN_STREAMING_PATH = '/admin/streaming-v2';

export async function handleAdminStreaming(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  if (req.method === 'GET' || req.method === 'HEAD') {
    sendJson(res, 200, { enabled: ctx.streaming.enabled });
    return;
  }
  const request = await readAuthorizedJson(ctx, req, url, {
    scope: 'admin',
    allowQueryToken: true,
    maxBodyBytes: 1024,
    originRefusal: 'this Origin may not use the admin API',
  });
  if (request instanceof StreamError) {
    refuseRequest(ctx, res, request);
    return;
  }
  const value = request.body;
  if (typeof value !== 'object' || value === null || !('enabled' in value) || typeof value.enabled !== 'boolean') {
    refuseRequest(ctx, res, new StreamError(ErrorCode.BAD_MESSAGE, 'the body must be { "enabled": true | false }'));
    return;
  }
  ctx.logger.info('admin', `streaming v2 ${value.enabled ? 'enabled' : 'disabled'}`, { sub: request.claims.sub });
  ctx.streaming.set(value.enabled);
  sendJson(res, 200, { enabled: ctx.streaming.enabled });
}

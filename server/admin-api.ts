/**
 * The runtime kill switch: `GET /admin/streaming-v2` → `{ enabled }`; `POST` with
 * `{ "enabled": boolean }` and a token with the `admin` scope flips it. Turning v2 off closes every
 * open socket with 4010; clients fall back to v1 and watch the poll's `v2` field to return.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, parseJson, StreamError } from '../protocol/index.ts';
import { requireScope, tokenFromRequest } from './auth.ts';
import type { ServerContext } from './context.ts';
import { readBody, sendError, sendJson } from './http-io.ts';
import { isOriginAllowed } from './origin.ts';

export const ADMIN_STREAMING_PATH = '/admin/streaming-v2';

export async function handleAdminStreaming(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  if (req.method === 'GET' || req.method === 'HEAD') {
    sendJson(res, 200, { enabled: ctx.streaming.enabled });
    return;
  }
  const refuse = (error: StreamError) => {
    ctx.metrics.rejected(error.code);
    sendError(res, error);
  };
  if (!isOriginAllowed(req, ctx.options.allowedOrigins)) {
    refuse(new StreamError(ErrorCode.ORIGIN_NOT_ALLOWED, 'this Origin may not use the admin API'));
    return;
  }
  const claims = await ctx.auth.verifyToken(tokenFromRequest(req, url, { allowQuery: true, allowProtocol: false }));
  if (claims instanceof StreamError) {
    refuse(claims);
    return;
  }
  const scopeError = requireScope(claims, 'admin');
  if (scopeError) {
    refuse(scopeError);
    return;
  }
  let body: string;
  try {
    body = await readBody(req, 1024);
  } catch (error) {
    refuse(error instanceof StreamError ? error : new StreamError(ErrorCode.BAD_MESSAGE, 'the body could not be read'));
    return;
  }
  const json = parseJson(body);
  if (!json.ok) {
    refuse(json.error);
    return;
  }
  const value = json.value;
  if (typeof value !== 'object' || value === null || !('enabled' in value) || typeof value.enabled !== 'boolean') {
    refuse(new StreamError(ErrorCode.BAD_MESSAGE, 'the body must be { "enabled": true | false }'));
    return;
  }
  ctx.logger.info('admin', `streaming v2 ${value.enabled ? 'enabled' : 'disabled'}`, { sub: claims.sub });
  ctx.streaming.set(value.enabled);
  sendJson(res, 200, { enabled: ctx.streaming.enabled });
}

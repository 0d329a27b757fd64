/** The HTTP routes, on plain `node:http` (no framework). Upgrades go to the stream server. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ErrorCode, StreamError } from '../protocol/index.ts';
import { ADMIN_STREAMING_PATH, handleAdminStreaming } from './admin-api.ts';
import type { ServerContext } from './context.ts';
import { answerPreflight, applyCors } from './cors.ts';
import { DEV_TOKEN_PATH, handleDevToken } from './dev-token.ts';
import { refuseUpgrade, requestUrl, sendError, sendJson } from './http-io.ts';
import { POLL_PATH, type LongPoll } from './long-poll.ts';
import type { MetricsSnapshot } from './metrics.ts';
import { handlePublish, PUBLISH_PATH } from './publish-api.ts';
import { serveStatic } from './static-files.ts';
import { STREAM_PATH, type StreamServer } from './stream-server.ts';
import type { Registry } from 'prom-client';

export const METRICS_PATH = '/v2/realtime/metrics';
export const PROMETHEUS_PATH = '/metrics';

export interface HttpServerParts {
  ctx: ServerContext;
  stream: StreamServer;
  poll: LongPoll;
  metrics: () => MetricsSnapshot;
  prometheus: Registry;
}

/** Paths that belong to the API: unknown ones answer 404 JSON instead of falling through to static files. */
const API_PREFIXES = ['/v1/', '/v2/', '/dev/', '/admin/'];

function methodNotAllowed(res: ServerResponse, path: string): void {
  sendError(res, new StreamError(ErrorCode.NOT_FOUND, `no such method on ${path}`));
}

export function createHttpServer({ ctx, stream, poll, metrics, prometheus }: HttpServerParts): Server {
  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = requestUrl(req);
    if (!url) return sendError(res, new StreamError(ErrorCode.NOT_FOUND, 'the request target is not a path'));
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const isRead = method === 'GET' || method === 'HEAD';
    // Pages on another allowed origin poll, fetch dev tokens and read metrics here (failover
    // across processes); /dev/token only exists outside production.
    if (path === POLL_PATH || path === METRICS_PATH || (path === DEV_TOKEN_PATH && !ctx.options.production)) {
      if (method === 'OPTIONS') return answerPreflight(req, res, ctx.options.allowedOrigins);
      applyCors(req, res, ctx.options.allowedOrigins);
    }
    switch (path) {
      case POLL_PATH:
        if (!isRead) return methodNotAllowed(res, path);
        return poll.handle(req, res, url);
      case PUBLISH_PATH:
        if (method !== 'POST') return methodNotAllowed(res, path);
        return handlePublish(ctx, req, res, url);
      case DEV_TOKEN_PATH:
        if (ctx.options.production) break;
        if (!isRead) return methodNotAllowed(res, path);
        return handleDevToken(ctx, res, url);
      case ADMIN_STREAMING_PATH:
        if (!isRead && method !== 'POST') return methodNotAllowed(res, path);
        return handleAdminStreaming(ctx, req, res, url);
      case METRICS_PATH:
        if (!isRead) return methodNotAllowed(res, path);
        return sendJson(res, 200, metrics());
      case PROMETHEUS_PATH: {
        if (!isRead) return methodNotAllowed(res, path);
        const text = await prometheus.metrics();
        res.writeHead(200, { 'content-type': prometheus.contentType, 'cache-control': 'no-store' });
        res.end(text);
        return;
      }
    }
    if (isRead && !API_PREFIXES.some((prefix) => path.startsWith(prefix))) {
      return serveStatic(ctx.options.staticDir, req, res, path);
    }
    sendError(res, new StreamError(ErrorCode.NOT_FOUND, `no endpoint ${method} ${path}`));
  }

  const server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      ctx.logger.error('http', 'request failed', { url: req.url, error: String(error) });
      if (!res.headersSent) sendError(res, new StreamError(ErrorCode.INTERNAL, 'the server failed on this request; it had no effect'));
      else res.destroy();
    });
  });
  server.on('upgrade', (req, socket, head) => {
    // Only the stream path reaches the stream server, so it never sees a target it cannot parse.
    if (requestUrl(req)?.pathname !== STREAM_PATH) {
      socket.on('error', (error) => ctx.logger.warn('upgrade', 'socket error', { error: error.message }));
      ctx.metrics.rejected(ErrorCode.NOT_FOUND);
      refuseUpgrade(socket, new StreamError(ErrorCode.NOT_FOUND, `no WebSocket endpoint here: use ${STREAM_PATH}`));
      return;
    }
    stream.handleUpgrade(req, socket, head);
  });
  return server;
}

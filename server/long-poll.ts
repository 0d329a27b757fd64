/**
 * v1 long-polling, the rollback transport: `GET /v1/realtime/poll?org=ORG&cursor=C[&timeout=S]`.
 * Same tokens, same log, same cursors as v2, so a client can switch either way mid-stream.
 *
 * A waiting poll is a hub consumer of its org (the pool holds one upstream subscription however
 * many polls wait). It attaches BEFORE reading, so an event appended between the read and the
 * wait still wakes it.
 *
 * While the event store is unavailable, open polls answer 503 STORE_UNAVAILABLE at once and new
 * ones get it before any read: the client retries with backoff from the same cursor.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, isName, parseCursor, StreamError, type Cursor, type PollResponse } from '../protocol/index.ts';
import { requireOrg, requireScope, tokenFromRequest } from './auth.ts';
import type { ServerContext } from './context.ts';
import { sendError, sendJson } from './http-io.ts';
import { isOriginAllowed } from './origin.ts';
import type { StoreStatus } from './store-status.ts';

export const POLL_PATH = '/v1/realtime/poll';

export interface LongPoll {
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void>;
  /** Polls waiting now. */
  open(): number;
  /** Answers every waiting poll at once (shutdown). */
  releaseAll(): void;
}

const ALL = new Set(['*']);

/** Why a waiting poll is answered early: shutdown (empty answer) or the store went away (503). */
type Release = 'timeout' | 'unavailable';

export function createLongPoll(ctx: ServerContext, store: StoreStatus): LongPoll {
  const { options, log, hub, auth, metrics, streaming } = ctx;
  const perUser = new Map<string, number>();
  const waiting = new Set<(why: Release) => void>();

  store.onChange((available) => {
    if (available) return;
    for (const release of [...waiting]) release('unavailable');
  });

  function refuse(res: ServerResponse, error: StreamError): void {
    metrics.rejected(error.code);
    sendError(res, error);
  }

  async function answer(res: ServerResponse, org: string, cursor: Cursor, from: string): Promise<boolean> {
    const page = await log.read(org, cursor, options.replayPageSize);
    if (page.kind === 'reset') {
      metrics.reset();
      const body: PollResponse = {
        events: [],
        cursor: page.head,
        reset: { reason: page.reason, from, lost: page.lost },
        v2: streaming.enabled,
      };
      sendJson(res, 200, body);
      return true;
    }
    const last = page.events.at(-1);
    if (!last) return false;
    metrics.delivered(page.events.length, false);
    const body: PollResponse = { events: page.events, cursor: last.id, v2: streaming.enabled };
    sendJson(res, 200, body);
    return true;
  }

  return {
    open: () => waiting.size,
    releaseAll() {
      for (const release of [...waiting]) release('timeout');
    },
    async handle(req, res, url) {
      try {
        await handlePoll(req, res, url);
      } catch (error) {
        // The store failed under a read (Redis went away mid-request): 503, never a silent empty answer.
        if (!(error instanceof StreamError)) throw error;
        refuse(res, error);
      }
    },
  };

  async function handlePoll(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    metrics.poll();
    if (!isOriginAllowed(req, options.allowedOrigins)) {
      refuse(res, new StreamError(ErrorCode.ORIGIN_NOT_ALLOWED, 'this Origin may not poll'));
      return;
    }
    const claims = await auth.verifyToken(tokenFromRequest(req, url, { allowQuery: true, allowProtocol: false }));
    if (claims instanceof StreamError) {
      refuse(res, claims);
      return;
    }
    const org = url.searchParams.get('org');
    if (!isName(org)) {
      refuse(res, new StreamError(ErrorCode.BAD_NAME, '"org" must be 1-64 of [A-Za-z0-9_.-]'));
      return;
    }
    const denied = requireScope(claims, 'read') ?? requireOrg(claims, org);
    if (denied) {
      refuse(res, denied);
      return;
    }
    if (!store.available) {
      refuse(res, store.unavailableError());
      return;
    }
    const from = url.searchParams.get('cursor');
    if (from === null || from === '') {
      sendJson(res, 200, { events: [], cursor: await log.head(org), v2: streaming.enabled } satisfies PollResponse);
      return;
    }
    const cursor = parseCursor(from);
    if (!cursor) {
      refuse(res, new StreamError(ErrorCode.BAD_CURSOR, '"cursor" must be a cursor of the form epoch:seq'));
      return;
    }
    let timeoutMs = options.pollTimeoutMs;
    const timeoutParam = url.searchParams.get('timeout');
    if (timeoutParam !== null) {
      const seconds = Number(timeoutParam);
      if (!Number.isFinite(seconds) || seconds < 0) {
        refuse(res, new StreamError(ErrorCode.BAD_MESSAGE, '"timeout" must be a number of seconds'));
        return;
      }
      timeoutMs = Math.min(timeoutMs, seconds * 1000);
    }
    const open = perUser.get(claims.sub) ?? 0;
    if (open >= options.maxPollsPerUser) {
      refuse(res, new StreamError(ErrorCode.TOO_MANY_CONNECTIONS, `at most ${options.maxPollsPerUser} open polls per user`));
      return;
    }
    perUser.set(claims.sub, open + 1);

    // Wake-up flag set by the hub; the read below runs after attach, so no event is missed.
    let woken = false;
    let wake: (() => void) | null = null;
    const detach = hub.attach(org, {
      services: ALL,
      deliver() {
        woken = true;
        wake?.();
      },
    });
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      detach();
      const left = (perUser.get(claims.sub) ?? 1) - 1;
      if (left <= 0) perUser.delete(claims.sub);
      else perUser.set(claims.sub, left);
    };
    const deadline = Date.now() + timeoutMs;
    try {
      if (await answer(res, org, cursor, from)) return;
      while (!res.writableEnded && !res.destroyed) {
        const outcome = await new Promise<'event' | 'timeout' | 'gone' | 'unavailable'>((resolve) => {
          if (woken) {
            resolve('event');
            return;
          }
          const timer = setTimeout(() => finish('timeout'), Math.max(0, deadline - Date.now()));
          const onClose = () => finish('gone');
          const onRelease = (why: Release) => finish(why);
          function finish(why: 'event' | 'timeout' | 'gone' | 'unavailable') {
            clearTimeout(timer);
            res.off('close', onClose);
            waiting.delete(onRelease);
            wake = null;
            resolve(why);
          }
          wake = () => finish('event');
          res.on('close', onClose);
          waiting.add(onRelease);
        });
        if (outcome === 'gone') return;
        if (outcome === 'unavailable') {
          refuse(res, store.unavailableError());
          return;
        }
        if (outcome === 'timeout') {
          sendJson(res, 200, { events: [], cursor: from, v2: streaming.enabled } satisfies PollResponse);
          return;
        }
        woken = false;
        // A wake-up for an event the read already covered finds nothing new: wait on, same deadline.
        if (await answer(res, org, cursor, from)) return;
      }
    } finally {
      release();
    }
  }
}

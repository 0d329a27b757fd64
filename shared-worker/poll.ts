/**
 * The v1 long-poll transport: `GET /v1/realtime/poll?org=ORG&cursor=C&timeout=25` with a bearer
 * token. Without a cursor the server answers at once with the current position; with one, it holds
 * the request up to `timeout` seconds while nothing is new.
 *
 * The client bounds every poll itself too: a long-poll on a half-open connection (a NAT or proxy
 * dropped it without a FIN) never answers and never fails, so without a bound the loop would hang
 * forever. The bound is the server's hold plus a margin for a slow answer.
 */
import {
  ErrorCode,
  parseHttpError,
  parsePollResponse,
  StreamError,
  type PollResponse,
} from '../protocol/index.ts';

export interface PollRequest {
  org: string;
  cursor: string | null;
  token: string;
  /** The server's base URL; default: the one the poll function was created for. */
  server?: string;
  signal?: AbortSignal;
}

export type Poll = (request: PollRequest) => Promise<PollResponse>;

/** A failed poll; `status` is the HTTP status (0 for a network failure or a poll that timed out). */
export class PollError extends StreamError {
  readonly status: number;
  constructor(error: StreamError, status: number) {
    super(error.code, error.message, error.closeCode);
    this.status = status;
  }
}

export interface PollTiming {
  /** How long the server may hold a poll (s), sent as `timeout`. */
  holdSeconds: number;
  /** A poll without an answer after this long is aborted and fails (ms). */
  abortAfterMs: number;
}

/** The server holds a poll 25 s at most; 10 s more covers a slow answer on a live connection. */
export const DEFAULT_POLL_TIMING: PollTiming = { holdSeconds: 25, abortAfterMs: 35_000 };

/**
 * An AbortSignal that fires when `outer` does or after `ms`; `timedOut()` says which.
 * Written out rather than `AbortSignal.any` + `AbortSignal.timeout` so the timer can be cleared
 * as soon as the poll is answered (a pending timeout per poll would pile up).
 */
function boundedSignal(outer: AbortSignal | undefined, ms: number): { signal: AbortSignal; timedOut(): boolean; clear(): void } {
  const controller = new AbortController();
  let expired = false;
  const onOuterAbort = (): void => controller.abort(outer?.reason);
  if (outer?.aborted) controller.abort(outer.reason);
  else outer?.addEventListener('abort', onOuterAbort, { once: true });
  const timer = setTimeout(() => {
    expired = true;
    controller.abort(new StreamError(ErrorCode.INTERNAL, `poll had no answer in ${ms} ms`));
  }, ms);
  return {
    signal: controller.signal,
    timedOut: () => expired,
    clear() {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onOuterAbort);
    },
  };
}

/** Creates the poll function for a server at `base` (a request's `server` overrides it). */
export function createPoll(
  base: string,
  fetchImpl: typeof fetch = (...args) => fetch(...args),
  timing: PollTiming = DEFAULT_POLL_TIMING,
): Poll {
  return async ({ org, cursor, token, server, signal }) => {
    const url = new URL('/v1/realtime/poll', server || base);
    url.searchParams.set('org', org);
    if (cursor) url.searchParams.set('cursor', cursor);
    url.searchParams.set('timeout', String(timing.holdSeconds));
    const bound = boundedSignal(signal, timing.abortAfterMs);
    const timeoutError = (): PollError =>
      new PollError(new StreamError(ErrorCode.INTERNAL, `poll had no answer in ${timing.abortAfterMs} ms: the connection may be half-open`), 0);
    try {
      let response: Response;
      try {
        response = await fetchImpl(url, { headers: { authorization: `Bearer ${token}` }, signal: bound.signal, cache: 'no-store' });
      } catch (error) {
        if (bound.timedOut()) throw timeoutError();
        if (signal?.aborted) throw error;
        throw new PollError(new StreamError(ErrorCode.INTERNAL, `poll failed: ${error instanceof Error ? error.message : String(error)}`), 0);
      }
      let body: unknown = null;
      try {
        body = await response.json();
      } catch (error) {
        // The body can stall on a half-open connection as well as the headers.
        if (bound.timedOut()) throw timeoutError();
        if (signal?.aborted) throw error;
        body = null;
      }
      if (!response.ok) {
        const error = parseHttpError(body) ?? new StreamError(ErrorCode.INTERNAL, `poll answered HTTP ${response.status}`);
        throw new PollError(error, response.status);
      }
      const parsed = parsePollResponse(body);
      if (!parsed.ok) throw new PollError(parsed.error, response.status);
      return parsed.value;
    } finally {
      bound.clear();
    }
  };
}

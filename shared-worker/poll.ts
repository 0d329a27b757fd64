/**
 * The v1 long-poll transport: `GET /v1/realtime/poll?org=ORG&cursor=C` with a bearer token.
 * Without a cursor the server answers at once with the current position; with one, it holds the
 * request up to 25 s while nothing is new.
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
  signal?: AbortSignal;
}

export type Poll = (request: PollRequest) => Promise<PollResponse>;

/** A failed poll; `status` is the HTTP status (0 for a network failure). */
export class PollError extends StreamError {
  readonly status: number;
  constructor(error: StreamError, status: number) {
    super(error.code, error.message, error.closeCode);
    this.status = status;
  }
}

/** Creates the poll function for a server at `base`. */
export function createPoll(base: string, fetchImpl: typeof fetch = (...args) => fetch(...args)): Poll {
  return async ({ org, cursor, token, signal }) => {
    const url = new URL('/v1/realtime/poll', base);
    url.searchParams.set('org', org);
    if (cursor) url.searchParams.set('cursor', cursor);
    let response: Response;
    try {
      response = await fetchImpl(url, { headers: { authorization: `Bearer ${token}` }, signal: signal ?? null, cache: 'no-store' });
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new PollError(new StreamError(ErrorCode.INTERNAL, `poll failed: ${error instanceof Error ? error.message : String(error)}`), 0);
    }
    let body: unknown = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    if (!response.ok) {
      const error = parseHttpError(body) ?? new StreamError(ErrorCode.INTERNAL, `poll answered HTTP ${response.status}`);
      throw new PollError(error, response.status);
    }
    const parsed = parsePollResponse(body);
    if (!parsed.ok) throw new PollError(parsed.error, response.status);
    return parsed.value;
  };
}

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode } from '../protocol/index.ts';
import { createPoll, PollError } from './poll.ts';

/** A fetch that never answers (a long-poll on a half-open connection) until its signal aborts. */
function hangingFetch() {
  const calls: Array<{ url: string; signal: AbortSignal | null }> = [];
  const fetchImpl = ((input: URL | RequestInfo, init?: RequestInit) => {
    calls.push({ url: String(input), signal: init?.signal ?? null });
    return new Promise<Response>((_resolve, reject) => {
      init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
    });
  }) as typeof fetch;
  return { fetchImpl, calls };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('v1 poll', () => {
  it('asks the server to hold at most 25 s and fails by itself at 35 s when no answer comes (half-open)', async () => {
    const { fetchImpl, calls } = hangingFetch();
    const poll = createPoll('http://a.test', fetchImpl);
    const result = poll({ org: '456', cursor: 'e1:4', token: 't' }).catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(0);
    const url = new URL(calls[0]!.url);
    expect(url.origin + url.pathname).toBe('http://a.test/v1/realtime/poll');
    expect(Object.fromEntries(url.searchParams)).toEqual({ org: '456', cursor: 'e1:4', timeout: '25' });
    await vi.advanceTimersByTimeAsync(34_999);
    expect(calls[0]!.signal?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const error = await result;
    expect(error).toBeInstanceOf(PollError);
    expect(error).toMatchObject({ code: ErrorCode.INTERNAL, status: 0 });
  });

  it("passes the caller's abort through as an abort, not as a failure, and clears its timer", async () => {
    const { fetchImpl, calls } = hangingFetch();
    const poll = createPoll('http://a.test', fetchImpl);
    const controller = new AbortController();
    const result = poll({ org: '456', cursor: 'e1:4', token: 't', signal: controller.signal }).catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(0);
    controller.abort();
    const error = await result;
    expect(error).not.toBeInstanceOf(PollError);
    expect(calls[0]!.signal?.aborted).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('goes to the server the request names, and clears its timer once answered', async () => {
    const urls: string[] = [];
    const fetchImpl = (async (input: URL | RequestInfo) => {
      urls.push(String(input));
      return new Response(JSON.stringify({ events: [], cursor: 'e1:4', v2: true }), { status: 200 });
    }) as typeof fetch;
    const poll = createPoll('http://a.test', fetchImpl);
    await expect(poll({ org: '456', cursor: null, token: 't', server: 'http://b.test:81' })).resolves.toEqual({ events: [], cursor: 'e1:4', v2: true });
    expect(new URL(urls[0]!).host).toBe('b.test:81');
    expect(vi.getTimerCount()).toBe(0);
  });
});

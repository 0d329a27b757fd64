import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, StreamError, type PollResponse } from '../protocol/index.ts';
import { PollError, type PollRequest } from './poll.ts';
import { createServerRing } from './server-ring.ts';
import { createTokenCache } from './token-cache.ts';
import { createV1Poller } from './v1-poller.ts';

const ORG = '456';

/** Scripted answers first; then each poll holds like a long-poll until aborted. */
function setup(answers: Array<PollResponse | Error>) {
  const requests: PollRequest[] = [];
  const held: Array<(response: PollResponse) => void> = [];
  const answered: Array<[string, string]> = [];
  const retries: Array<[string, number, number]> = [];
  const refused: string[] = [];
  let v2Allowed = 0;
  let generation = 0;
  let issued = 0;
  const cursors = new Map<string, string>();
  const ring = createServerRing(['http://a', 'http://b']);
  const poller = createV1Poller({
    poll: (request) => {
      requests.push(request);
      const answer = answers.shift();
      if (answer instanceof Error) return Promise.reject(answer);
      if (answer) return Promise.resolve(answer);
      return new Promise<PollResponse>((resolve, reject) => {
        held.push(resolve);
        request.signal?.addEventListener('abort', () => reject(new Error('aborted')));
      });
    },
    tokens: createTokenCache(async () => `tok-${++issued}`),
    ring,
    backoff: { min: 1_000, max: 8_000 },
    random: () => 0.5,
    generation: () => generation,
    cursor: (org) => cursors.get(org) ?? null,
    onPolling: () => {},
    onAnswer: (org, response) => {
      answered.push([org, response.cursor]);
      cursors.set(org, response.cursor);
    },
    onV2Allowed: () => v2Allowed++,
    onRefused: (org, error) => refused.push(`${org} ${error.code}`),
    onRetry: (org, position, delay) => {
      retries.push([org, position, delay]);
      ring.failed(position);
    },
  });
  return {
    poller,
    requests,
    answered,
    retries,
    refused,
    held,
    v2Allowed: () => v2Allowed,
    nextGeneration: () => ++generation,
  };
}

const down = (): PollError => new PollError(new StreamError(ErrorCode.INTERNAL, 'network down'), 0);

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('v1 poller', () => {
  it('polls after the cursor each answer leaves, and reports when the server allows v2', async () => {
    const t = setup([
      { events: [], cursor: 'e1:4', v2: false },
      { events: [], cursor: 'e1:6', v2: true },
    ]);
    t.poller.start(ORG);
    t.poller.start(ORG); // one loop per org
    await vi.advanceTimersByTimeAsync(0);
    expect(t.requests.map((request) => [request.org, request.cursor, request.server])).toEqual([
      [ORG, null, 'http://a'],
      [ORG, 'e1:4', 'http://a'],
      [ORG, 'e1:6', 'http://a'],
    ]);
    expect(t.v2Allowed()).toBe(1);
  });

  it('backs off with the exact delays, sends the retry to the next server, and wakes early on demand', async () => {
    const t = setup([down(), down(), down()]);
    t.poller.start(ORG);
    await vi.advanceTimersByTimeAsync(0);
    expect(t.retries).toEqual([[ORG, 0, 500]]);
    await vi.advanceTimersByTimeAsync(500);
    expect(t.requests.map((request) => request.server)).toEqual(['http://a', 'http://b']);
    expect(t.retries).toEqual([
      [ORG, 0, 500],
      [ORG, 1, 1_000],
    ]);
    t.poller.wake();
    await vi.advanceTimersByTimeAsync(0);
    expect(t.requests).toHaveLength(3);
    expect(t.retries.at(-1)).toEqual([ORG, 0, 2_000]);
  });

  it('retries an expired token once at once with a fresh one; a refusal ends the loop', async () => {
    const expired = (): PollError => new PollError(new StreamError(ErrorCode.TOKEN_EXPIRED, 'expired'), 401);
    const t = setup([expired(), new PollError(new StreamError(ErrorCode.FORBIDDEN_ORG, 'no'), 403)]);
    t.poller.start(ORG);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(t.requests.map((request) => request.token)).toEqual(['tok-1', 'tok-2']);
    expect(t.retries).toEqual([]);
    expect(t.refused).toEqual([`${ORG} ${ErrorCode.FORBIDDEN_ORG}`]);
  });

  it('stops a loop by org, all loops, or when the generation moves on; a stopped org can start again', async () => {
    const t = setup([]);
    t.poller.start(ORG);
    t.poller.start('789');
    await vi.advanceTimersByTimeAsync(0);
    t.poller.stop(ORG);
    expect(t.requests.map((request) => request.signal?.aborted)).toEqual([true, false]);
    t.poller.stopAll();
    expect(t.requests[1]?.signal?.aborted).toBe(true);

    const answered = setup([]);
    answered.poller.start(ORG);
    await vi.advanceTimersByTimeAsync(0);
    answered.nextGeneration();
    answered.held[0]?.({ events: [], cursor: 'e1:1', v2: true });
    await vi.advanceTimersByTimeAsync(0);
    // The answer arrived for an older generation: dropped, no further poll.
    expect([answered.answered, answered.v2Allowed()]).toEqual([[], 0]);
    expect(answered.requests).toHaveLength(1);
    answered.poller.start(ORG);
    await vi.advanceTimersByTimeAsync(0);
    expect(answered.requests).toHaveLength(2);
  });
});

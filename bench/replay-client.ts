/**
 * Replay: one client resumes far behind (`cursor` → `head`, e.g. 10,000 events) while events keep
 * being published, and we time it to `live` and check the seam: the ids it receives are exactly
 * cursor+1, cursor+2, … up to the last event published, none missing, none twice.
 */
import { parseCursor } from '../protocol/index.ts';
import { createEventMix } from './event-mix.ts';
import { createHttpPublisher } from './http-publisher.ts';
import { wallClockMs } from './latency-recorder.ts';
import type { ReplayParams, ReplayResult } from './load-types.ts';
import { fetchDevToken, openStream } from './peers/index.ts';

const REPLAY_TIMEOUT_MS = 30_000;

function eventIds(message: Record<string, unknown>): string[] {
  if (!Array.isArray(message.events)) return [];
  const ids: string[] = [];
  for (const event of message.events) {
    if (typeof event === 'object' && event !== null && 'id' in event && typeof event.id === 'string') ids.push(event.id);
  }
  return ids;
}

/** Checks that `ids` are `from+1 … to` of one epoch, in order. */
export function checkSeam(ids: readonly string[], from: string, to: number): string | null {
  const start = parseCursor(from);
  if (!start) return `bad cursor ${from}`;
  let expected = start.seq + 1;
  for (const id of ids) {
    const at = parseCursor(id);
    if (!at || at.epoch !== start.epoch) return `event ${id} is not of epoch ${start.epoch}`;
    if (at.seq !== expected) return at.seq < expected ? `duplicate or out of order: ${id} after seq ${expected - 1}` : `gap: seq ${expected}…${at.seq - 1} missing before ${id}`;
    expected += 1;
  }
  if (expected - 1 !== to) return `stopped at seq ${expected - 1}, the log reached ${to}`;
  return null;
}

export async function runReplay(params: ReplayParams): Promise<ReplayResult> {
  const head = parseCursor(params.head);
  if (!head) throw new Error(`bad head ${params.head}`);
  const token = await fetchDevToken(params.url, [params.org]);
  const publisher = createHttpPublisher({ url: `${params.url}/v1/events`, authorization: `Bearer ${token}` });
  const mix = createEventMix(9);
  const ids: string[] = [];
  let replayedEvents = 0;
  let liveEventsDuringReplay = 0;
  let liveEventsAfter = 0;
  let resets = 0;
  let serverReplayed: number | null = null;
  let livePublished = 0;
  let publishing = true;
  let isLive = false;
  const opened = wallClockMs();
  let subscribed = 0;
  let liveAt = 0;
  let closeStream = () => {};

  const publishLoop = (async () => {
    const interval = 1000 / params.liveRate;
    while (publishing) {
      await publisher.publish({ org: params.org, ...mix.next() });
      livePublished += 1;
      await new Promise((resolve) => setTimeout(resolve, interval));
    }
  })();

  const wentLive = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no live message within ${REPLAY_TIMEOUT_MS} ms`)), REPLAY_TIMEOUT_MS);
    const ws = openStream(params.url, token, params.deflate, {
      onMessage(message) {
        if (message.type === 'welcome') {
          subscribed = wallClockMs();
          ws.send(JSON.stringify({ type: 'subscribe', org: params.org, services: ['*'], cursor: params.cursor }));
        } else if (message.type === 'events') {
          const batch = eventIds(message);
          ids.push(...batch);
          if (message.replayed === true) replayedEvents += batch.length;
          else if (isLive) liveEventsAfter += batch.length;
          else liveEventsDuringReplay += batch.length;
        } else if (message.type === 'reset') resets += 1;
        else if (message.type === 'live') {
          isLive = true;
          liveAt = wallClockMs();
          serverReplayed = typeof message.replayed === 'number' ? message.replayed : null;
          clearTimeout(timer);
          resolve();
        }
      },
      onClose(code) {
        if (!isLive) reject(new Error(`closed ${code} before live`));
      },
    });
    closeStream = () => ws.close();
  });

  try {
    await wentLive;
    await new Promise((resolve) => setTimeout(resolve, params.afterLiveMs));
  } finally {
    publishing = false;
    await publishLoop.catch(() => {});
  }
  // Every event published so far must arrive before the seam is judged.
  const last = head.seq + livePublished;
  const deadline = Date.now() + 5000;
  while (ids.length < last - (parseCursor(params.cursor)?.seq ?? 0) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  closeStream();
  publisher.close();
  const seamProblem = checkSeam(ids, params.cursor, last);
  return {
    connectToLiveMs: Math.round((liveAt - opened) * 10) / 10,
    subscribeToLiveMs: Math.round((liveAt - subscribed) * 10) / 10,
    replayedEvents,
    serverReplayed,
    liveEventsDuringReplay,
    liveEventsAfter,
    seamIntact: seamProblem === null,
    seamProblem,
    resets,
  };
}

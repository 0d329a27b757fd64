/**
 * Test support: a v2 client that follows one org across several server URLs, the way the browser
 * client does when its server dies: on close it moves to the next URL (after a short delay) and
 * resumes from the last cursor it saw. It never dedupes, so tests see exactly what the wire carried.
 *
 *   connect(urls[i]) ─welcome─▶ subscribe {org, cursor} ─▶ events… / live
 *        ▲                                                    │ close or refused
 *        └──────────── i = i + 1 (mod n), after retryMs ──────┘
 */
import { WebSocket } from 'ws';
import { parseServerMessage, type ResetMessage, type StreamEvent } from '../protocol/index.ts';

export interface FollowOptions {
  /** Stream URLs (`ws://…/v2/realtime/stream`) tried in turn, starting with the first. */
  urls: string[];
  token: string;
  org: string;
  /** Where to start: a cursor (`epoch:seq`). */
  cursor: string;
  /** Delay before moving on after a close or a refused connect. Default 20 ms. */
  retryMs?: number;
}

export interface Follower {
  /** Every event received, in arrival order, over every connection. */
  readonly events: StreamEvent[];
  /** The URL of each connection that reached `welcome`, in order. */
  readonly connections: string[];
  /** Close codes of the connections that ended, in order. */
  readonly closeCodes: number[];
  readonly resets: ResetMessage[];
  /** The last position seen: the last event's id, or the `live` cursor. */
  cursor(): string;
  /** Resolves when the current connection is live (caught up), or after `timeoutMs` rejects. */
  live(timeoutMs?: number): Promise<void>;
  /** Resolves once at least `count` events arrived. */
  until(count: number, timeoutMs?: number): Promise<void>;
  /** Closes for good (no further reconnects). */
  stop(): Promise<void>;
}

type FollowerState = 'connecting' | 'catching-up' | 'live' | 'waiting' | 'stopped';

export function follow({ urls, token, org, cursor: start, retryMs = 20 }: FollowOptions): Follower {
  const events: StreamEvent[] = [];
  const connections: string[] = [];
  const closeCodes: number[] = [];
  const resets: ResetMessage[] = [];
  let cursor = start;
  let index = 0;
  let state: FollowerState = 'connecting';
  let ws: WebSocket | null = null;
  let retryTimer: NodeJS.Timeout | undefined;
  const waiters = new Set<() => void>();

  function notify(): void {
    for (const waiter of [...waiters]) waiter();
  }

  function setState(next: FollowerState): void {
    if (state === 'stopped') return;
    state = next;
    notify();
  }

  function open(): void {
    const url = urls[index % urls.length] as string;
    const socket = new WebSocket(`${url}?access_token=${encodeURIComponent(token)}`, ['realtime.v2'], { perMessageDeflate: false });
    ws = socket;
    setState('connecting');
    socket.on('message', (data: Buffer) => {
      const parsed = parseServerMessage(data.toString('utf8'));
      if (!parsed.ok) throw new Error(`the server sent a frame the protocol rejects: ${data.toString('utf8').slice(0, 200)}`);
      const message = parsed.value;
      switch (message.type) {
        case 'welcome':
          connections.push(url);
          setState('catching-up');
          socket.send(JSON.stringify({ type: 'subscribe', org, services: ['*'], cursor }));
          return;
        case 'events': {
          if (message.org !== org) return;
          events.push(...message.events);
          const last = message.events.at(-1);
          if (last) cursor = last.id;
          notify();
          return;
        }
        case 'reset':
          resets.push(message);
          cursor = message.cursor;
          return;
        case 'live':
          cursor = message.cursor;
          setState('live');
          return;
        case 'ping':
          socket.send(JSON.stringify({ type: 'pong', t: message.t }));
          return;
        default:
          return;
      }
    });
    // A refused connect (process gone) emits error then close; close alone drives the retry.
    socket.on('error', () => {});
    socket.on('close', (code) => {
      if (ws !== socket) return;
      ws = null;
      closeCodes.push(code);
      if (state === 'stopped') return;
      setState('waiting');
      index += 1;
      retryTimer = setTimeout(open, retryMs);
    });
  }

  function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const attempt = () => {
        if (!check()) return;
        waiters.delete(attempt);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(attempt);
        reject(new Error(`timed out waiting for ${what}: ${events.length} events, connections ${JSON.stringify(connections)}, closes ${JSON.stringify(closeCodes)}`));
      }, timeoutMs);
      waiters.add(attempt);
      attempt();
    });
  }

  open();

  return {
    events,
    connections,
    closeCodes,
    resets,
    cursor: () => cursor,
    live: (timeoutMs = 5000) => until(() => state === 'live', timeoutMs, 'live'),
    until: (count, timeoutMs = 5000) => until(() => events.length >= count, timeoutMs, `${count} events`),
    async stop() {
      state = 'stopped';
      clearTimeout(retryTimer);
      const socket = ws;
      if (!socket || socket.readyState === WebSocket.CLOSED) return;
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.close(1000);
        setTimeout(() => {
          socket.terminate();
          resolve();
        }, 1000).unref();
      });
    },
  };
}

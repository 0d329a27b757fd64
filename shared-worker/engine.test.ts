import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, StreamError, type ClientMessage, type PollResponse, type StreamEvent } from '../protocol/index.ts';
import { createEngine, type EngineOptions, type EngineStatus, type ResetInfo } from './engine.ts';
import { PollError, type PollRequest } from './poll.ts';
import type { Transport, TransportClose } from './transport.ts';

const ORG = '456';
const A = 'http://a.test';
const B = 'http://b.test';
const C = 'http://c.test';
const ev = (seq: number, service = 'finance', epoch = 'e1'): StreamEvent => ({
  id: `${epoch}:${seq}`,
  org: ORG,
  service,
  type: 'invoice.posted',
  data: { seq },
  ts: 1_000 + seq,
});

class FakeSocket {
  readonly sent: ClientMessage[] = [];
  closedWith: number | null = null;
  private messageHandler: (text: string) => void = () => {};
  private closeHandler: (info: TransportClose) => void = () => {};
  readonly transport: Transport;
  constructor(
    readonly token: string,
    readonly server: string,
  ) {
    this.transport = {
      send: (message) => this.sent.push(message),
      close: (code = 1000) => {
        this.closedWith = code;
      },
      onMessage: (handler) => {
        this.messageHandler = handler;
      },
      onClose: (handler) => {
        this.closeHandler = handler;
      },
    };
  }
  receive(message: object): void {
    this.messageHandler(JSON.stringify(message));
  }
  welcome(overrides: Record<string, unknown> = {}): void {
    this.receive({ type: 'welcome', connectionId: 'c1', heartbeatMs: 30_000, tokenExpiresAt: Date.now() + 3_600_000, orgs: [ORG], epoch: 'e1', ...overrides });
  }
  serverClose(code: number, wasOpen = true): void {
    this.closeHandler({ code, reason: '', wasOpen });
  }
}

/** A JWT-shaped token (unsigned: the engine never verifies) expiring `inSeconds` from now. */
function jwt(inSeconds: number, n: number): string {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub: 'u', n, exp: Math.floor(Date.now() / 1000) + inSeconds })}.c2ln`;
}

/** `makeToken(n)` shapes the n-th token getToken returns (default: opaque `tok-n`, never reused). */
function setup(overrides: Partial<EngineOptions> = {}, makeToken: (n: number) => string = (n) => `tok-${n}`) {
  const sockets: FakeSocket[] = [];
  const delivered: Array<{ org: string; ids: string[]; replayed: boolean }> = [];
  const resets: ResetInfo[] = [];
  const errors: StreamError[] = [];
  const statuses: EngineStatus[] = [];
  const polls: PollRequest[] = [];
  const pollAnswers: Array<PollResponse | Error> = [];
  let pending: Array<(value: PollResponse) => void> = [];
  let tokens = 0;
  const issued: string[] = [];
  const engine = createEngine({
    flagReason: 'default',
    servers: [A],
    getToken: async () => {
      const token = makeToken(++tokens);
      issued.push(token);
      return token;
    },
    connectV2: (token, server) => {
      const socket = new FakeSocket(token, server);
      sockets.push(socket);
      return socket.transport;
    },
    poll: (request) => {
      polls.push(request);
      const answer = pollAnswers.shift();
      if (answer instanceof Error) return Promise.reject(answer);
      if (answer) return Promise.resolve(answer);
      // Nothing scripted: hold like a long-poll until aborted.
      return new Promise<PollResponse>((resolve, reject) => {
        pending.push(resolve);
        request.signal?.addEventListener('abort', () => reject(new Error('aborted')));
      });
    },
    random: () => 0.5,
    backoff: { min: 1_000, max: 8_000 },
    onEvents: (org, events, replayed) => delivered.push({ org, ids: events.map((event) => event.id), replayed }),
    onLive: () => {},
    onReset: (_org, reset) => resets.push(reset),
    onStatus: (status) => statuses.push(status),
    onError: (error) => errors.push(error),
    onConnection: () => {},
    ...overrides,
  });
  const last = (): FakeSocket => {
    const socket = sockets.at(-1);
    if (!socket) throw new Error('no socket opened');
    return socket;
  };
  return {
    engine,
    sockets,
    last,
    delivered,
    resets,
    errors,
    statuses,
    polls,
    pollAnswers,
    issued,
    releasePolls: () => {
      const waiting = pending;
      pending = [];
      return waiting;
    },
  };
}

/** Runs timers until the next one fires and returns how long that took. */
async function nextTimerDelay(): Promise<number> {
  const before = Date.now();
  await vi.advanceTimersToNextTimerAsync();
  return Date.now() - before;
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('engine on v2', () => {
  it('subscribes with its cursor after welcome, delivers replay then live, and drops duplicates', async () => {
    const t = setup();
    t.engine.setInterest(ORG, ['finance', 'chat'], 'e1:3');
    t.engine.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(t.last().token).toBe('tok-1');
    t.last().welcome();
    expect(t.last().sent).toEqual([{ type: 'subscribe', org: ORG, services: ['finance', 'chat'], cursor: 'e1:3' }]);
    expect(t.engine.status()).toEqual({ transport: 'v2', state: 'connected', reason: 'default', server: A });

    t.last().receive({ type: 'subscribed', org: ORG, services: ['finance', 'chat'] });
    t.last().receive({ type: 'events', org: ORG, replayed: true, events: [ev(2), ev(3), ev(4), ev(5)] });
    t.last().receive({ type: 'live', org: ORG, cursor: 'e1:5', replayed: 2 });
    t.last().receive({ type: 'events', org: ORG, replayed: false, events: [ev(5), ev(6, 'chat')] });
    t.last().receive({ type: 'events', org: ORG, replayed: false, events: [ev(4)] });

    expect(t.delivered).toEqual([
      { org: ORG, ids: ['e1:4', 'e1:5'], replayed: true },
      { org: ORG, ids: ['e1:6'], replayed: false },
    ]);
    expect(t.engine.cursor(ORG)).toBe('e1:6');
  });

  it('takes the live cursor as its position when it started without one, and resumes from it', async () => {
    const t = setup();
    t.engine.setInterest(ORG, ['finance']);
    t.engine.start();
    await vi.advanceTimersByTimeAsync(0);
    t.last().welcome();
    expect(t.last().sent[0]).toEqual({ type: 'subscribe', org: ORG, services: ['finance'] });
    t.last().receive({ type: 'live', org: ORG, cursor: 'e1:41', replayed: 0 });
    t.last().serverClose(1001);
    await vi.advanceTimersByTimeAsync(500);
    t.last().welcome();
    expect(t.last().sent[0]).toEqual({ type: 'subscribe', org: ORG, services: ['finance'], cursor: 'e1:41' });
  });

  it('surfaces a reset, moves its cursor to the new position and delivers what follows', async () => {
    const t = setup();
    t.engine.setInterest(ORG, ['finance'], 'old:9');
    t.engine.start();
    await vi.advanceTimersByTimeAsync(0);
    t.last().welcome();
    t.last().receive({ type: 'reset', org: ORG, reason: 'epoch', from: 'old:9', cursor: 'e1:7', lost: null });
    t.last().receive({ type: 'events', org: ORG, replayed: false, events: [ev(7), ev(8)] });
    expect(t.resets).toEqual([{ reason: 'epoch', from: 'old:9', cursor: 'e1:7', lost: null }]);
    expect(t.delivered).toEqual([{ org: ORG, ids: ['e1:8'], replayed: false }]);
  });

  it('adds and removes services on the open socket with subscribe/unsubscribe', async () => {
    const t = setup();
    t.engine.setInterest(ORG, ['finance']);
    t.engine.start();
    await vi.advanceTimersByTimeAsync(0);
    t.last().welcome();
    t.engine.setInterest(ORG, ['finance', 'chat']);
    t.engine.setInterest(ORG, ['chat']);
    t.engine.setInterest(ORG, []);
    expect(t.last().sent.slice(1)).toEqual([
      { type: 'subscribe', org: ORG, services: ['chat'] },
      { type: 'unsubscribe', org: ORG, services: ['finance'] },
      { type: 'unsubscribe', org: ORG, services: ['chat'] },
    ]);
  });

  it('reconnects with the exact backoff sequence and resets the count only after a stable connection', async () => {
    const t = setup({ maxFailedConnects: 100, stableAfterMs: 10_000 });
    t.engine.setInterest(ORG, ['finance']);
    t.engine.start();
    await vi.advanceTimersByTimeAsync(0);
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      t.last().serverClose(1006, false);
      delays.push(await nextTimerDelay());
    }
    // random 0.5 × min(8000, 1000·2^n)
    expect(delays).toEqual([500, 1_000, 2_000, 4_000, 4_000]);
    expect(t.sockets).toHaveLength(6);
    expect(t.engine.status().state).toBe('reconnecting');

    // Up, but not for long: the count is not reset.
    t.last().welcome();
    await vi.advanceTimersByTimeAsync(2_000);
    t.last().serverClose(1006);
    expect(await nextTimerDelay()).toBe(4_000);

    // Up for longer than stableAfterMs: the next drop starts over.
    t.last().welcome();
    await vi.advanceTimersByTimeAsync(10_000);
    t.last().serverClose(1001);
    expect(await nextTimerDelay()).toBe(500);
    // Opaque tokens (not JWTs) have no readable lifetime: one is asked for every connect.
    expect(t.sockets.map((socket) => socket.token)).toEqual(t.sockets.map((_, index) => `tok-${index + 1}`));
  });

  it('retries at once when the browser comes back online', async () => {
    const t = setup({ maxFailedConnects: 100 });
    t.engine.setInterest(ORG, ['finance']);
    t.engine.start();
    await vi.advanceTimersByTimeAsync(0);
    for (let i = 0; i < 4; i++) {
      t.last().serverClose(1006, false);
      await vi.advanceTimersToNextTimerAsync();
    }
    t.last().serverClose(1006, false);
    const before = t.sockets.length;
    t.engine.online();
    await vi.advanceTimersByTimeAsync(0);
    expect(t.sockets.length).toBe(before + 1);
  });

  it('stops retrying on terminal close codes and surfaces the error', async () => {
    const t = setup();
    t.engine.setInterest(ORG, ['finance']);
    t.engine.start();
    await vi.advanceTimersByTimeAsync(0);
    t.last().welcome();
    t.last().serverClose(4001);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(t.sockets).toHaveLength(1);
    expect(t.engine.status().state).toBe('failed');
    expect(t.errors.map((error) => [error.code, error.closeCode])).toEqual([[ErrorCode.TOKEN_INVALID, 4001]]);
  });

  it('on 4002 reconnects at once, to the same server, with a fresh token even if the old one looks valid', async () => {
    const t = setup({ servers: [A, B] }, (n) => jwt(3600, n));
    t.engine.setInterest(ORG, ['finance'], 'e1:1');
    t.engine.start();
    await vi.advanceTimersByTimeAsync(0);
    t.last().welcome();
    t.last().serverClose(4002);
    await vi.advanceTimersByTimeAsync(0);
    expect(t.issued).toHaveLength(2);
    expect(t.sockets.map((socket) => socket.token)).toEqual(t.issued);
    expect(t.sockets.map((socket) => socket.server)).toEqual([A, A]);
  });

  it('renews the token at ~80% of its life with an auth message on the same socket', async () => {
    const t = setup();
    t.engine.setInterest(ORG, ['finance']);
    t.engine.start();
    await vi.advanceTimersByTimeAsync(0);
    t.last().welcome({ tokenExpiresAt: Date.now() + 10_000 });
    await vi.advanceTimersByTimeAsync(7_900);
    expect(t.last().sent.filter((message) => message.type === 'auth')).toEqual([]);
    await vi.advanceTimersByTimeAsync(200);
    expect(t.last().sent.filter((message) => message.type === 'auth')).toEqual([{ type: 'auth', token: 'tok-2' }]);
    t.last().receive({ type: 'authenticated', tokenExpiresAt: Date.now() + 10_000, orgs: [ORG] });
    await vi.advanceTimersByTimeAsync(8_100);
    expect(t.last().sent.filter((message) => message.type === 'auth')).toHaveLength(2);
    expect(t.sockets).toHaveLength(1);
  });

  it('answers ping with pong, pings itself, and treats 2× heartbeat of silence as a dead socket', async () => {
    const t = setup();
    t.engine.setInterest(ORG, ['finance']);
    t.engine.start();
    await vi.advanceTimersByTimeAsync(0);
    t.last().welcome({ heartbeatMs: 1_000 });
    t.last().receive({ type: 'ping', t: 77 });
    expect(t.last().sent).toContainEqual({ type: 'pong', t: 77 });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(t.last().sent.some((message) => message.type === 'ping')).toBe(true);
    const first = t.last();
    await vi.advanceTimersByTimeAsync(1_100);
    expect(first.closedWith).toBe(4011);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(t.sockets.length).toBe(2);
  });
});

describe('engine fallback to v1', () => {
  it('on 4010 long-polls from the same cursor, and returns to v2 when a poll says v2:true', async () => {
    const t = setup();
    t.engine.setInterest(ORG, ['finance'], 'e1:3');
    t.engine.start();
    await vi.advanceTimersByTimeAsync(0);
    t.last().welcome();
    t.last().receive({ type: 'events', org: ORG, replayed: false, events: [ev(4)] });
    t.pollAnswers.push({ events: [ev(5)], cursor: 'e1:5', v2: false });
    t.last().serverClose(4010);
    await vi.advanceTimersByTimeAsync(0);
    expect(t.engine.status()).toMatchObject({ transport: 'v1', reason: 'server-off' });
    expect(t.polls[0]).toMatchObject({ org: ORG, cursor: 'e1:4' });
    expect(t.polls[1]).toMatchObject({ org: ORG, cursor: 'e1:5' });

    // The held poll answers: the kill switch is off again.
    const [hold] = t.releasePolls();
    hold?.({ events: [ev(6)], cursor: 'e1:6', v2: true });
    await vi.advanceTimersByTimeAsync(0);
    expect(t.engine.status()).toMatchObject({ transport: 'v2', reason: 'default' });
    t.last().welcome();
    expect(t.last().sent[0]).toEqual({ type: 'subscribe', org: ORG, services: ['finance'], cursor: 'e1:6' });
    expect(t.delivered.flatMap((batch) => batch.ids)).toEqual(['e1:4', 'e1:5', 'e1:6']);
  });

  it('falls back with reason websocket-unavailable after N failed connects, and says so', async () => {
    const t = setup({ maxFailedConnects: 3 });
    t.engine.setInterest(ORG, ['finance'], 'e1:3');
    t.engine.start();
    await vi.advanceTimersByTimeAsync(0);
    for (let i = 0; i < 3; i++) {
      t.last().serverClose(1006, false);
      await vi.advanceTimersByTimeAsync(5_000);
    }
    expect(t.sockets).toHaveLength(3);
    expect(t.engine.status()).toMatchObject({ transport: 'v1', reason: 'websocket-unavailable' });
    expect(t.errors.map((error) => error.code)).toEqual([ErrorCode.WEBSOCKET_UNAVAILABLE]);
    expect(t.polls[0]).toMatchObject({ cursor: 'e1:3' });
  });

  it("with the flag 'false' never opens a socket and polls from the head when it has no cursor", async () => {
    const t = setup({ flagReason: 'forced-off' });
    t.pollAnswers.push({ events: [], cursor: 'e1:10', v2: true });
    t.engine.setInterest(ORG, ['finance']);
    t.engine.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(t.sockets).toHaveLength(0);
    expect(t.engine.status()).toMatchObject({ transport: 'v1', reason: 'forced-off', state: 'connected' });
    expect(t.polls.map((poll) => poll.cursor)).toEqual([null, 'e1:10']);
  });

  it('surfaces a v1 reset and backs off on poll failures', async () => {
    const t = setup({ flagReason: 'forced-off' });
    t.pollAnswers.push({ events: [], cursor: 'e1:50', v2: true, reset: { reason: 'retention', from: 'e1:2', lost: 40 } });
    t.pollAnswers.push(new Error('network down'));
    t.engine.setInterest(ORG, ['finance'], 'e1:2');
    t.engine.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(t.resets).toEqual([{ reason: 'retention', from: 'e1:2', cursor: 'e1:50', lost: 40 }]);
    expect(t.engine.status().state).toBe('reconnecting');
    expect(t.polls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(499);
    expect(t.polls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.polls).toHaveLength(3);
    expect(t.polls[2]).toMatchObject({ cursor: 'e1:50' });
  });
});

describe('engine on several servers', () => {
  it('moves round-robin to the next server on each failure, the backoff still growing across the ring', async () => {
    const t = setup({ servers: [A, B, C], maxFailedConnects: 100 });
    t.engine.setInterest(ORG, ['finance']);
    t.engine.start();
    await vi.advanceTimersByTimeAsync(0);
    const delays: number[] = [];
    const shown: string[] = [t.engine.status().server];
    for (let i = 0; i < 4; i++) {
      t.last().serverClose(1006, false);
      shown.push(t.engine.status().server);
      delays.push(await nextTimerDelay());
    }
    expect(t.sockets.map((socket) => socket.server)).toEqual([A, B, C, A, B]);
    expect(shown).toEqual([A, B, C, A, B]);
    // random 0.5 × min(8000, 1000·2^n): moving to another server is not a reason to skip the wait.
    expect(delays).toEqual([500, 1_000, 2_000, 4_000]);
    expect(t.statuses.at(-1)).toMatchObject({ server: B });
  });

  it('resumes on the next server from the same cursor: nothing lost, nothing twice', async () => {
    const t = setup({ servers: [A, B] });
    t.engine.setInterest(ORG, ['finance'], 'e1:3');
    t.engine.start();
    await vi.advanceTimersByTimeAsync(0);
    t.last().welcome();
    t.last().receive({ type: 'events', org: ORG, replayed: false, events: [ev(4), ev(5)] });
    t.last().serverClose(1006); // process A died mid-stream
    await vi.advanceTimersToNextTimerAsync();
    expect(t.last().server).toBe(B);
    t.last().welcome();
    expect(t.last().sent[0]).toEqual({ type: 'subscribe', org: ORG, services: ['finance'], cursor: 'e1:5' });
    // At-least-once on the wire: B replays from the cursor, with an overlap for good measure.
    t.last().receive({ type: 'events', org: ORG, replayed: true, events: [ev(5), ev(6)] });
    t.last().receive({ type: 'live', org: ORG, cursor: 'e1:6', replayed: 1 });
    t.last().receive({ type: 'events', org: ORG, replayed: false, events: [ev(7)] });
    expect(t.delivered.flatMap((batch) => batch.ids)).toEqual(['e1:4', 'e1:5', 'e1:6', 'e1:7']);
    expect(t.engine.status()).toMatchObject({ state: 'connected', server: B });
  });

  it('stops on a terminal close code wherever it is in the ring, and stays there', async () => {
    const t = setup({ servers: [A, B, C] });
    t.engine.setInterest(ORG, ['finance']);
    t.engine.start();
    await vi.advanceTimersByTimeAsync(0);
    t.last().serverClose(1006, false);
    await vi.advanceTimersToNextTimerAsync();
    expect(t.last().server).toBe(B);
    t.last().welcome();
    t.last().serverClose(4000);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(t.sockets.map((socket) => socket.server)).toEqual([A, B]);
    expect(t.engine.status()).toMatchObject({ state: 'failed', server: B });
    expect(t.errors.map((error) => error.code)).toEqual([ErrorCode.BAD_MESSAGE]);
  });

  it('sends v1 polls to the next server after a network failure; two orgs failing together move it one step', async () => {
    const t = setup({ servers: [A, B, C], flagReason: 'forced-off' });
    t.pollAnswers.push(new Error('network down'), new Error('network down'));
    t.engine.setInterest(ORG, ['finance'], 'e1:1');
    t.engine.setInterest('789', ['finance'], 'e1:1');
    t.engine.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(t.polls.map((poll) => poll.server)).toEqual([A, A]);
    await vi.advanceTimersByTimeAsync(500);
    expect(t.polls.map((poll) => [poll.org, poll.server, poll.cursor])).toEqual([
      [ORG, A, 'e1:1'],
      ['789', A, 'e1:1'],
      [ORG, B, 'e1:1'],
      ['789', B, 'e1:1'],
    ]);
    expect(t.engine.status().server).toBe(B);
  });

  it('stays on the same server when a poll is turned away with 429 (too many open polls)', async () => {
    const t = setup({ servers: [A, B], flagReason: 'forced-off' });
    t.pollAnswers.push(new PollError(new StreamError(ErrorCode.TOO_MANY_CONNECTIONS, 'too many polls'), 429));
    t.engine.setInterest(ORG, ['finance'], 'e1:1');
    t.engine.start();
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(500);
    expect(t.polls.map((poll) => poll.server)).toEqual([A, A]);
    expect(t.engine.status().server).toBe(A);
  });
});

describe('engine token reuse', () => {
  it('reconnects with the last JWT while it has more than a minute left, without asking the app', async () => {
    const t = setup({ servers: [A, B] }, (n) => jwt(3600, n));
    t.engine.setInterest(ORG, ['finance']);
    t.engine.start();
    await vi.advanceTimersByTimeAsync(0);
    t.last().welcome();
    t.last().serverClose(4011); // half-open socket found by heartbeats
    await vi.advanceTimersToNextTimerAsync();
    t.last().welcome();
    t.last().serverClose(1001);
    await vi.advanceTimersToNextTimerAsync();
    expect(t.issued).toHaveLength(1);
    expect(t.sockets.map((socket) => socket.token)).toEqual([t.issued[0], t.issued[0], t.issued[0]]);
    expect(t.sockets.map((socket) => socket.server)).toEqual([A, B, A]);
  });

  it('never reuses a token that is about to expire or whose connect failed before welcome', async () => {
    const t = setup({ maxFailedConnects: 100 }, (n) => jwt(n === 1 ? 30 : 3600, n));
    t.engine.setInterest(ORG, ['finance']);
    t.engine.start();
    await vi.advanceTimersByTimeAsync(0);
    t.last().welcome();
    t.last().serverClose(1006); // token 1 has 30 s left: not reused
    await vi.advanceTimersToNextTimerAsync();
    expect(t.last().token).toBe(t.issued[1]);
    t.last().serverClose(1006, false); // refused before open (maybe for its token): not reused
    await vi.advanceTimersToNextTimerAsync();
    expect(t.last().token).toBe(t.issued[2]);
    t.last().closedWith = null;
    await vi.advanceTimersByTimeAsync(10_000); // connect timeout, no welcome: not reused either
    await vi.advanceTimersToNextTimerAsync();
    expect(t.issued).toHaveLength(4);
    expect(t.sockets.map((socket) => socket.token)).toEqual(t.issued);
  });

  it('renews with a fresh token even while the current one is reusable', async () => {
    const t = setup({}, (n) => jwt(3600, n));
    t.engine.setInterest(ORG, ['finance']);
    t.engine.start();
    await vi.advanceTimersByTimeAsync(0);
    t.last().welcome({ tokenExpiresAt: Date.now() + 10_000 });
    await vi.advanceTimersByTimeAsync(8_100);
    expect(t.last().sent.filter((message) => message.type === 'auth')).toEqual([{ type: 'auth', token: t.issued[1] }]);
    // The renewed token is the one a reconnect reuses.
    t.last().serverClose(1001);
    await vi.advanceTimersToNextTimerAsync();
    expect(t.last().token).toBe(t.issued[1]);
    expect(t.issued).toHaveLength(2);
  });

  it('reuses the token across v1 polls, and asks for a fresh one when a poll says it expired', async () => {
    const t = setup({ flagReason: 'forced-off' }, (n) => jwt(3600, n));
    t.pollAnswers.push(
      { events: [ev(2)], cursor: 'e1:2', v2: true },
      new PollError(new StreamError(ErrorCode.TOKEN_EXPIRED, 'expired'), 401),
    );
    t.engine.setInterest(ORG, ['finance'], 'e1:1');
    t.engine.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(t.polls.map((poll) => poll.token)).toEqual([t.issued[0], t.issued[0], t.issued[1]]);
    expect(t.issued).toHaveLength(2);
  });
});

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CloseCode, ErrorCode, type ClientMessage, type StreamError } from '../protocol/index.ts';
import { silentLogger } from './logger.ts';
import { createTokenCache } from './token-cache.ts';
import type { Transport, TransportClose } from './transport.ts';
import { classifyClose, openV2Session, type DeliveryFrame, type SessionEnd } from './v2-session.ts';

const ORG = '456';

function setup(interest = new Map<string, Set<string>>([[ORG, new Set(['finance'])]]), cursors = new Map<string, string>()) {
  const sent: ClientMessage[] = [];
  const closes: Array<[number | undefined, string | undefined]> = [];
  let onMessage: (text: string) => void = () => {};
  let onClose: (info: TransportClose) => void = () => {};
  const transport: Transport = {
    send: (message) => sent.push(message),
    close: (code, reason) => closes.push([code, reason]),
    onMessage: (handler) => {
      onMessage = handler;
    },
    onClose: (handler) => {
      onClose = handler;
    },
  };
  const ends: SessionEnd[] = [];
  const frames: DeliveryFrame[] = [];
  const errors: StreamError[] = [];
  const unsubscribed: string[] = [];
  const happenings: string[] = [];
  let welcomes = 0;
  let stable = 0;
  let issued = 0;
  const session = openV2Session({
    transport,
    tokens: createTokenCache(async () => `tok-${++issued}`),
    interest,
    cursor: (org) => cursors.get(org),
    connectTimeoutMs: 10_000,
    stableAfterMs: 5_000,
    logger: silentLogger,
    log: (what) => happenings.push(what),
    onWelcome: () => welcomes++,
    onStable: () => stable++,
    onDelivery: (frame) => frames.push(frame),
    onError: (error) => errors.push(error),
    onUnsubscribed: (org) => unsubscribed.push(org),
    onEnd: (end) => ends.push(end),
  });
  const receive = (message: object): void => onMessage(JSON.stringify(message));
  const welcome = (overrides: Record<string, unknown> = {}): void =>
    receive({ type: 'welcome', connectionId: 'c1', heartbeatMs: 30_000, tokenExpiresAt: Date.now() + 3_600_000, orgs: [ORG], epoch: 'e1', ...overrides });
  return {
    session,
    sent,
    closes,
    ends,
    frames,
    errors,
    unsubscribed,
    happenings,
    receive,
    welcome,
    serverClose: (code: number) => onClose({ code, reason: 'bye', wasOpen: true }),
    counts: () => ({ welcomes, stable }),
  };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('classifyClose', () => {
  it('maps each close code to what the engine does next', () => {
    const refused = classifyClose(CloseCode.UNAUTHORIZED, 'bad token', true);
    expect(refused).toMatchObject({ kind: 'refused', code: 4001 });
    expect(refused.kind === 'refused' && [refused.error.code, refused.error.closeCode]).toEqual([ErrorCode.TOKEN_INVALID, 4001]);
    const bad = classifyClose(CloseCode.BAD_MESSAGE, '', true);
    expect(bad.kind === 'refused' && bad.error.code).toBe(ErrorCode.BAD_MESSAGE);
    expect(classifyClose(CloseCode.V2_DISABLED, '', true)).toEqual({ kind: 'v2-disabled', code: 4010 });
    expect(classifyClose(CloseCode.TOKEN_EXPIRED, '', true)).toEqual({ kind: 'token-expired', code: 4002 });
    expect(classifyClose(1006, '', false)).toEqual({ kind: 'dropped', code: 1006, welcomed: false });
    expect(classifyClose(CloseCode.HEARTBEAT_TIMEOUT, '', true)).toEqual({ kind: 'dropped', code: 4011, welcomed: true });
  });
});

describe('v2 session', () => {
  it('subscribes only after welcome, with the cursor, then sends only the difference', () => {
    const interest = new Map([[ORG, new Set(['finance'])]]);
    const t = setup(interest, new Map([[ORG, 'e1:3']]));
    t.session.sync();
    expect(t.sent).toEqual([]);
    t.welcome();
    expect(t.counts().welcomes).toBe(1);
    expect(t.sent).toEqual([{ type: 'subscribe', org: ORG, services: ['finance'], cursor: 'e1:3' }]);
    interest.set(ORG, new Set(['chat']));
    t.session.sync();
    interest.delete(ORG);
    t.session.sync();
    expect(t.sent.slice(1)).toEqual([
      { type: 'subscribe', org: ORG, services: ['chat'] },
      { type: 'unsubscribe', org: ORG, services: ['finance'] },
      { type: 'unsubscribe', org: ORG, services: ['chat'] },
    ]);
    expect(t.unsubscribed).toEqual([ORG]);
  });

  it('hands events, live and reset frames to the engine as they are, and answers ping', () => {
    const t = setup();
    t.welcome();
    t.receive({ type: 'live', org: ORG, cursor: 'e1:5', replayed: 0 });
    t.receive({ type: 'reset', org: ORG, reason: 'epoch', from: 'old:1', cursor: 'e1:0', lost: null });
    t.receive({ type: 'ping', t: 9 });
    expect(t.frames.map((frame) => frame.type)).toEqual(['live', 'reset']);
    expect(t.sent.at(-1)).toEqual({ type: 'pong', t: 9 });
  });

  it('surfaces error frames unless they announce a close the engine handles', () => {
    const t = setup();
    t.welcome();
    t.receive({ type: 'error', code: ErrorCode.SLOW_CONSUMER, message: 'slow' });
    t.receive({ type: 'error', code: ErrorCode.FORBIDDEN_ORG, message: 'no', org: '789' });
    expect(t.errors.map((error) => error.code)).toEqual([ErrorCode.FORBIDDEN_ORG]);
    expect(t.happenings).toEqual(['error', 'error']);
  });

  it('ends as a failed connect (4011, not welcomed) when no welcome comes in time', async () => {
    const t = setup();
    await vi.advanceTimersByTimeAsync(9_999);
    expect(t.ends).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.ends).toEqual([{ kind: 'dropped', code: CloseCode.HEARTBEAT_TIMEOUT, welcomed: false }]);
    expect(t.closes).toEqual([[CloseCode.HEARTBEAT_TIMEOUT, 'no welcome in time']]);
  });

  it('reports stable after stableAfterMs up, and a silent socket as dropped after 2× heartbeat', async () => {
    const t = setup();
    t.welcome({ heartbeatMs: 1_000 });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(t.sent.filter((message) => message.type === 'ping')).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(t.ends).toEqual([{ kind: 'dropped', code: CloseCode.HEARTBEAT_TIMEOUT, welcomed: true }]);
    expect(t.counts().stable).toBe(0);

    const up = setup();
    up.welcome({ heartbeatMs: 1_000 });
    for (let i = 0; i < 5; i++) {
      up.receive({ type: 'ping', t: i });
      await vi.advanceTimersByTimeAsync(1_000);
    }
    expect(up.counts().stable).toBe(1);
    expect(up.ends).toEqual([]);
  });

  it('renews with a fresh token at ~80% of its life', async () => {
    const t = setup();
    t.welcome({ tokenExpiresAt: Date.now() + 10_000 });
    await vi.advanceTimersByTimeAsync(7_999);
    expect(t.sent.some((message) => message.type === 'auth')).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.sent.filter((message) => message.type === 'auth')).toEqual([{ type: 'auth', token: 'tok-1' }]);
  });

  it('reports the server close once, and nothing after the engine closed it', async () => {
    const t = setup();
    t.welcome();
    t.serverClose(CloseCode.V2_DISABLED);
    t.serverClose(1006);
    expect(t.ends).toEqual([{ kind: 'v2-disabled', code: CloseCode.V2_DISABLED }]);

    const dropped = setup();
    dropped.session.close(CloseCode.NORMAL, 'client closed');
    dropped.welcome();
    dropped.serverClose(1006);
    await vi.advanceTimersByTimeAsync(60_000);
    expect([dropped.ends, dropped.sent, dropped.counts().welcomes]).toEqual([[], [], 0]);
    expect(dropped.closes).toEqual([[CloseCode.NORMAL, 'client closed']]);
  });
});

describe('v2 session against a misbehaving server', () => {
  it('ignores a second welcome: one onWelcome, one heartbeat', async () => {
    const t = setup();
    t.welcome({ heartbeatMs: 1_000 });
    t.welcome({ heartbeatMs: 1_000 });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(t.counts().welcomes).toBe(1);
    expect(t.sent.filter((message) => message.type === 'ping')).toHaveLength(1);
  });
});

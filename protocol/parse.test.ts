import { describe, expect, it } from 'vitest';
import { ErrorCode } from './codes.ts';
import { compareCursors, formatCursor, isAfter, parseCursor } from './cursor.ts';
import { parseClientMessage, parseEventInput, parsePollResponse, parseServerMessage } from './parse.ts';

describe('cursor', () => {
  it('round-trips epoch:seq and rejects everything else', () => {
    expect(parseCursor('k3x9:42')).toEqual({ epoch: 'k3x9', seq: 42 });
    expect(formatCursor({ epoch: 'k3x9', seq: 0 })).toBe('k3x9:0');
    for (const bad of ['', '42', 'a:', ':1', 'a:-1', 'a:01', 'a:1.5', 'a b:1', 'a:99999999999999999', 7, null]) {
      expect(parseCursor(bad)).toBeNull();
    }
  });

  it('orders cursors only within one epoch', () => {
    expect(compareCursors({ epoch: 'a', seq: 2 }, { epoch: 'a', seq: 1 })).toBe(1);
    expect(compareCursors({ epoch: 'a', seq: 2 }, { epoch: 'b', seq: 1 })).toBeNull();
    expect(isAfter('a:3', 'a:2')).toBe(true);
    expect(isAfter('a:2', 'a:2')).toBe(false);
    expect(isAfter('a:1', null)).toBe(true);
  });
});

describe('parseClientMessage', () => {
  it('accepts a subscribe with a cursor and deduplicates services', () => {
    const parsed = parseClientMessage('{"type":"subscribe","org":"456","services":["finance","finance","chat"],"cursor":"e1:10"}');
    expect(parsed).toEqual({
      ok: true,
      value: { type: 'subscribe', org: '456', services: ['finance', 'chat'], cursor: 'e1:10' },
    });
  });

  it.each([
    ['not json', ErrorCode.BAD_JSON],
    ['[]', ErrorCode.BAD_MESSAGE],
    ['{"type":"launch"}', ErrorCode.BAD_MESSAGE],
    ['{"type":"subscribe","org":"a b","services":["x"]}', ErrorCode.BAD_NAME],
    ['{"type":"subscribe","org":"a","services":[]}', ErrorCode.BAD_MESSAGE],
    ['{"type":"subscribe","org":"a","services":[1]}', ErrorCode.BAD_NAME],
    ['{"type":"subscribe","org":"a","services":["x"],"cursor":"nope"}', ErrorCode.BAD_CURSOR],
    ['{"type":"auth","token":""}', ErrorCode.TOKEN_MISSING],
    ['{"type":"ping","t":"now"}', ErrorCode.BAD_MESSAGE],
  ])('rejects %s with %s', (frame, code) => {
    const parsed = parseClientMessage(frame);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error.code).toBe(code);
  });
});

describe('parseEventInput', () => {
  it('requires org, service, type and data', () => {
    expect(parseEventInput({ org: '1', service: 'finance', type: 'invoice.posted', data: null }).ok).toBe(true);
    const missing = parseEventInput({ org: '1', service: 'finance', type: 'invoice.posted' });
    expect(missing.ok || missing.error.code).toBe(ErrorCode.BAD_MESSAGE);
    const badOrg = parseEventInput({ org: '../x', service: 'finance', type: 't', data: 1 });
    expect(badOrg.ok || badOrg.error.code).toBe(ErrorCode.BAD_NAME);
  });
});

describe('parseServerMessage', () => {
  it('accepts an events batch and rejects an event without a cursor id', () => {
    const event = { id: 'e1:1', org: '1', service: 'chat', type: 'message.sent', data: { text: 'hi' }, ts: 1 };
    expect(parseServerMessage(JSON.stringify({ type: 'events', org: '1', replayed: false, events: [event] })).ok).toBe(true);
    const broken = { ...event, id: 'x' };
    expect(parseServerMessage(JSON.stringify({ type: 'events', org: '1', replayed: false, events: [broken] })).ok).toBe(false);
  });

  it('parses a poll response with a reset', () => {
    const parsed = parsePollResponse({ events: [], cursor: 'e2:0', v2: true, reset: { reason: 'epoch', from: 'e1:5', lost: null } });
    expect(parsed.ok && parsed.value.reset?.reason).toBe('epoch');
  });
});

/**
 * Property-based tests of every parser of untrusted input in protocol/: whatever arrives, they
 * never throw, they answer a typed value or one of the error codes documented for them, what they
 * accept is valid, and valid messages round-trip unchanged.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode, ResetReason } from './codes.ts';
import { formatCursor, isAfter, parseCursor, type Cursor } from './cursor.ts';
import { StreamError } from './errors.ts';
import { isName, type StreamEvent } from './event.ts';
import type { ClientMessage, PollResponse, ServerMessage } from './messages.ts';
import {
  MAX_SERVICES_PER_MESSAGE,
  MAX_TOKEN_LENGTH,
  parseClientMessage,
  parseEventInput,
  parseHttpError,
  parsePollResponse,
  parseServerMessage,
  type ParseResult,
} from './parse.ts';

const RUNS = { numRuns: 400 };

// ─── arbitraries ─────────────────────────────────────────────────────────────────────────────────

const name = fc.stringMatching(/^[A-Za-z0-9_.-]{1,64}$/);
const cursorValue: fc.Arbitrary<Cursor> = fc.record({ epoch: fc.stringMatching(/^[A-Za-z0-9_-]{1,32}$/), seq: fc.maxSafeNat() });
const cursor = cursorValue.map(formatCursor);
const service = fc.oneof(name, fc.constant('*'));
const services = fc.uniqueArray(service, { minLength: 1, maxLength: MAX_SERVICES_PER_MESSAGE });
/** JSON values as they come out of JSON.parse (so -0 is already 0). */
const json = fc.jsonValue().map((value) => JSON.parse(JSON.stringify(value)) as unknown);
const finite = fc.double({ noNaN: true, noDefaultInfinity: true }).map((value) => (Object.is(value, -0) ? 0 : value));

const clientMessage: fc.Arbitrary<ClientMessage> = fc.oneof(
  fc.record({ type: fc.constant('subscribe' as const), org: name, services, cursor: cursor }, { requiredKeys: ['type', 'org', 'services'] }),
  fc.record({ type: fc.constant('unsubscribe' as const), org: name, services }),
  fc.record({ type: fc.constant('auth' as const), token: fc.string({ minLength: 1, maxLength: 200 }) }),
  fc.record({ type: fc.constantFrom('ping' as const, 'pong' as const), t: finite }),
);

const event: fc.Arbitrary<StreamEvent> = fc.record({
  id: cursor,
  org: name,
  service: name,
  type: name,
  data: json,
  ts: fc.integer({ min: 0, max: 2 ** 45 }),
});
const resetReason = fc.constantFrom(...Object.values(ResetReason));
const errorCode = fc.constantFrom(...Object.values(ErrorCode));

const serverMessage: fc.Arbitrary<ServerMessage> = fc.oneof(
  fc.record({
    type: fc.constant('welcome' as const),
    connectionId: fc.uuid(),
    heartbeatMs: fc.nat(),
    tokenExpiresAt: fc.nat(),
    orgs: fc.array(name, { maxLength: 5 }),
    epoch: fc.string(),
  }),
  fc.record({ type: fc.constant('events' as const), org: name, replayed: fc.boolean(), events: fc.array(event, { maxLength: 5 }) }),
  fc.record({ type: fc.constant('live' as const), org: name, cursor, replayed: fc.nat() }),
  fc.record({
    type: fc.constant('reset' as const),
    org: name,
    reason: resetReason,
    from: fc.string(),
    cursor,
    lost: fc.option(fc.nat(), { nil: null }),
  }),
  fc.record({ type: fc.constant('authenticated' as const), tokenExpiresAt: fc.nat(), orgs: fc.array(name, { maxLength: 5 }) }),
  fc.record({ type: fc.constant('subscribed' as const), org: name, services: fc.array(service, { maxLength: 5 }) }),
  fc.record({ type: fc.constant('error' as const), code: errorCode, message: fc.string(), org: name }, { requiredKeys: ['type', 'code', 'message'] }),
  fc.record({ type: fc.constantFrom('ping' as const, 'pong' as const), t: finite }),
);

const pollResponse: fc.Arbitrary<PollResponse> = fc.record(
  {
    events: fc.array(event, { maxLength: 5 }),
    cursor,
    reset: fc.record({ reason: resetReason, from: fc.string(), lost: fc.option(fc.nat(), { nil: null }) }),
    v2: fc.boolean(),
  },
  { requiredKeys: ['events', 'cursor', 'v2'] },
);

/** Text that is anything at all: printable, any code point (lone surrogates included), or JSON. */
const anyText = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.string({ unit: fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code)) }),
  json.map((value) => JSON.stringify(value)),
);

/** A valid text, broken by cutting, inserting or deleting at a random place. */
function mutated(valid: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc
    .tuple(valid, fc.nat(), fc.string({ minLength: 1, maxLength: 3 }), fc.constantFrom('cut', 'insert', 'delete'))
    .map(([text, at, inserted, how]) => {
      const i = at % (text.length + 1);
      if (how === 'cut') return text.slice(0, i);
      if (how === 'insert') return text.slice(0, i) + inserted + text.slice(i);
      return text.slice(0, i) + text.slice(i + 1);
    });
}
const mutatedText = (valid: fc.Arbitrary<unknown>) => mutated(valid.map((value) => JSON.stringify(value)));

/** Keys worth poking at: the real ones, prototype names, and anything. */
const key = fc.oneof(
  fc.constantFrom('type', 'org', 'services', 'cursor', 'token', 't', 'events', 'id', 'service', 'data', 'ts', 'reason', 'from', 'lost', 'code', 'message', 'v2', 'reset', 'error'),
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'),
  fc.string({ maxLength: 8 }),
);
/** Values a field may be replaced with: any JSON, any string, names one step from valid. */
const replacement = fc.oneof(
  json,
  fc.string(),
  fc.constantFrom('', ' ', 'a b', 'x'.repeat(65), '../etc', 'a/b', 'é', '*', 'e:01', 'e:-1', ':1', 'e:9007199254740993', null, 0, -1, 1e309 / 1e309, [], {}),
);

/**
 * A structurally mutated copy: one field (mostly one of its own, sometimes any key) removed,
 * replaced, or added.
 */
function mutatedObject(valid: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc
    .tuple(valid, fc.nat(), fc.boolean(), key, replacement, fc.constantFrom('remove', 'replace', 'replace', 'add'))
    .map(([value, index, ownKey, otherKey, newValue, how]) => {
      const copy = JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
      const own = Object.keys(copy);
      const field = ownKey && own.length > 0 ? (own[index % own.length] as string) : otherKey;
      if (how === 'remove') delete copy[field];
      // defineProperty, so `__proto__` becomes an own key as JSON.parse would make it.
      else Object.defineProperty(copy, field, { value: newValue, enumerable: true, writable: true, configurable: true });
      return copy;
    });
}

// ─── shared assertions ───────────────────────────────────────────────────────────────────────────

function expectResult<T>(result: ParseResult<T>, allowed: readonly ErrorCode[]): void {
  if (result.ok) return;
  expect(result.error).toBeInstanceOf(StreamError);
  expect(allowed).toContain(result.error.code);
  expect(typeof result.error.message).toBe('string');
}

/** Two accepted results that serialize alike (JSON has no -0, so compare as the wire would). */
function sameOnTheWire<T>(a: ParseResult<T>, b: ParseResult<T>): boolean {
  return a.ok && b.ok && JSON.stringify(a.value) === JSON.stringify(b.value);
}

/** JSON through a string, as the wire does. */
const wire = (value: unknown) => JSON.parse(JSON.stringify(value)) as unknown;

const CLIENT_CODES = [ErrorCode.BAD_JSON, ErrorCode.BAD_MESSAGE, ErrorCode.BAD_NAME, ErrorCode.BAD_CURSOR, ErrorCode.TOKEN_MISSING] as const;
const SERVER_CODES = [ErrorCode.BAD_JSON, ErrorCode.BAD_MESSAGE] as const;

/** What an accepted client message must satisfy, whatever input produced it. */
function expectValidClientMessage(message: ClientMessage): void {
  switch (message.type) {
    case 'subscribe':
    case 'unsubscribe':
      expect(isName(message.org)).toBe(true);
      expect(message.services.length).toBeGreaterThan(0);
      expect(message.services.length).toBeLessThanOrEqual(MAX_SERVICES_PER_MESSAGE);
      expect(new Set(message.services).size).toBe(message.services.length);
      for (const item of message.services) expect(item === '*' || isName(item)).toBe(true);
      if (message.type === 'subscribe' && message.cursor !== undefined) expect(parseCursor(message.cursor)).not.toBeNull();
      return;
    case 'auth':
      expect(message.token.length).toBeGreaterThan(0);
      expect(message.token.length).toBeLessThanOrEqual(MAX_TOKEN_LENGTH);
      return;
    case 'ping':
    case 'pong':
      expect(Number.isFinite(message.t)).toBe(true);
      return;
  }
}

function expectValidEvent(value: StreamEvent): void {
  expect(parseCursor(value.id)).not.toBeNull();
  for (const field of [value.org, value.service, value.type]) expect(isName(field)).toBe(true);
  expect(typeof value.ts).toBe('number');
}

// ─── properties ──────────────────────────────────────────────────────────────────────────────────

describe('parseClientMessage (every frame a client sends)', () => {
  it('never throws on any text and answers ok or a documented code', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const result = parseClientMessage(text);
        expectResult(result, CLIENT_CODES);
        if (result.ok) expectValidClientMessage(result.value);
      }),
      RUNS,
    );
  });

  it('round-trips every valid message exactly', () => {
    fc.assert(
      fc.property(clientMessage, (message) => {
        expect(parseClientMessage(JSON.stringify(message))).toEqual({ ok: true, value: wire(message) });
      }),
      RUNS,
    );
  });

  it('answers each repeated service once, in first-seen order', () => {
    fc.assert(
      fc.property(name, fc.array(service, { minLength: 1, maxLength: MAX_SERVICES_PER_MESSAGE }), (org, list) => {
        const result = parseClientMessage(JSON.stringify({ type: 'subscribe', org, services: list }));
        expect(result).toEqual({ ok: true, value: { type: 'subscribe', org, services: [...new Set(list)] } });
      }),
      RUNS,
    );
  });

  it('answers broken copies of valid messages with ok (still valid) or a documented code, never BAD_JSON for JSON', () => {
    fc.assert(
      fc.property(fc.oneof(mutatedText(clientMessage), mutatedObject(clientMessage).map((value) => JSON.stringify(value))), (text) => {
        const result = parseClientMessage(text);
        expectResult(result, CLIENT_CODES);
        if (result.ok) {
          expectValidClientMessage(result.value);
          // What was accepted is itself a valid message: parsing it again changes nothing.
          expect(sameOnTheWire(parseClientMessage(JSON.stringify(result.value)), result)).toBe(true);
        }
        let isJson = true;
        try {
          JSON.parse(text);
        } catch {
          isJson = false;
        }
        if (isJson && !result.ok) expect(result.error.code).not.toBe(ErrorCode.BAD_JSON);
        if (!isJson) expect(result.ok || result.error.code).toBe(ErrorCode.BAD_JSON);
      }),
      RUNS,
    );
  });

  it('refuses over-long lists and tokens, and keeps prototype keys inert', () => {
    const tooMany = Array.from({ length: MAX_SERVICES_PER_MESSAGE + 1 }, (_, i) => `s${i}`);
    const bigList = parseClientMessage(JSON.stringify({ type: 'subscribe', org: 'a', services: tooMany }));
    expect(bigList.ok || bigList.error.code).toBe(ErrorCode.BAD_MESSAGE);
    const bigToken = parseClientMessage(JSON.stringify({ type: 'auth', token: 'x'.repeat(MAX_TOKEN_LENGTH + 1) }));
    expect(bigToken.ok || bigToken.error.code).toBe(ErrorCode.TOKEN_MISSING);
    for (const type of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      const result = parseClientMessage(JSON.stringify({ type }));
      expect(result.ok || result.error.code).toBe(ErrorCode.BAD_MESSAGE);
    }
    const polluted = parseClientMessage('{"type":"subscribe","__proto__":{"org":"a","services":["*"]}}');
    expect(polluted.ok || polluted.error.code).toBe(ErrorCode.BAD_NAME);
    expect(({} as Record<string, unknown>).org).toBeUndefined();
  });
});

describe('parseServerMessage (every frame the browser client receives)', () => {
  it('never throws on any text and answers ok or BAD_JSON / BAD_MESSAGE', () => {
    fc.assert(
      fc.property(fc.oneof(anyText, mutatedText(serverMessage), mutatedObject(serverMessage).map((value) => JSON.stringify(value))), (text) => {
        const result = parseServerMessage(text);
        expectResult(result, SERVER_CODES);
        if (result.ok && result.value.type === 'events') for (const item of result.value.events) expectValidEvent(item);
        if (result.ok) expect(sameOnTheWire(parseServerMessage(JSON.stringify(result.value)), result)).toBe(true);
      }),
      RUNS,
    );
  });

  it('round-trips every valid message exactly', () => {
    fc.assert(
      fc.property(serverMessage, (message) => {
        expect(parseServerMessage(JSON.stringify(message))).toEqual({ ok: true, value: wire(message) });
      }),
      RUNS,
    );
  });

  it('refuses numbers that overflow to ±Infinity in JSON (1e999) in every numeric field', () => {
    const MARK = '"@@overflow@@"';
    // Event data may hold any JSON: null it, so only the protocol's own numbers are overflowed.
    const withoutData = serverMessage.map((message) =>
      message.type === 'events' ? { ...message, events: message.events.map((item) => ({ ...item, data: null })) } : message,
    );
    fc.assert(
      fc.property(withoutData, fc.constantFrom('1e999', '-1e999'), (message, overflow) => {
        const text = JSON.stringify(message, (_key, value: unknown) => (typeof value === 'number' ? JSON.parse(MARK) : value));
        if (!text.includes(MARK)) return;
        const result = parseServerMessage(text.replaceAll(MARK, overflow));
        expect(result.ok || result.error.code).toBe(ErrorCode.BAD_MESSAGE);
      }),
      RUNS,
    );
    const poll = parsePollResponse(JSON.parse('{"events":[],"cursor":"e:1","v2":true,"reset":{"reason":"retention","from":"e:0","lost":1e999}}'));
    expect(poll.ok || poll.error.code).toBe(ErrorCode.BAD_MESSAGE);
    const ping = parseClientMessage('{"type":"ping","t":-1e999}');
    expect(ping.ok || ping.error.code).toBe(ErrorCode.BAD_MESSAGE);
  });

  it('refuses an events batch as soon as one event in it is malformed', () => {
    fc.assert(
      fc.property(fc.array(event, { minLength: 1, maxLength: 4 }), fc.nat(), mutatedObject(event), (events, at, broken) => {
        const batch = [...events];
        batch.splice(at % (batch.length + 1), 0, broken as StreamEvent);
        const result = parseServerMessage(JSON.stringify({ type: 'events', org: 'a', replayed: false, events: batch }));
        const brokenIsValid = parseServerMessage(JSON.stringify({ type: 'events', org: 'a', replayed: false, events: [broken] })).ok;
        expect(result.ok).toBe(brokenIsValid);
        if (!result.ok) expect(result.error.code).toBe(ErrorCode.BAD_MESSAGE);
      }),
      RUNS,
    );
  });
});

describe('parseEventInput (every publish body)', () => {
  it('never throws on any JSON value and answers ok or BAD_MESSAGE / BAD_NAME', () => {
    const input = fc.record({ org: name, service: name, type: name, data: json });
    fc.assert(
      fc.property(fc.oneof(json, mutatedObject(input), fc.anything()), (raw) => {
        const result = parseEventInput(raw);
        expectResult(result, [ErrorCode.BAD_MESSAGE, ErrorCode.BAD_NAME]);
        if (result.ok) {
          for (const field of [result.value.org, result.value.service, result.value.type]) expect(isName(field)).toBe(true);
          expect(Object.keys(result.value).sort()).toEqual(['data', 'org', 'service', 'type']);
        }
      }),
      RUNS,
    );
  });

  it('round-trips every valid body and keeps only the four fields', () => {
    fc.assert(
      fc.property(fc.record({ org: name, service: name, type: name, data: json }), fc.dictionary(fc.string(), json), (input, extra) => {
        expect(parseEventInput(wire({ ...extra, ...input }))).toEqual({ ok: true, value: input });
      }),
      RUNS,
    );
  });
});

describe('parsePollResponse and parseHttpError (v1 answers the client receives)', () => {
  it('never throw and answer ok / BAD_MESSAGE, or a StreamError / null', () => {
    fc.assert(
      fc.property(fc.oneof(json, mutatedObject(pollResponse), fc.anything()), (raw) => {
        const poll = parsePollResponse(raw);
        expectResult(poll, [ErrorCode.BAD_MESSAGE]);
        if (poll.ok) {
          expect(parseCursor(poll.value.cursor)).not.toBeNull();
          for (const item of poll.value.events) expectValidEvent(item);
        }
        const error = parseHttpError(raw);
        if (error !== null) {
          expect(error).toBeInstanceOf(StreamError);
          expect(Object.values(ErrorCode)).toContain(error.code);
        }
      }),
      RUNS,
    );
  });

  it('round-trip valid answers', () => {
    fc.assert(
      fc.property(pollResponse, errorCode, fc.string(), (response, code, message) => {
        expect(parsePollResponse(wire(response))).toEqual({ ok: true, value: wire(response) });
        const error = parseHttpError(wire({ error: { code, message } }));
        expect(error?.toJSON()).toEqual({ name: 'StreamError', code, message });
      }),
      RUNS,
    );
  });
});

describe('parseCursor', () => {
  it('never throws; accepts only canonical epoch:seq, which formats back to the same text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), anyText, mutated(cursor)), (raw) => {
        const parsed = parseCursor(raw);
        if (parsed === null) return;
        expect(typeof raw).toBe('string');
        expect(formatCursor(parsed)).toBe(raw);
        expect(Number.isSafeInteger(parsed.seq) && parsed.seq >= 0).toBe(true);
      }),
      RUNS,
    );
  });

  it('round-trips every valid cursor and orders isAfter by seq within an epoch', () => {
    fc.assert(
      fc.property(cursorValue, fc.maxSafeNat(), (value, other) => {
        expect(parseCursor(formatCursor(value))).toEqual(value);
        expect(isAfter(formatCursor(value), formatCursor({ epoch: value.epoch, seq: other }))).toBe(value.seq > other);
      }),
      RUNS,
    );
  });
});

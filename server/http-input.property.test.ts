/**
 * Property-based tests of the HTTP inputs against a real server: arbitrary publish bodies,
 * arbitrary poll and dev-token query strings, arbitrary request targets. Never a 5xx; always
 * success or a documented `{error:{code}}` with its status; and the log grows by exactly the
 * valid publishes, each stored as sent.
 */
import { connect as connectTcp } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, isName, parseCursor, parseEventInput, parseJson, parsePollResponse, StreamError, type EventInput } from '../protocol/index.ts';
import type { EventLog } from './event-log.ts';
import { statusFor } from './http-io.ts';
import { createMemoryEventLog } from './memory-event-log.ts';
import { requestJson, startTestServer, type JsonResponse, type TestServer } from './test-support.ts';

const RUNS = { numRuns: 150 };
const MAX_BODY = 64 * 1024;

/** The memory log, recording every append that reaches it. */
function recordingLog(): { log: EventLog; appended: EventInput[] } {
  const inner = createMemoryEventLog();
  const appended: EventInput[] = [];
  const log: EventLog = {
    epoch: inner.epoch,
    append(input) {
      appended.push(structuredClone(input));
      return inner.append(input);
    },
    read: (org, after, limit) => inner.read(org, after, limit),
    head: (org) => inner.head(org),
    subscribe: (org, listener) => inner.subscribe(org, listener),
    trim: (now) => inner.trim(now),
    close: () => inner.close(),
  };
  return { log, appended };
}

let server: TestServer;
let appended: EventInput[];
let publisher: string;
let reader: string;

beforeAll(async () => {
  const recording = recordingLog();
  appended = recording.appended;
  // Short poll timeout: a query that names a valid cursor at the head waits this long, no more.
  server = await startTestServer({ log: recording.log, pollTimeoutMs: 20, maxPollsPerUser: 1000 });
  publisher = await server.token({ sub: 'publisher', orgs: ['a', 'b'], scopes: ['publish'] });
  reader = await server.token({ sub: 'reader', orgs: ['a', 'b'], scopes: ['read'] });
  for (const org of ['a', 'b', 'c']) for (let i = 0; i < 3; i++) await server.log.append({ org, service: 's', type: 'seed', data: i });
});
beforeEach(() => {
  appended.length = 0;
});
afterAll(async () => {
  await server?.close();
});

/** Asserts the shape every refusal has: a documented code for this endpoint, with its status. */
function expectRefusal(res: JsonResponse, allowed: readonly ErrorCode[], context: unknown): void {
  expect(res.status, JSON.stringify(context)).toBeLessThan(500);
  const code = (res.body as { error?: { code?: unknown } })?.error?.code;
  expect(allowed, JSON.stringify({ context, body: res.body })).toContain(code);
  expect(res.status).toBe(statusFor(code as ErrorCode));
}

// ─── arbitraries ─────────────────────────────────────────────────────────────────────────────────

const name = fc.stringMatching(/^[A-Za-z0-9_.-]{1,64}$/);
const org = fc.oneof(fc.constantFrom('a', 'b', 'c'), name);
const json = fc.jsonValue().map((value) => JSON.parse(JSON.stringify(value)) as unknown);
const validInput = fc.record({ org: fc.constantFrom('a', 'b'), service: name, type: name, data: json });
const nearlyValidValue = fc.oneof(json, fc.string(), fc.constantFrom('', 'a b', 'x'.repeat(65), '../x', '*', null, 0, [], {}));

function mutate(text: string, at: number, inserted: string, how: 'cut' | 'insert' | 'delete'): string {
  const i = at % (text.length + 1);
  if (how === 'cut') return text.slice(0, i);
  if (how === 'insert') return text.slice(0, i) + inserted + text.slice(i);
  return text.slice(0, i) + text.slice(i + 1);
}

/** A request body as fetch takes it: text, or bytes that need not be UTF-8. */
type Body = string | Uint8Array<ArrayBuffer>;

const body: fc.Arbitrary<Body> = fc.oneof(
  validInput.map((input) => JSON.stringify(input)),
  fc.record({ org, service: name, type: name, data: json }).map((input) => JSON.stringify(input)),
  fc
    .tuple(validInput, fc.constantFrom('org', 'service', 'type', 'data', '__proto__', 'extra'), nearlyValidValue, fc.boolean())
    .map(([input, field, value, remove]) => {
      const copy: Record<string, unknown> = { ...input };
      if (remove) delete copy[field];
      else Object.defineProperty(copy, field, { value, enumerable: true, writable: true, configurable: true });
      return JSON.stringify(copy);
    }),
  fc
    .tuple(validInput, fc.nat(), fc.string({ minLength: 1, maxLength: 3 }), fc.constantFrom('cut' as const, 'insert' as const, 'delete' as const))
    .map(([input, at, inserted, how]) => mutate(JSON.stringify(input), at, inserted, how)),
  json.map((value) => JSON.stringify(value)),
  fc.string({ unit: 'binary' }),
  fc.uint8Array({ maxLength: 200 }).map((bytes) => new Uint8Array(bytes)),
  // Now and then one over the 64 KiB limit, valid apart from its size.
  fc.constant(JSON.stringify({ org: 'a', service: 's', type: 't', data: 'x'.repeat(MAX_BODY) })),
);

/** What the server must do with a publish body (token grants a and b, publish scope). */
function verdict(raw: Body): { accept: EventInput } | { refuse: ErrorCode } {
  const bytes = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : Buffer.from(raw);
  if (bytes.length > MAX_BODY) return { refuse: ErrorCode.PAYLOAD_TOO_LARGE };
  const parsed = parseJson(bytes.toString('utf8'));
  if (!parsed.ok) return { refuse: parsed.error.code };
  const input = parseEventInput(parsed.value);
  if (!input.ok) return { refuse: input.error.code };
  if (!['a', 'b'].includes(input.value.org)) return { refuse: ErrorCode.FORBIDDEN_ORG };
  return { accept: input.value };
}

const PUBLISH_CODES = [ErrorCode.BAD_JSON, ErrorCode.BAD_MESSAGE, ErrorCode.BAD_NAME, ErrorCode.FORBIDDEN_ORG, ErrorCode.PAYLOAD_TOO_LARGE] as const;

describe('POST /v1/events with arbitrary bodies', () => {
  it('answers 201 exactly for valid bodies of granted orgs, the documented 4xx otherwise, and the log holds exactly the valid ones', async () => {
    const accepted: EventInput[] = [];
    await fc.assert(
      fc.asyncProperty(body, async (raw) => {
        const res = await requestJson(`${server.url}/v1/events`, {
          method: 'POST',
          headers: { authorization: `Bearer ${publisher}`, 'content-type': 'application/json' },
          body: raw,
        });
        const expected = verdict(raw);
        if ('accept' in expected) {
          expect(res.status, JSON.stringify(res.body)).toBe(201);
          expect(parseCursor(res.body.id)).not.toBeNull();
          accepted.push(expected.accept);
        } else {
          expectRefusal(res, PUBLISH_CODES, raw);
          expect(res.body.error.code).toBe(expected.refuse);
        }
      }),
      RUNS,
    );
    expect(appended).toEqual(accepted);
    for (const input of appended) expect(parseEventInput(JSON.parse(JSON.stringify(input))).ok).toBe(true);
    expect(server.metrics().events.published).toBe(accepted.length);
  });

  it('refuses any body without a valid publish token before reading it, appending nothing', async () => {
    const badAuth = fc.oneof(
      fc.constant<Record<string, string>>({}),
      fc.string({ maxLength: 40 }).map((value) => ({ authorization: `Bearer ${value.replace(/[^\x21-\x7e]/g, 'x')}` })),
      fc.constant({ authorization: `Bearer ${reader}` }),
    );
    await fc.assert(
      fc.asyncProperty(body, badAuth, async (raw, headers) => {
        const res = await requestJson(`${server.url}/v1/events`, { method: 'POST', headers, body: raw });
        expectRefusal(res, [ErrorCode.TOKEN_MISSING, ErrorCode.TOKEN_INVALID, ErrorCode.MISSING_SCOPE], headers);
      }),
      { numRuns: 60 },
    );
    expect(appended).toEqual([]);
  });
});

// ─── query strings ───────────────────────────────────────────────────────────────────────────────

/**
 * A query string: mostly the endpoint's own parameters, each absent, usual or odd (so many
 * requests get past validation), otherwise arbitrary pairs or any text at all.
 */
function queryString(params: Record<string, fc.Arbitrary<string>>, odd: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const structured = fc.record(
    Object.fromEntries(Object.entries(params).map(([param, usual]) => [param, fc.oneof({ arbitrary: usual, weight: 3 }, { arbitrary: odd, weight: 1 })])),
    { requiredKeys: [] },
  );
  const pair = fc.tuple(fc.oneof(fc.constantFrom(...Object.keys(params)), fc.string({ maxLength: 6 })), fc.oneof(odd, ...Object.values(params)));
  return fc.oneof(
    { arbitrary: structured.map((record) => new URLSearchParams(record as Record<string, string>).toString()), weight: 4 },
    { arbitrary: fc.array(pair, { maxLength: 5 }).map((pairs) => new URLSearchParams(pairs).toString()), weight: 1 },
    { arbitrary: fc.string({ unit: 'binary', maxLength: 60 }).map((text) => encodeURI(text.replace(/[\ud800-\udfff]/g, ''))), weight: 1 },
    { arbitrary: fc.string({ maxLength: 60 }), weight: 1 },
  );
}

const cursorText = (epoch: () => string) =>
  fc.oneof(
    fc.integer({ min: 0, max: 6 }).map((seq) => `${epoch()}:${seq}`),
    fc.tuple(fc.stringMatching(/^[A-Za-z0-9_-]{1,32}$/), fc.maxSafeNat()).map(([e, seq]) => `${e}:${seq}`),
    fc.constantFrom('', ':', 'x:01', 'x:-1', `x:${'9'.repeat(17)}`, 'a'.repeat(60)),
  );

const POLL_CODES = [
  ErrorCode.BAD_NAME,
  ErrorCode.BAD_CURSOR,
  ErrorCode.BAD_MESSAGE,
  ErrorCode.TOKEN_MISSING,
  ErrorCode.TOKEN_INVALID,
  ErrorCode.FORBIDDEN_ORG,
  ErrorCode.MISSING_SCOPE,
] as const;

describe('GET /v1/realtime/poll with arbitrary query strings', () => {
  it('answers a valid PollResponse of the asked, granted org, or a documented 4xx; never writes the log', async () => {
    const odd = fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom('', '-1', 'NaN', '1e999', 'a b', '*', '../x'));
    const params = {
      org: org,
      cursor: cursorText(() => server.log.epoch),
      timeout: fc.constantFrom('0', '0.01', '0.005'),
    };
    const withHeader = fc.boolean();
    await fc.assert(
      fc.asyncProperty(queryString(params, odd), withHeader, async (query, header) => {
        const url = `${server.url}/v1/realtime/poll?${query}`;
        const res = await requestJson(url, header ? { headers: { authorization: `Bearer ${reader}` } } : {});
        if (res.status !== 200) {
          expectRefusal(res, POLL_CODES, { query, header });
          return;
        }
        const parsed = parsePollResponse(res.body);
        expect(parsed.ok, JSON.stringify(res.body)).toBe(true);
        // Authorization is read before the query: a 200 means the header token did it.
        expect(header).toBe(true);
        const asked = new URL(url).searchParams.get('org');
        expect(['a', 'b']).toContain(asked);
        if (parsed.ok) for (const event of parsed.value.events) expect(event.org).toBe(asked);
      }),
      RUNS,
    );
    expect(appended).toEqual([]);
    expect(server.metrics().longPoll.open).toBe(0);
  });
});

describe('GET /dev/token with arbitrary query strings', () => {
  it('issues a token that verifies with exactly the asked claims, or answers 400 BAD_NAME / BAD_MESSAGE', async () => {
    const params = {
      org: fc.array(org, { minLength: 1, maxLength: 3 }).map((orgs) => orgs.join(',')),
      scope: fc.constantFrom('read', 'publish', 'admin', 'read,publish', ' read ', 'admin,read,'),
      sub: name,
      ttl: fc.oneof(fc.double({ min: 0.001, max: 20, noNaN: true }).map(String), fc.constantFrom('1', '0.4', '604800')),
    };
    const odd = fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom('', ',', 'root', '0', '-5', '604801', 'Infinity', 'NaN', 'a b'));
    await fc.assert(
      fc.asyncProperty(queryString(params, odd), async (query) => {
        const url = new URL(`${server.url}/dev/token?${query}`);
        const res = await requestJson(url.toString());
        if (res.status !== 200) {
          expectRefusal(res, [ErrorCode.BAD_NAME, ErrorCode.BAD_MESSAGE], query);
          return;
        }
        const claims = await server.auth.verifyToken(res.body.token);
        if (claims instanceof StreamError) throw new Error(`/dev/token?${query} issued a token that does not verify: ${claims.code}`);
        const list = (param: string, fallback: string) =>
          (url.searchParams.get(param) ?? fallback)
            .split(',')
            .map((item) => item.trim())
            .filter((item) => item.length > 0);
        expect(claims.orgs).toEqual([...new Set(list('org', ''))]);
        expect(claims.orgs.every(isName)).toBe(true);
        const scopes = list('scope', 'read');
        expect(claims.scope).toEqual(scopes.length > 0 ? scopes : ['read']);
        expect(claims.sub).toBe(url.searchParams.get('sub') ?? 'dev-user');
        const ttl = url.searchParams.get('ttl');
        const lifetime = claims.exp - Math.floor(Date.now() / 1000);
        expect(lifetime).toBeGreaterThanOrEqual(ttl === null ? 3599 : Math.ceil(Number(ttl)) - 1);
      }),
      RUNS,
    );
  });
});

describe('arbitrary request targets', () => {
  /** One raw request (fetch would normalize the target): returns the status code. */
  function rawStatus(target: string, upgrade: boolean): Promise<number> {
    return new Promise((resolve, reject) => {
      const socket = connectTcp(server.port, '127.0.0.1', () => {
        const upgradeHeaders = upgrade
          ? 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n'
          : 'Connection: close\r\n';
        socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${upgradeHeaders}Authorization: Bearer ${reader}\r\n\r\n`);
      });
      let head = '';
      socket.on('data', (chunk: Buffer) => {
        head += chunk.toString('latin1');
        const match = /^HTTP\/1\.1 (\d{3})/.exec(head);
        if (match) {
          socket.destroy();
          resolve(Number(match[1]));
        }
      });
      socket.on('error', reject);
      socket.on('close', () => resolve(0));
    });
  }

  it('never answers 5xx, also for targets like // and //[ that URL parsing chokes on (HTTP and upgrade)', async () => {
    const segment = fc.oneof(fc.constantFrom('', 'v1', 'v2', 'realtime', 'poll', 'stream', 'events', 'dev', 'token', '[', ']', '..', '%', '%zz', ':99999', '@', 'a:b'), fc.stringMatching(/^[!-~]{0,6}$/));
    const target = fc.oneof(
      fc.array(segment, { maxLength: 5 }).map((parts) => `/${parts.join('/')}`),
      fc.array(segment, { maxLength: 5 }).map((parts) => `//${parts.join('/')}`),
      fc.constantFrom('//', '//[', '//a:99999/v1/realtime/poll?org=a', '*', 'http://x/v1/realtime/poll?org=a', 'http://[/'),
    );
    await fc.assert(
      fc.asyncProperty(target, fc.boolean(), async (path, upgrade) => {
        const status = await rawStatus(path.replace(/\s/g, ''), upgrade);
        // 0: Node's parser itself dropped the connection on a target it refuses, which is fine.
        expect([0, 101].includes(status) || (status >= 200 && status < 500), `${path} (upgrade: ${upgrade}) → ${status}`).toBe(true);
      }),
      { numRuns: 200 },
    );
    expect(server.logLines.filter((line) => line.includes('ERROR'))).toEqual([]);
  });

  it('routes // paths as paths, not as a host: //x/v1/realtime/poll is not the poll endpoint', async () => {
    expect(await rawStatus('//x/v1/realtime/poll?org=a', false)).toBe(404);
    expect(await rawStatus('//x/v2/realtime/stream', true)).toBe(404);
    expect(await rawStatus('/v1/realtime/poll?org=a', false)).toBe(200);
  });
});

/**
 * Nobody gets in: tokens on every endpoint, tokens kept out of the logs, the Origin allow-list
 * (cross-site WebSocket hijacking), floods and per-user caps, and org isolation checked on every
 * frame while all of that happens at once. Complements stream-limits.test.ts (upgrade refusals,
 * single-socket limits) and http-api.test.ts (endpoint-by-endpoint codes).
 */
import { createHmac } from 'node:crypto';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { CloseCode, ErrorCode, type StreamEvent } from '../protocol/index.ts';
import { createTokenAuthority } from './auth.ts';
import { randomSecret } from './config.ts';
import { redact } from './logger.ts';
import { Opcode, openRawWebSocket } from './raw-websocket.ts';
import {
  connect,
  connectReady,
  connectRefused,
  eventually,
  range,
  requestJson,
  startTestServer,
  type JsonResponse,
  type TestClient,
  type TestServer,
  closeAfterEach,
} from './test-support.ts';

let server: TestServer;
const { track, clients } = closeAfterEach(() => server);

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const JWT_PATTERN = /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/;

function poll(query: string, headers: Record<string, string> = {}): Promise<JsonResponse> {
  return requestJson(`${server.url}/v1/realtime/poll?${query}`, { headers });
}

function publish(token: string, input: unknown, headers: Record<string, string> = {}): Promise<JsonResponse> {
  return requestJson(`${server.url}/v1/events`, {
    method: 'POST',
    headers: { ...bearer(token), 'content-type': 'application/json', ...headers },
    body: JSON.stringify(input),
  });
}

const errorOf = (res: JsonResponse) => ({ status: res.status, code: (res.body as { error?: { code?: string } }).error?.code });

describe('tokens on every endpoint', () => {
  /** Tokens an attacker can make without the secret, or a client can hold by mistake. */
  async function badTokens(secret: string): Promise<Array<[string, string, ErrorCode]>> {
    const key = new TextEncoder().encode(secret);
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: 'u', orgs: ['a'], scope: ['read', 'publish'], exp: now + 3600, nbf: now - 1 };
    // Signed by hand (not with jose), so headers jose would refuse to produce can be tested too.
    const sign = async (payload: Record<string, unknown>, header: Record<string, unknown> = { alg: 'HS256' }) => {
      const input = `${base64url(header)}.${base64url(payload)}`;
      return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
    };
    const valid = await sign(claims);
    const [header, payload] = valid.split('.');
    return [
      ['forged signature (other secret)', await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(randomSecret())), ErrorCode.TOKEN_INVALID],
      ['claims edited after signing', `${header}.${base64url({ ...claims, orgs: ['a', 'b'] })}.${valid.split('.')[2]}`, ErrorCode.TOKEN_INVALID],
      ['alg: none, no signature', `${base64url({ alg: 'none', typ: 'JWT' })}.${payload}.`, ErrorCode.TOKEN_INVALID],
      ['alg: none, the real signature kept', `${base64url({ alg: 'none' })}.${payload}.${valid.split('.')[2]}`, ErrorCode.TOKEN_INVALID],
      ['an unknown critical header', await sign(claims, { alg: 'HS256', crit: ['x-must-understand'], 'x-must-understand': true }), ErrorCode.TOKEN_INVALID],
      ['expired', await sign({ ...claims, exp: now - 60 }), ErrorCode.TOKEN_EXPIRED],
      ['not valid yet (nbf)', await sign({ ...claims, nbf: now + 600 }), ErrorCode.TOKEN_EXPIRED],
      ['signed, but without exp (would never expire)', await sign({ sub: 'u', orgs: ['a'], scope: ['read', 'publish'] }), ErrorCode.TOKEN_INVALID],
      ['signed, orgs not a list', await sign({ ...claims, orgs: 'a' }), ErrorCode.TOKEN_INVALID],
      ['signed, an org that is not a name', await sign({ ...claims, orgs: ['a', '../b'] }), ErrorCode.TOKEN_INVALID],
      ['signed, an unknown scope', await sign({ ...claims, scope: ['read', 'root'] }), ErrorCode.TOKEN_INVALID],
      ['signed, no sub', await sign({ orgs: ['a'], scope: ['read'], exp: now + 60 }), ErrorCode.TOKEN_INVALID],
      ['longer than 4 KiB', `${header}.${base64url({ ...claims, pad: 'x'.repeat(5000) })}.x`, ErrorCode.TOKEN_INVALID],
    ];
  }

  it('refuses forged, alg:none, expired, not-yet-valid and malformed-claim tokens on poll, publish and upgrade with 401 and the code', async () => {
    const secret = randomSecret();
    server = await startTestServer({ tokenSecret: secret });
    for (const [what, token, code] of await badTokens(secret)) {
      expect({ what, ...errorOf(await poll('org=a', bearer(token))) }).toEqual({ what, status: 401, code });
      expect({ what, ...errorOf(await poll(`org=a&access_token=${token}`)) }).toEqual({ what, status: 401, code });
      expect({ what, ...errorOf(await publish(token, { org: 'a', service: 's', type: 't', data: 1 })) }).toEqual({ what, status: 401, code });
      const refused = await connectRefused(server, { token, via: 'protocol' });
      expect({ what, status: refused.status, code: (refused.body as { error: { code: string } }).error.code }).toEqual({ what, status: 401, code });
    }
    expect(await server.log.head('a')).toBe(`${server.log.epoch}:0`);
    expect(server.metrics().activeConnections).toBe(0);
  });

  it('closes an open socket whose auth renewal carries a bad token: 4001, or 4002 when expired / not valid yet', async () => {
    const secret = randomSecret();
    server = await startTestServer({ tokenSecret: secret });
    for (const [what, token, code] of await badTokens(secret)) {
      if (token.length > 4096) continue; // refused by the frame parser already (TOKEN_MISSING, 4000)
      const client = track(await connectReady(server, { sub: 'u' }));
      client.send({ type: 'auth', token });
      const closed = await client.closed;
      expect({ what, code: closed.code }).toEqual({ what, code: code === ErrorCode.TOKEN_EXPIRED ? CloseCode.TOKEN_EXPIRED : CloseCode.UNAUTHORIZED });
      expect(client.messages.filter((m) => m.type === 'error')).toEqual([expect.objectContaining({ code })]);
      expect(client.messages.some((m) => m.type === 'authenticated')).toBe(false);
    }
  });

  it('grants exactly the scopes a token carries on every endpoint', async () => {
    server = await startTestServer();
    const cases: Array<[string[], { poll: number; publish: number; upgrade: number; admin: number }]> = [
      [['read'], { poll: 200, publish: 403, upgrade: 101, admin: 403 }],
      [['publish'], { poll: 403, publish: 201, upgrade: 403, admin: 403 }],
      [['admin'], { poll: 403, publish: 403, upgrade: 403, admin: 200 }],
      [[], { poll: 403, publish: 403, upgrade: 403, admin: 403 }],
    ];
    for (const [scopes, expected] of cases) {
      const token = await server.token({ scopes: scopes as Array<'read' | 'publish' | 'admin'>, orgs: ['a'] });
      const pollRes = await poll('org=a', bearer(token));
      const publishRes = await publish(token, { org: 'a', service: 's', type: 't', data: scopes });
      const adminRes = await requestJson(`${server.url}/admin/streaming-v2`, { method: 'POST', headers: bearer(token), body: '{"enabled":true}' });
      let upgrade = 101;
      try {
        track(await connect(server, { token }));
      } catch (error) {
        upgrade = (error as { refused: { status: number } }).refused.status;
      }
      expect({ scopes, poll: pollRes.status, publish: publishRes.status, upgrade, admin: adminRes.status }).toEqual({ scopes, ...expected });
      for (const res of [pollRes, publishRes, adminRes]) if (res.status === 403) expect(res.body.error.code).toBe(ErrorCode.MISSING_SCOPE);
    }
    // Renewal to a token without read on an open socket is refused too.
    const client = track(await connectReady(server));
    client.send({ type: 'auth', token: await server.token({ scopes: ['publish'] }) });
    expect((await client.closed).code).toBe(CloseCode.UNAUTHORIZED);
    expect(client.messages.find((m) => m.type === 'error')).toMatchObject({ code: ErrorCode.MISSING_SCOPE });
    expect(server.metrics().events.published).toBe(1);
  });

  it('matches orgs exactly: a token of "a" opens neither "A", "ab", "a." nor "b" on poll, publish or subscribe', async () => {
    server = await startTestServer();
    const reader = await server.token({ orgs: ['a'] });
    const publisher = await server.token({ orgs: ['a'], scopes: ['publish'] });
    const client = track(await connectReady(server, { orgs: ['a'] }));
    for (const org of ['A', 'ab', 'a.', 'b']) {
      expect(errorOf(await poll(`org=${org}`, bearer(reader)))).toEqual({ status: 403, code: ErrorCode.FORBIDDEN_ORG });
      expect(errorOf(await publish(publisher, { org, service: 's', type: 't', data: 1 }))).toEqual({ status: 403, code: ErrorCode.FORBIDDEN_ORG });
      const refused = client.next('error');
      client.send({ type: 'subscribe', org, services: ['*'] });
      expect(await refused).toMatchObject({ code: ErrorCode.FORBIDDEN_ORG, org });
      expect(await server.log.head(org)).toBe(`${server.log.epoch}:0`);
    }
    expect(server.hubStats().totalSubscriptions).toBe(0);
  });

  it('drops an org at once when a renewed token no longer grants it: no event of it after `authenticated`', async () => {
    server = await startTestServer();
    const client = track(await connectReady(server, { orgs: ['a', 'b'] }));
    client.send({ type: 'subscribe', org: 'b', services: ['*'] });
    await client.waitFor('live', (m) => m.org === 'b');
    await server.publish({ org: 'b', service: 's', type: 't', data: 'before' });
    await client.waitForEvents('b', 1);
    client.send({ type: 'auth', token: await server.token({ orgs: ['a'] }) });
    const authenticated = await client.waitFor('authenticated');
    expect(authenticated.orgs).toEqual(['a']);
    expect(client.messages.find((m) => m.type === 'error')).toMatchObject({ code: ErrorCode.FORBIDDEN_ORG, org: 'b' });
    expect(server.hubStats().totalSubscriptions).toBe(0);
    await server.publish({ org: 'b', service: 's', type: 't', data: 'after' });
    client.send({ type: 'subscribe', org: 'b', services: ['*'], cursor: `${server.log.epoch}:0` });
    expect(await client.next('error')).toMatchObject({ code: ErrorCode.FORBIDDEN_ORG, org: 'b' });
    client.send({ type: 'ping', t: 1 });
    await client.waitFor('pong');
    expect(client.events('b').map((event) => event.data)).toEqual(['before']);
  });
});

describe('tokens never reach the log', () => {
  it('writes no JWT in any line while tokens travel in query strings, subprotocols, headers and frames, accepted or refused', async () => {
    server = await startTestServer({ allowedOrigins: ['http://app.example'] });
    const tokens: string[] = [];
    const token = async (params: Parameters<TestServer['token']>[0] = {}) => {
      const issued = await server.token(params);
      tokens.push(issued);
      return issued;
    };
    const reader = await token({ orgs: ['a'] });
    // Upgrades: accepted via query and subprotocol, refused for Origin, scope and a foreign signature.
    const viaQuery = track(await connect(server, { token: reader }));
    await viaQuery.waitFor('welcome');
    track(await connect(server, { token: await token(), via: 'protocol' }));
    await connectRefused(server, { token: reader, origin: 'http://evil.example' });
    await connectRefused(server, { token: await token({ scopes: ['publish'] }) });
    const foreign = await createTokenAuthority(randomSecret()).issueToken({ sub: 'user-1', orgs: ['a'], scopes: ['read'], ttlSeconds: 60 });
    tokens.push(foreign);
    await connectRefused(server, { token: foreign });
    // Frames carrying tokens: a renewal, then one the parser refuses.
    viaQuery.send({ type: 'auth', token: await token({ orgs: ['a'] }) });
    await viaQuery.waitFor('authenticated');
    viaQuery.sendRaw(`{"type":"auth","token":123,"stray":"${reader}"}`);
    expect((await viaQuery.closed).code).toBe(CloseCode.BAD_MESSAGE);
    // Polls with ?access_token=: answered, refused for org, cursor and Origin, percent-encoded name.
    expect((await poll(`org=a&access_token=${reader}`)).status).toBe(200);
    expect((await poll(`org=b&access_token=${reader}`)).status).toBe(403);
    expect((await poll(`org=a&cursor=bad&access_token=${reader}`)).status).toBe(400);
    expect((await poll(`org=a&access_token=${reader}`, { origin: 'http://evil.example' })).status).toBe(403);
    expect((await poll(`org=a&access%5Ftoken=${reader}`)).status).toBe(200);
    // Other paths with a token in the query, including targets that once failed on the server.
    await requestJson(`${server.url}/v1/nothing?access_token=${reader}`);
    await requestJson(`${server.url}/admin/streaming-v2?access_token=${reader}`, { method: 'POST', body: '{}' });
    await publish(await token({ scopes: ['publish'] }), { org: 'a', service: 's', type: 't', data: { note: 'not a token' } });

    await eventually(() => server.logLines.some((line) => line.includes('stream opened')), 2000, 'the stream log lines');
    expect(server.logLines.length).toBeGreaterThan(5);
    for (const line of server.logLines) {
      expect(line).not.toMatch(JWT_PATTERN);
      for (const issued of tokens) expect(line).not.toContain(issued.split('.')[2]);
    }
  });
});

describe('log redaction (the second line of defence)', () => {
  it('redacts the access_token parameter also when its name is percent-encoded, as URLSearchParams still reads it', () => {
    const token = 'abc123.def456.ghi789';
    for (const query of [`access_token=${token}`, `access%5Ftoken=${token}`, `ACCESS%5ftoken=${token}`, `access_token%3D${token}`]) {
      const line = redact(`GET /v1/realtime/poll?org=a&${query}&x=1`);
      expect(line).not.toContain('def456');
      expect(line).toContain('&x=1');
    }
    expect(new URLSearchParams(`access%5Ftoken=${token}`).get('access_token')).toBe(token);
  });
});

describe('cross-site WebSocket hijacking: the Origin allow-list', () => {
  it('takes ALLOWED_ORIGINS from the environment: listed origins stream and poll, every other one gets 403 ORIGIN_NOT_ALLOWED', async () => {
    const saved = process.env.ALLOWED_ORIGINS;
    process.env.ALLOWED_ORIGINS = 'http://app.example, https://admin.example';
    try {
      server = await startTestServer();
    } finally {
      if (saved === undefined) delete process.env.ALLOWED_ORIGINS;
      else process.env.ALLOWED_ORIGINS = saved;
    }
    const reader = await server.token({ orgs: ['a'] });
    const publisher = await server.token({ orgs: ['a'], scopes: ['publish'] });
    for (const origin of ['http://app.example', 'https://admin.example', server.url]) {
      const client = track(await connect(server, { token: reader, origin }));
      expect((await client.waitFor('welcome')).orgs).toEqual(['a']);
      expect((await poll('org=a', { ...bearer(reader), origin })).status).toBe(200);
      expect((await publish(publisher, { org: 'a', service: 's', type: 't', data: origin }, { origin })).status).toBe(201);
    }
    const hostile = [
      'http://evil.example',
      'null', // sandboxed iframes, file: pages
      'http://app.example.evil.example',
      'http://evil.example/http://app.example',
      'https://app.example', // same host, other scheme
      'http://app.example:8080',
      `http://127.0.0.1:${server.port + 1}`,
      `http://localhost:${server.port}`, // the Host header says 127.0.0.1
    ];
    for (const origin of hostile) {
      const refused = await connectRefused(server, { token: reader, origin });
      expect({ origin, status: refused.status, code: (refused.body as { error: { code: string } }).error.code }).toEqual({ origin, status: 403, code: ErrorCode.ORIGIN_NOT_ALLOWED });
      expect({ origin, ...errorOf(await poll('org=a', { ...bearer(reader), origin })) }).toEqual({ origin, status: 403, code: ErrorCode.ORIGIN_NOT_ALLOWED });
      expect({ origin, ...errorOf(await publish(publisher, { org: 'a', service: 's', type: 't', data: 1 }, { origin })) }).toEqual({ origin, status: 403, code: ErrorCode.ORIGIN_NOT_ALLOWED });
    }
    // Refused before the token is even looked at: a hijacking page learns nothing about it.
    const noToken = await connectRefused(server, { origin: 'http://evil.example' });
    expect((noToken.body as { error: { code: string } }).error.code).toBe(ErrorCode.ORIGIN_NOT_ALLOWED);
    expect(server.metrics().activeConnections).toBe(3);
    expect(await server.log.head('a')).toBe(`${server.log.epoch}:3`);
  });
});

describe('floods and per-user caps', () => {
  it('closes a client sending 10,000 messages with 4008 at once; other clients get every event published meanwhile', async () => {
    server = await startTestServer({ messageRate: { perSecond: 20, burst: 50 } });
    const others = await Promise.all(range(1, 3).map(async (n) => track(await connectReady(server, { sub: `other-${n}`, orgs: ['a'] }))));
    for (const other of others) other.send({ type: 'subscribe', org: 'a', services: ['*'] });
    await Promise.all(others.map((other) => other.waitFor('live')));
    const flooder = track(await connectReady(server, { sub: 'flooder', orgs: ['a'] }));
    const started = Date.now();
    const publishing = (async () => {
      for (let i = 1; i <= 100; i++) await server.publish({ org: 'a', service: 's', type: 'during.flood', data: i });
    })();
    for (let i = 0; i < 10_000; i++) {
      if (flooder.ws.readyState !== flooder.ws.OPEN) break;
      flooder.send(i % 2 === 0 ? { type: 'ping', t: i } : { type: 'subscribe', org: 'a', services: [`s${i % 60}`] });
    }
    expect(await flooder.waitFor('error')).toMatchObject({ code: ErrorCode.RATE_LIMITED });
    // Bounds are loose because this process also runs the flooding client (10,000 sends, ~0.3 s).
    expect(Date.now() - started).toBeLessThan(2000);
    const closed = await flooder.closed;
    expect(closed.code).toBe(CloseCode.RATE_LIMITED);
    expect(Date.now() - started).toBeLessThan(3000);
    // The burst (50) was served, nothing after it.
    expect(flooder.messages.filter((m) => m.type === 'pong' || m.type === 'subscribed').length).toBeLessThanOrEqual(50);
    await publishing;
    for (const other of others) {
      const events = await other.waitForEvents('a', 100);
      expect(events.map((event) => event.data)).toEqual(range(1, 100));
      other.send({ type: 'ping', t: 1 });
      await other.waitFor('pong');
    }
    await eventually(() => server.hubStats().consumers === 3, 2000, 'the flooder released from the hub');
    expect(server.metrics().closeCodes[String(CloseCode.RATE_LIMITED)]).toBe(1);
  });

  it('holds the socket cap per user under 10 simultaneous upgrades, frees a slot on close, and leaves other users alone', async () => {
    server = await startTestServer({ maxSocketsPerUser: 3 });
    // Different tokens, same user: the cap is per `sub`, not per token.
    const tokens = await Promise.all(range(1, 10).map((n) => server.token({ sub: 'greedy', orgs: n % 2 ? ['a'] : ['a', 'b'] })));
    const opened = await Promise.all(tokens.map(async (token) => track(await connect(server, { token }))));
    await Promise.all(opened.map((client) => Promise.race([client.waitFor('welcome').catch(() => null), client.closed])));
    const welcomed = opened.filter((client) => client.messages.some((m) => m.type === 'welcome'));
    const turnedAway = opened.filter((client) => !client.messages.some((m) => m.type === 'welcome'));
    expect(welcomed).toHaveLength(3);
    expect(turnedAway).toHaveLength(7);
    for (const client of turnedAway) {
      expect((await client.closed).code).toBe(CloseCode.TOO_MANY_CONNECTIONS);
      expect(client.messages.find((m) => m.type === 'error')).toMatchObject({ code: ErrorCode.TOO_MANY_CONNECTIONS });
    }
    expect(server.metrics().activeConnections).toBe(3);
    track(await connectReady(server, { sub: 'someone-else' }));
    await welcomed[0]!.close();
    await eventually(() => server.metrics().activeConnections === 3, 2000, 'the slot freed');
    const again = track(await connectReady(server, { sub: 'greedy' }));
    expect(again.ws.readyState).toBe(again.ws.OPEN);
    const over = track(await connect(server, { token: await server.token({ sub: 'greedy' }) }));
    expect((await over.closed).code).toBe(CloseCode.TOO_MANY_CONNECTIONS);
  });

  it('holds the open-poll cap per user under 10 simultaneous polls (429), and frees it when they are answered', async () => {
    server = await startTestServer({ maxPollsPerUser: 3, pollTimeoutMs: 10_000 });
    const reader = await server.token({ sub: 'poller', orgs: ['a'] });
    const at = `${server.log.epoch}:0`;
    const polls = range(1, 10).map(() => poll(`org=a&cursor=${at}`, bearer(reader)));
    await eventually(() => server.metrics().longPoll.open === 3, 2000, 'three open polls');
    const other = poll(`org=a&cursor=${at}`, bearer(await server.token({ sub: 'other-poller', orgs: ['a'] })));
    await eventually(() => server.metrics().longPoll.open === 4, 2000, 'the other user polling');
    await server.publish({ org: 'a', service: 's', type: 't', data: 'wake' });
    const answers = await Promise.all(polls);
    const waited = answers.filter((res) => res.status === 200);
    const refused = answers.filter((res) => res.status === 429);
    expect(waited).toHaveLength(3);
    expect(refused).toHaveLength(7);
    for (const res of refused) expect(res.body.error.code).toBe(ErrorCode.TOO_MANY_CONNECTIONS);
    for (const res of waited) expect(res.body.events.map((event: StreamEvent) => event.data)).toEqual(['wake']);
    expect((await other).status).toBe(200);
    await eventually(() => server.metrics().longPoll.open === 0, 2000, 'polls released');
    // The cap is free again.
    const next = await poll(`org=a&cursor=${at}&timeout=0`, bearer(reader));
    expect(next.status).toBe(200);
  });
});

describe('org isolation under attack', () => {
  it('never puts an event of org b into any frame or poll answer for an org-a token while a tokens flood, misbehave and probe b', async () => {
    server = await startTestServer({ maxSocketsPerUser: 3, pollTimeoutMs: 300, messageRate: { perSecond: 20, burst: 50 } });
    const COUNT = 60;
    /** Every raw frame and poll body an org-a token received. */
    const seenByA: string[] = [];
    const listenRaw = (client: TestClient) => {
      client.ws.on('message', (data: Buffer) => seenByA.push(data.toString('utf8')));
      return client;
    };

    const aSockets = await Promise.all(range(1, 3).map(async () => listenRaw(track(await connectReady(server, { sub: 'alice', orgs: ['a'] })))));
    const bSockets = await Promise.all(range(1, 2).map(async () => track(await connectReady(server, { sub: 'bob', orgs: ['b'] }))));
    for (const client of aSockets) client.send({ type: 'subscribe', org: 'a', services: ['*'], cursor: `${server.log.epoch}:0` });
    for (const client of bSockets) client.send({ type: 'subscribe', org: 'b', services: ['*'], cursor: `${server.log.epoch}:0` });
    await Promise.all([...aSockets, ...bSockets].map((client) => client.waitFor('live')));

    const aReader = await server.token({ sub: 'alice', orgs: ['a'] });
    const bReader = await server.token({ sub: 'bob', orgs: ['b'] });
    const aPublisher = await server.token({ sub: 'alice', orgs: ['a'], scopes: ['publish'] });
    const bothPublisher = await server.token({ sub: 'publisher', orgs: ['a', 'b'], scopes: ['publish'] });

    /** A v1 client of one org polling from the start until it has `COUNT` events. */
    async function pollAll(org: string, token: string, record: boolean): Promise<StreamEvent[]> {
      const got: StreamEvent[] = [];
      let cursor = `${server.log.epoch}:0`;
      const deadline = Date.now() + 8000;
      while (got.length < COUNT && Date.now() < deadline) {
        const res = await requestJson(`${server.url}/v1/realtime/poll?org=${org}&cursor=${cursor}&access_token=${token}`);
        if (record) seenByA.push(JSON.stringify(res.body));
        expect(res.status).toBe(200);
        got.push(...res.body.events);
        cursor = res.body.cursor;
      }
      return got;
    }
    const aPoll = pollAll('a', aReader, true);
    const bPoll = pollAll('b', bReader, false);

    // The publisher writes to both orgs; b's events carry a marker that must never reach alice.
    const publishing = (async () => {
      for (let n = 1; n <= COUNT; n++) {
        for (const org of ['a', 'b']) {
          const res = await publish(bothPublisher, { org, service: 'feed', type: 'numbered', data: { n, marker: `${org}-only-${n}` } });
          expect(res.status).toBe(201);
        }
      }
    })();

    // Meanwhile alice's tokens attack b every way they can.
    const attacks = (async () => {
      const prober = listenRaw(track(await connectReady(server, { sub: 'alice-probe', orgs: ['a'] })));
      prober.send({ type: 'subscribe', org: 'b', services: ['*'], cursor: `${server.log.epoch}:0` });
      expect(await prober.waitFor('error')).toMatchObject({ code: ErrorCode.FORBIDDEN_ORG, org: 'b' });
      // Renewing into another user's token that grants b.
      prober.send({ type: 'auth', token: await server.token({ sub: 'mallory', orgs: ['b'] }) });
      expect((await prober.closed).code).toBe(CloseCode.UNAUTHORIZED);

      expect(errorOf(await poll(`org=b&cursor=${server.log.epoch}:0`, bearer(aReader)))).toEqual({ status: 403, code: ErrorCode.FORBIDDEN_ORG });
      expect(errorOf(await publish(aPublisher, { org: 'b', service: 'feed', type: 'numbered', data: { n: -1, marker: 'forged-into-b' } }))).toEqual({
        status: 403,
        code: ErrorCode.FORBIDDEN_ORG,
      });

      const flooder = listenRaw(track(await connectReady(server, { sub: 'alice-flood', orgs: ['a'] })));
      for (let i = 0; i < 2000 && flooder.ws.readyState === flooder.ws.OPEN; i++) flooder.send({ type: 'subscribe', org: i % 2 ? 'b' : 'a', services: ['*'] });
      expect((await flooder.closed).code).toBe(CloseCode.RATE_LIMITED);

      const garbage = listenRaw(track(await connectReady(server, { sub: 'alice-garbage', orgs: ['a'] })));
      garbage.sendRaw('{"type":"subscribe","org":"b","services":["*"],"cursor":"x"}');
      expect((await garbage.closed).code).toBe(CloseCode.BAD_MESSAGE);

      const raw = await openRawWebSocket(`${server.wsUrl}?access_token=${await server.token({ sub: 'alice-raw', orgs: ['a'] })}`);
      raw.send({ opcode: Opcode.TEXT, payload: '{"type":"subscribe","org":"b","services":["*"]}', mask: false });
      expect((await raw.closed).code).toBe(CloseCode.PROTOCOL_ERROR);
      seenByA.push(...raw.texts);

      const overCap = track(await connect(server, { token: await server.token({ sub: 'alice', orgs: ['a'] }) }));
      listenRaw(overCap);
      expect((await overCap.closed).code).toBe(CloseCode.TOO_MANY_CONNECTIONS);
    })();

    await Promise.all([publishing, attacks]);
    const [aPolled, bPolled] = await Promise.all([aPoll, bPoll]);

    const numbers = (events: readonly StreamEvent[]) => events.map((event) => (event.data as { n: number }).n);
    for (const client of aSockets) expect(numbers(await client.waitForEvents('a', COUNT))).toEqual(range(1, COUNT));
    for (const client of bSockets) expect(numbers(await client.waitForEvents('b', COUNT))).toEqual(range(1, COUNT));
    expect(numbers(aPolled)).toEqual(range(1, COUNT));
    expect(numbers(bPolled)).toEqual(range(1, COUNT));

    // Every frame and poll body alice's tokens received: not one event of b, not one b marker.
    expect(seenByA.length).toBeGreaterThan(COUNT);
    for (const text of seenByA) {
      expect(text).not.toMatch(/b-only-|forged-into-b/);
      const message = JSON.parse(text) as { events?: StreamEvent[]; org?: string; type?: string };
      for (const event of message.events ?? []) expect(event.org).toBe('a');
      if (message.type === 'events') expect(message.org).toBe('a');
    }
    for (const client of clients) {
      if (!client.messages.some((m) => m.type === 'welcome' && !m.orgs.includes('b'))) continue;
      expect(client.events('b')).toEqual([]);
    }
    expect(await server.log.head('b')).toBe(`${server.log.epoch}:${COUNT}`);
  });
});

import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { createTokenAuthority } from './auth.ts';
import { randomSecret } from './config.ts';
import {
  connect,
  connectReady,
  connectRefused,
  eventually,
  range,
  requestJson,
  seqs,
  startTestServer,
  type TestServer,
  closeAfterEach,
} from './test-support.ts';

let server: TestServer;
const { track } = closeAfterEach(() => server);

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('v2 stream: refused upgrades', () => {
  it('refuses missing, forged, expired, alg-none and other-alg tokens with 401 and the code', async () => {
    server = await startTestServer();
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: 'u', orgs: ['a'], scope: ['read'], exp: now + 3600, nbf: now };
    const forged = await createTokenAuthority(randomSecret()).issueToken({ sub: 'u', orgs: ['a'], scopes: ['read'], ttlSeconds: 3600 });
    const expired = await server.auth.issueToken({ sub: 'u', orgs: ['a'], scopes: ['read'], ttlSeconds: -10 });
    const notYet = await server.auth.issueToken({ sub: 'u', orgs: ['a'], scopes: ['read'], ttlSeconds: 3600, notBeforeSeconds: 600 });
    const algNone = `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(claims)}.`;
    const hs512 = await new SignJWT(claims).setProtectedHeader({ alg: 'HS512' }).sign(new TextEncoder().encode('x'.repeat(64)));
    const cases: Array<[string | undefined, string]> = [
      [undefined, 'STREAM_ERR_TOKEN_MISSING'],
      [forged, 'STREAM_ERR_TOKEN_INVALID'],
      [expired, 'STREAM_ERR_TOKEN_EXPIRED'],
      [notYet, 'STREAM_ERR_TOKEN_EXPIRED'],
      [algNone, 'STREAM_ERR_TOKEN_INVALID'],
      [hs512, 'STREAM_ERR_TOKEN_INVALID'],
      ['not.a.jwt', 'STREAM_ERR_TOKEN_INVALID'],
    ];
    for (const [token, code] of cases) {
      const refused = await connectRefused(server, token ? { token } : {});
      expect({ status: refused.status, code: (refused.body as any).error.code }).toEqual({ status: 401, code });
    }
    const metrics = server.metrics();
    expect(metrics.rejected['STREAM_ERR_TOKEN_INVALID']).toBe(4);
    expect(metrics.activeConnections).toBe(0);
    expect(server.logLines.join('\n')).not.toContain(forged);
  });

  it('refuses a token without the read scope with 403 MISSING_SCOPE', async () => {
    server = await startTestServer();
    const token = await server.token({ scopes: ['publish'] });
    const refused = await connectRefused(server, { token, via: 'header' });
    expect(refused.status).toBe(403);
    expect((refused.body as any).error.code).toBe('STREAM_ERR_MISSING_SCOPE');
  });

  it('refuses a disallowed Origin with 403, allows its own origin and the allow-list', async () => {
    server = await startTestServer({ allowedOrigins: ['http://app.example'] });
    const token = await server.token();
    const refused = await connectRefused(server, { token, origin: 'http://evil.example' });
    expect(refused.status).toBe(403);
    expect((refused.body as any).error.code).toBe('STREAM_ERR_ORIGIN_NOT_ALLOWED');
    track(await connect(server, { token, origin: server.url }));
    track(await connect(server, { token, origin: 'http://app.example' }));
  });

  it('answers 404 on other upgrade paths', async () => {
    server = await startTestServer();
    const token = await server.token();
    const ws = new (await import('ws')).WebSocket(`${server.url.replace('http', 'ws')}/v2/other?access_token=${token}`);
    const status = await new Promise<number>((resolve) => ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    expect(status).toBe(404);
  });

  it('accepts then closes with 4012 past the per-user socket cap', async () => {
    server = await startTestServer({ maxSocketsPerUser: 2 });
    track(await connectReady(server));
    track(await connectReady(server));
    const third = track(await connect(server, { token: await server.token() }));
    expect((await third.closed).code).toBe(4012);
    expect(third.messages.find((m) => m.type === 'error')).toMatchObject({ code: 'STREAM_ERR_TOO_MANY_CONNECTIONS' });
    expect(third.messages.some((m) => m.type === 'welcome')).toBe(false);
    // Another user is not affected.
    track(await connectReady(server, { sub: 'user-2' }));
  });
});

describe('v2 stream: bad client frames', () => {
  const bad: Array<[string, string]> = [
    ['{not json', 'STREAM_ERR_BAD_JSON'],
    ['{"type":"nope"}', 'STREAM_ERR_BAD_MESSAGE'],
    ['[1,2]', 'STREAM_ERR_BAD_MESSAGE'],
    ['{"type":"subscribe","org":5,"services":["*"]}', 'STREAM_ERR_BAD_NAME'],
    ['{"type":"subscribe","org":"a","services":"finance"}', 'STREAM_ERR_BAD_MESSAGE'],
    ['{"type":"subscribe","org":"a","services":["*"],"cursor":"not-a-cursor"}', 'STREAM_ERR_BAD_CURSOR'],
    ['{"type":"ping","t":"soon"}', 'STREAM_ERR_BAD_MESSAGE'],
  ];
  it.each(bad)('reports %s once as an error, then closes 4000', async (frame, code) => {
    server = await startTestServer();
    const client = track(await connectReady(server));
    client.sendRaw(frame);
    const closed = await client.closed;
    expect(closed.code).toBe(4000);
    const errors = client.messages.filter((m) => m.type === 'error');
    expect(errors.map((e) => e.type === 'error' && e.code)).toEqual([code]);
    expect(server.metrics().rejected[code]).toBe(1);
    expect(server.metrics().closeCodes['4000']).toBe(1);
  });

  it('closes with 1009 on a frame over 64 KiB, and other sockets are unaffected', async () => {
    server = await startTestServer();
    const other = track(await connectReady(server));
    const client = track(await connectReady(server));
    client.sendRaw(JSON.stringify({ type: 'ping', t: 1, pad: 'x'.repeat(70 * 1024) }));
    expect((await client.closed).code).toBe(1009);
    other.send({ type: 'ping', t: 42 });
    expect((await other.waitFor('pong')).t).toBe(42);
  });

  it('closes a flooding socket with 4008 and keeps serving the others', async () => {
    server = await startTestServer({ messageRate: { perSecond: 20, burst: 50 } });
    const other = track(await connectReady(server));
    other.send({ type: 'subscribe', org: 'a', services: ['*'] });
    await other.waitFor('live');
    const flooder = track(await connectReady(server));
    for (let i = 0; i < 200; i++) flooder.send({ type: 'ping', t: i });
    expect((await flooder.closed).code).toBe(4008);
    expect(flooder.messages.filter((m) => m.type === 'pong')).toHaveLength(50);
    expect(flooder.messages.find((m) => m.type === 'error')).toMatchObject({ code: 'STREAM_ERR_RATE_LIMITED' });
    await server.log.append({ org: 'a', service: 's', type: 't', data: 1 });
    await other.waitForEvents('a', 1);
    other.send({ type: 'ping', t: 7 });
    expect((await other.waitFor('pong')).t).toBe(7);
  });
});

describe('v2 stream: liveness, tokens, backpressure, kill switch', () => {
  it('answers a client ping with a pong of the same t', async () => {
    server = await startTestServer();
    const client = track(await connectReady(server));
    client.send({ type: 'ping', t: 123.5 });
    expect(await client.waitFor('pong')).toEqual({ type: 'pong', t: 123.5 });
  });

  it('closes a silent client with 4011 after two heartbeats, and keeps one that answers', async () => {
    server = await startTestServer({ heartbeatMs: 100 });
    const answering = track(await connectReady(server));
    answering.ws.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as { type: string; t?: number };
      if (message.type === 'ping') answering.send({ type: 'pong', t: message.t });
    });
    const silent = track(await connectReady(server));
    const started = Date.now();
    const closed = await silent.closed;
    expect(closed.code).toBe(4011);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(silent.messages.filter((m) => m.type === 'ping').length).toBeGreaterThanOrEqual(1);
    expect(answering.ws.readyState).toBe(answering.ws.OPEN);
    expect(server.metrics().closeCodes['4011']).toBe(1);
  });

  it('closes with 4002 when the token expires on an open socket', async () => {
    server = await startTestServer();
    const client = track(await connectReady(server, { ttlSeconds: 2 }));
    const closed = await client.closed;
    expect(closed.code).toBe(4002);
    expect(client.messages.find((m) => m.type === 'error')).toMatchObject({ code: 'STREAM_ERR_TOKEN_EXPIRED' });
  });

  it('renews the token with auth: the socket outlives the first token', async () => {
    server = await startTestServer();
    const client = track(await connectReady(server, { ttlSeconds: 2, orgs: ['a'] }));
    const welcome = await client.waitFor('welcome');
    client.send({ type: 'auth', token: await server.token({ ttlSeconds: 3600, orgs: ['a', 'b'] }) });
    const authenticated = await client.waitFor('authenticated');
    expect(authenticated.tokenExpiresAt).toBeGreaterThan(Date.now() + 3000_000);
    expect(authenticated.orgs).toEqual(['a', 'b']);
    // The new org applies at once.
    client.send({ type: 'subscribe', org: 'b', services: ['*'] });
    await client.waitFor('live');
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, welcome.tokenExpiresAt - Date.now() + 300)));
    client.send({ type: 'ping', t: 1 });
    expect(await client.waitFor('pong')).toEqual({ type: 'pong', t: 1 });
    expect(client.ws.readyState).toBe(client.ws.OPEN);
  });

  it('closes 4001 on auth with a forged token or another user\'s token', async () => {
    server = await startTestServer();
    const forged = track(await connectReady(server));
    forged.send({ type: 'auth', token: await createTokenAuthority(randomSecret()).issueToken({ sub: 'user-1', orgs: ['a'], scopes: ['read'], ttlSeconds: 60 }) });
    expect((await forged.closed).code).toBe(4001);
    expect(forged.messages.find((m) => m.type === 'error')).toMatchObject({ code: 'STREAM_ERR_TOKEN_INVALID' });
    const other = track(await connectReady(server));
    other.send({ type: 'auth', token: await server.token({ sub: 'someone-else' }) });
    expect((await other.closed).code).toBe(4001);
  });

  it('closes a slow consumer with 4009, and it resumes from its cursor with nothing lost', async () => {
    server = await startTestServer({ maxBufferedBytes: 256 * 1024, closeGraceMs: 5000 });
    const client = track(await connectReady(server));
    client.send({ type: 'subscribe', org: 'a', services: ['*'] });
    await client.waitFor('live');
    const tcp = (client.ws as unknown as { _socket: import('node:net').Socket })._socket;
    tcp.pause();
    let published = 0;
    while (!server.metrics().closeCodes['4009'] && published < 4000) {
      await server.log.append({ org: 'a', service: 'bulk', type: 'blob', data: randomBytes(12_000).toString('base64') });
      published += 1;
      // Let each frame's deflate finish, so only the paused reader can fill the buffer.
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    expect(server.metrics().closeCodes['4009']).toBe(1);
    // More than the bound's worth went out first: the kernel buffers filled because the reader stopped.
    expect(published).toBeGreaterThan(16);
    // The server stopped writing to it: these go to the log only.
    for (let i = 0; i < 5; i++) await server.log.append({ org: 'a', service: 'bulk', type: 'after', data: i });
    published += 5;
    tcp.resume();
    expect((await client.closed).code).toBe(4009);
    expect(client.messages.find((m) => m.type === 'error')).toMatchObject({ code: 'STREAM_ERR_SLOW_CONSUMER' });
    const got = client.events('a');
    expect(got.length).toBeGreaterThan(0);
    expect(got.length).toBeLessThan(published);
    expect(seqs(got)).toEqual(range(1, got.length));

    const resumed = track(await connectReady(server));
    resumed.send({ type: 'subscribe', org: 'a', services: ['*'], cursor: got.at(-1)!.id });
    await resumed.waitFor('live', undefined, 10_000);
    expect(seqs([...got, ...resumed.events('a')])).toEqual(range(1, published));
  });

  it('kill switch: closes open sockets with 4010, refuses new ones with 4010, v1 says v2:false, then lets clients back', async () => {
    server = await startTestServer();
    const admin = await server.token({ scopes: ['admin'] });
    const client = track(await connectReady(server));
    const flip = (enabled: boolean) =>
      requestJson(`${server.url}/admin/streaming-v2`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({ enabled }),
      });

    expect((await flip(false)).body).toEqual({ enabled: false });
    expect((await client.closed).code).toBe(4010);
    expect(client.messages.find((m) => m.type === 'error')).toMatchObject({ code: 'STREAM_ERR_V2_DISABLED' });

    const refused = track(await connect(server, { token: await server.token() }));
    expect((await refused.closed).code).toBe(4010);
    expect(refused.messages.some((m) => m.type === 'welcome')).toBe(false);
    const readToken = await server.token();
    const poll = await requestJson(`${server.url}/v1/realtime/poll?org=a`, { headers: { authorization: `Bearer ${readToken}` } });
    expect(poll.body.v2).toBe(false);
    expect((await requestJson(`${server.url}/admin/streaming-v2`)).body).toEqual({ enabled: false });

    expect((await flip(true)).body).toEqual({ enabled: true });
    track(await connectReady(server));
    const pollAgain = await requestJson(`${server.url}/v1/realtime/poll?org=a`, { headers: { authorization: `Bearer ${readToken}` } });
    expect(pollAgain.body.v2).toBe(true);
  });

  it('kill switch from the start (REALTIME_STREAMING_V2=false) and admin scope required to flip it', async () => {
    server = await startTestServer({ streamingV2: false });
    const refused = track(await connect(server, { token: await server.token() }));
    expect((await refused.closed).code).toBe(4010);
    const reader = await server.token();
    const denied = await requestJson(`${server.url}/admin/streaming-v2`, {
      method: 'POST',
      headers: { authorization: `Bearer ${reader}` },
      body: JSON.stringify({ enabled: true }),
    });
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('STREAM_ERR_MISSING_SCOPE');
    const anonymous = await requestJson(`${server.url}/admin/streaming-v2`, { method: 'POST', body: '{"enabled":true}' });
    expect(anonymous.status).toBe(401);
    expect(server.streamingV2()).toBe(false);
  });

  it('closes every socket with 1001 on shutdown', async () => {
    server = await startTestServer();
    const client = track(await connectReady(server));
    await server.close();
    expect((await client.closed).code).toBe(1001);
  });

  it('counts wire and raw bytes, and compresses large frames', async () => {
    server = await startTestServer();
    const client = track(await connectReady(server));
    client.send({ type: 'subscribe', org: 'a', services: ['*'] });
    await client.waitFor('live');
    for (let i = 0; i < 20; i++) await server.log.append({ org: 'a', service: 's', type: 't', data: { text: 'the same words again '.repeat(100) } });
    await client.waitForEvents('a', 20);
    await eventually(() => server.metrics().bytes.wire > 0);
    const { bytes } = server.metrics();
    expect(bytes.raw).toBeGreaterThan(20 * 2000);
    // permessage-deflate on frames above the 1 KiB threshold: far fewer bytes on the wire.
    expect(bytes.wire).toBeLessThan(bytes.raw / 2);
    expect(client.ws.extensions).toContain('permessage-deflate');
  });
});

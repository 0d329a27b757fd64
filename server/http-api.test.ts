import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryEventLog } from './memory-event-log.ts';
import { appendEvents, connectReady, eventually, range, requestJson, seqs, startTestServer, type TestClient, type TestServer } from './test-support.ts';

let server: TestServer;
const clients: TestClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await server?.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('v1 long-poll', () => {
  it('without a cursor answers at once with the head and v2 status', async () => {
    server = await startTestServer();
    await appendEvents(server, 'a', 3);
    const token = await server.token();
    const res = await requestJson(`${server.url}/v1/realtime/poll?org=a&access_token=${token}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ events: [], cursor: `${server.log.epoch}:3`, v2: true });
  });

  it('answers at once with the events after a cursor (at most one page), cursor = last id', async () => {
    server = await startTestServer({ replayPageSize: 4 });
    const appended = await appendEvents(server, 'a', 10);
    const token = await server.token();
    const res = await requestJson(`${server.url}/v1/realtime/poll?org=a&cursor=${appended[1]!.id}`, { headers: bearer(token) });
    expect(seqs(res.body.events)).toEqual([3, 4, 5, 6]);
    expect(res.body.cursor).toBe(appended[5]!.id);
    expect(res.body.events[0]).toEqual(appended[2]);
  });

  it('waits for the next event through the hub (one upstream subscription for many polls)', async () => {
    server = await startTestServer();
    const token = await server.token();
    const head = `${server.log.epoch}:0`;
    const polls = range(1, 5).map(() => requestJson(`${server.url}/v1/realtime/poll?org=a&cursor=${head}`, { headers: bearer(token) }));
    await eventually(() => server.metrics().longPoll.open === 5, 3000, 'five open polls');
    expect(server.hubStats().totalSubscriptions).toBe(1);
    await server.log.append({ org: 'a', service: 's', type: 't', data: 'x' });
    const answers = await Promise.all(polls);
    for (const answer of answers) expect(answer.body.events.map((e: { data: unknown }) => e.data)).toEqual(['x']);
    await eventually(() => server.hubStats().totalSubscriptions === 0, 1000, 'release');
    expect(server.metrics().longPoll.requests).toBe(5);
  });

  it('answers with no events and the same cursor after the timeout (query timeout shortens it)', async () => {
    server = await startTestServer({ pollTimeoutMs: 60_000 });
    const token = await server.token();
    const cursor = `${server.log.epoch}:0`;
    const started = Date.now();
    const res = await requestJson(`${server.url}/v1/realtime/poll?org=a&cursor=${cursor}&timeout=0.2`, { headers: bearer(token) });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(res.body).toEqual({ events: [], cursor, v2: true });
  });

  it('releases the wait when the client disconnects', async () => {
    server = await startTestServer();
    const token = await server.token();
    const controller = new AbortController();
    const pending = fetch(`${server.url}/v1/realtime/poll?org=a&cursor=${server.log.epoch}:0`, { headers: bearer(token), signal: controller.signal }).catch(() => null);
    await eventually(() => server.metrics().longPoll.open === 1);
    controller.abort();
    await pending;
    await eventually(() => server.metrics().longPoll.open === 0 && server.hubStats().totalSubscriptions === 0, 2000, 'release');
  });

  it('resets foreign-epoch, past-retention and past-head cursors with the new position', async () => {
    server = await startTestServer({ log: createMemoryEventLog({ retention: { maxEventsPerOrg: 3 } }) });
    await appendEvents(server, 'a', 8);
    const token = await server.token();
    const head = `${server.log.epoch}:8`;
    const poll = (cursor: string) => requestJson(`${server.url}/v1/realtime/poll?org=a&cursor=${cursor}`, { headers: bearer(token) });
    expect((await poll('otherepoch:4')).body).toEqual({ events: [], cursor: head, reset: { reason: 'epoch', from: 'otherepoch:4', lost: null }, v2: true });
    expect((await poll(`${server.log.epoch}:1`)).body.reset).toEqual({ reason: 'retention', from: `${server.log.epoch}:1`, lost: 7 });
    expect((await poll(`${server.log.epoch}:99`)).body.reset.reason).toBe('unknown_position');
    expect(server.metrics().resets).toBe(3);
  });

  it('refuses bad input with the documented status and code', async () => {
    server = await startTestServer({ allowedOrigins: [], maxPollsPerUser: 1 });
    const token = await server.token({ orgs: ['a'] });
    const url = (query: string) => `${server.url}/v1/realtime/poll?${query}`;
    const cases: Array<[string, Record<string, string>, number, string]> = [
      ['org=a', {}, 401, 'STREAM_ERR_TOKEN_MISSING'],
      ['org=a&access_token=forged.token.x', {}, 401, 'STREAM_ERR_TOKEN_INVALID'],
      ['org=a&cursor=garbage', bearer(token), 400, 'STREAM_ERR_BAD_CURSOR'],
      ['org=bad%20name', bearer(token), 400, 'STREAM_ERR_BAD_NAME'],
      ['org=b', bearer(token), 403, 'STREAM_ERR_FORBIDDEN_ORG'],
      ['org=a', { ...bearer(token), origin: 'http://evil.example' }, 403, 'STREAM_ERR_ORIGIN_NOT_ALLOWED'],
      ['org=a', bearer(await server.token({ scopes: ['publish'] })), 403, 'STREAM_ERR_MISSING_SCOPE'],
    ];
    for (const [query, headers, status, code] of cases) {
      const res = await requestJson(url(query), { headers });
      expect({ query, status: res.status, code: res.body.error?.code }).toEqual({ query, status, code });
    }
    const waiting = fetch(url(`org=a&cursor=${server.log.epoch}:0`), { headers: bearer(token) });
    await eventually(() => server.metrics().longPoll.open === 1);
    const over = await requestJson(url(`org=a&cursor=${server.log.epoch}:0`), { headers: bearer(token) });
    expect(over.status).toBe(429);
    expect(over.body.error.code).toBe('STREAM_ERR_TOO_MANY_CONNECTIONS');
    await server.log.append({ org: 'a', service: 's', type: 't', data: 1 });
    expect((await waiting).status).toBe(200);
    expect(server.metrics().rejected['STREAM_ERR_FORBIDDEN_ORG']).toBe(1);
  });

  it('v1 and v2 interleaved on one cursor see every event exactly once', async () => {
    server = await startTestServer();
    const token = await server.token();
    await appendEvents(server, 'a', 5);
    // v2 from the start, takes 5, goes away.
    const first = await connectReady(server);
    first.send({ type: 'subscribe', org: 'a', services: ['*'], cursor: `${server.log.epoch}:0` });
    await first.waitFor('live');
    const seen = [...first.events('a')];
    await first.close();
    // Events appended while nobody is connected; v1 picks up from v2's cursor.
    await appendEvents(server, 'a', 4);
    const v1 = await requestJson(`${server.url}/v1/realtime/poll?org=a&cursor=${seen.at(-1)!.id}`, { headers: bearer(token) });
    seen.push(...v1.body.events);
    // More appended; v2 resumes from v1's cursor.
    await appendEvents(server, 'a', 3);
    const second = await connectReady(server);
    clients.push(second);
    second.send({ type: 'subscribe', org: 'a', services: ['*'], cursor: v1.body.cursor });
    await second.waitFor('live');
    seen.push(...second.events('a'));
    // And back to v1 from v2's last event after one more live one.
    await appendEvents(server, 'a', 1);
    await second.waitForEvents('a', 4);
    const lastV2 = second.events('a').at(-1)!;
    seen.push(lastV2);
    await appendEvents(server, 'a', 2);
    const v1Again = await requestJson(`${server.url}/v1/realtime/poll?org=a&cursor=${lastV2.id}`, { headers: bearer(token) });
    seen.push(...v1Again.body.events);
    expect(seqs(seen)).toEqual(range(1, 15));
  });
});

describe('publish API', () => {
  it('appends and answers 201 with the id once durable; v2 delivers it live', async () => {
    server = await startTestServer();
    const reader = await connectReady(server, { orgs: ['a'] });
    clients.push(reader);
    reader.send({ type: 'subscribe', org: 'a', services: ['finance'] });
    await reader.waitFor('live');
    const token = await server.token({ scopes: ['publish'] });
    const res = await requestJson(`${server.url}/v1/events`, {
      method: 'POST',
      headers: { ...bearer(token), 'content-type': 'application/json' },
      body: JSON.stringify({ org: 'a', service: 'finance', type: 'invoice.posted', data: { amount: 12 } }),
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ id: `${server.log.epoch}:1` });
    const [event] = await reader.waitForEvents('a', 1);
    expect(event).toMatchObject({ id: res.body.id, org: 'a', service: 'finance', type: 'invoice.posted', data: { amount: 12 } });
    const metrics = server.metrics();
    expect(metrics.events.published).toBe(1);
    expect(metrics.events.delivered).toBe(1);
    expect(metrics.deliveryLatencyMs.count).toBe(1);
  });

  it('answers 400 / 401 / 403 / 413 with codes and appends nothing', async () => {
    server = await startTestServer();
    const publisher = await server.token({ scopes: ['publish'], orgs: ['a'] });
    const reader = await server.token({ scopes: ['read'], orgs: ['a'] });
    const post = (headers: Record<string, string>, body: string) => requestJson(`${server.url}/v1/events`, { method: 'POST', headers, body });
    const good = JSON.stringify({ org: 'a', service: 's', type: 't', data: null });
    const cases: Array<[Record<string, string>, string, number, string]> = [
      [{}, good, 401, 'STREAM_ERR_TOKEN_MISSING'],
      [bearer('x.y.z'), good, 401, 'STREAM_ERR_TOKEN_INVALID'],
      [bearer(reader), good, 403, 'STREAM_ERR_MISSING_SCOPE'],
      [bearer(publisher), JSON.stringify({ org: 'b', service: 's', type: 't', data: 1 }), 403, 'STREAM_ERR_FORBIDDEN_ORG'],
      [bearer(publisher), '{oops', 400, 'STREAM_ERR_BAD_JSON'],
      [bearer(publisher), JSON.stringify({ org: 'a', service: 's', type: 't' }), 400, 'STREAM_ERR_BAD_MESSAGE'],
      [bearer(publisher), JSON.stringify({ org: 'a', service: 'bad service', type: 't', data: 1 }), 400, 'STREAM_ERR_BAD_NAME'],
      [bearer(publisher), JSON.stringify({ org: 'a', service: 's', type: 't', data: 'x'.repeat(70_000) }), 413, 'STREAM_ERR_PAYLOAD_TOO_LARGE'],
    ];
    for (const [headers, body, status, code] of cases) {
      const res = await post(headers, body);
      expect({ status: res.status, code: res.body.error?.code }).toEqual({ status, code });
    }
    expect(await server.log.head('a')).toBe(`${server.log.epoch}:0`);
    expect(server.metrics().rejected['STREAM_ERR_BAD_JSON']).toBe(1);
  });
});

describe('dev token, static files, unknown paths', () => {
  it('issues dev tokens that work for poll and publish', async () => {
    server = await startTestServer();
    const { body } = await requestJson(`${server.url}/dev/token?org=456,789&scope=publish&sub=tester&ttl=60`);
    const publish = await requestJson(`${server.url}/v1/events`, { method: 'POST', headers: bearer(body.token), body: JSON.stringify({ org: '789', service: 'chat', type: 'message.sent', data: {} }) });
    expect(publish.status).toBe(201);
    const read = await requestJson(`${server.url}/dev/token?org=789&scope=read`);
    const poll = await requestJson(`${server.url}/v1/realtime/poll?org=789&cursor=${server.log.epoch}:0&access_token=${read.body.token}`);
    expect(poll.body.events).toHaveLength(1);
    expect((await requestJson(`${server.url}/dev/token?org=bad%20org`)).status).toBe(400);
  });

  it('has no /dev/token in production', async () => {
    server = await startTestServer({ production: true });
    const res = await requestJson(`${server.url}/dev/token?org=456&scope=read`);
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('STREAM_ERR_NOT_FOUND');
  });

  it('refuses to start in production without a token secret', async () => {
    const { resolveServerOptions } = await import('./config.ts');
    expect(() => resolveServerOptions({}, { NODE_ENV: 'production' })).toThrow(/REALTIME_TOKEN_SECRET/);
    expect(resolveServerOptions({}, { NODE_ENV: 'production', REALTIME_TOKEN_SECRET: 'x'.repeat(32) }).production).toBe(true);
    expect(resolveServerOptions({}, { REALTIME_STREAMING_V2: 'false', PORT: '5000' })).toMatchObject({ streamingV2: false, port: 5000, host: '127.0.0.1' });
  });

  it('serves the demo directory with content types, index.html at /, no traversal, JSON 404 for API paths', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'static-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>demo</title>');
    writeFileSync(join(dir, 'assets', 'app.js'), 'console.log(1)');
    writeFileSync(join(tmpdir(), 'secret.txt'), 'secret');
    server = await startTestServer({ staticDir: dir });
    const index = await fetch(`${server.url}/`);
    expect(index.headers.get('content-type')).toContain('text/html');
    expect(await index.text()).toContain('<title>demo</title>');
    const js = await fetch(`${server.url}/assets/app.js`);
    expect(js.headers.get('content-type')).toContain('text/javascript');
    const traversal = await fetch(`${server.url}/..%2Fsecret.txt`);
    expect(traversal.status).toBe(404);
    expect(await traversal.text()).not.toContain('secret\n');
    const api = await requestJson(`${server.url}/v1/nothing`);
    expect(api.status).toBe(404);
    expect(api.body.error.code).toBe('STREAM_ERR_NOT_FOUND');
  });
});

describe('metrics', () => {
  it('moves the JSON fields when things happen', async () => {
    server = await startTestServer();
    const before = (await requestJson(`${server.url}/v2/realtime/metrics`)).body;
    expect(before).toMatchObject({
      activeConnections: 0,
      connectionPoolStats: { totalSubscriptions: 0 },
      events: { published: 0, delivered: 0, replayed: 0 },
      resets: 0,
      longPoll: { requests: 0, open: 0 },
      streamingV2: { enabled: true },
    });
    expect(before.deliveryLatencyMs).toEqual({ p50: 0, p95: 0, p99: 0, max: 0, count: 0 });
    await appendEvents(server, 'a', 3);
    const client = await connectReady(server);
    clients.push(client);
    client.send({ type: 'subscribe', org: 'a', services: ['*'], cursor: `${server.log.epoch}:0` });
    await client.waitFor('live');
    await server.publish({ org: 'a', service: 's', type: 't', data: 1 });
    await client.waitForEvents('a', 4);
    client.sendRaw('{bad');
    await client.closed;
    await requestJson(`${server.url}/v1/realtime/poll?org=a`);
    const after = (await requestJson(`${server.url}/v2/realtime/metrics`)).body;
    expect(after.events).toEqual({ published: 1, delivered: 4, replayed: 3 });
    expect(after.deliveryLatencyMs.count).toBe(1);
    expect(after.bytes.raw).toBeGreaterThan(0);
    expect(after.bytes.wire).toBeGreaterThan(0);
    expect(after.closeCodes['4000']).toBe(1);
    expect(after.rejected).toMatchObject({ STREAM_ERR_BAD_JSON: 1, STREAM_ERR_TOKEN_MISSING: 1 });
    expect(after.longPoll.requests).toBe(1);
    expect(after.activeConnections).toBe(0);
  });

  it('serves the same figures as Prometheus text that parses', async () => {
    server = await startTestServer();
    const client = await connectReady(server);
    clients.push(client);
    client.send({ type: 'subscribe', org: 'a', services: ['*'] });
    await client.waitFor('live');
    await server.publish({ org: 'a', service: 's', type: 't', data: 1 });
    await client.waitForEvents('a', 1);
    const res = await fetch(`${server.url}/metrics`);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    const samples = new Map<string, number>();
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$/.exec(line);
      expect(match, `unparseable line: ${line}`).not.toBeNull();
      samples.set(match![1]!, Number(match![2]));
    }
    expect(samples.get('realtime_active_connections')).toBe(1);
    expect(samples.get('realtime_pool_subscriptions')).toBe(1);
    expect(samples.get('realtime_events_published_total')).toBe(1);
    expect(samples.get('realtime_events_delivered_total')).toBe(1);
    expect(samples.get('realtime_streaming_v2_enabled')).toBe(1);
  });
});

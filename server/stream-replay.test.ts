import { describe, expect, it } from 'vitest';
import { createMemoryEventLog } from './memory-event-log.ts';
import {
  appendEvents,
  connect,
  connectReady,
  range,
  requestJson,
  seqs,
  startTestServer,
  type TestServer,
  closeAfterEach,
} from './test-support.ts';

let server: TestServer;
const { track, clients } = closeAfterEach(() => server);

describe('v2 stream: replay and live', () => {
  it('answers the realtime.v2 subprotocol, never the bearer token, and welcomes with the token facts', async () => {
    server = await startTestServer();
    const token = await server.token({ orgs: ['a', 'b'] });
    const client = track(await connect(server, { token, via: 'protocol' }));
    expect(client.ws.protocol).toBe('realtime.v2');
    const welcome = await client.waitFor('welcome');
    expect(welcome.orgs).toEqual(['a', 'b']);
    expect(welcome.epoch).toBe(server.log.epoch);
    expect(welcome.tokenExpiresAt).toBeGreaterThan(Date.now());
    // The token never reaches a log line.
    expect(server.logLines.join('\n')).not.toContain(token);
  });

  it('without a cursor goes live at once at the head and sends only new events', async () => {
    server = await startTestServer();
    await appendEvents(server, 'a', 5);
    const client = track(await connectReady(server));
    client.send({ type: 'subscribe', org: 'a', services: ['finance'] });
    const live = await client.waitFor('live');
    expect(live.cursor).toBe(`${server.log.epoch}:5`);
    expect(live.replayed).toBe(0);
    await server.log.append({ org: 'a', service: 'chat', type: 'x', data: 1 });
    await server.log.append({ org: 'a', service: 'finance', type: 'x', data: 2 });
    const events = await client.waitForEvents('a', 1);
    expect(events.map((e) => e.data)).toEqual([2]);
  });

  it('stays exact when the live queue overflows during replay (keeps paging from the log)', async () => {
    server = await startTestServer({ replayPageSize: 50, replayQueueLimit: 10 });
    await appendEvents(server, 'a', 1000);
    const client = track(await connectReady(server));
    client.send({ type: 'subscribe', org: 'a', services: ['*'], cursor: `${server.log.epoch}:0` });
    for (let i = 0; i < 300; i++) {
      await server.log.append({ org: 'a', service: 'finance', type: 'during', data: i });
      if (i % 5 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    const events = await client.waitForEvents('a', 1300, 10_000);
    expect(seqs(events)).toEqual(range(1, 1300));
  });

  it('replays only the services asked for', async () => {
    server = await startTestServer();
    await server.log.append({ org: 'a', service: 'finance', type: 't', data: 1 });
    await server.log.append({ org: 'a', service: 'chat', type: 't', data: 2 });
    await server.log.append({ org: 'a', service: 'orders', type: 't', data: 3 });
    const client = track(await connectReady(server));
    client.send({ type: 'subscribe', org: 'a', services: ['finance', 'orders'], cursor: `${server.log.epoch}:0` });
    const live = await client.waitFor('live');
    expect(live.replayed).toBe(2);
    expect(client.events('a').map((e) => e.data)).toEqual([1, 3]);
  });

  it('sends reset for a foreign-epoch cursor, then goes live from the head', async () => {
    server = await startTestServer();
    await appendEvents(server, 'a', 3);
    const client = track(await connectReady(server));
    client.send({ type: 'subscribe', org: 'a', services: ['*'], cursor: 'oldepoch:7' });
    const reset = await client.waitFor('reset');
    expect(reset).toEqual({ type: 'reset', org: 'a', reason: 'epoch', from: 'oldepoch:7', cursor: `${server.log.epoch}:3`, lost: null });
    const live = await client.waitFor('live');
    expect(live.cursor).toBe(`${server.log.epoch}:3`);
    await appendEvents(server, 'a', 1);
    expect(seqs(await client.waitForEvents('a', 1))).toEqual([4]);
    expect((await requestJson(`${server.url}/v2/realtime/metrics`)).body.resets).toBe(1);
  });

  it('sends reset saying how many were lost for a cursor older than retention', async () => {
    server = await startTestServer({ log: createMemoryEventLog({ retention: { maxEventsPerOrg: 5 } }) });
    await appendEvents(server, 'a', 12);
    const client = track(await connectReady(server));
    client.send({ type: 'subscribe', org: 'a', services: ['*'], cursor: `${server.log.epoch}:2` });
    const reset = await client.waitFor('reset');
    expect(reset.reason).toBe('retention');
    expect(reset.lost).toBe(10);
    expect(reset.cursor).toBe(`${server.log.epoch}:12`);
    await client.waitFor('live');
    expect(client.events('a')).toEqual([]);
  });

  it('subscribes and unsubscribes services at runtime on one socket', async () => {
    server = await startTestServer();
    const client = track(await connectReady(server));
    client.send({ type: 'subscribe', org: 'a', services: ['finance'] });
    await client.waitFor('live');
    client.send({ type: 'subscribe', org: 'a', services: ['chat'] });
    const widened = await client.waitFor('subscribed', (m) => m.services.length === 2);
    expect(widened.services.sort()).toEqual(['chat', 'finance']);
    await server.log.append({ org: 'a', service: 'chat', type: 't', data: 'chat-1' });
    expect((await client.waitForEvents('a', 1)).map((e) => e.data)).toEqual(['chat-1']);

    const narrowed = client.next('subscribed');
    client.send({ type: 'unsubscribe', org: 'a', services: ['chat'] });
    expect((await narrowed).services).toEqual(['finance']);
    await server.log.append({ org: 'a', service: 'chat', type: 't', data: 'chat-2' });
    await server.log.append({ org: 'a', service: 'finance', type: 't', data: 'fin-1' });
    expect((await client.waitForEvents('a', 2)).map((e) => e.data)).toEqual(['chat-1', 'fin-1']);

    const emptied = client.next('subscribed');
    client.send({ type: 'unsubscribe', org: 'a', services: ['finance'] });
    expect((await emptied).services).toEqual([]);
    expect(server.hubStats().totalSubscriptions).toBe(0);
  });

  it('isolates orgs: a token of org a never gets org b, and subscribing to b is FORBIDDEN_ORG', async () => {
    server = await startTestServer();
    const client = track(await connectReady(server, { orgs: ['a'] }));
    client.send({ type: 'subscribe', org: 'b', services: ['*'], cursor: `${server.log.epoch}:0` });
    const error = await client.waitFor('error');
    expect(error.code).toBe('STREAM_ERR_FORBIDDEN_ORG');
    expect(error.org).toBe('b');
    // The socket stays usable.
    client.send({ type: 'subscribe', org: 'a', services: ['*'] });
    await client.waitFor('live');
    await server.log.append({ org: 'b', service: 'finance', type: 't', data: 'secret' });
    await server.log.append({ org: 'a', service: 'finance', type: 't', data: 'mine' });
    await client.waitForEvents('a', 1);
    expect(client.events('b')).toEqual([]);
    expect(client.messages.some((m) => m.type === 'events' && m.org === 'b')).toBe(false);
  });

  it('holds one upstream subscription per org across 10 orgs × 50 sockets', async () => {
    server = await startTestServer({ maxSocketsPerUser: 1000 });
    const orgs = range(1, 10).map((n) => `org${n}`);
    const token = await server.token({ orgs });
    const opened = await Promise.all(
      range(1, 500).map(async (n) => {
        const client = track(await connect(server, { token, perMessageDeflate: false }));
        client.send({ type: 'subscribe', org: orgs[n % 10], services: ['*'] });
        await client.waitFor('live');
        return client;
      }),
    );
    const metrics = await requestJson(`${server.url}/v2/realtime/metrics`);
    expect(metrics.body.activeConnections).toBe(500);
    expect(metrics.body.connectionPoolStats.totalSubscriptions).toBe(10);
    await server.log.append({ org: 'org3', service: 'x', type: 't', data: 1 });
    // Socket i subscribed to orgs[(i + 1) % 10]; org3 is orgs[2].
    const receivers = opened.filter((_, i) => (i + 1) % 10 === 2);
    expect(receivers).toHaveLength(50);
    await Promise.all(receivers.map((client) => client.waitForEvents('org3', 1)));
    expect(opened.filter((client) => client.events('org3').length > 0)).toHaveLength(50);
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.hubStats().totalSubscriptions).toBe(0);
  });
});

/**
 * The server's integration behaviour that depends on the store — replay, the replay/live seam,
 * v1/v2 on one cursor, restart, reset — as one suite run against both production stores: the
 * embedded SQLite file and Redis Streams (a real redis-server on a loopback port).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { StreamEvent } from '../protocol/index.ts';
import type { ServerOptions } from './config.ts';
import { createRedisEventLog } from './redis-event-log.ts';
import { startRedisTestServer, type RedisTestServer } from './redis-test-server.ts';
import { appendEvents, connectReady, range, requestJson, seqs, startTestServer, type TestClient, type TestServer } from './test-support.ts';

// A missing redis-server fails the Redis half here, with the apt-get command to run.
let redis: RedisTestServer;
beforeAll(async () => {
  redis = await startRedisTestServer();
});
afterAll(async () => {
  await redis?.close();
});

/** One store's way to start servers: on fresh data, and again on the same data. */
interface StoreFixture {
  /** A server on fresh, empty data. */
  start(options?: Partial<ServerOptions>): Promise<TestServer>;
  /** A new server on the data of the last `start` (after the previous one closed: a restart). */
  reopen(options?: Partial<ServerOptions>): Promise<TestServer>;
  /** Deletes what `start` created. */
  cleanup(): void;
}

let prefixes = 0;

const STORES: Record<'sqlite' | 'redis', () => StoreFixture> = {
  sqlite() {
    const dirs: string[] = [];
    const open = (options: Partial<ServerOptions>) => {
      const dataDir = dirs.at(-1);
      if (!dataDir) throw new Error('start() first');
      return startTestServer({ dataDir, ...options });
    };
    return {
      start(options = {}) {
        dirs.push(mkdtempSync(join(tmpdir(), 'realtime-stores-')));
        return open(options);
      },
      reopen: (options = {}) => open(options),
      cleanup() {
        for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
      },
    };
  },
  redis() {
    let keyPrefix = '';
    const open = async (options: Partial<ServerOptions>) =>
      startTestServer({ log: await createRedisEventLog({ url: redis.url, keyPrefix, reconnectMaxMs: 100 }), ...options });
    return {
      start(options = {}) {
        keyPrefix = `stores${process.pid}-${++prefixes}:`;
        return open(options);
      },
      reopen: (options = {}) => open(options),
      cleanup() {},
    };
  },
};

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Publishes through `POST /v1/events` and returns the acknowledged ids. */
async function publishVia(server: TestServer, count: number, first = 1): Promise<string[]> {
  const token = await server.token({ scopes: ['publish'] });
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await requestJson(`${server.url}/v1/events`, {
      method: 'POST',
      headers: bearer(token),
      body: JSON.stringify({ org: 'a', service: 'finance', type: 'invoice.posted', data: { n: first + i } }),
    });
    expect(res.status).toBe(201);
    ids.push(res.body.id);
  }
  return ids;
}

describe.each(['sqlite', 'redis'] as const)('server integration on %s', (kind) => {
  let store: StoreFixture;
  const servers: TestServer[] = [];
  const clients: TestClient[] = [];
  const start = async (options: Partial<ServerOptions> = {}) => {
    store = STORES[kind]();
    const server = await store.start(options);
    servers.push(server);
    return server;
  };
  const reopen = async (options: Partial<ServerOptions> = {}) => {
    const server = await store.reopen(options);
    servers.push(server);
    return server;
  };
  const track = (client: TestClient) => {
    clients.push(client);
    return client;
  };
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await Promise.all(servers.splice(0).map((server) => server.close()));
    store?.cleanup();
  });

  it('prints which store it uses', async () => {
    const server = await start();
    expect(server.logLines.some((line) => line.includes('event store:'))).toBe(true);
    expect(server.log.epoch).toMatch(/^[a-z0-9]{10}$/);
  });

  it('resumes from a cursor: replays exactly the missed events in order, then goes live', async () => {
    const server = await start();
    const ids = await publishVia(server, 30);
    const client = track(await connectReady(server));
    client.send({ type: 'subscribe', org: 'a', services: ['*'], cursor: ids[9] });
    const live = await client.waitFor('live');
    expect(live).toEqual({ type: 'live', org: 'a', cursor: ids[29], replayed: 20 });
    expect(client.events('a').map((event) => event.id)).toEqual(ids.slice(10));
    expect(client.events('a').map((event) => (event.data as { n: number }).n)).toEqual(range(11, 30));
    expect(client.messages.filter((m) => m.type === 'events').every((m) => m.type === 'events' && m.replayed)).toBe(true);
    // `subscribed` is sent before the replay starts.
    const order = client.messages.map((m) => m.type);
    expect(order.indexOf('subscribed')).toBeLessThan(order.indexOf('events'));

    const more = await publishVia(server, 3, 31);
    const all = await client.waitForEvents('a', 23);
    expect(all.map((event) => event.id)).toEqual([...ids.slice(10), ...more]);
    const lastFrame = client.messages.at(-1);
    expect(lastFrame?.type === 'events' && !lastFrame.replayed).toBe(true);
  });

  it('keeps the seam free of gaps and duplicates while 500 events are appended during a 2,000-event replay', async () => {
    const server = await start({ replayPageSize: 100 });
    await appendEvents(server, 'a', 2000);
    const client = track(await connectReady(server));
    client.send({ type: 'subscribe', org: 'a', services: ['*'], cursor: `${server.log.epoch}:0` });
    let liveBeforePublishing = true;
    const publishing = (async () => {
      await new Promise((resolve) => setImmediate(resolve));
      liveBeforePublishing = client.messages.some((message) => message.type === 'live');
      for (let i = 0; i < 500; i++) {
        await server.log.append({ org: 'a', service: 'finance', type: 'during', data: i });
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    await publishing;
    // The publisher really ran during the replay, not after it.
    expect(liveBeforePublishing).toBe(false);
    const events = await client.waitForEvents('a', 2500, 10_000);
    expect(seqs(events)).toEqual(range(1, 2500));
    const live = await client.waitFor('live');
    expect(live.replayed).toBeGreaterThanOrEqual(2000);
    // Nothing arrives twice after the last one either (a late duplicate would show up here).
    await server.log.append({ org: 'a', service: 'finance', type: 'marker', data: 'end' });
    expect(seqs(await client.waitForEvents('a', 2501))).toEqual(range(1, 2501));
  });

  it('v1 and v2 interleaved on one cursor see every event exactly once', async () => {
    const server = await start();
    const token = await server.token();
    await appendEvents(server, 'a', 5);
    const first = track(await connectReady(server));
    first.send({ type: 'subscribe', org: 'a', services: ['*'], cursor: `${server.log.epoch}:0` });
    await first.waitFor('live');
    const seen = [...first.events('a')];
    await first.close();
    await appendEvents(server, 'a', 4);
    const v1 = await requestJson(`${server.url}/v1/realtime/poll?org=a&cursor=${seen.at(-1)!.id}`, { headers: bearer(token) });
    seen.push(...v1.body.events);
    await appendEvents(server, 'a', 3);
    const second = track(await connectReady(server));
    second.send({ type: 'subscribe', org: 'a', services: ['*'], cursor: v1.body.cursor });
    await second.waitFor('live');
    await appendEvents(server, 'a', 1);
    const fromV2 = await second.waitForEvents('a', 4);
    seen.push(...fromV2);
    await appendEvents(server, 'a', 2);
    const v1Again = await requestJson(`${server.url}/v1/realtime/poll?org=a&cursor=${fromV2.at(-1)!.id}`, { headers: bearer(token) });
    seen.push(...v1Again.body.events);
    expect(seqs(seen)).toEqual(range(1, 15));
  });

  it('a waiting v1 poll is woken by an append and answers it', async () => {
    const server = await start();
    const token = await server.token();
    const head = await requestJson(`${server.url}/v1/realtime/poll?org=a`, { headers: bearer(token) });
    const waiting = requestJson(`${server.url}/v1/realtime/poll?org=a&cursor=${head.body.cursor}&timeout=5`, { headers: bearer(token) });
    // The poll is attached (one upstream subscription) before the event is published.
    await expect.poll(() => server.metrics().longPoll.open, { timeout: 2000, interval: 5 }).toBe(1);
    const [id] = await publishVia(server, 1);
    const answer = await waiting;
    expect(answer.status).toBe(200);
    expect(answer.body.events.map((event: StreamEvent) => event.id)).toEqual([id]);
    expect(answer.body.cursor).toBe(id);
  });

  it('restart on the same data: nothing acknowledged is lost, old cursors resume on v2 and v1', async () => {
    const server = await start();
    const before = await publishVia(server, 20);
    const epoch = server.log.epoch;
    await servers.pop()!.close();

    const second = await reopen();
    expect(second.log.epoch).toBe(epoch);
    const after = await publishVia(second, 5, 21);
    expect(after[0]).toBe(`${epoch}:21`);
    const client = track(await connectReady(second));
    client.send({ type: 'subscribe', org: 'a', services: ['*'], cursor: before[9] });
    expect((await client.waitFor('live')).replayed).toBe(15);
    expect(client.events('a').map((event) => event.id)).toEqual([...before.slice(10), ...after]);
    const token = await second.token();
    const poll = await requestJson(`${second.url}/v1/realtime/poll?org=a&cursor=${before[19]}`, { headers: bearer(token) });
    expect(poll.body.events.map((event: StreamEvent) => event.id)).toEqual(after);
  });

  it('resets a foreign-epoch cursor and a cursor past the head, then goes live from the head', async () => {
    const server = await start();
    await appendEvents(server, 'a', 3);
    const client = track(await connectReady(server));
    client.send({ type: 'subscribe', org: 'a', services: ['*'], cursor: 'oldepoch:7' });
    expect(await client.waitFor('reset')).toEqual({ type: 'reset', org: 'a', reason: 'epoch', from: 'oldepoch:7', cursor: `${server.log.epoch}:3`, lost: null });
    expect((await client.waitFor('live')).cursor).toBe(`${server.log.epoch}:3`);
    await appendEvents(server, 'a', 1);
    expect(seqs(await client.waitForEvents('a', 1))).toEqual([4]);

    const ahead = track(await connectReady(server));
    ahead.send({ type: 'subscribe', org: 'a', services: ['*'], cursor: `${server.log.epoch}:99` });
    const reset = await ahead.waitFor('reset');
    expect(reset.reason).toBe('unknown_position');
    expect(reset.cursor).toBe(`${server.log.epoch}:4`);
  });

  it('fans one append out to 20 sockets of the org in order, over one upstream subscription', async () => {
    const server = await start();
    const sockets = await Promise.all(
      range(1, 20).map(async () => {
        const client = track(await connectReady(server, { orgs: ['a', 'b'] }, { perMessageDeflate: false }));
        client.send({ type: 'subscribe', org: 'a', services: ['*'] });
        await client.waitFor('live');
        return client;
      }),
    );
    expect(server.hubStats().totalSubscriptions).toBe(1);
    const appended = await appendEvents(server, 'a', 50);
    for (const client of sockets) expect((await client.waitForEvents('a', 50)).map((event) => event.id)).toEqual(appended.map((event) => event.id));
  });
});

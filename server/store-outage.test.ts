/**
 * The server on Redis when Redis goes away, comes back, or is flushed: nothing acknowledged is
 * lost, every endpoint says STORE_UNAVAILABLE while it lasts (503 / close 4013), and clients that
 * resume from their cursors get every acknowledged event exactly once, or an explicit reset.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode, ErrorCode, parseCursor, type StreamEvent } from '../protocol/index.ts';
import { createRedisEventLog, type RedisEventLog, type RedisLogState } from './redis-event-log.ts';
import { startRedisTestServer, type RedisTestServer } from './redis-test-server.ts';
import { connect, connectReady, requestJson, startTestServer, type TestClient, type TestServer } from './test-support.ts';

let redis: RedisTestServer;
beforeAll(async () => {
  redis = await startRedisTestServer();
});
afterAll(async () => {
  await redis?.close();
});

let server: TestServer | undefined;
let log: RedisEventLog;
const clients: TestClient[] = [];
let stopPublishing = async (): Promise<void> => {};
afterEach(async () => {
  await stopPublishing();
  stopPublishing = async () => {};
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await server?.close();
  server = undefined;
  // A test that failed with Redis stopped must not leave the next one without it.
  await redis.restart();
});

let prefixes = 0;
async function startOnRedis(): Promise<TestServer> {
  log = await createRedisEventLog({ url: redis.url, keyPrefix: `outage${process.pid}-${++prefixes}:`, reconnectMaxMs: 100, commandTimeoutMs: 1000 });
  server = await startTestServer({ log });
  return server;
}

function untilState(to: RedisLogState, ms = 5000): Promise<void> {
  if (log.state === to) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the log did not become ${to} within ${ms} ms`)), ms);
    const stop = log.onStatus((change) => {
      if (change.to !== to) return;
      clearTimeout(timer);
      stop();
      resolve();
    });
  });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const seqOf = (id: string): number => parseCursor(id)?.seq ?? Number.NaN;

async function publish(target: TestServer, token: string, n: number): Promise<{ status: number; body: any }> {
  return requestJson(`${target.url}/v1/events`, {
    method: 'POST',
    headers: bearer(token),
    body: JSON.stringify({ org: 'a', service: 'finance', type: 'invoice.posted', data: { n } }),
  });
}

describe('server on Redis: store outage', () => {
  it('Redis stopped: 503 STORE_UNAVAILABLE on publish and polls, 4013 on sockets; back: every acknowledged event once', async () => {
    const target = await startOnRedis();
    const publisher = await target.token({ scopes: ['publish'] });
    const reader = await target.token({ orgs: ['a', 'b'] });
    const client = await connectReady(target);
    clients.push(client);
    client.send({ type: 'subscribe', org: 'a', services: ['*'], cursor: `${target.log.epoch}:0` });
    await client.waitFor('live');
    // A poll waiting on a quiet org: only the outage can answer it.
    const head = await requestJson(`${target.url}/v1/realtime/poll?org=b`, { headers: bearer(reader) });
    const openPoll = requestJson(`${target.url}/v1/realtime/poll?org=b&cursor=${head.body.cursor}&timeout=10`, { headers: bearer(reader) });
    await expect.poll(() => target.metrics().longPoll.open, { timeout: 2000, interval: 5 }).toBe(1);

    // A publisher keeps going through the outage: the 201s are what must never be lost.
    const acknowledged: string[] = [];
    const refused: unknown[] = [];
    let publishing = true;
    const publisherLoop = (async () => {
      for (let n = 1; publishing; n++) {
        const res = await publish(target, publisher, n);
        if (res.status === 201) acknowledged.push(res.body.id);
        else refused.push({ status: res.status, code: res.body.error?.code });
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    stopPublishing = async () => {
      publishing = false;
      await publisherLoop.catch(() => {});
    };
    await expect.poll(() => acknowledged.length, { timeout: 3000, interval: 5 }).toBeGreaterThanOrEqual(20);

    const down = untilState('unavailable');
    await redis.stop('SIGKILL');
    await down;
    // The socket hears why, then closes 4013.
    expect((await client.closed).code).toBe(CloseCode.STORE_UNAVAILABLE);
    const lastMessage = client.messages.at(-1);
    expect(lastMessage?.type === 'error' && lastMessage.code).toBe(ErrorCode.STORE_UNAVAILABLE);
    const pollAnswer = await openPoll;
    expect(pollAnswer.status).toBe(503);
    expect(pollAnswer.body.error.code).toBe(ErrorCode.STORE_UNAVAILABLE);
    // While it lasts: publishes refused with 503, new polls 503, new sockets accepted then closed 4013.
    await expect.poll(() => refused.length, { timeout: 3000, interval: 5 }).toBeGreaterThanOrEqual(3);
    expect(new Set(refused.map((entry) => JSON.stringify(entry)))).toEqual(new Set([JSON.stringify({ status: 503, code: ErrorCode.STORE_UNAVAILABLE })]));
    const newPoll = await requestJson(`${target.url}/v1/realtime/poll?org=b&cursor=${head.body.cursor}`, { headers: bearer(reader) });
    expect(newPoll.status).toBe(503);
    expect(newPoll.body.error.code).toBe(ErrorCode.STORE_UNAVAILABLE);
    const turnedAway = await connect(target, { token: reader });
    clients.push(turnedAway);
    expect((await turnedAway.closed).code).toBe(CloseCode.STORE_UNAVAILABLE);
    expect(turnedAway.messages.map((message) => message.type)).toEqual(['error']);

    const up = untilState('available');
    await redis.restart();
    await up;
    const acknowledgedBefore = acknowledged.length;
    await expect.poll(() => acknowledged.length, { timeout: 3000, interval: 5 }).toBeGreaterThanOrEqual(acknowledgedBefore + 10);
    await stopPublishing();

    // The client resumes from the last event it got: every acknowledged event exactly once, no gap.
    const received = client.events('a');
    const resumed = await connectReady(target);
    clients.push(resumed);
    resumed.send({ type: 'subscribe', org: 'a', services: ['*'], cursor: received.at(-1)?.id ?? `${target.log.epoch}:0` });
    await resumed.waitFor('live');
    const all: StreamEvent[] = [...received, ...resumed.events('a')];
    const ids = all.map((event) => event.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.map(seqOf)).toEqual(ids.map((_, i) => i + 1));
    // An append whose reply was lost may exist without a 201 (a retry would duplicate it); never the reverse.
    const seen = new Set(ids);
    expect(acknowledged.filter((id) => !seen.has(id))).toEqual([]);
    expect(resumed.messages.some((message) => message.type === 'reset')).toBe(false);
  });

  it('Redis flushed (new epoch): sockets close 4013, the resume gets a reset with the new epoch, not a silent jump', async () => {
    const target = await startOnRedis();
    const publisher = await target.token({ scopes: ['publish'] });
    expect((await publish(target, publisher, 1)).status).toBe(201);
    const oldEpoch = target.log.epoch;
    const client = await connectReady(target);
    clients.push(client);
    client.send({ type: 'subscribe', org: 'a', services: ['*'], cursor: `${oldEpoch}:0` });
    await client.waitForEvents('a', 1);
    await client.waitFor('live');

    // FLUSHALL through a separate connection, as an operator would.
    const admin = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    try {
      await admin.connect();
      await admin.call('FLUSHALL');
    } finally {
      admin.disconnect();
    }
    // The next command (this publish) shows the server the new epoch.
    const after = await publish(target, publisher, 2);
    expect(after.status).toBe(201);
    const newEpoch = target.log.epoch;
    expect(newEpoch).not.toBe(oldEpoch);
    expect(after.body.id).toBe(`${newEpoch}:1`);
    expect((await client.closed).code).toBe(CloseCode.STORE_UNAVAILABLE);
    expect(client.events('a').map((event) => event.id)).toEqual([`${oldEpoch}:1`]);

    const resumed = await connectReady(target);
    clients.push(resumed);
    expect((await resumed.waitFor('welcome')).epoch).toBe(newEpoch);
    resumed.send({ type: 'subscribe', org: 'a', services: ['*'], cursor: `${oldEpoch}:1` });
    const reset = await resumed.waitFor('reset');
    expect(reset).toMatchObject({ reason: 'epoch', from: `${oldEpoch}:1`, cursor: `${newEpoch}:1` });
    expect((await resumed.waitFor('live')).cursor).toBe(`${newEpoch}:1`);
  });
});

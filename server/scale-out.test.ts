/**
 * Scale-out: two and three real server processes (`node --import tsx server/main.ts`, configured
 * only by REALTIME_STORE, REALTIME_TOKEN_SECRET and PORT=0) sharing one real redis-server.
 * Publish anywhere reaches every socket everywhere in one order per org; a client resumes on any
 * process with its cursor; a process SIGKILLed mid-stream costs its clients nothing.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode, parseCursor, type StreamEvent } from '../protocol/index.ts';
import { createTokenAuthority, type Scope } from './auth.ts';
import { randomSecret } from './config.ts';
import { startRedisTestServer, type RedisTestServer } from './redis-test-server.ts';
import { follow, type Follower } from './resuming-client.ts';
import { startServerProcess, stopServerProcesses, type ServerProcess } from './server-process.ts';

let redis: RedisTestServer;
let admin: Redis;
beforeAll(async () => {
  redis = await startRedisTestServer();
  admin = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 50 });
  admin.on('error', () => {});
  await admin.connect();
});
afterAll(async () => {
  admin?.disconnect();
  await redis?.close();
});

const followers: Follower[] = [];
afterEach(async () => {
  await Promise.all(followers.splice(0).map((follower) => follower.stop()));
  await stopServerProcesses();
});

const secret = randomSecret();
const auth = createTokenAuthority(secret);
const token = (orgs: string[], scopes: Scope[] = ['read']) => auth.issueToken({ sub: 'scale-out', orgs, scopes, ttlSeconds: 600 });

let prefixes = 0;
/** `count` server processes on one Redis, under a key prefix of their own. */
async function startCluster(count: number): Promise<{ processes: ServerProcess[]; keyPrefix: string }> {
  const keyPrefix = `scale${process.pid}-${++prefixes}:`;
  const env = { REALTIME_STORE: redis.url, REALTIME_REDIS_PREFIX: keyPrefix, REALTIME_TOKEN_SECRET: secret };
  const processes = await Promise.all(Array.from({ length: count }, () => startServerProcess({ env })));
  return { processes, keyPrefix };
}

async function publish(server: ServerProcess, publishToken: string, org: string, n: number): Promise<{ status: number; id?: string; code?: string }> {
  const response = await fetch(`${server.url}/v1/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${publishToken}` },
    body: JSON.stringify({ org, service: 'finance', type: 'invoice.posted', data: { n } }),
  });
  const body = (await response.json()) as { id?: string; error?: { code: string } };
  return { status: response.status, id: body.id, code: body.error?.code };
}

/** The org's head through the v1 poll (a cursor every process agrees on). */
async function head(server: ServerProcess, org: string): Promise<string> {
  const response = await fetch(`${server.url}/v1/realtime/poll?org=${org}&access_token=${await token([org])}`);
  return ((await response.json()) as { cursor: string }).cursor;
}

async function metrics(server: ServerProcess): Promise<{ activeConnections: number; connectionPoolStats: { totalSubscriptions: number } }> {
  return (await (await fetch(`${server.url}/v2/realtime/metrics`)).json()) as { activeConnections: number; connectionPoolStats: { totalSubscriptions: number } };
}

function track(follower: Follower): Follower {
  followers.push(follower);
  return follower;
}

const ids = (events: readonly StreamEvent[]) => events.map((event) => event.id);
const seqOf = (id: string) => parseCursor(id)?.seq ?? Number.NaN;

/** Strictly consecutive seqs: no duplicate and no gap on the wire. */
function expectConsecutive(events: readonly StreamEvent[], firstSeq: number): void {
  expect(events.map((event) => seqOf(event.id))).toEqual(events.map((_, i) => firstSeq + i));
}

describe('scale-out on Redis: several server processes', () => {
  it('fans out a publish on any process to the sockets of all three, in one order per org; one reader per live org per process', async () => {
    const { processes, keyPrefix } = await startCluster(3);
    const [a, b, c] = processes as [ServerProcess, ServerProcess, ServerProcess];
    expect(a.output()).toContain(`event store: Redis Streams ${redis.url} (keys ${keyPrefix}*)`);
    const reader = await token(['a', 'b']);
    const start = await head(a, 'a');
    const onA = [0, 1].map(() => track(follow({ urls: [a.wsUrl], token: reader, org: 'a', cursor: start })));
    const onB = [0, 1].map(() => track(follow({ urls: [b.wsUrl], token: reader, org: 'a', cursor: start })));
    const onC = [0, 1].map(() => track(follow({ urls: [c.wsUrl], token: reader, org: 'a', cursor: start })));
    const orgBOnC = track(follow({ urls: [c.wsUrl], token: reader, org: 'b', cursor: await head(c, 'b') }));
    const all = [...onA, ...onB, ...onC];
    await Promise.all([...all, orgBOnC].map((follower) => follower.live()));

    // Subscriptions per process = live orgs on it, however many sockets.
    expect((await metrics(a)).connectionPoolStats.totalSubscriptions).toBe(1);
    expect((await metrics(b)).connectionPoolStats.totalSubscriptions).toBe(1);
    expect((await metrics(c)).connectionPoolStats.totalSubscriptions).toBe(2);
    expect((await metrics(c)).activeConnections).toBe(3);
    const readers = String(await admin.call('CLIENT', 'LIST'))
      .split('\n')
      .filter((line) => line.includes(` name=${keyPrefix}stream:`));
    expect(readers).toHaveLength(4);

    // Three publishers at once, one per process.
    const publisher = await token(['a', 'b'], ['publish']);
    const acknowledged = (
      await Promise.all(
        processes.map(async (server, p) => {
          const out: string[] = [];
          for (let i = 0; i < 30; i++) {
            const result = await publish(server, publisher, 'a', p * 100 + i);
            expect(result.status).toBe(201);
            out.push(result.id!);
          }
          return out;
        }),
      )
    ).flat();
    const bEvent = await publish(b, publisher, 'b', 1);
    await Promise.all(all.map((follower) => follower.until(90)));
    const reference = ids(onA[0]!.events);
    expectConsecutive(onA[0]!.events, seqOf(start) + 1);
    expect([...reference].sort()).toEqual([...acknowledged].sort());
    for (const follower of all) expect(ids(follower.events)).toEqual(reference);
    await orgBOnC.until(1);
    expect(ids(orgBOnC.events)).toEqual([bEvent.id]);
    // Org isolation across processes: no socket of org a saw org b's event.
    for (const follower of all) expect(follower.events.every((event) => event.org === 'a')).toBe(true);
  });

  it('a client resumes on another process with its cursor and gets exactly the missed events', async () => {
    const { processes } = await startCluster(3);
    const [a, b, c] = processes as [ServerProcess, ServerProcess, ServerProcess];
    const publisher = await token(['a'], ['publish']);
    const reader = await token(['a']);
    const first = track(follow({ urls: [a.wsUrl], token: reader, org: 'a', cursor: await head(a, 'a') }));
    await first.live();
    for (let i = 0; i < 10; i++) expect((await publish(b, publisher, 'a', i)).status).toBe(201);
    await first.until(10);
    await first.stop();
    const missed: string[] = [];
    for (let i = 10; i < 25; i++) missed.push((await publish(b, publisher, 'a', i)).id!);

    const resumed = track(follow({ urls: [c.wsUrl], token: reader, org: 'a', cursor: first.cursor() }));
    await resumed.live();
    expect(ids(resumed.events)).toEqual(missed);
    const next = await publish(a, publisher, 'a', 25);
    await resumed.until(16);
    expect(ids(resumed.events)).toEqual([...missed, next.id]);
    expect(resumed.resets).toEqual([]);
  });

  it('SIGKILL of one process mid-stream at ~100 publishes/s: its clients resume on a survivor, zero loss, zero duplicates', async () => {
    const { processes } = await startCluster(3);
    const [a, b, c] = processes as [ServerProcess, ServerProcess, ServerProcess];
    const publisher = await token(['a'], ['publish']);
    const reader = await token(['a']);
    const start = await head(a, 'a');
    // Each client knows every URL, its own first; B's clients move on to C.
    const onB = [0, 1, 2, 3].map(() => track(follow({ urls: [b.wsUrl, c.wsUrl, a.wsUrl], token: reader, org: 'a', cursor: start })));
    const others = [
      track(follow({ urls: [a.wsUrl, c.wsUrl], token: reader, org: 'a', cursor: start })),
      track(follow({ urls: [c.wsUrl, a.wsUrl], token: reader, org: 'a', cursor: start })),
    ];
    await Promise.all([...onB, ...others].map((follower) => follower.live()));

    const acknowledged: string[] = [];
    const publishing = (async () => {
      // ~100/s through A for 2 s; B dies a third of the way in.
      const began = Date.now();
      for (let n = 0; n < 200; n++) {
        const result = await publish(a, publisher, 'a', n);
        expect(result.status).toBe(201);
        acknowledged.push(result.id!);
        const due = began + (n + 1) * 10;
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
      }
    })();
    await expect.poll(() => acknowledged.length, { timeout: 3000, interval: 5 }).toBeGreaterThanOrEqual(60);
    await b.kill('SIGKILL');
    const receivedAtKill = onB.map((follower) => follower.events.length);
    await publishing;

    for (const follower of [...onB, ...others]) await follower.until(acknowledged.length, 8000);
    for (const follower of [...onB, ...others]) {
      expect(ids(follower.events)).toEqual(acknowledged);
      expectConsecutive(follower.events, seqOf(start) + 1);
      expect(follower.resets).toEqual([]);
    }
    for (const [i, follower] of onB.entries()) {
      // Really cut off mid-stream (an abnormal close, not a goodbye), then resumed on C.
      expect(follower.closeCodes[0]).toBe(1006);
      expect(receivedAtKill[i]).toBeLessThan(acknowledged.length);
      expect(follower.connections).toEqual([b.wsUrl, c.wsUrl]);
    }
    expect((await metrics(c)).activeConnections).toBe(5);
    expect((await metrics(c)).connectionPoolStats.totalSubscriptions).toBe(1);
  });

  it('Redis restarted under two processes: sockets close 4013, publish answers 503, then every acknowledged event arrives once', async () => {
    const { processes } = await startCluster(2);
    const [a, b] = processes as [ServerProcess, ServerProcess];
    const publisher = await token(['a'], ['publish']);
    const reader = await token(['a']);
    const start = await head(a, 'a');
    // Each retries its own process: this is about the store coming back, not about moving.
    const clients = [a, b].map((server) => track(follow({ urls: [server.wsUrl], token: reader, org: 'a', cursor: start, retryMs: 100 })));
    await Promise.all(clients.map((follower) => follower.live()));
    const acknowledged: string[] = [];
    for (let i = 0; i < 20; i++) acknowledged.push((await publish(i % 2 ? a : b, publisher, 'a', i)).id!);

    await redis.stop();
    await expect.poll(() => clients.every((follower) => follower.closeCodes.includes(CloseCode.STORE_UNAVAILABLE)), { timeout: 5000, interval: 10 }).toBe(true);
    const refused = await publish(a, publisher, 'a', 99);
    expect(refused).toMatchObject({ status: 503, code: 'STREAM_ERR_STORE_UNAVAILABLE' });

    await redis.restart();
    // Publish as soon as the store answers again (a process may take up to its reconnect bound).
    for (let i = 20; i < 30; i++) {
      let result = await publish(i % 2 ? a : b, publisher, 'a', i);
      const deadline = Date.now() + 5000;
      while (result.status === 503 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        result = await publish(i % 2 ? a : b, publisher, 'a', i);
      }
      expect(result.status).toBe(201);
      acknowledged.push(result.id!);
    }
    for (const follower of clients) {
      await follower.until(acknowledged.length, 8000);
      expect(ids(follower.events)).toEqual(acknowledged);
      expect(follower.connections.length).toBeGreaterThanOrEqual(2);
    }
  });
});

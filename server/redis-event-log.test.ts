import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode, ErrorCode, parseCursor, type StreamEvent } from '../protocol/index.ts';
import { describeEventLogContract, type ContractStoreOptions } from './event-log.contract.ts';
import { createRedisEventLog, type RedisEventLog, type RedisEventLogOptions, type RedisLogStatusChange } from './redis-event-log.ts';
import { startRedisTestServer, type RedisTestServer } from './redis-test-server.ts';

// A missing redis-server fails here, in every test of this file, with the apt-get command to run.
let redis: RedisTestServer;
let admin: Redis;
beforeAll(async () => {
  redis = await startRedisTestServer();
  admin = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: (attempt) => Math.min(attempt * 50, 200) });
  admin.on('error', () => {});
  await admin.connect();
});
afterAll(async () => {
  admin?.disconnect();
  await redis?.close();
});

let prefixes = 0;
const freshPrefix = (): string => `t${process.pid}-${++prefixes}:`;

const opened: RedisEventLog[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((log) => log.close()));
});

/** Short timeouts so fault tests stay fast; `blockMs` bounds how long a reader takes to notice a flush. */
async function open(options: Partial<RedisEventLogOptions> & ContractStoreOptions = {}): Promise<RedisEventLog> {
  const log = await createRedisEventLog({
    url: redis.url,
    keyPrefix: freshPrefix(),
    reconnectMaxMs: 100,
    commandTimeoutMs: 1000,
    blockMs: 300,
    ...options,
  });
  opened.push(log);
  return log;
}

const seqOf = (id: string): number => {
  const cursor = parseCursor(id);
  if (!cursor) throw new Error(`not a cursor: ${id}`);
  return cursor.seq;
};

/** Resolves once `predicate` holds, checked after every event it is told about; rejects after `ms`. */
function waiter<T>(read: () => T, predicate: (value: T) => boolean, ms = 4000): { check(): void; done: Promise<void> } {
  let resolve = (): void => {};
  let reject = (_error: Error): void => {};
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const timer = setTimeout(() => reject(new Error(`condition not met within ${ms} ms: ${JSON.stringify(read())}`)), ms);
  const check = (): void => {
    if (predicate(read())) {
      clearTimeout(timer);
      resolve();
    }
  };
  check();
  return { check, done };
}

/** Subscribes and records every event; `until(n)` resolves once n events arrived. */
function record(log: RedisEventLog, org: string): { events: StreamEvent[]; ids(): string[]; until(count: number): Promise<void>; stop(): void } {
  const events: StreamEvent[] = [];
  let pending: { check(): void } | null = null;
  const stop = log.subscribe(org, (event) => {
    events.push(event);
    pending?.check();
  });
  return {
    events,
    ids: () => events.map((event) => event.id),
    until(count) {
      const wait = waiter(() => events.map((event) => event.id), (ids) => ids.length >= count);
      pending = wait;
      return wait.done;
    },
    stop,
  };
}

function statuses(log: RedisEventLog): { changes: RedisLogStatusChange[]; until(to: RedisLogStatusChange['to']): Promise<void> } {
  const changes: RedisLogStatusChange[] = [];
  let pending: { check(): void } | null = null;
  log.onStatus((change) => {
    changes.push(change);
    pending?.check();
  });
  return {
    changes,
    until(to) {
      const wait = waiter(() => log.state, (state) => state === to);
      pending = wait;
      return wait.done;
    },
  };
}

/** Polls CLIENT LIST (a condition with no event to await) until `count` connections carry `name`. */
async function untilConnections(name: string, count: number): Promise<void> {
  const deadline = Date.now() + 4000;
  for (;;) {
    const list = String(await admin.call('CLIENT', 'LIST'));
    const found = list.split('\n').filter((line) => line.includes(` name=${name} `)).length;
    if (found === count) return;
    if (Date.now() > deadline) throw new Error(`expected ${count} connections named ${name}, found ${found}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const publish = (log: RedisEventLog, org: string, data: unknown): Promise<StreamEvent> =>
  log.append({ org, service: 's', type: 't', data });

describeEventLogContract('redis', (options = {}) => open(options));

describe('redis event log', () => {
  it('delivers an append on either of two processes to the subscribers of both, in the same order', async () => {
    const keyPrefix = freshPrefix();
    const a = await open({ keyPrefix });
    const b = await open({ keyPrefix });
    expect(b.epoch).toBe(a.epoch);
    const onA = record(a, 'org');
    const onB = record(b, 'org');
    // head() goes out on the connection that carried subscribe()'s snapshot: both readers are placed.
    await Promise.all([a.head('org'), b.head('org')]);

    const appended: StreamEvent[] = [];
    for (let round = 0; round < 10; round++) {
      // Concurrent appends from both processes race for the next seq: order is whatever Redis decided.
      appended.push(...(await Promise.all([publish(a, 'org', { from: 'a', round }), publish(b, 'org', { from: 'b', round })])));
    }
    await Promise.all([onA.until(20), onB.until(20)]);

    const inLogOrder = [...appended].sort((x, y) => seqOf(x.id) - seqOf(y.id));
    expect(inLogOrder.map((event) => seqOf(event.id))).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(onA.events).toEqual(inLogOrder);
    expect(onB.events).toEqual(inLogOrder);
  });

  it('keeps one blocking reader per org per process, closed with its last listener', async () => {
    const keyPrefix = freshPrefix();
    const log = await open({ keyPrefix });
    const other = await open({ keyPrefix });
    const first = record(log, 'a');
    const second = record(log, 'a');
    const third = record(log, 'b');
    await untilConnections(`${keyPrefix}stream:a:reader`, 1);
    await untilConnections(`${keyPrefix}stream:b:reader`, 1);

    // From the other process, so the events travel through the reader.
    await publish(other, 'a', 1);
    await Promise.all([first.until(1), second.until(1)]);
    expect(first.events.map((event) => event.data)).toEqual([1]);
    expect(second.events.map((event) => event.data)).toEqual([1]);
    expect(third.events).toEqual([]);

    first.stop();
    await publish(other, 'a', 2);
    await second.until(2);
    expect(first.events.map((event) => event.data)).toEqual([1]);
    await untilConnections(`${keyPrefix}stream:a:reader`, 1);
    second.stop();
    await untilConnections(`${keyPrefix}stream:a:reader`, 0);
    await untilConnections(`${keyPrefix}stream:b:reader`, 1);
  });

  it('keeps the epoch across a Redis restart and a new process, and takes a new one after FLUSHALL', async () => {
    const keyPrefix = freshPrefix();
    const a = await open({ keyPrefix });
    const status = statuses(a);
    const before = await publish(a, 'org', 'before restart');
    const old = parseCursor(before.id);

    await redis.restart();
    await status.until('available');
    expect(status.changes.map((change) => change.to)).toEqual(['unavailable', 'available']);
    expect(a.epoch).toBe(old?.epoch);
    const after = await publish(a, 'org', 'after restart');
    expect(after.id).toBe(`${a.epoch}:2`);
    const fresh = await open({ keyPrefix });
    expect(fresh.epoch).toBe(a.epoch);
    expect(await fresh.head('org')).toBe(after.id);

    const watcher = record(fresh, 'org');
    await fresh.head('org');
    await admin.call('FLUSHALL');
    const wiped = await open({ keyPrefix });
    expect(wiped.epoch).not.toBe(a.epoch);
    // The running process adopts the new epoch at its next command and says so.
    expect(await a.read('org', old, 10)).toEqual({ kind: 'reset', reason: 'epoch', lost: null, head: `${wiped.epoch}:0` });
    expect(a.epoch).toBe(wiped.epoch);
    expect(status.changes.filter((change) => change.reason === 'epoch changed').map((change) => change.to)).toEqual([
      'unavailable',
      'available',
    ]);
    // The new epoch's seq starts below the reader's old position: it still gets them, from seq 1.
    await publish(wiped, 'org', 'new 1');
    await publish(wiped, 'org', 'new 2');
    await watcher.until(2);
    expect(watcher.ids()).toEqual([`${wiped.epoch}:1`, `${wiped.epoch}:2`]);
  });

  it('bounds each stream with an approximate MAXLEN on append, then trims exactly', async () => {
    const keyPrefix = freshPrefix();
    const log = await open({ keyPrefix, retention: { maxEventsPerOrg: 100 } });
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(Array.from({ length: 100 }, (_, i) => publish(log, 'org', batch * 100 + i)));
    }
    const length = Number(await admin.call('XLEN', `${keyPrefix}stream:org`));
    // `~` trims whole radix-tree nodes (100 entries by default): bounded, not exact.
    expect(length).toBeGreaterThanOrEqual(100);
    expect(length).toBeLessThan(300);
    const stale = await log.read('org', { epoch: log.epoch, seq: 1 }, 10);
    expect(stale).toEqual({ kind: 'reset', reason: 'retention', lost: 999, head: `${log.epoch}:1000` });

    expect(await log.trim()).toBe(length - 100);
    const rest = await log.read('org', null, 1000);
    expect(rest.kind === 'events' && rest.events.map((event) => seqOf(event.id))).toEqual(
      Array.from({ length: 100 }, (_, i) => 901 + i),
    );
  });

  it('trims by age across pages and orgs, and never returns more than one page per read', async () => {
    let clock = 1_000_000;
    const log = await open({ retention: { maxAgeMs: 5000 }, now: () => clock });
    // More old events than one XRANGE page of the age scan (500).
    for (let batch = 0; batch < 12; batch++) {
      await Promise.all(Array.from({ length: 100 }, (_, i) => publish(log, 'x', batch * 100 + i)));
    }
    await publish(log, 'y', 'old');
    clock += 10_000;
    await publish(log, 'x', 'young');
    await publish(log, 'y', 'young');

    const page = await log.read('x', null, Infinity);
    expect(page.kind === 'events' && page.events.length).toBe(1000);

    expect(await log.trim(clock)).toBe(1201);
    const x = await log.read('x', null, 10);
    expect(x).toEqual({ kind: 'events', events: [expect.objectContaining({ id: `${log.epoch}:1201`, data: 'young' })], head: `${log.epoch}:1201` });
    expect(await log.read('x', { epoch: log.epoch, seq: 5 }, 10)).toEqual({
      kind: 'reset',
      reason: 'retention',
      lost: 1196,
      head: `${log.epoch}:1201`,
    });
    // Everything trimmed away: the head survives, so a cursor at the head still reads (nothing).
    clock += 10_000;
    expect(await log.trim(clock)).toBe(2);
    expect(await log.read('y', { epoch: log.epoch, seq: 2 }, 10)).toEqual({ kind: 'events', events: [], head: `${log.epoch}:2` });
    expect((await log.read('y', { epoch: log.epoch, seq: 1 }, 10)).kind).toBe('reset');
  });

  it('fails fast with STORE_UNAVAILABLE while Redis is down; a subscriber resumes after the restart, nothing lost or twice', async () => {
    const keyPrefix = freshPrefix();
    const subscriber = await open({ keyPrefix });
    const publisher = await open({ keyPrefix });
    const status = statuses(publisher);
    const seen = record(subscriber, 'org');
    await subscriber.head('org');
    for (let i = 1; i <= 3; i++) await publish(publisher, 'org', i);
    await seen.until(3);

    // SIGKILL: a crash, not a clean shutdown. appendfsync always keeps every acknowledged append.
    await redis.stop('SIGKILL');
    await status.until('unavailable');
    const started = Date.now();
    const failure = await publish(publisher, 'org', 'while down').catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: ErrorCode.STORE_UNAVAILABLE, closeCode: CloseCode.STORE_UNAVAILABLE });
    await expect(publisher.read('org', null, 10)).rejects.toMatchObject({ code: ErrorCode.STORE_UNAVAILABLE });
    expect(Date.now() - started).toBeLessThan(500);

    await redis.restart();
    await status.until('available');
    for (let i = 4; i <= 6; i++) await publish(publisher, 'org', i);
    await seen.until(6);
    // A last event proves nothing else was on its way: no late duplicate of 4–6.
    await publish(publisher, 'org', 7);
    await seen.until(7);
    expect(seen.events.map((event) => event.data)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(seen.ids()).toEqual(Array.from({ length: 7 }, (_, i) => `${publisher.epoch}:${i + 1}`));
  });

  it('resumes a reader whose connection dropped after the last event it delivered, not from the head', async () => {
    const keyPrefix = freshPrefix();
    const subscriber = await open({ keyPrefix });
    const publisher = await open({ keyPrefix });
    const seen = record(subscriber, 'org');
    await subscriber.head('org');
    await publish(publisher, 'org', 1);
    await seen.until(1);

    const name = `${keyPrefix}stream:org:reader`;
    const line = String(await admin.call('CLIENT', 'LIST')).split('\n').find((entry) => entry.includes(` name=${name} `));
    const id = /\bid=(\d+)/.exec(line ?? '')?.[1];
    expect(id).toBeDefined();
    await admin.call('CLIENT', 'KILL', 'ID', id ?? '');
    // Appended before the reader can be back (its first reconnect waits 50 ms).
    await publish(publisher, 'org', 2);
    await publish(publisher, 'org', 3);
    await untilConnections(name, 1);
    await publish(publisher, 'org', 4);
    await seen.until(4);
    expect(seen.events.map((event) => event.data)).toEqual([1, 2, 3, 4]);
  });

  it('fails within the command timeout when Redis hangs, without acknowledging the append', async () => {
    const log = await open({ commandTimeoutMs: 300 });
    await publish(log, 'org', 1);
    redis.pause();
    const started = Date.now();
    try {
      await expect(publish(log, 'org', 'hung')).rejects.toMatchObject({ code: ErrorCode.STORE_UNAVAILABLE });
      expect(Date.now() - started).toBeLessThan(1000);
    } finally {
      redis.resume();
    }
    // Rejected is "not acknowledged", not "not written": the hung append ran once Redis thawed.
    const next = await publish(log, 'org', 3);
    expect(seqOf(next.id)).toBe(3);
  });

  it('rejects with STORE_UNAVAILABLE when Redis cannot be reached or the log is closed', async () => {
    await expect(createRedisEventLog({ url: 'redis://127.0.0.1:1', commandTimeoutMs: 500 })).rejects.toMatchObject({
      code: ErrorCode.STORE_UNAVAILABLE,
    });
    await expect(createRedisEventLog({ url: 'http://127.0.0.1:1' })).rejects.toMatchObject({ code: ErrorCode.STORE_UNAVAILABLE });
    const log = await open();
    await log.close();
    await expect(publish(log, 'org', 1)).rejects.toMatchObject({ code: ErrorCode.STORE_UNAVAILABLE });
    expect(log.state).toBe('closed');
  });
});

describe('redis test server', () => {
  it('fails with the install command when the binary is missing', async () => {
    await expect(startRedisTestServer({ binary: '/nonexistent/redis-server' })).rejects.toThrow(/apt-get install -y redis-server/);
  });
});

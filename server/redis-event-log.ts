/**
 * The scale-out event log on Redis Streams (ioredis 5): several server processes share one log, so
 * a client can resume on any of them. Same semantics as the SQLite log (issue 7).
 *
 * Keys, all under `keyPrefix` (default `realtime:`):
 *   epoch          the log's identity. Created with SET NX, so a flushed or replaced Redis gets a new
 *                  one and old cursors reset with reason `epoch`.
 *   head:<org>     the org's last seq.
 *   stream:<org>   the org's events. Entry id `<seq>-0`, so an id maps 1:1 to the cursor `epoch:seq`.
 *                  Fields: service, type, data (JSON), ts, epoch (the epoch the entry was written in:
 *                  lets a blocking reader notice a flush without an extra round trip).
 *   orgs           the set of org names, walked by trim().
 *
 * Each org's stream is the contiguous range (trimmedThrough, head]: appends add at the end in one
 * Lua script, and only MAXLEN/MINID trimming removes entries, always a prefix.
 *
 * Durability is Redis's: run it with `appendonly yes` and `appendfsync always` (Redis fsyncs the AOF
 * before it replies), otherwise an acknowledged append can be lost in a Redis crash.
 *
 * Fan-out: one blocking reader (its own connection) per org per process:
 *
 *   process A: append ──EVAL──▶ ┌───────── Redis ─────────┐ ◀──XREAD BLOCK── reader(org) of B ──▶ B's listeners
 *      └─ next in order? deliver │ GET/INCR head, XADD id  │ ◀──XREAD BLOCK── reader(org) of A ──▶ A's listeners
 *         to A's listeners now   └─────────────────────────┘    (skips what A already delivered)
 */
import { Redis, type RedisOptions } from 'ioredis';
import {
  CloseCode,
  ErrorCode,
  formatCursor,
  StreamError,
  type Cursor,
  type EventInput,
  type StreamEvent,
} from '../protocol/index.ts';
import {
  classifyRead,
  DEFAULT_RETENTION,
  newEpoch,
  type EventListener,
  type EventLog,
  type ReadResult,
  type Retention,
} from './event-log.ts';

/** `available`: commands reach Redis. `unavailable`: they fail fast with STORE_UNAVAILABLE. */
export type RedisLogState = 'available' | 'unavailable' | 'closed';

export interface RedisLogStatusChange {
  from: RedisLogState;
  to: RedisLogState;
  /** Why, e.g. `connection lost`, `reconnected`, `epoch changed`. */
  reason: string;
}

export interface RedisEventLogOptions {
  /** `redis://HOST:PORT` (or `rediss://`), as in `REALTIME_STORE`. */
  url: string;
  retention?: Partial<Retention>;
  /** The clock for event `ts` and for `trim()` without an argument. */
  now?: () => number;
  /** Prefix of every key this log uses; several logs can share one Redis under different prefixes. */
  keyPrefix?: string;
  /** A command without a reply after this long fails with STORE_UNAVAILABLE (a hung Redis). Default 2000. */
  commandTimeoutMs?: number;
  /** How long one XREAD blocks before the reader checks the epoch and blocks again. Default 5000. */
  blockMs?: number;
  /** Upper bound of the reconnect delay (ms). Default 1000. */
  reconnectMaxMs?: number;
  /** Called when a subscriber throws. Default: rethrown from a microtask, like the SQLite log. */
  onListenerError?: (error: unknown, event: StreamEvent) => void;
}

/** The Redis log: an EventLog that also reports whether Redis is reachable. */
export interface RedisEventLog extends EventLog {
  /**
   * The log's identity. It can change while the process runs: when Redis was flushed or replaced,
   * the next command adopts the new epoch (and `onStatus` reports `epoch changed`).
   */
  readonly epoch: string;
  readonly state: RedisLogState;
  /**
   * Calls `listener` on every state change. The server should close its streams with
   * `CloseCode.STORE_UNAVAILABLE` (4013) on `to: 'unavailable'`: clients retry with backoff and
   * resume from their cursors once it is `available` again. An epoch change is reported as
   * `available → unavailable → available` with reason `epoch changed`, so those same closes make
   * clients come back with old cursors and receive an explicit `reset` (reason `epoch`), never a
   * silent gap. Returns the function that removes the listener.
   */
  onStatus(listener: (change: RedisLogStatusChange) => void): () => void;
}

export const DEFAULT_KEY_PREFIX = 'realtime:';
/** The most events one `read()` returns, whatever `limit` asks: replay is paged, never unbounded. */
export const MAX_READ_PAGE = 1000;
/** Entries per XRANGE page while trim() looks for the first young event. */
const TRIM_PAGE = 500;
/** Entries per XREAD of a blocking reader. */
const READER_BATCH = 500;

/*
 * KEYS: epoch, head, stream, orgs. ARGV: candidate epoch, org, service, type, data, ts, maxlen ('' = none).
 * Returns {epoch, seq}. XADD runs before INCR: if it fails (e.g. the stream holds a larger id than
 * the head says), nothing was written, so a failed append never leaves a seq without its event.
 */
const APPEND_SCRIPT = `
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
end
local seq = tonumber(redis.call('GET', KEYS[2]) or '0') + 1
local id = string.format('%d-0', seq)
if ARGV[7] == '' then
  redis.call('XADD', KEYS[3], id, 'service', ARGV[3], 'type', ARGV[4], 'data', ARGV[5], 'ts', ARGV[6], 'epoch', epoch)
else
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[7], id, 'service', ARGV[3], 'type', ARGV[4], 'data', ARGV[5], 'ts', ARGV[6], 'epoch', epoch)
end
redis.call('INCR', KEYS[2])
redis.call('SADD', KEYS[4], ARGV[2])
return {epoch, seq}
`;

/*
 * KEYS: epoch, head, stream. ARGV: candidate epoch, cursor epoch ('' = no cursor), cursor seq, count.
 * Returns {epoch, head, trimmedThrough, entries}: one atomic snapshot, so a trim between "where does
 * the log start" and "give me the page" cannot open a silent gap. The page is only fetched when the
 * read will not reset (classifyRead decides in TypeScript from the same numbers).
 */
const READ_SCRIPT = `
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
end
local head = tonumber(redis.call('GET', KEYS[2]) or '0')
local trimmed = head
local first = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', 1)
if #first > 0 then
  trimmed = tonumber(string.match(first[1][1], '^(%d+)')) - 1
end
local from = trimmed
if ARGV[2] ~= '' then
  from = tonumber(ARGV[3])
end
local count = tonumber(ARGV[4])
local entries = {}
if count > 0 and from >= trimmed and from < head and (ARGV[2] == '' or ARGV[2] == epoch) then
  entries = redis.call('XRANGE', KEYS[3], string.format('%d-0', from + 1), '+', 'COUNT', count)
end
return {epoch, head, trimmed, entries}
`;

/** The client with the two scripts defined on it (ioredis adds them at runtime). */
interface ScriptedRedis extends Redis {
  realtimeAppend(...args: (string | number)[]): Promise<unknown>;
  realtimeRead(...args: (string | number)[]): Promise<unknown>;
}

interface Keys {
  epoch: string;
  orgs: string;
  head(org: string): string;
  stream(org: string): string;
}

/** One stream entry as stored. */
interface Entry {
  seq: number;
  epoch: string;
  service: string;
  type: string;
  data: string;
  ts: number;
}

/**
 * Connects to Redis, reads (or creates) the epoch and returns the log. Rejects with a
 * `StreamError` `STORE_UNAVAILABLE` when Redis cannot be reached.
 *
 * Failure semantics: commands never wait in an offline queue and are never re-sent after a
 * dropped connection, so while Redis is unreachable `append()`, `read()`, `head()` and `trim()`
 * reject at once (or after `commandTimeoutMs` when Redis hangs) with STORE_UNAVAILABLE and close
 * code 4013. An append that rejected is not acknowledged; it may still have been written (the
 * reply was lost), so a publisher that retries can produce a duplicate, never a loss.
 */
export async function createRedisEventLog(options: RedisEventLogOptions): Promise<RedisEventLog> {
  const { url } = options;
  if (!/^rediss?:\/\//.test(url)) {
    throw new StreamError(
      ErrorCode.STORE_UNAVAILABLE,
      `the Redis URL must look like redis://HOST:PORT, got ${JSON.stringify(url)}`,
      CloseCode.STORE_UNAVAILABLE,
    );
  }
  const retention = { ...DEFAULT_RETENTION, ...options.retention };
  const now = options.now ?? Date.now;
  const prefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
  const commandTimeoutMs = options.commandTimeoutMs ?? 2000;
  const blockMs = options.blockMs ?? 5000;
  const reconnectMaxMs = options.reconnectMaxMs ?? 1000;
  const onListenerError =
    options.onListenerError ??
    ((error: unknown) => {
      queueMicrotask(() => {
        throw error;
      });
    });
  const keys: Keys = {
    epoch: `${prefix}epoch`,
    orgs: `${prefix}orgs`,
    head: (org) => `${prefix}head:${org}`,
    stream: (org) => `${prefix}stream:${org}`,
  };
  const where = redactUrl(url);
  const maxLen = Number.isFinite(retention.maxEventsPerOrg) ? String(Math.max(0, Math.floor(retention.maxEventsPerOrg))) : '';

  const connectionOptions: RedisOptions = {
    lazyConnect: true,
    // Fail fast instead of queueing: a queued append would be "accepted" with nobody to write it.
    enableOfflineQueue: false,
    // In-flight commands are rejected when the connection drops, never re-sent behind our back.
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: commandTimeoutMs,
    connectTimeout: Math.max(commandTimeoutMs, 1000),
    retryStrategy: (attempt) => Math.min(attempt * 50, reconnectMaxMs),
    connectionName: connectionName(`${prefix}log`),
  };
  const client = new Redis(url, connectionOptions) as ScriptedRedis;
  client.defineCommand('realtimeAppend', { numberOfKeys: 4, lua: APPEND_SCRIPT });
  client.defineCommand('realtimeRead', { numberOfKeys: 3, lua: READ_SCRIPT });
  let lastError = 'connection closed';
  // Without an 'error' listener ioredis prints every reconnect failure; the state says enough.
  client.on('error', (error: Error) => (lastError = error.message));

  let epoch: string;
  try {
    await client.connect();
    await client.call('SET', keys.epoch, newEpoch(), 'NX');
    epoch = parseString(await client.call('GET', keys.epoch), 'epoch');
  } catch (error) {
    client.disconnect();
    throw storeError(where, 'cannot be reached', error);
  }

  let state: RedisLogState = 'available';
  const statusListeners = new Set<(change: RedisLogStatusChange) => void>();
  const readers = new Map<string, OrgReader>();

  function setState(next: RedisLogState, reason: string): void {
    if (next === state || state === 'closed') return;
    const change: RedisLogStatusChange = { from: state, to: next, reason };
    state = next;
    for (const listener of [...statusListeners]) {
      try {
        listener(change);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  /** Takes the epoch Redis reports; a change means the data behind every old cursor is gone. */
  function adoptEpoch(current: string): void {
    if (current === epoch) return;
    epoch = current;
    if (state !== 'available') return;
    setState('unavailable', 'epoch changed');
    setState('available', 'epoch changed');
  }

  client.on('close', () => setState('unavailable', lastError));
  client.on('ready', () => {
    // Adopt the epoch before saying "available", so whoever reopens streams sees the right one.
    client
      .call('GET', keys.epoch)
      .then((reply) => {
        const current = parseNullableString(reply, 'epoch');
        if (current !== null) epoch = current;
        setState('available', 'reconnected');
      })
      .catch((error: unknown) => {
        lastError = errorMessage(error);
        // Still connected but the check failed: drop the connection so ioredis retries the whole cycle.
        if (client.status === 'ready') client.disconnect(true);
      });
  });

  function ensureOpen(): void {
    if (state === 'closed') {
      throw new StreamError(ErrorCode.STORE_UNAVAILABLE, `event log ${where} is closed`, CloseCode.STORE_UNAVAILABLE);
    }
  }

  async function guarded<T>(what: string, work: () => Promise<T>): Promise<T> {
    ensureOpen();
    try {
      return await work();
    } catch (error) {
      if (error instanceof StreamError) throw error;
      throw storeError(where, what, error);
    }
  }

  async function trimOrg(org: string, at: number): Promise<number> {
    const stream = keys.stream(org);
    let removed = 0;
    // Exact ('='), unlike the approximate MAXLEN of append: trimmedThrough and `lost` stay exact.
    if (maxLen !== '') removed += parseInteger(await client.call('XTRIM', stream, 'MAXLEN', '=', maxLen), 'XTRIM');
    if (Number.isFinite(retention.maxAgeMs)) {
      const keepFrom = await firstYoungSeq(stream, at - retention.maxAgeMs);
      if (keepFrom !== null) removed += parseInteger(await client.call('XTRIM', stream, 'MINID', '=', `${keepFrom}-0`), 'XTRIM');
    }
    return removed;
  }

  /**
   * The seq of the first entry with `ts >= oldestAllowed`, found in pages (cost ~ entries to drop);
   * when every entry is old, the seq after the last one seen (not the head: an event appended
   * meanwhile is young and must stay). Null for an empty stream.
   */
  async function firstYoungSeq(stream: string, oldestAllowed: number): Promise<number | null> {
    let start = '-';
    let lastSeq: number | null = null;
    for (;;) {
      const entries = parseEntries(await client.call('XRANGE', stream, start, '+', 'COUNT', TRIM_PAGE));
      for (const entry of entries) {
        if (entry.ts >= oldestAllowed) return entry.seq;
        lastSeq = entry.seq;
      }
      if (entries.length < TRIM_PAGE || lastSeq === null) return lastSeq === null ? null : lastSeq + 1;
      start = `${lastSeq + 1}-0`;
    }
  }

  const readerContext: ReaderContext = {
    client,
    keys,
    blockMs,
    reconnectMaxMs,
    adoptEpoch,
    onListenerError,
  };

  return {
    get epoch() {
      return epoch;
    },
    get state() {
      return state;
    },

    onStatus(listener) {
      statusListeners.add(listener);
      return () => statusListeners.delete(listener);
    },

    async append(input: EventInput): Promise<StreamEvent> {
      ensureOpen();
      // Outside the guard: a payload JSON cannot hold (cycle, BigInt) is the caller's error, not the store's.
      const data = JSON.stringify(input.data ?? null);
      const ts = now();
      const reply = await guarded('append failed', () =>
        client.realtimeAppend(
          keys.epoch,
          keys.head(input.org),
          keys.stream(input.org),
          keys.orgs,
          newEpoch(),
          input.org,
          input.service,
          input.type,
          data,
          String(ts),
          maxLen,
        ),
      );
      const written = guardedParse(where, () => parseAppendReply(reply));
      adoptEpoch(written.epoch);
      const event: StreamEvent = {
        id: formatCursor({ epoch: written.epoch, seq: written.seq }),
        org: input.org,
        service: input.service,
        type: input.type,
        data: JSON.parse(data) as unknown,
        ts,
      };
      readers.get(input.org)?.offerLocal(event, written.epoch, written.seq);
      return event;
    },

    async read(org: string, after: Cursor | null, limit: number): Promise<ReadResult> {
      const count = pageLimit(limit);
      const reply = await guarded('read failed', () =>
        client.realtimeRead(keys.epoch, keys.head(org), keys.stream(org), newEpoch(), after?.epoch ?? '', after?.seq ?? 0, count),
      );
      const snapshot = guardedParse(where, () => parseReadReply(reply));
      adoptEpoch(snapshot.epoch);
      const head = formatCursor({ epoch: snapshot.epoch, seq: snapshot.headSeq });
      const decision = classifyRead(snapshot.epoch, after, snapshot.headSeq, snapshot.trimmedThrough);
      if (decision.kind === 'reset') return { kind: 'reset', reason: decision.reason, lost: decision.lost, head };
      const events = guardedParse(where, () => snapshot.entries.map((entry) => toEvent(org, snapshot.epoch, entry)));
      return { kind: 'events', events, head };
    },

    async head(org: string): Promise<string> {
      const reply = await guarded('head failed', () =>
        client.realtimeRead(keys.epoch, keys.head(org), keys.stream(org), newEpoch(), '', 0, 0),
      );
      const snapshot = guardedParse(where, () => parseReadReply(reply));
      adoptEpoch(snapshot.epoch);
      return formatCursor({ epoch: snapshot.epoch, seq: snapshot.headSeq });
    },

    /**
     * Calls `listener` with every event of `org` appended after this call, in order, once durable,
     * from whichever process appended it.
     *
     * Unlike the SQLite log, delivery is asynchronous: events come from this process's blocking
     * reader for the org (one XREAD connection per org, shared by every local listener, closed with
     * the last one), after the XREAD returns. One shortcut: an event appended through this log
     * object that is the org's next event in order is delivered before its `append()` resolves, as
     * SQLite does; the reader then skips it. An event appended before this call but not yet
     * delivered to the org's other listeners can also reach this one (at-least-once; cursors dedupe).
     * While Redis is away the reader retries with backoff and resumes after the last event it
     * delivered: nothing is lost or repeated for local listeners.
     *
     * The reader's start position is read on the same connection as this log's commands, so a
     * `head()` or `read()` called after `subscribe()` sees that position or a later one: a
     * replay-then-live seam (read until caught up, then drop live events at or before the last
     * replayed cursor) has no gap.
     */
    subscribe(org: string, listener: EventListener): () => void {
      if (state === 'closed') return () => {};
      let reader = readers.get(org);
      if (!reader) {
        reader = createOrgReader(org, readerContext);
        readers.set(org, reader);
      }
      reader.listeners.add(listener);
      const owner = reader;
      return () => {
        if (!owner.listeners.delete(listener) || owner.listeners.size > 0) return;
        void owner.stop();
        if (readers.get(org) === owner) readers.delete(org);
      };
    },

    async trim(at = now()): Promise<number> {
      return guarded('trim failed', async () => {
        let removed = 0;
        let cursor = '0';
        // SSCAN, not SMEMBERS: the org set can be large, and one org at a time keeps each command short.
        do {
          const [next, orgs] = parseScanReply(await client.call('SSCAN', keys.orgs, cursor, 'COUNT', 100));
          for (const org of orgs) removed += await trimOrg(org, at);
          cursor = next;
        } while (cursor !== '0');
        return removed;
      });
    },

    async close(): Promise<void> {
      if (state === 'closed') return;
      setState('closed', 'closed');
      const stopping = [...readers.values()].map((reader) => reader.stop());
      readers.clear();
      statusListeners.clear();
      await Promise.all(stopping);
      try {
        await client.quit();
      } catch {
        // Not connected: there is nothing to flush, just drop the socket and the reconnect timer.
        client.disconnect();
      }
    },
  };
}

interface ReaderContext {
  client: Redis;
  keys: Keys;
  blockMs: number;
  reconnectMaxMs: number;
  adoptEpoch(epoch: string): void;
  onListenerError(error: unknown, event: StreamEvent): void;
}

interface OrgReader {
  readonly listeners: Set<EventListener>;
  /** Delivers an event this process appended at once when it is the org's next one in order. */
  offerLocal(event: StreamEvent, epoch: string, seq: number): void;
  /** Closes the reader's connection; resolves when its loop has ended. */
  stop(): Promise<void>;
}

/** Where a reader stands: the last event delivered, or the head when it started. `epoch` null: Redis had none. */
interface Position {
  epoch: string | null;
  seq: number;
}

/**
 * One org's blocking reader: a dedicated connection looping on `XREAD BLOCK` after the last
 * delivered id.
 *
 *   subscribe() ─▶ GET epoch, GET head on the command connection (ordered before any later local
 *                  append, so "appended after this call" holds) ─▶ start position
 *   loop: XREAD BLOCK after position ─▶ entries: deliver in order, skip seq <= position
 *                                   ├─▶ timeout: GET epoch (a flush with no new entry yet)
 *                                   └─▶ error: backoff, wait for the connection, resume from position
 *   an entry of another epoch ─▶ Redis was flushed: position = (new epoch, 0), read the new stream from 0
 */
function createOrgReader(org: string, context: ReaderContext): OrgReader {
  const { client, keys, blockMs, reconnectMaxMs } = context;
  const listeners = new Set<EventListener>();
  let state: 'running' | 'stopped' = 'running';
  // Read through a function: TypeScript would otherwise keep a narrowing across the awaits where stop() runs.
  const isStopped = (): boolean => state === 'stopped';
  let position: Position | null = null;
  let connection: Redis | null = null;
  /** Ends the current wait (backoff or connection not ready) early, on stop. */
  let interrupt: (() => void) | null = null;

  // Sent now, synchronously with subscribe(), on the connection that carries this process's appends.
  // The position is set in the reply's own callback (one MGET, one hop), so it is known before the
  // continuation of any later local append() runs: that is what lets offerLocal() deliver it.
  let snapshot: Promise<void> | null = takeSnapshot();

  function takeSnapshot(): Promise<void> {
    return client.call('MGET', keys.epoch, keys.head(org)).then((reply) => {
      if (!Array.isArray(reply) || reply.length !== 2) throw new Error('MGET returned an unexpected reply');
      const [epochReply, headReply] = reply as [unknown, unknown];
      position ??= {
        epoch: parseNullableString(epochReply, 'epoch'),
        seq: headReply === null ? 0 : parseInteger(headReply, 'head'),
      };
    });
  }

  function deliver(event: StreamEvent): void {
    for (const listener of [...listeners]) {
      try {
        listener(event);
      } catch (error) {
        context.onListenerError(error, event);
      }
    }
  }

  function wait(ms: number, until?: Redis): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        until?.off('ready', done);
        interrupt = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      until?.once('ready', done);
      interrupt = done;
    });
  }

  async function run(): Promise<void> {
    let attempt = 0;
    let checkEpoch = false;
    while (!isStopped()) {
      try {
        if (!position) {
          const pending = snapshot ?? takeSnapshot();
          snapshot = null;
          await pending;
          if (isStopped()) return;
          continue;
        }
        if (!connection) {
          connection = client.duplicate({
            lazyConnect: false,
            connectionName: connectionName(`${keys.stream(org)}:reader`),
            // The blocking call replies after blockMs by itself; the client-side bound only catches a dead socket.
            commandTimeout: undefined,
            blockingTimeout: blockMs,
            blockingTimeoutGrace: Math.max(2000, blockMs),
          });
          connection.on('error', () => {});
        }
        if (connection.status !== 'ready') {
          // Woken by 'ready'; the timeout only bounds the wait if the event is missed.
          await wait(reconnectMaxMs * 5, connection);
          continue;
        }
        if (checkEpoch) {
          // On the command connection: it has a command timeout, the reader's does not.
          const current = parseNullableString(await client.call('GET', keys.epoch), 'epoch');
          if (current !== position.epoch) {
            position = { epoch: current, seq: 0 };
            if (current !== null) context.adoptEpoch(current);
          }
          checkEpoch = false;
        }
        const from = position;
        const reply = await connection.call('XREAD', 'COUNT', READER_BATCH, 'BLOCK', blockMs, 'STREAMS', keys.stream(org), `${from.seq}-0`);
        attempt = 0;
        if (isStopped()) return;
        if (reply === null) {
          checkEpoch = true;
          continue;
        }
        for (const entry of parseXreadReply(reply)) {
          if (position !== from) break;
          if (entry.epoch !== from.epoch) {
            // Redis was flushed and written to since: everything of the new epoch is after seq 0.
            position = { epoch: entry.epoch, seq: 0 };
            context.adoptEpoch(entry.epoch);
            break;
          }
          if (entry.seq <= from.seq) continue;
          from.seq = entry.seq;
          deliver(toEvent(org, entry.epoch, entry));
          if (isStopped()) return;
        }
      } catch {
        if (isStopped()) return;
        // After an outage the log may have been flushed with no entry to show it yet.
        checkEpoch = true;
        await wait(backoff(attempt++, 50, reconnectMaxMs), connection ?? undefined);
      }
    }
  }

  const done = run();

  return {
    listeners,
    offerLocal(event, epoch, seq) {
      if (state === 'stopped' || !position || position.epoch !== epoch || seq !== position.seq + 1) return;
      position.seq = seq;
      deliver(event);
    },
    async stop() {
      if (state === 'stopped') return done;
      state = 'stopped';
      interrupt?.();
      // Rejects the pending XREAD, which ends the loop.
      connection?.disconnect();
      return done;
    },
  };
}

/** CLIENT SETNAME takes no spaces: names show in CLIENT LIST, which is how operators count readers. */
function connectionName(name: string): string {
  return name.replace(/\s/g, '_');
}

/** Full-jitter exponential backoff: a delay in [0, min(max, min * 2^attempt)). */
function backoff(attempt: number, min: number, max: number): number {
  return Math.random() * Math.min(max, min * 2 ** attempt);
}

/** read() limits: a non-negative integer, at most MAX_READ_PAGE (Infinity too). */
function pageLimit(limit: number): number {
  if (Number.isNaN(limit)) return 0;
  return Math.min(MAX_READ_PAGE, Math.max(0, Math.floor(limit)));
}

function toEvent(org: string, epoch: string, entry: Entry): StreamEvent {
  return {
    id: formatCursor({ epoch, seq: entry.seq }),
    org,
    service: entry.service,
    type: entry.type,
    data: JSON.parse(entry.data) as unknown,
    ts: entry.ts,
  };
}

// Replies are parsed from unknown: a key of the wrong type or a foreign writer must fail loudly,
// as STORE_UNAVAILABLE, never turn into a malformed event.

function parseAppendReply(reply: unknown): { epoch: string; seq: number } {
  if (!Array.isArray(reply) || reply.length !== 2) throw new Error('the append script returned an unexpected reply');
  return { epoch: parseString(reply[0], 'epoch'), seq: parseInteger(reply[1], 'seq') };
}

function parseReadReply(reply: unknown): { epoch: string; headSeq: number; trimmedThrough: number; entries: Entry[] } {
  if (!Array.isArray(reply) || reply.length !== 4) throw new Error('the read script returned an unexpected reply');
  return {
    epoch: parseString(reply[0], 'epoch'),
    headSeq: parseInteger(reply[1], 'head'),
    trimmedThrough: parseInteger(reply[2], 'trimmedThrough'),
    entries: parseEntries(reply[3]),
  };
}

/** XREAD with one stream: `[[key, entries]]`. */
function parseXreadReply(reply: unknown): Entry[] {
  if (!Array.isArray(reply)) throw new Error('XREAD returned an unexpected reply');
  const [stream] = reply as unknown[];
  if (stream === undefined) return [];
  if (!Array.isArray(stream) || stream.length !== 2) throw new Error('XREAD returned an unexpected stream');
  return parseEntries(stream[1]);
}

/** XRANGE: `[[id, [field, value, …]], …]`. */
function parseEntries(reply: unknown): Entry[] {
  if (!Array.isArray(reply)) throw new Error('expected a list of stream entries');
  return reply.map((item: unknown): Entry => {
    if (!Array.isArray(item) || item.length !== 2) throw new Error('malformed stream entry');
    const [id, fields] = item as [unknown, unknown];
    const match = typeof id === 'string' ? /^(\d{1,16})-0$/.exec(id) : null;
    if (!match || !Array.isArray(fields)) throw new Error(`malformed stream entry ${String(id)}`);
    const values = new Map<string, string>();
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const name: unknown = fields[i];
      const value: unknown = fields[i + 1];
      if (typeof name === 'string' && typeof value === 'string') values.set(name, value);
    }
    const ts = Number(values.get('ts'));
    const service = values.get('service');
    const type = values.get('type');
    const data = values.get('data');
    const epoch = values.get('epoch');
    if (service === undefined || type === undefined || data === undefined || epoch === undefined || !Number.isSafeInteger(ts)) {
      throw new Error(`stream entry ${id} lacks a field`);
    }
    return { seq: Number(match[1]), epoch, service, type, data, ts };
  });
}

function parseScanReply(reply: unknown): [string, string[]] {
  if (!Array.isArray(reply) || reply.length !== 2) throw new Error('SSCAN returned an unexpected reply');
  const [next, members] = reply as [unknown, unknown];
  if (typeof next !== 'string' || !Array.isArray(members)) throw new Error('SSCAN returned an unexpected reply');
  return [next, members.filter((member): member is string => typeof member === 'string')];
}

function parseString(reply: unknown, what: string): string {
  if (typeof reply !== 'string') throw new Error(`Redis returned no ${what}`);
  return reply;
}

function parseNullableString(reply: unknown, what: string): string | null {
  return reply === null ? null : parseString(reply, what);
}

function parseInteger(reply: unknown, what: string): number {
  const value = typeof reply === 'string' ? Number(reply) : reply;
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new Error(`Redis returned no integer ${what}`);
  return value;
}

function guardedParse<T>(where: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw storeError(where, 'returned malformed data', error);
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The URL without a password, for messages and logs. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return `Redis at ${parsed.toString()}`;
  } catch {
    return 'Redis';
  }
}

function storeError(where: string, what: string, cause: unknown): StreamError {
  const error = new StreamError(
    ErrorCode.STORE_UNAVAILABLE,
    `event log (${where}) ${what}: ${errorMessage(cause)}. Streams close with 4013; clients retry and resume from their cursors.`,
    CloseCode.STORE_UNAVAILABLE,
  );
  error.cause = cause;
  return error;
}

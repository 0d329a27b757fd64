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
 *
 * Files: this one is the log (connection, state, append/read/head/trim); redis-stream-reader.ts is
 * the per-org blocking reader; redis-scripts.ts holds the key layout, the Lua scripts and the
 * parsing of replies.
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
import {
  APPEND_SCRIPT,
  connectionName,
  parseAppendReply,
  parseEntries,
  parseInteger,
  parseNullableString,
  parseReadReply,
  parseScanReply,
  parseString,
  READ_SCRIPT,
  redisKeys,
  toEvent,
  type ScriptedRedis,
} from './redis-scripts.ts';
import { createOrgReader, type OrgReader, type ReaderContext } from './redis-stream-reader.ts';

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
  const keys = redisKeys(prefix);
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

/** read() limits: a non-negative integer, at most MAX_READ_PAGE (Infinity too). */
function pageLimit(limit: number): number {
  if (Number.isNaN(limit)) return 0;
  return Math.min(MAX_READ_PAGE, Math.max(0, Math.floor(limit)));
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

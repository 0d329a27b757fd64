/**
 * The per-org blocking reader of the Redis log: one dedicated connection per org per process, so
 * the connection pool holds across processes (Redis connections per process = live orgs on it + 1).
 */
import type { Redis } from 'ioredis';
import type { StreamEvent } from '../protocol/index.ts';
import type { EventListener } from './event-log.ts';
import { connectionName, parseInteger, parseNullableString, parseXreadReply, toEvent, type Keys } from './redis-scripts.ts';

/** Entries per XREAD of a blocking reader. */
const READER_BATCH = 500;

/** What a reader shares with its log: the command connection (duplicated for the reader's own), keys, timings. */
export interface ReaderContext {
  client: Redis;
  keys: Keys;
  blockMs: number;
  reconnectMaxMs: number;
  adoptEpoch(epoch: string): void;
  onListenerError(error: unknown, event: StreamEvent): void;
}

/** One org's reader, shared by every local listener of the org. */
export interface OrgReader {
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
export function createOrgReader(org: string, context: ReaderContext): OrgReader {
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

/** Full-jitter exponential backoff: a delay in [0, min(max, min * 2^attempt)). */
function backoff(attempt: number, min: number, max: number): number {
  return Math.random() * Math.min(max, min * 2 ** attempt);
}

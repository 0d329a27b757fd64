/**
 * The event log: the one interface every store implements (in-memory for tests, SQLite embedded,
 * Redis Streams for scale-out). Methods are async so a networked store fits the same shape.
 */
import type { Cursor, EventInput, ResetReason, StreamEvent } from '../protocol/index.ts';

/** Retention limits, applied by `trim()`: whichever removes more wins. */
export interface Retention {
  /** Keep at most this many events per org. */
  maxEventsPerOrg: number;
  /** Drop events older than this (ms). */
  maxAgeMs: number;
}

export const DEFAULT_RETENTION: Retention = { maxEventsPerOrg: 100_000, maxAgeMs: 7 * 24 * 3600_000 };

/** The answer to `read`: the events after a cursor, or a reset when the gap cannot be filled. */
export type ReadResult =
  | {
      kind: 'events';
      /** Events after the cursor, oldest first, at most `limit`. */
      events: StreamEvent[];
      /** The org's last cursor at the time of the read (`epoch:0` when it has none). */
      head: string;
    }
  | {
      kind: 'reset';
      reason: ResetReason;
      /** Events the reader will not get by jumping to `head`, where known. */
      lost: number | null;
      /** The new position to continue after. */
      head: string;
    };

export type EventListener = (event: StreamEvent) => void;

export interface EventLog {
  /** The log's identity, part of every cursor: a wiped log has a new one. */
  readonly epoch: string;
  /** Appends one event; resolves once the event is durable, with its id and ts set. */
  append(input: EventInput): Promise<StreamEvent>;
  /**
   * Events of `org` after `after` (null: from the beginning of what is retained), oldest first,
   * at most `limit`. Resets when `after` is from another epoch, past retention or past the head.
   */
  read(org: string, after: Cursor | null, limit: number): Promise<ReadResult>;
  /** The cursor of the org's last event, or `epoch:0`. */
  head(org: string): Promise<string>;
  /**
   * Calls `listener` with every event of `org` appended after this call, in order, once durable.
   * Returns the unsubscribe function. The hub holds one such subscription per org.
   */
  subscribe(org: string, listener: EventListener): () => void;
  /** Applies retention now; returns how many events were removed. */
  trim(now?: number): Promise<number>;
  /** Flushes and releases the store. */
  close(): Promise<void>;
  /**
   * Optional, for networked stores (Redis): reports reachability. On `to: 'unavailable'` the server
   * closes streams with CloseCode.STORE_UNAVAILABLE (4013); clients resume from their cursors.
   */
  onStatus?(listener: (change: { from: string; to: string; reason: string }) => void): () => void;
}

/** Decides what a read after `after` means for an org whose log spans (trimmedThrough, head]. */
export function classifyRead(
  epoch: string,
  after: Cursor | null,
  headSeq: number,
  trimmedThrough: number,
): { kind: 'read'; fromSeq: number } | { kind: 'reset'; reason: ResetReason; lost: number | null } {
  if (after === null) return { kind: 'read', fromSeq: trimmedThrough };
  if (after.epoch !== epoch) return { kind: 'reset', reason: 'epoch', lost: null };
  if (after.seq > headSeq) return { kind: 'reset', reason: 'unknown_position', lost: null };
  // Events (after.seq, trimmedThrough] are gone: the reader cannot be brought up to date.
  if (after.seq < trimmedThrough) return { kind: 'reset', reason: 'retention', lost: headSeq - after.seq };
  return { kind: 'read', fromSeq: after.seq };
}

/** A new random epoch: 10 base-36 characters. */
export function newEpoch(): string {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return value.toString(36).padStart(10, '0').slice(-10);
}

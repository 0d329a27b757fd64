/**
 * Whether the event store answers, as the endpoints need it: the Redis log reports reachability
 * through `onStatus`; the embedded logs have none and are always available.
 *
 *   log.onStatus ──to: unavailable──▶ available = false ──▶ stream: close every socket 4013
 *                                                        └─▶ long-poll: answer open polls 503
 *               ──to: available────▶ available = true  ──▶ clients reconnect with backoff, resume
 *
 * An epoch change (Redis flushed) is reported by the log as unavailable → available, so the same
 * closes send every client back with its old cursor, and it gets an explicit `reset`.
 */
import { CloseCode, ErrorCode, StreamError } from '../protocol/index.ts';
import type { EventLog } from './event-log.ts';

export interface StoreStatus {
  readonly available: boolean;
  /** The error endpoints answer with while the store is unavailable (HTTP 503, close 4013). */
  unavailableError(): StreamError;
  /** Listeners run on every real change, with the log's reason. */
  onChange(listener: (available: boolean, reason: string) => void): () => void;
  /** Stops watching the log. */
  close(): void;
}

/** Watches `log.onStatus` when the log has it. */
export function watchStore(log: EventLog): StoreStatus {
  let available = !('state' in log && log.state === 'unavailable');
  let reason = '';
  const listeners = new Set<(available: boolean, reason: string) => void>();

  function set(next: boolean, why: string): void {
    if (next === available) return;
    available = next;
    reason = why;
    for (const listener of [...listeners]) listener(next, why);
  }

  // `closed` is the server's own shutdown: sockets are already closed with 1001 by then.
  const stop =
    log.onStatus?.((change) => {
      if (change.to === 'unavailable') set(false, change.reason);
      else if (change.to === 'available') set(true, change.reason);
    }) ?? (() => {});

  return {
    get available() {
      return available;
    },
    unavailableError() {
      const why = reason ? ` (${reason})` : '';
      return new StreamError(
        ErrorCode.STORE_UNAVAILABLE,
        `the event store is unavailable${why}: retry with backoff and resume from your cursor`,
        CloseCode.STORE_UNAVAILABLE,
      );
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      stop();
      listeners.clear();
    },
  };
}

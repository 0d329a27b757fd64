/**
 * The rollback flag: `localStorage.REALTIME_STREAMING_V2 !== 'false'` selects v2 (also when the
 * key is missing); `'false'` selects v1 long-polling with no SharedWorker and no WebSocket.
 */
import { FLAG_KEY, flagReason, type FlagReason } from '../protocol/index.ts';

export interface StreamingFlag {
  /** True: v2 streaming (SharedWorker + WebSocket); false: v1 long-polling in the page. */
  v2: boolean;
  reason: FlagReason;
  /** The raw value read, null when missing or unreadable. */
  raw: string | null;
  /** Set when localStorage threw (e.g. disabled storage): v2 is used by default. */
  storageError?: string;
}

/** Reads the flag from `storage` (normally `localStorage`); never throws. */
export function readStreamingFlag(storage: Pick<Storage, 'getItem'> | null | undefined): StreamingFlag {
  let raw: string | null;
  try {
    if (!storage) return { v2: true, reason: 'default', raw: null, storageError: 'localStorage is not available' };
    raw = storage.getItem(FLAG_KEY);
  } catch (error) {
    return { v2: true, reason: 'default', raw: null, storageError: error instanceof Error ? error.message : String(error) };
  }
  const reason = flagReason(raw);
  return { v2: reason !== 'forced-off', reason, raw };
}

/** `localStorage` when the page may touch it, else null (some sandboxes throw on the getter itself). */
export function pageLocalStorage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null;
  }
}

/**
 * A tab's own last delivered cursor per org, in sessionStorage: it survives that tab's reload
 * (and only that tab's), which is what per-tab resume needs.
 */
import { isAfter, isCursor } from '../protocol/index.ts';

const KEY = 'realtime-streaming:cursors';

export interface SessionCursors {
  get(org: string): string | null;
  all(): Record<string, string>;
  /** Moves the org's cursor forward (or anywhere, with `force`, after a reset). */
  set(org: string, cursor: string, force?: boolean): void;
}

/** Reads and writes `storage` (normally sessionStorage); works in memory when storage throws. */
export function createSessionCursors(storage: Pick<Storage, 'getItem' | 'setItem'> | null): SessionCursors {
  const cursors = new Map<string, string>();
  try {
    const raw: unknown = JSON.parse(storage?.getItem(KEY) ?? '{}');
    if (typeof raw === 'object' && raw !== null) {
      for (const [org, cursor] of Object.entries(raw)) if (isCursor(cursor)) cursors.set(org, cursor);
    }
  } catch {
    // Unreadable or corrupt: start without cursors (the worker's stored cursor takes over).
  }
  const save = (): void => {
    try {
      storage?.setItem(KEY, JSON.stringify(Object.fromEntries(cursors)));
    } catch {
      // Quota or disabled storage: the in-memory copy still dedupes for this page's life.
    }
  };
  return {
    get: (org) => cursors.get(org) ?? null,
    all: () => Object.fromEntries(cursors),
    set(org, cursor, force = false) {
      if (!force && !isAfter(cursor, cursors.get(org))) return;
      cursors.set(org, cursor);
      save();
    },
  };
}

/** `sessionStorage` when the page may touch it, else null. */
export function pageSessionStorage(): Storage | null {
  try {
    return typeof sessionStorage === 'undefined' ? null : sessionStorage;
  } catch {
    return null;
  }
}

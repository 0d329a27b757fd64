/**
 * The last delivered cursor per org, persisted in IndexedDB (via `idb`) so that a worker started
 * after every tab was closed resumes where the previous one stopped.
 *
 * Writes are batched: `set()` only updates memory and schedules one transaction for everything
 * that changed within `batchMs`, so a burst of 1,000 events costs one IndexedDB write, not 1,000.
 * Without IndexedDB (private modes, a failed open) the store keeps working in memory and says so
 * through `kind`.
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import { parseCursor, type CursorStorage } from '../protocol/index.ts';
import { silentLogger, type Logger } from './logger.ts';

const DB_NAME = 'realtime-streaming';
/** Bump with a new `case` in `upgrade` below; never edit a released step. */
const DB_VERSION = 1;

interface CursorRecord {
  org: string;
  cursor: string;
  /** When this tab last wrote it (ms since epoch), for debugging in devtools. */
  updatedAt: number;
}

interface RealtimeDB extends DBSchema {
  cursors: { key: string; value: CursorRecord };
}

export interface CursorStore {
  /** Where cursors persist: `indexeddb`, or `memory` when IndexedDB could not be opened. */
  readonly kind: CursorStorage;
  /** The last cursor stored for `org` (as this store knows it, including unflushed writes). */
  get(org: string): string | null;
  /** Every known cursor. */
  all(): Record<string, string>;
  /**
   * Records `cursor` for `org`. Only moves forward within an epoch unless `force` (a reset moved
   * the position, or a new epoch replaced the log). Persisted within `batchMs`.
   */
  set(org: string, cursor: string, options?: { force?: boolean }): void;
  /** Writes pending cursors now (e.g. when the last tab detaches). */
  flush(): Promise<void>;
  /** Flushes and closes the database. */
  close(): Promise<void>;
}

export interface CursorStoreOptions {
  /** Database name (tests use a fresh one each). */
  name?: string;
  /** Coalescing window for writes (ms). */
  batchMs?: number;
  logger?: Logger;
}

/** True when `next` should replace `current`: a later seq in the same epoch, or another epoch. */
function advances(current: string | undefined, next: string): boolean {
  if (current === undefined) return true;
  const a = parseCursor(current);
  const b = parseCursor(next);
  if (!a || !b) return b !== null;
  if (a.epoch !== b.epoch) return true;
  return b.seq > a.seq;
}

/**
 * Opens the store. Never rejects: when IndexedDB is missing or fails to open, resolves to an
 * in-memory store (`kind: 'memory'`) and logs why.
 */
export async function openCursorStore(options: CursorStoreOptions = {}): Promise<CursorStore> {
  const logger = options.logger ?? silentLogger;
  const name = options.name ?? DB_NAME;
  const batchMs = options.batchMs ?? 100;
  const known = new Map<string, string>();
  /** Writes not yet committed: org → { cursor, force }. */
  const pending = new Map<string, { cursor: string; force: boolean }>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let flushing: Promise<void> = Promise.resolve();

  let db: IDBPDatabase<RealtimeDB> | null = null;
  /** Set when the connection was lost (terminated/blocking): reopen lazily on the next flush. */
  let reopen = false;

  const open = async (): Promise<IDBPDatabase<RealtimeDB>> =>
    openDB<RealtimeDB>(name, DB_VERSION, {
      upgrade(database, oldVersion) {
        // Cumulative migrations: a browser at version 0 runs every step, one at N runs N+1….
        switch (oldVersion) {
          case 0:
            database.createObjectStore('cursors', { keyPath: 'org' });
          // falls through (the next version's step goes here)
        }
      },
      blocked(currentVersion) {
        logger.log('storage', { blocked: true, currentVersion, note: 'an older tab holds the cursor database open' }, 'warn');
      },
      blocking() {
        // A newer build wants to upgrade: let it, and reopen (or fall back) on our next write.
        db?.close();
        db = null;
        reopen = true;
      },
      terminated() {
        db = null;
        reopen = true;
        logger.log('storage', { terminated: true }, 'warn');
      },
    });

  let kind: CursorStorage = 'memory';
  try {
    if (typeof indexedDB === 'undefined') throw new Error('IndexedDB is not available');
    db = await open();
    const records = await db.getAll('cursors');
    for (const record of records) known.set(record.org, record.cursor);
    kind = 'indexeddb';
  } catch (error) {
    db = null;
    logger.log('storage', { storage: 'memory', reason: error instanceof Error ? error.message : String(error) }, 'warn');
  }

  async function write(): Promise<void> {
    if (kind === 'memory' || pending.size === 0) {
      pending.clear();
      return;
    }
    const batch = [...pending.entries()];
    pending.clear();
    try {
      if (!db && reopen) db = await open();
      if (!db) return;
      const tx = db.transaction('cursors', 'readwrite');
      const now = Date.now();
      // Only IDB requests are awaited inside the transaction, or it would auto-commit early.
      await Promise.all([
        ...batch.map(async ([org, { cursor, force }]) => {
          const current = await tx.store.get(org);
          if (force || advances(current?.cursor, cursor)) await tx.store.put({ org, cursor, updatedAt: now });
        }),
        tx.done,
      ]);
    } catch (error) {
      logger.log('storage', { writeFailed: error instanceof Error ? error.message : String(error) }, 'warn');
    }
  }

  function flush(): Promise<void> {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    flushing = flushing.then(write);
    return flushing;
  }

  return {
    get kind() {
      return kind;
    },
    get(org) {
      return known.get(org) ?? null;
    },
    all() {
      return Object.fromEntries(known);
    },
    set(org, cursor, { force = false } = {}) {
      if (!force && !advances(known.get(org), cursor)) return;
      known.set(org, cursor);
      const previous = pending.get(org);
      pending.set(org, { cursor, force: force || (previous?.force ?? false) });
      if (kind === 'indexeddb' && timer === undefined) timer = setTimeout(() => void flush(), batchMs);
    },
    flush,
    async close() {
      await flush();
      db?.close();
      db = null;
    },
  };
}

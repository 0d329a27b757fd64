/**
 * The embedded event log: one SQLite file (better-sqlite3) in WAL mode with `synchronous = FULL`,
 * so an event whose `append()` resolved survives a killed process and a power cut.
 *
 * Each org's log is the contiguous range (trimmed_through, head_seq] of `events`. Retention only
 * ever deletes a prefix of that range, so `head_seq - trimmed_through` is the org's event count and
 * the org's row keeps `head_seq` even when every event is trimmed (cursors at the head stay valid).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
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

export interface SqliteEventLogOptions {
  /** Path of the database file; its directory is created when missing. */
  file: string;
  retention?: Partial<Retention>;
  /** The clock for event `ts` and for `trim()` without an argument. */
  now?: () => number;
  /**
   * Called when a subscriber throws. The event is already durable, so `append()` still resolves
   * and the other subscribers still run. Default: rethrown from a microtask, like EventTarget's
   * `reportError`, so a broken subscriber is loud instead of silently swallowed.
   */
  onListenerError?: (error: unknown, event: StreamEvent) => void;
}

/** How long a statement waits for another connection's lock before failing with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000;

/**
 * Cumulative migrations: entry `i` upgrades a file at `user_version = i` to `i + 1`.
 * Append new entries; never edit a shipped one.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
   CREATE TABLE orgs (
     org TEXT PRIMARY KEY,
     head_seq INTEGER NOT NULL,
     trimmed_through INTEGER NOT NULL
   ) WITHOUT ROWID;
   -- The primary key is the "read after seq" index: reads are range scans on (org, seq).
   CREATE TABLE events (
     org TEXT NOT NULL,
     seq INTEGER NOT NULL,
     service TEXT NOT NULL,
     type TEXT NOT NULL,
     data TEXT NOT NULL,
     ts INTEGER NOT NULL,
     PRIMARY KEY (org, seq)
   ) WITHOUT ROWID;`,
];

interface EventRow {
  seq: number;
  service: string;
  type: string;
  data: string;
  ts: number;
}

interface OrgRow {
  org: string;
  head_seq: number;
  trimmed_through: number;
}

/**
 * Opens (creating or migrating) the SQLite event log at `options.file`. Synchronous: a file that
 * cannot be opened throws a `StreamError` with code `STORE_UNAVAILABLE` naming the path.
 */
export function createSqliteEventLog(options: SqliteEventLogOptions): EventLog {
  const { file } = options;
  const retention = { ...DEFAULT_RETENTION, ...options.retention };
  const now = options.now ?? Date.now;
  const onListenerError =
    options.onListenerError ??
    ((error: unknown) => {
      queueMicrotask(() => {
        throw error;
      });
    });

  const { db, epoch } = openDatabase(file);
  const listeners = new Map<string, Set<EventListener>>();
  let state: 'open' | 'closed' = 'open';

  const bumpHead = db.prepare<[string], number>(
    `INSERT INTO orgs (org, head_seq, trimmed_through) VALUES (?, 1, 0)
     ON CONFLICT (org) DO UPDATE SET head_seq = head_seq + 1
     RETURNING head_seq`,
  ).pluck();
  const insertEvent = db.prepare<[string, number, string, string, string, number]>(
    'INSERT INTO events (org, seq, service, type, data, ts) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const selectOrg = db.prepare<[string], OrgRow>('SELECT org, head_seq, trimmed_through FROM orgs WHERE org = ?');
  const selectOrgs = db.prepare<[], OrgRow>('SELECT org, head_seq, trimmed_through FROM orgs');
  const selectAfter = db.prepare<[string, number, number], EventRow>(
    'SELECT seq, service, type, data, ts FROM events WHERE org = ? AND seq > ? ORDER BY seq LIMIT ?',
  );
  // Walks the primary key in seq order and stops at the first young event: cost ~ rows to delete.
  const firstYoungSeq = db.prepare<[string, number, number], number>(
    'SELECT seq FROM events WHERE org = ? AND seq > ? AND ts >= ? ORDER BY seq LIMIT 1',
  ).pluck();
  const deleteThrough = db.prepare<[string, number]>('DELETE FROM events WHERE org = ? AND seq <= ?');
  const setTrimmed = db.prepare<[number, string]>('UPDATE orgs SET trimmed_through = ? WHERE org = ?');

  // IMMEDIATE takes the write lock up front, so a second process waits on busy_timeout instead of
  // failing mid-transaction when its read lock cannot be upgraded.
  const appendRow = db.transaction((input: EventInput, data: string, ts: number): number => {
    const seq = bumpHead.get(input.org);
    if (seq === undefined) throw new Error('RETURNING gave no head_seq');
    insertEvent.run(input.org, seq, input.service, input.type, data, ts);
    return seq;
  }).immediate;

  const trimOrg = db.transaction((org: string, at: number): number => {
    const row = selectOrg.get(org);
    if (!row) return 0;
    const byCount = Math.max(row.trimmed_through, row.head_seq - Math.max(0, retention.maxEventsPerOrg));
    const young = firstYoungSeq.get(org, byCount, at - retention.maxAgeMs);
    const cut = young === undefined ? row.head_seq : Math.max(byCount, young - 1);
    if (cut <= row.trimmed_through) return 0;
    const removed = deleteThrough.run(org, cut).changes;
    setTrimmed.run(cut, org);
    return removed;
  }).immediate;

  function ensureOpen(): void {
    if (state === 'closed') {
      throw new StreamError(ErrorCode.STORE_UNAVAILABLE, `event log ${file} is closed`, CloseCode.STORE_UNAVAILABLE);
    }
  }

  /** Runs `work` against the database, turning SQLite failures into STORE_UNAVAILABLE. */
  function guarded<T>(work: () => T): T {
    ensureOpen();
    try {
      return work();
    } catch (error) {
      throw storeError(file, 'failed', error);
    }
  }

  function orgPosition(org: string): { headSeq: number; trimmedThrough: number } {
    const row = selectOrg.get(org);
    return { headSeq: row?.head_seq ?? 0, trimmedThrough: row?.trimmed_through ?? 0 };
  }

  return {
    epoch,

    async append(input: EventInput): Promise<StreamEvent> {
      ensureOpen();
      // Outside the guard: a payload JSON cannot hold (cycle, BigInt) is the caller's error, not the store's.
      const data = JSON.stringify(input.data ?? null);
      const ts = now();
      const seq = guarded(() => appendRow(input, data, ts));
      const event: StreamEvent = {
        id: formatCursor({ epoch, seq }),
        org: input.org,
        service: input.service,
        type: input.type,
        data: JSON.parse(data) as unknown,
        ts,
      };
      // After commit, so no subscriber ever sees an event a crash could take back. A snapshot, so a
      // listener added during dispatch only gets later events ("appended after this call").
      const orgListeners = listeners.get(input.org);
      if (orgListeners) {
        for (const listener of [...orgListeners]) {
          try {
            listener(event);
          } catch (error) {
            onListenerError(error, event);
          }
        }
      }
      return event;
    },

    async read(org: string, after: Cursor | null, limit: number): Promise<ReadResult> {
      return guarded(() => {
        const { headSeq, trimmedThrough } = orgPosition(org);
        const head = formatCursor({ epoch, seq: headSeq });
        const decision = classifyRead(epoch, after, headSeq, trimmedThrough);
        if (decision.kind === 'reset') return { kind: 'reset', reason: decision.reason, lost: decision.lost, head };
        const rows = selectAfter.all(org, decision.fromSeq, sqlLimit(limit));
        const events = rows.map(
          (row): StreamEvent => ({
            id: formatCursor({ epoch, seq: row.seq }),
            org,
            service: row.service,
            type: row.type,
            data: JSON.parse(row.data) as unknown,
            ts: row.ts,
          }),
        );
        return { kind: 'events', events, head };
      });
    },

    async head(org: string): Promise<string> {
      return guarded(() => formatCursor({ epoch, seq: orgPosition(org).headSeq }));
    },

    subscribe(org: string, listener: EventListener): () => void {
      if (state === 'closed') return () => {};
      let orgListeners = listeners.get(org);
      if (!orgListeners) {
        orgListeners = new Set();
        listeners.set(org, orgListeners);
      }
      orgListeners.add(listener);
      return () => {
        orgListeners.delete(listener);
        if (orgListeners.size === 0 && listeners.get(org) === orgListeners) listeners.delete(org);
      };
    },

    async trim(at = now()): Promise<number> {
      return guarded(() => {
        let removed = 0;
        // One transaction per org: a long trim never holds the write lock across every org at once.
        for (const { org } of selectOrgs.all()) removed += trimOrg(org, at);
        return removed;
      });
    },

    async close(): Promise<void> {
      if (state === 'closed') return;
      state = 'closed';
      listeners.clear();
      try {
        // Folds the WAL back into the main file so the file alone is a complete copy (backups, moves).
        db.pragma('wal_checkpoint(TRUNCATE)');
      } finally {
        db.close();
      }
    },
  };
}

/** Opens the file, sets durability pragmas, migrates the schema and reads (or creates) the epoch. */
function openDatabase(file: string): { db: Database.Database; epoch: string } {
  let db: Database.Database | undefined;
  try {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
    db.pragma('journal_mode = WAL');
    // FULL: the WAL is fsynced at every commit. NORMAL would lose the last commits on power loss.
    db.pragma('synchronous = FULL');
    migrate(db);
    return { db, epoch: readEpoch(db) };
  } catch (error) {
    db?.close();
    if (error instanceof StreamError) throw error;
    throw storeError(file, 'cannot be opened', error);
  }
}

function migrate(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true });
  if (typeof version !== 'number') throw new Error('PRAGMA user_version returned no number');
  if (version > MIGRATIONS.length) {
    throw new StreamError(
      ErrorCode.STORE_UNAVAILABLE,
      `event log ${db.name} has schema version ${version}, newer than this server's ${MIGRATIONS.length}: upgrade the server`,
      CloseCode.STORE_UNAVAILABLE,
    );
  }
  for (let next = version; next < MIGRATIONS.length; next++) {
    // Schema change and version bump commit together, so a crash never leaves a half-migrated file.
    db.transaction(() => {
      db.exec(MIGRATIONS[next] ?? '');
      db.pragma(`user_version = ${next + 1}`);
    }).immediate();
  }
}

function readEpoch(db: Database.Database): string {
  // INSERT OR IGNORE: two processes opening a fresh file at once agree on whichever epoch won.
  db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('epoch', ?)").run(newEpoch());
  const epoch = db.prepare<[], string>("SELECT value FROM meta WHERE key = 'epoch'").pluck().get();
  if (epoch === undefined) throw new Error('meta has no epoch');
  return epoch;
}

/** SQLite reads a negative LIMIT as "no limit": clamp to what `limit` means for the memory log. */
function sqlLimit(limit: number): number {
  if (Number.isNaN(limit)) return 0;
  if (limit === Infinity) return -1;
  return Math.max(0, Math.floor(limit));
}

function storeError(file: string, what: string, cause: unknown): StreamError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  const error = new StreamError(
    ErrorCode.STORE_UNAVAILABLE,
    `event log ${file} ${what}: ${reason}`,
    CloseCode.STORE_UNAVAILABLE,
  );
  error.cause = cause;
  return error;
}

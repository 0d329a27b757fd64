/**
 * Cursors name a position in one org's log *and* the log's identity: `epoch:seq`.
 *
 * - `epoch` is a random id the log picks when it is created; a wiped or replaced log gets a new one,
 *   so an old cursor is detected (reset reason `epoch`) instead of being silently mistaken.
 * - `seq` is the event's position in its org, starting at 1; `epoch:0` is "before the first event".
 *
 * Apps treat cursors as opaque strings; only the client library and the server parse them.
 */

export interface Cursor {
  epoch: string;
  seq: number;
}

const CURSOR_PATTERN = /^([A-Za-z0-9_-]{1,32}):(0|[1-9][0-9]{0,15})$/;

/** Parses `epoch:seq`; returns null for anything else (never throws). */
export function parseCursor(text: unknown): Cursor | null {
  if (typeof text !== 'string' || text.length > 50) return null;
  const match = CURSOR_PATTERN.exec(text);
  if (!match) return null;
  const seq = Number(match[2]);
  if (!Number.isSafeInteger(seq)) return null;
  return { epoch: match[1] as string, seq };
}

export function formatCursor(cursor: Cursor): string {
  return `${cursor.epoch}:${cursor.seq}`;
}

/**
 * Orders two cursors of the same epoch; returns null when the epochs differ,
 * because positions in different logs cannot be compared.
 */
export function compareCursors(a: Cursor, b: Cursor): number | null {
  if (a.epoch !== b.epoch) return null;
  return a.seq - b.seq;
}

/** True when `candidate` is strictly after `last` in the same epoch (or `last` is unknown). */
export function isAfter(candidate: string, last: string | null | undefined): boolean {
  if (!last) return true;
  const a = parseCursor(candidate);
  const b = parseCursor(last);
  if (!a || !b) return false;
  if (a.epoch !== b.epoch) return true;
  return a.seq > b.seq;
}

/** Type guard for a well-formed cursor string. */
export function isCursor(value: unknown): value is string {
  return parseCursor(value) !== null;
}

/**
 * The position just before the event `id` (`epoch:seq-1`), so that resuming from it delivers that
 * event; null when `id` is not a cursor.
 */
export function cursorBefore(id: string): string | null {
  const cursor = parseCursor(id);
  return cursor ? formatCursor({ epoch: cursor.epoch, seq: Math.max(0, cursor.seq - 1) }) : null;
}

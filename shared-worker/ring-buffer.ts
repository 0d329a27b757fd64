/**
 * The recent events of each org, kept by the worker so a tab that reloads while the worker stays
 * alive gets what it missed without asking the server. It also remembers the position just before
 * its oldest event (`base`), so it can tell "I cover everything after your cursor" from "there is
 * a gap: fetch it".
 */
import { cursorBefore, parseCursor, type StreamEvent } from '../protocol/index.ts';

export type RingAnswer =
  /** Every event after the cursor, oldest first (possibly none). */
  | { kind: 'events'; events: StreamEvent[] }
  /** The buffer does not reach back to the cursor (or the cursor is from another epoch). */
  | { kind: 'gap' }
  /** The org's position is not known yet (the stream has not gone live). */
  | { kind: 'unknown' };

export interface RingBuffer {
  /** Appends events in order (events at or before the newest are ignored). */
  push(org: string, events: StreamEvent[]): void;
  /** Sets the position before any buffered event, if none is known (the `live` cursor, a start cursor). */
  anchor(org: string, cursor: string): void;
  /** Drops the org's events and restarts at `cursor` (after a reset). */
  restart(org: string, cursor: string): void;
  /** The events after `cursor`, or why they cannot be served from memory. */
  since(org: string, cursor: string): RingAnswer;
  /** The newest position known for the org (last event, else base), or null. */
  head(org: string): string | null;
}

interface OrgRing {
  events: StreamEvent[];
  /** The position just before `events[0]`: everything after it is in `events`. */
  base: string | null;
}

/** A ring of at most `capacity` events per org. */
export function createRingBuffer(capacity = 1000): RingBuffer {
  const orgs = new Map<string, OrgRing>();
  const ring = (org: string): OrgRing => {
    let entry = orgs.get(org);
    if (!entry) {
      entry = { events: [], base: null };
      orgs.set(org, entry);
    }
    return entry;
  };
  const seqOf = (id: string): number => parseCursor(id)?.seq ?? -1;

  return {
    push(org, events) {
      const entry = ring(org);
      for (const event of events) {
        const last = entry.events.at(-1);
        if (last && parseCursor(last.id)?.epoch === parseCursor(event.id)?.epoch && seqOf(event.id) <= seqOf(last.id)) continue;
        if (entry.base === null && entry.events.length === 0) {
          // First event with no known position: only what follows it is covered.
          entry.base = cursorBefore(event.id);
        }
        entry.events.push(event);
      }
      const overflow = entry.events.length - capacity;
      if (overflow > 0) {
        const dropped = entry.events.splice(0, overflow);
        entry.base = dropped.at(-1)?.id ?? entry.base;
      }
    },
    anchor(org, cursor) {
      const entry = ring(org);
      if (entry.base === null && entry.events.length === 0) entry.base = cursor;
    },
    restart(org, cursor) {
      orgs.set(org, { events: [], base: cursor });
    },
    since(org, cursor) {
      const entry = orgs.get(org);
      if (!entry || entry.base === null) return { kind: 'unknown' };
      const want = parseCursor(cursor);
      const base = parseCursor(entry.base);
      if (!want || !base || want.epoch !== base.epoch || want.seq < base.seq) return { kind: 'gap' };
      return { kind: 'events', events: entry.events.filter((event) => seqOf(event.id) > want.seq) };
    },
    head(org) {
      const entry = orgs.get(org);
      if (!entry) return null;
      return entry.events.at(-1)?.id ?? entry.base;
    },
  };
}

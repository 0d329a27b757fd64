/**
 * The stream view's model, shared by the DevTools panel and the stream page: a bounded list of rows
 * (events, connection happenings, page loads) with filter, pause, clear and export. No DOM here.
 *
 * Bounded on purpose: at hundreds of events a second the view keeps the last `capacity` rows and
 * counts what it dropped, so memory and filter time stay flat however long it runs.
 */
import type { ClientStatus, ConnectionEventKind } from '../protocol/index.ts';
import { isClientStatus } from './messages.ts';
import type { RelayEntry } from './messages.ts';
import { createRing } from './ring.ts';

export interface EventRow {
  key: string;
  kind: 'event';
  /** Receipt time in the page (ms since epoch). */
  at: number;
  org: string;
  service: string;
  type: string;
  id: string;
  /** Page receipt minus server acceptance, in ms; null when the event has no usable `ts`. */
  latencyMs: number | null;
  replayed: boolean;
  data: unknown;
}

export interface ConnectionRow {
  key: string;
  kind: 'connection';
  at: number;
  what: ConnectionEventKind;
  detail: string;
}

export interface PageRow {
  key: string;
  kind: 'page';
  at: number;
  what: 'loaded' | 'unloaded';
  url: string;
}

export type StreamRow = EventRow | ConnectionRow | PageRow;

/** `service`: exact service name or '' for all; `text`: case-insensitive substring, '' for all. */
export interface StreamFilter {
  service: string;
  text: string;
}

export interface StreamModel {
  /** Bumps on every change the view must render. */
  readonly version: number;
  /** The client's latest status (kept even while paused: it heads the view). */
  readonly status: ClientStatus | null;
  readonly filter: StreamFilter;
  readonly paused: boolean;
  /** Entries received while paused, shown on resume. */
  readonly held: number;
  /** Rows kept (before filtering). */
  readonly total: number;
  /** Rows dropped because the list was full. */
  readonly dropped: number;
  /** Adds entries in order; entries whose key was already seen are ignored (history after a reconnect). */
  append(entries: readonly RelayEntry[]): void;
  /** The rows the filter lets through, oldest first (cached until the next change). */
  rows(): readonly StreamRow[];
  /** Services seen so far, sorted, for the filter menu. */
  services(): string[];
  find(key: string): StreamRow | undefined;
  setFilter(filter: Partial<StreamFilter>): void;
  pause(): void;
  resume(): void;
  clear(): void;
  /** The filtered rows as pretty JSON (what the view shows is what gets exported). */
  exportJson(now?: number): string;
}

export interface StreamModelOptions {
  /** Rows kept (default 5,000). */
  capacity?: number;
}

const text = (value: unknown): string => (typeof value === 'string' ? value : String(value ?? ''));

/** Turns a relayed entry into a row; status messages give no row (they update the header). */
export function toRow(entry: RelayEntry): StreamRow | null {
  const { key, payload } = entry;
  if (payload.kind === 'event') {
    const event = payload.event;
    const at = typeof payload.receivedAt === 'number' ? payload.receivedAt : Date.now();
    const ts = typeof event?.ts === 'number' ? event.ts : null;
    return {
      key,
      kind: 'event',
      at,
      org: text(event?.org),
      service: text(event?.service),
      type: text(event?.type),
      id: text(event?.id),
      latencyMs: ts === null ? null : Math.max(0, at - ts),
      replayed: payload.replayed === true,
      data: event?.data,
    };
  }
  if (payload.kind === 'connection') {
    return { key, kind: 'connection', at: payload.at, what: payload.what, detail: text(payload.detail) };
  }
  if (payload.kind === 'page') {
    return { key, kind: 'page', at: payload.at, what: payload.what, url: payload.url };
  }
  return null;
}

function haystack(row: StreamRow): string {
  switch (row.kind) {
    case 'event': {
      let data = '';
      try {
        data = JSON.stringify(row.data) ?? '';
      } catch {
        data = '';
      }
      return `${row.org} ${row.service} ${row.type} ${row.id} ${row.replayed ? 'replayed' : 'live'} ${data.slice(0, 4_000)}`.toLowerCase();
    }
    case 'connection':
      return `${row.what} ${row.detail}`.toLowerCase();
    case 'page':
      return `page ${row.what} ${row.url}`.toLowerCase();
  }
}

/** Service filter applies to events only: connection and page rows stay as context. */
function matches(row: StreamRow, filter: StreamFilter, search: (row: StreamRow) => string): boolean {
  if (filter.service && row.kind === 'event' && row.service !== filter.service) return false;
  if (filter.text && !search(row).includes(filter.text.toLowerCase())) return false;
  return true;
}

/** Creates an empty model. */
export function createStreamModel(options: StreamModelOptions = {}): StreamModel {
  const capacity = options.capacity ?? 5_000;
  const ring = createRing<StreamRow>(capacity);
  const byKey = new Map<string, StreamRow>();
  // Remembered keys outlive cleared and dropped rows, so a reconnect's history cannot bring them back.
  const seenOrder = createRing<string>(Math.max(capacity, 1_000) * 2);
  const seen = new Set<string>();
  const searchText = new WeakMap<StreamRow, string>();
  const serviceSet = new Set<string>();
  let held: RelayEntry[] = [];
  let status: ClientStatus | null = null;
  let filter: StreamFilter = { service: '', text: '' };
  let paused = false;
  let dropped = 0;
  let version = 0;
  let cache: { version: number; rows: StreamRow[] } | null = null;

  function search(row: StreamRow): string {
    let value = searchText.get(row);
    if (value === undefined) {
      value = haystack(row);
      searchText.set(row, value);
    }
    return value;
  }

  function remember(key: string): boolean {
    if (seen.has(key)) return false;
    seen.add(key);
    const forgotten = seenOrder.push(key);
    if (forgotten !== undefined) seen.delete(forgotten);
    return true;
  }

  function add(entry: RelayEntry): void {
    const row = toRow(entry);
    if (!row) return;
    if (row.kind === 'event' && row.service) serviceSet.add(row.service);
    byKey.set(row.key, row);
    const evicted = ring.push(row);
    if (evicted) {
      byKey.delete(evicted.key);
      dropped += 1;
    }
  }

  function rows(): StreamRow[] {
    if (cache && cache.version === version) return cache.rows;
    const all = ring.toArray();
    const kept = filter.service || filter.text ? all.filter((row) => matches(row, filter, search)) : all;
    cache = { version, rows: kept };
    return kept;
  }

  return {
    get version() {
      return version;
    },
    get status() {
      return status;
    },
    get filter() {
      return filter;
    },
    get paused() {
      return paused;
    },
    get held() {
      return held.length;
    },
    get total() {
      return ring.size;
    },
    get dropped() {
      return dropped;
    },
    append(entries) {
      let changed = false;
      for (const entry of entries) {
        if (!remember(entry.key)) continue;
        if (entry.payload.kind === 'status') {
          if (isClientStatus(entry.payload.status)) status = entry.payload.status;
          changed = true;
          continue;
        }
        if (paused) {
          held.push(entry);
          if (held.length > capacity) held.splice(0, held.length - capacity);
        } else add(entry);
        changed = true;
      }
      if (changed) version += 1;
    },
    rows,
    services() {
      return [...serviceSet].sort();
    },
    find(key) {
      return byKey.get(key);
    },
    setFilter(next) {
      const merged = { ...filter, ...next };
      if (merged.service === filter.service && merged.text === filter.text) return;
      filter = merged;
      version += 1;
    },
    pause() {
      if (paused) return;
      paused = true;
      version += 1;
    },
    resume() {
      if (!paused) return;
      paused = false;
      for (const entry of held) add(entry);
      held = [];
      version += 1;
    },
    clear() {
      ring.clear();
      byKey.clear();
      held = [];
      dropped = 0;
      version += 1;
    },
    exportJson(now = Date.now()) {
      const exported = rows().map((row) => ({ ...row, time: new Date(row.at).toISOString() }));
      return JSON.stringify({ exportedAt: new Date(now).toISOString(), filter, count: exported.length, rows: exported }, null, 2);
    },
  };
}

/** "14:03:07.123" in local time. */
export function formatClock(at: number): string {
  const d = new Date(at);
  const pad = (n: number, width = 2): string => String(n).padStart(width, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** Which rows a virtualised list renders: those in the viewport plus `overscan` either side. */
export function visibleWindow(
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
  count: number,
  overscan = 10,
): { start: number; end: number } {
  const first = Math.floor(Math.max(0, scrollTop) / rowHeight);
  const start = Math.max(0, first - overscan);
  const end = Math.min(count, first + Math.ceil(viewportHeight / rowHeight) + overscan);
  return { start, end: Math.max(start, end) };
}

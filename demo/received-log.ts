/**
 * The demo's record of every delivered event, kept in sessionStorage so a reload of the tab keeps
 * the history: an e2e test can then assert "every event exactly once across reloads".
 */

export interface ReceivedEntry {
  id: string;
  service: string;
  type: string;
  replayed: boolean;
  /** When the client handed the event to the app (ms since epoch). */
  receivedAt: number;
  /** When its row was in the DOM (ms since epoch); latency is `renderedAt - ts`. */
  renderedAt: number;
  /** When the server accepted it. */
  ts: number;
  /** Which page load of this tab received it (1 for the first load, 2 after one reload…). */
  load: number;
}

export interface ReceivedLog {
  readonly entries: ReceivedEntry[];
  /** This page load's number in the tab. */
  readonly load: number;
  add(entry: Omit<ReceivedEntry, 'load'>): ReceivedEntry;
  /** Writes the history now (the page calls it on pagehide, so a reload keeps everything). */
  flush(): void;
}

const ENTRIES_KEY = 'demo:received';
const LOADS_KEY = 'demo:loads';
const SAVE_EVERY_MS = 250;

function isEntry(value: unknown): value is ReceivedEntry {
  if (typeof value !== 'object' || value === null) return false;
  const entry: Record<string, unknown> = { ...value };
  return typeof entry.id === 'string' && typeof entry.service === 'string' && typeof entry.load === 'number';
}

/** Opens the log in `storage`, counting this page load. */
export function openReceivedLog(storage: Pick<Storage, 'getItem' | 'setItem'> | null): ReceivedLog {
  let entries: ReceivedEntry[] = [];
  let load = 1;
  try {
    const raw: unknown = JSON.parse(storage?.getItem(ENTRIES_KEY) ?? '[]');
    if (Array.isArray(raw)) entries = raw.filter(isEntry);
    load = Number(storage?.getItem(LOADS_KEY) ?? '0') + 1;
    storage?.setItem(LOADS_KEY, String(load));
  } catch {
    // Storage unavailable: history lives for this page load only.
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    try {
      storage?.setItem(ENTRIES_KEY, JSON.stringify(entries));
    } catch {
      // Quota: keep going in memory.
    }
  };
  // The whole history is rewritten on each save: once per SAVE_EVERY_MS at most, not once per
  // event (at 200 events/s that was quadratic and starved the browser). The page flushes on pagehide.
  const save = (): void => {
    if (timer === undefined) timer = setTimeout(flush, SAVE_EVERY_MS);
  };
  return {
    entries,
    load,
    add(partial) {
      const entry = { ...partial, load };
      entries.push(entry);
      save();
      return entry;
    },
    flush,
  };
}

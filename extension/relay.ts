/**
 * The background's relay: per tab, from the content script's port to every view watching that tab,
 * keeping a bounded ring of recent entries so a view opened later starts with recent history.
 *
 *   content script --PAGE_PORT {batch}--> relay --VIEW_PORT {history, then entries}--> views of that tab
 *
 * MV3 service workers are stopped when idle and lose their memory. The relay therefore
 * - writes each tab's ring to a store (storage.session) a moment after it changes, and loads it on start;
 * - keys entries `${boot}.${seq}` with a fresh `boot` per worker start, so a view that reconnects
 *   and gets the history again can drop what it already has, and keys never repeat across restarts;
 * - lets content scripts and views reconnect on their own when their port drops (see content-bridge.ts,
 *   view-connection.ts).
 */
import { PAGE_PORT, VIEW_PORT, isWatchRequest, parsePageBatch } from './messages.ts';
import type { PageNotice, RelayEntry, RelayPayload, ViewUpdate } from './messages.ts';
import { createRing } from './ring.ts';
import type { Ring } from './ring.ts';

/** The part of `runtime.Port` the relay uses (a real port fits; tests pass a fake). */
export interface PortLike {
  name: string;
  sender?: { tab?: { id?: number }; url?: string };
  postMessage(message: unknown): void;
  onMessage: { addListener(listener: (message: unknown) => void): void };
  onDisconnect: { addListener(listener: () => void): void };
}

/** Where rings survive a service-worker restart. */
export interface RelayStore {
  load(): Promise<Map<number, RelayEntry[]>>;
  save(tabId: number, entries: RelayEntry[]): Promise<void>;
  remove(tabId: number): Promise<void>;
}

export interface RelayOptions {
  /** Entries kept per tab (default 1,000). */
  capacity?: number;
  store?: RelayStore;
  /** Delay before a changed ring is written to the store (default 1,000 ms): at hundreds of events a second, one write a second. */
  saveDelayMs?: number;
  /** Distinguishes this worker's keys from an earlier one's (default: random). */
  boot?: string;
  now?: () => number;
}

export interface Relay {
  /** Takes a port from `runtime.onConnect`; ports with other names are left alone. */
  connect(port: PortLike): void;
  /** Forgets a closed tab. */
  dropTab(tabId: number): void;
  /** The tab's kept entries, oldest first. */
  history(tabId: number): RelayEntry[];
  /** Resolves when the stored rings are loaded (entries that arrive earlier wait for it). */
  readonly ready: Promise<void>;
}

/** Creates the relay; wire `runtime.onConnect` to `connect` and `tabs.onRemoved` to `dropTab`. */
export function createRelay(options: RelayOptions = {}): Relay {
  const capacity = options.capacity ?? 1_000;
  const saveDelayMs = options.saveDelayMs ?? 1_000;
  const boot = options.boot ?? Math.random().toString(36).slice(2, 10);
  const now = options.now ?? Date.now;
  const { store } = options;
  const rings = new Map<number, Ring<RelayEntry>>();
  const watchers = new Map<number, Set<PortLike>>();
  const saveTimers = new Map<number, ReturnType<typeof setTimeout>>();
  // Tabs the browser closed: a page port's late disconnect must not bring their history back.
  const closedTabs = new Set<number>();
  let seq = 0;

  const ready = (store ? store.load() : Promise.resolve(new Map<number, RelayEntry[]>()))
    .then((loaded) => {
      for (const [tabId, entries] of loaded) {
        // Entries relayed before the load finished cannot exist yet: handlers wait for `ready`.
        const ring = ringOf(tabId);
        for (const entry of entries) ring.push(entry);
      }
    })
    .catch(() => {
      // A lost history is not worth failing the relay for: start empty.
    });

  function ringOf(tabId: number): Ring<RelayEntry> {
    let ring = rings.get(tabId);
    if (!ring) {
      ring = createRing<RelayEntry>(capacity);
      rings.set(tabId, ring);
    }
    return ring;
  }

  function send(port: PortLike, update: ViewUpdate): boolean {
    try {
      port.postMessage(update);
      return true;
    } catch {
      return false; // the view went away between its disconnect and our send
    }
  }

  function scheduleSave(tabId: number): void {
    if (!store || saveTimers.has(tabId)) return;
    saveTimers.set(
      tabId,
      setTimeout(() => {
        saveTimers.delete(tabId);
        const ring = rings.get(tabId);
        if (ring) store.save(tabId, ring.toArray()).catch(() => {});
      }, saveDelayMs),
    );
  }

  function relay(tabId: number, payloads: RelayPayload[]): void {
    if (payloads.length === 0 || closedTabs.has(tabId)) return;
    const ring = ringOf(tabId);
    const entries = payloads.map((payload): RelayEntry => {
      seq += 1;
      return { key: `${boot}.${seq}`, payload };
    });
    for (const entry of entries) ring.push(entry);
    for (const view of watchers.get(tabId) ?? []) {
      if (!send(view, { type: 'entries', tabId, entries })) unwatch(view);
    }
    scheduleSave(tabId);
  }

  function unwatch(view: PortLike): void {
    for (const [tabId, views] of watchers) {
      views.delete(view);
      if (views.size === 0) watchers.delete(tabId);
    }
  }

  function connectPage(port: PortLike): void {
    const tabId = port.sender?.tab?.id;
    if (tabId === undefined) return; // not from a tab (e.g. an extension page): nothing to key it by
    port.onMessage.addListener((message) => {
      const batch = parsePageBatch(message);
      if (batch) void ready.then(() => relay(tabId, batch.payloads));
    });
    port.onDisconnect.addListener(() => {
      const notice: PageNotice = { source: 'extension', kind: 'page', what: 'unloaded', url: port.sender?.url ?? '', at: now() };
      void ready.then(() => relay(tabId, [notice]));
    });
  }

  function connectView(port: PortLike): void {
    port.onMessage.addListener((message) => {
      if (!isWatchRequest(message)) return;
      const { tabId } = message;
      void ready.then(() => {
        unwatch(port);
        if (!send(port, { type: 'history', tabId, entries: rings.get(tabId)?.toArray() ?? [] })) return;
        let views = watchers.get(tabId);
        if (!views) {
          views = new Set();
          watchers.set(tabId, views);
        }
        views.add(port);
      });
    });
    port.onDisconnect.addListener(() => unwatch(port));
  }

  return {
    ready,
    connect(port) {
      if (port.name === PAGE_PORT) connectPage(port);
      else if (port.name === VIEW_PORT) connectView(port);
    },
    dropTab(tabId) {
      closedTabs.add(tabId);
      rings.delete(tabId);
      const timer = saveTimers.get(tabId);
      if (timer !== undefined) clearTimeout(timer);
      saveTimers.delete(tabId);
      if (store) void ready.then(() => store.remove(tabId)).catch(() => {});
    },
    history(tabId) {
      return rings.get(tabId)?.toArray() ?? [];
    },
  };
}

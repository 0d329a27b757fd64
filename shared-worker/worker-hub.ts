/**
 * The hub: what the SharedWorker does (and the leader tab, and the page on v1). It owns the one
 * engine (one socket per origin), attaches tabs over ports, subscribes the engine to the union of
 * the tabs' services per org, routes each event only to the tabs that asked, brings a (re)attaching
 * tab up to date, and persists the delivered cursor.
 *
 * The cursor rule (why every event reaches every tab once, in order):
 * - Each tab keeps its own last delivered cursor per org in sessionStorage and sends it on attach;
 *   the hub tracks it per tab and never sends an event at or before it (the tab drops those too).
 * - The *stored* cursor (IndexedDB) advances only when an event is delivered to at least one
 *   attached tab. Events that arrive while no tab listens stay in the ring buffer only.
 * - A tab attaching with a cursor is served what it missed from the ring buffer; when the buffer
 *   does not reach back that far, from the v1 poll endpoint (it answers at once when events exist),
 *   then from the buffer. Live events are held back from that tab until it has caught up.
 * - A tab attaching without a cursor (a new tab) starts after the stored cursor: it gets what no
 *   tab has seen yet, not what other tabs already showed.
 * - A fresh engine resumes from the older of the stored cursor and the first tab's cursor.
 *
 * So "the only tab reloads while events are published": if the worker survives, the buffer holds
 * them; if it dies, the next worker resumes from the stored cursor (≤ the tab's) and the tab drops
 * what it already had. "All tabs closed, new tab opened": the stored cursor names the last event
 * any tab showed; the new tab starts right after it.
 */
import {
  ErrorCode,
  StreamError,
  cursorBefore,
  isAfter,
  parseCursor,
  type ClientMode,
  type ClientStatus,
  type StreamEvent,
  type TransportReason,
} from '../protocol/index.ts';
import { backoff } from './backoff.ts';
import type { CursorStore } from './cursor-store.ts';
import type { Engine, EngineListener, ResetInfo } from './engine.ts';
import { firstAnswer } from './first-answer.ts';
import { silentLogger, type Logger } from './logger.ts';
import { parseTabMessage, type AttachMessage, type HubPort, type HubToTab } from './port-messages.ts';
import type { Poll } from './poll.ts';
import { createRingBuffer } from './ring-buffer.ts';

/** What the hub gives the engine it creates, and what it learns from the first tab. */
export interface EngineContext extends EngineListener {
  getToken(): Promise<string>;
  /** Server base URLs, in order (at least one). */
  urls: string[];
  flagReason: AttachMessage['flagReason'];
}

export interface WorkerHubOptions {
  build: string;
  mode: ClientMode;
  store: CursorStore;
  /** Creates the engine when the first tab attaches. */
  createEngine(context: EngineContext): Engine;
  /**
   * Creates the poll function used to fetch what a tab missed beyond the ring buffer; each
   * request names the server the engine uses at the time.
   */
  createPoll(url: string): Poll;
  /** Calls `onGone` when the tab dies (Web Lock released); returns a cancel function. */
  watchTab?(tabId: string, onGone: () => void): () => void;
  /** Events kept per org for tabs that reattach. */
  ringCapacity?: number;
  /** With no tab attached for this long, close the socket (ms). */
  idleCloseMs?: number;
  /** How long a tab has to answer a token request before its request fails (ms). */
  tokenTimeoutMs?: number;
  /** With no token yet after this long, the next tab is asked too; the first answer wins (ms). */
  tokenHedgeMs?: number;
  logger?: Logger;
}

export interface WorkerHub {
  /** A new port: the first message on it must be `attach`. */
  connect(port: HubPort): void;
  /** A newer build took over this origin: tell every tab, close the socket, accept no one. */
  supersede(build: string): void;
  /** Attached tabs. */
  tabs(): number;
  status(): ClientStatus;
  close(): Promise<void>;
}

interface Tab {
  id: string;
  port: HubPort;
  orgs: string[];
  services: Set<string>;
  /** The tab's position per org, as far as the hub has served it. */
  cursors: Map<string, string>;
  /** Orgs whose catch-up is running (live events held back); value: generation. */
  catchingUp: Map<string, { controller: AbortController }>;
  /** Orgs waiting for the stream to know its position before catch-up can start. */
  waiting: Set<string>;
  cancelWatch: () => void;
}

const wants = (services: Set<string>, event: StreamEvent): boolean => services.has('*') || services.has(event.service);

/** The older of two cursors in one epoch; otherwise the tab's (it is the one that will show data). */
function startCursor(stored: string | null, tab: string | undefined): string | null {
  if (!tab) return stored;
  if (!stored) return tab;
  const a = parseCursor(stored);
  const b = parseCursor(tab);
  if (!a || !b || a.epoch !== b.epoch) return tab;
  return a.seq <= b.seq ? stored : tab;
}

/** Creates a hub; the engine starts with the first tab. */
export function createWorkerHub(options: WorkerHubOptions): WorkerHub {
  const logger = options.logger ?? silentLogger;
  const store = options.store;
  const ring = createRingBuffer(options.ringCapacity ?? 1000);
  const idleCloseMs = options.idleCloseMs ?? 30_000;
  const tokenTimeoutMs = options.tokenTimeoutMs ?? 5_000;
  const tokenHedgeMs = options.tokenHedgeMs ?? 1_000;
  const tabs = new Map<string, Tab>();
  let engine: Engine | null = null;
  let poll: Poll | null = null;
  let flagReason: TransportReason = 'default';
  let superseded = false;
  let idleTimer: ReturnType<typeof setTimeout> | undefined;
  const interestKeys = new Set<string>();

  // ─── status ──────────────────────────────────────────────────────────────────────────────────

  function status(): ClientStatus {
    const engineStatus = engine?.status() ?? { transport: 'none' as const, state: 'idle' as const, reason: flagReason, server: '' };
    return {
      transport: engineStatus.transport,
      state: superseded ? 'closed' : engineStatus.state,
      reason: engineStatus.reason,
      mode: options.mode,
      storage: store.kind,
      cursors: store.all(),
      tabs: tabs.size,
      build: options.build,
      ...(engineStatus.server ? { server: engineStatus.server } : {}),
    };
  }

  function broadcast(message: HubToTab): void {
    for (const tab of tabs.values()) tab.port.post(message);
  }

  const broadcastStatus = (): void => broadcast({ type: 'status', status: status() });

  // ─── tokens: tabs own getToken ───────────────────────────────────────────────────────────────

  let tokenRequestId = 0;
  const tokenRequests = new Map<number, { resolve(token: string): void; reject(error: Error): void }>();

  function askTab(tab: Tab): Promise<string> {
    const id = ++tokenRequestId;
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        tokenRequests.delete(id);
        reject(new Error(`tab ${tab.id} did not answer the token request`));
      }, tokenTimeoutMs);
      tokenRequests.set(id, {
        resolve(token) {
          clearTimeout(timer);
          resolve(token);
        },
        reject(error) {
          clearTimeout(timer);
          reject(error);
        },
      });
      tab.port.post({ type: 'token-request', id });
    });
  }

  /**
   * Asks the newest tab first (the likeliest to be in the foreground and alive); a tab that has
   * not answered within `tokenHedgeMs` keeps its request, and the next tab is asked too. Asking
   * one tab after another, each up to `tokenTimeoutMs`, made recovery after a network cut wait
   * seconds per stuck tab.
   */
  function getToken(): Promise<string> {
    const candidates = [...tabs.values()].reverse();
    if (candidates.length === 0) return Promise.reject(new Error('no tab is attached to provide a token'));
    return firstAnswer(
      candidates,
      (tab) => (tabs.get(tab.id) === tab ? askTab(tab) : Promise.reject(new Error(`tab ${tab.id} left`))),
      { hedgeMs: tokenHedgeMs },
    );
  }

  // ─── delivery ────────────────────────────────────────────────────────────────────────────────

  /** Sends `events` the tab wants and has not had; advances its cursor and the stored one. */
  function deliverTo(tab: Tab, org: string, events: StreamEvent[], replayed: boolean): void {
    let last = tab.cursors.get(org);
    const fresh: StreamEvent[] = [];
    for (const event of events) {
      if (!isAfter(event.id, last)) continue;
      last = event.id;
      if (wants(tab.services, event)) fresh.push(event);
    }
    if (last) tab.cursors.set(org, last);
    if (fresh.length === 0) return;
    tab.port.post({ type: 'events', org, events: fresh, replayed });
    const newest = fresh.at(-1);
    if (newest) store.set(org, newest.id);
  }

  function onEvents(org: string, events: StreamEvent[], replayed: boolean): void {
    ring.push(org, events);
    for (const tab of tabs.values()) {
      if (!tab.orgs.includes(org) || tab.catchingUp.has(org)) continue;
      deliverTo(tab, org, events, replayed);
    }
  }

  function endCatchUp(tab: Tab, org: string): void {
    tab.catchingUp.get(org)?.controller.abort();
    tab.catchingUp.delete(org);
    tab.waiting.delete(org);
  }

  function onReset(org: string, reset: ResetInfo): void {
    ring.restart(org, reset.cursor);
    store.set(org, reset.cursor, { force: true });
    for (const tab of tabs.values()) {
      if (!tab.orgs.includes(org)) continue;
      endCatchUp(tab, org);
      const mine = tab.cursors.get(org);
      // A tab already at or past the new position lost nothing.
      if (mine && !isAfter(reset.cursor, mine) && parseCursor(mine)?.epoch === parseCursor(reset.cursor)?.epoch) continue;
      tab.cursors.set(org, reset.cursor);
      tab.port.post({ type: 'reset', org, ...reset });
    }
  }

  function onLive(org: string, cursor: string): void {
    ring.anchor(org, cursor);
    for (const tab of tabs.values()) if (tab.waiting.has(org)) catchUp(tab, org);
  }

  /**
   * Brings `tab` up to date for `org` (see the cursor rule above). Synchronous when the ring
   * buffer covers the gap; otherwise pages through the v1 poll endpoint first.
   */
  function catchUp(tab: Tab, org: string): void {
    endCatchUp(tab, org);
    const from = tab.cursors.get(org) ?? store.get(org);
    if (!from) return;
    tab.cursors.set(org, from);
    const answer = ring.since(org, from);
    if (answer.kind === 'events') {
      deliverTo(tab, org, answer.events, true);
      return;
    }
    const entry = { controller: new AbortController() };
    tab.catchingUp.set(org, entry);
    if (answer.kind === 'unknown') {
      tab.waiting.add(org);
      return;
    }
    void fetchMissed(tab, org, entry);
  }

  async function fetchMissed(tab: Tab, org: string, entry: { controller: AbortController }): Promise<void> {
    const current = (): boolean => tabs.get(tab.id) === tab && tab.catchingUp.get(org) === entry;
    let failures = 0;
    while (current()) {
      const from = tab.cursors.get(org) ?? null;
      const answer = from ? ring.since(org, from) : ({ kind: 'gap' } as const);
      if (answer.kind === 'events') {
        tab.catchingUp.delete(org);
        deliverTo(tab, org, answer.events, true);
        return;
      }
      if (answer.kind === 'unknown') {
        tab.waiting.add(org);
        return;
      }
      try {
        if (!poll) throw new StreamError(ErrorCode.INTERNAL, 'no poll endpoint yet');
        const token = await getToken();
        if (!current()) return;
        const server = engine?.status().server;
        const page = await poll({ org, cursor: from, token, signal: entry.controller.signal, ...(server ? { server } : {}) });
        if (!current()) return;
        failures = 0;
        logger.log('replay', { org, tab: tab.id, from, events: page.events.length, reset: page.reset?.reason ?? null });
        if (page.reset) {
          const first = page.events[0];
          const position = (first && cursorBefore(first.id)) || page.cursor;
          tab.cursors.set(org, position);
          tab.port.post({ type: 'reset', org, reason: page.reset.reason, from: page.reset.from, cursor: position, lost: page.reset.lost });
        }
        deliverTo(tab, org, page.events, true);
        if (isAfter(page.cursor, tab.cursors.get(org))) tab.cursors.set(org, page.cursor);
      } catch (error) {
        if (!current()) return;
        const delay = backoff(failures++, { min: 500, max: 10_000 });
        logger.log('replay', { org, tab: tab.id, error: error instanceof Error ? error.message : String(error), retryInMs: delay }, 'warn');
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  // ─── interest ────────────────────────────────────────────────────────────────────────────────

  function recomputeInterest(seeds: Map<string, string | null> = new Map()): void {
    if (!engine) return;
    const union = new Map<string, Set<string>>();
    for (const tab of tabs.values()) {
      for (const org of tab.orgs) {
        const services = union.get(org) ?? new Set<string>();
        for (const service of tab.services) services.add(service);
        union.set(org, services);
      }
    }
    for (const [org, services] of union) {
      const list = services.has('*') ? ['*'] : [...services].sort();
      engine.setInterest(org, list, seeds.get(org) ?? null);
      interestKeys.add(org);
    }
    for (const org of [...interestKeys]) {
      if (union.has(org)) continue;
      engine.setInterest(org, []);
      interestKeys.delete(org);
    }
  }

  // ─── tabs ────────────────────────────────────────────────────────────────────────────────────

  function ensureEngine(attach: AttachMessage): Engine {
    if (engine) return engine;
    flagReason = attach.flagReason;
    poll = options.createPoll(attach.urls[0] ?? '');
    engine = options.createEngine({
      urls: attach.urls,
      flagReason: attach.flagReason,
      getToken,
      onEvents,
      onLive,
      onReset,
      onStatus: broadcastStatus,
      onError: (error) => broadcast({ type: 'error', error: error.toJSON() }),
      onConnection: (what, detail) => broadcast({ type: 'connection', what, detail, at: Date.now() }),
    });
    return engine;
  }

  function attach(port: HubPort, message: AttachMessage, previous: Tab | undefined): Tab {
    if (previous) removeTab(previous, 'reattached', false);
    const tab: Tab = {
      id: message.tabId,
      port,
      orgs: [...new Set(message.orgs)],
      services: new Set(message.services),
      cursors: new Map(Object.entries(message.cursors)),
      catchingUp: new Map(),
      waiting: new Set(),
      cancelWatch: () => {},
    };
    tabs.set(tab.id, tab);
    tab.cancelWatch = options.watchTab?.(tab.id, () => {
      if (tabs.get(tab.id) === tab) removeTab(tab, 'gone', true);
    }) ?? (() => {});
    if (idleTimer !== undefined) clearTimeout(idleTimer);
    idleTimer = undefined;
    if (message.build !== options.build) {
      logger.log('build', { tab: tab.id, tabBuild: message.build, hubBuild: options.build }, 'warn');
    }

    const current = ensureEngine(message);
    const seeds = new Map<string, string | null>();
    for (const org of tab.orgs) {
      const seed = startCursor(store.get(org), tab.cursors.get(org));
      seeds.set(org, seed);
      if (seed && current.cursor(org) === null) ring.anchor(org, seed);
    }
    port.post({ type: 'attached', build: options.build, status: status() });
    recomputeInterest(seeds);
    for (const org of tab.orgs) catchUp(tab, org);
    const state = current.status().state;
    if (state === 'idle' || state === 'closed') current.start();
    else if (state === 'reconnecting') current.online();
    logger.log('attach', { tab: tab.id, tabs: tabs.size, orgs: tab.orgs, services: [...tab.services] });
    broadcastStatus();
    return tab;
  }

  function removeTab(tab: Tab, why: string, announce: boolean): void {
    if (tabs.get(tab.id) !== tab) return;
    tabs.delete(tab.id);
    tab.cancelWatch();
    for (const org of [...tab.catchingUp.keys()]) endCatchUp(tab, org);
    logger.log('detach', { tab: tab.id, why, tabs: tabs.size });
    if (!announce) return;
    recomputeInterest();
    if (tabs.size === 0) {
      void store.flush();
      idleTimer = setTimeout(() => {
        idleTimer = undefined;
        if (tabs.size === 0) engine?.stop();
      }, idleCloseMs);
    }
    broadcastStatus();
  }

  return {
    connect(port) {
      let tab: Tab | undefined;
      port.onMessage((raw) => {
        const message = parseTabMessage(raw);
        if (!message) {
          logger.log('error', { badTabMessage: true }, 'warn');
          return;
        }
        if (message.type === 'attach') {
          if (superseded) {
            port.post({ type: 'superseded', build: options.build });
            return;
          }
          tab = attach(port, message, tabs.get(message.tabId));
          return;
        }
        if (!tab || tabs.get(tab.id) !== tab) return;
        switch (message.type) {
          case 'services':
            tab.services = new Set(message.services);
            recomputeInterest();
            return;
          case 'token':
            tokenRequests.get(message.id)?.resolve(message.token);
            tokenRequests.delete(message.id);
            return;
          case 'token-error':
            tokenRequests.get(message.id)?.reject(new Error(message.message));
            tokenRequests.delete(message.id);
            return;
          case 'online':
            engine?.online();
            return;
          case 'detach':
            removeTab(tab, 'detached', true);
            return;
        }
      });
    },
    supersede(build) {
      if (superseded) return;
      superseded = true;
      logger.log('build', { superseded: true, by: build, mine: options.build }, 'warn');
      broadcast({ type: 'superseded', build });
      engine?.stop();
      void store.flush();
      for (const tab of [...tabs.values()]) removeTab(tab, 'superseded', false);
    },
    tabs: () => tabs.size,
    status,
    async close() {
      engine?.stop();
      for (const tab of [...tabs.values()]) removeTab(tab, 'closed', false);
      await store.close();
    },
  };
}

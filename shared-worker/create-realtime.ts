/**
 * `createRealtime()`: what an app's page calls. It reads the rollback flag, picks where the
 * stream runs, and gives the app per-service subscriptions that see each event once, in order.
 *
 * Where the stream runs:
 * - flag `'false'` → `page`: v1 long-polling in this page (a page-local hub), no SharedWorker,
 *   no WebSocket;
 * - SharedWorker exists → `shared-worker`: one WebSocket per origin for all tabs;
 * - otherwise, with Web Locks and BroadcastChannel → `leader-tab`: one elected tab holds the socket;
 * - otherwise → `page` with its own socket (still correct, just one socket per tab).
 */
import {
  type StreamError,
  type ClientMode,
  type ClientStatus,
  type ResetReason,
  type StreamEvent,
} from '../protocol/index.ts';
import { createBridge } from './bridge.ts';
import { BUILD } from './build-version.ts';
import { openCursorStore } from './cursor-store.ts';
import { pageLocalStorage, readStreamingFlag } from './flag.ts';
import { createBrowserHub } from './hub-setup.ts';
import { connectViaLeader } from './leader-election.ts';
import { createLogger, type Logger } from './logger.ts';
import { createPortPair, type TabPort, type TabToHub } from './port-messages.ts';
import { createSessionCursors, pageSessionStorage } from './session-cursors.ts';
import { createTabClient } from './tab-client.ts';
import { holdTabLock } from './tab-lock.ts';
import { connectToWorker } from './worker-port.ts';

export interface RealtimeOptions {
  /** The server's base URL; default `location.origin`. Same as `urls: [url]`. */
  url?: string;
  /**
   * Several servers sharing one event log (processes on one Redis), tried in this order: when the
   * one in use fails, the stream moves to the next (round-robin, with backoff) and resumes from
   * the same cursors. Takes precedence over `url`. Other origins must list this page's origin in
   * their `ALLOWED_ORIGINS`.
   */
  urls?: string[];
  /**
   * Returns a token. Asked when the client has none it can reuse: a JWT is reused across
   * reconnects while it has more than a minute left (read from its `exp`), any other token is
   * asked for every connect and poll; always asked to renew, after a refused attempt and on 4002.
   * Tabs own tokens: the SharedWorker asks a tab.
   */
  getToken(): Promise<string>;
  /** Orgs this page follows. */
  orgs: string[];
  /** Services to receive from the start (more are added by `subscribe`). */
  services?: string[];
  /** This build's version; two builds open at once do not share a worker silently. */
  build?: string;
  logger?: Logger;
}

export interface EventMeta {
  /** True for catch-up after a cursor (reload, reconnect), false for live events. */
  replayed: boolean;
}

export type EventHandler = (event: StreamEvent, meta: EventMeta) => void;

/** The server (or worker) could not fill a gap: refetch your state for `org`. */
export interface ResetNotice {
  org: string;
  reason: ResetReason;
  /** Events that will never arrive, where known. */
  lost: number | null;
  /** The new position: delivery continues after it. */
  cursor: string;
  /** The position the client resumed from. */
  from: string;
}

export interface Realtime {
  /** Receives `service`'s events (`'*'` for all); returns the unsubscribe function. */
  subscribe(service: string, handler: EventHandler): () => void;
  onStatus(handler: (status: ClientStatus) => void): () => void;
  onReset(handler: (reset: ResetNotice) => void): () => void;
  /** Terminal errors (refused token, bad client), fallbacks and BUILD_SUPERSEDED. */
  onError(handler: (error: StreamError) => void): () => void;
  status(): ClientStatus;
  /** Detaches this tab; the socket stays up for the other tabs. */
  close(): void;
}

function chooseMode(v2: boolean): ClientMode {
  if (!v2) return 'page';
  if (typeof SharedWorker === 'function') return 'shared-worker';
  if (typeof BroadcastChannel === 'function' && typeof navigator !== 'undefined' && navigator.locks) return 'leader-tab';
  return 'page';
}

/** `urls`, else `[url]`, else the page's origin; duplicates dropped, order kept. */
function serverUrls(options: Pick<RealtimeOptions, 'url' | 'urls'>): string[] {
  const given = options.urls && options.urls.length > 0 ? options.urls : [options.url ?? location.origin];
  return [...new Set(given)];
}

function newTabId(): string {
  if (typeof crypto !== 'undefined' && typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

/** A port whose far end becomes available later: messages posted before then are queued. */
function deferredPort(ready: Promise<TabPort>): TabPort {
  let port: TabPort | null = null;
  const queue: TabToHub[] = [];
  let messageHandler: ((message: unknown) => void) | undefined;
  let reconnectHandler: (() => void) | undefined;
  let closed = false;
  void ready.then((real) => {
    if (closed) {
      real.close();
      return;
    }
    port = real;
    if (messageHandler) real.onMessage(messageHandler);
    if (reconnectHandler) real.onReconnect?.(reconnectHandler);
    for (const message of queue.splice(0)) real.post(message);
  });
  return {
    post: (message) => (port ? port.post(message) : queue.push(message)),
    onMessage(handler) {
      messageHandler = handler;
      port?.onMessage(handler);
    },
    onReconnect(handler) {
      reconnectHandler = handler;
      port?.onReconnect?.(handler);
    },
    close() {
      closed = true;
      port?.close();
    },
  };
}

/** Creates the page's realtime client. See the README for the full example. */
export function createRealtime(options: RealtimeOptions): Realtime {
  const logger = options.logger ?? createLogger();
  const build = options.build ?? BUILD;
  const urls = serverUrls(options);
  const flag = readStreamingFlag(pageLocalStorage());
  if (flag.storageError) logger.log('flag', { v2: flag.v2, reason: flag.reason, storageError: flag.storageError }, 'warn');
  else logger.log('flag', { v2: flag.v2, reason: flag.reason });
  const mode = chooseMode(flag.v2);
  const tabId = newTabId();
  const session = createSessionCursors(pageSessionStorage());

  const handlers = new Map<string, Set<EventHandler>>();
  const statusHandlers = new Set<(status: ClientStatus) => void>();
  const resetHandlers = new Set<(reset: ResetNotice) => void>();
  const errorHandlers = new Set<(error: StreamError) => void>();
  let closed = false;

  const initialStatus: ClientStatus = {
    transport: 'none',
    state: 'idle',
    reason: flag.reason,
    mode,
    storage: 'indexeddb',
    cursors: session.all(),
    tabs: 0,
    build,
  };
  let currentStatus = initialStatus;
  const bridge = createBridge(typeof window === 'undefined' ? undefined : window, () => currentStatus);

  const services = (): string[] => [...new Set([...(options.services ?? []), ...handlers.keys()])].sort();

  function emitError(error: StreamError): void {
    for (const handler of errorHandlers) handler(error);
  }

  // ─── the port to the hub, wherever it runs ──────────────────────────────────────────────────

  function openPort(): TabPort {
    if (mode === 'shared-worker') {
      const start = (): MessagePort => {
        // Literal form on purpose: Vite bundles the worker only when it sees exactly this.
        const worker = new SharedWorker(new URL('./realtime-worker.ts', import.meta.url), { type: 'module', name: 'realtime-streaming' });
        worker.addEventListener('error', () => logger.log('error', { worker: 'the SharedWorker failed to start' }, 'error'));
        return worker.port;
      };
      // Started now (the worker boots while the tab takes its lock); started again if it dies.
      const port = connectToWorker({ build, logger, start });
      return deferredPort(holdTabLock(tabId).then(() => port));
    }
    if (mode === 'leader-tab') {
      const port = connectViaLeader({
        tabId,
        logger,
        createHub: async () => createBrowserHub({ mode, build, logger, store: await openCursorStore({ logger }) }),
      });
      return deferredPort(holdTabLock(tabId).then(() => port));
    }
    const ready = openCursorStore({ logger }).then((store) => {
      const hub = createBrowserHub({ mode, build, logger, store });
      const pair = createPortPair();
      hub.connect(pair.hub);
      return pair.tab;
    });
    return deferredPort(ready);
  }

  const port = openPort();
  const client = createTabClient({
    port,
    tabId,
    build,
    urls,
    flagReason: flag.reason,
    orgs: options.orgs,
    session,
    getToken: options.getToken,
    initialStatus,
    logger,
    onEvents(_org, events, replayed) {
      const receivedAt = Date.now();
      for (const event of events) {
        bridge.event(event, replayed, receivedAt);
        for (const key of [event.service, '*']) {
          for (const handler of handlers.get(key) ?? []) {
            try {
              handler(event, { replayed });
            } catch (error) {
              logger.log('error', { handler: key, error: error instanceof Error ? error.message : String(error) }, 'error');
            }
          }
        }
      }
    },
    onStatus(status) {
      currentStatus = status;
      bridge.status(status);
      for (const handler of statusHandlers) handler(status);
    },
    onReset(org, reset) {
      const notice: ResetNotice = { org, ...reset };
      logger.log('reset', { ...notice });
      for (const handler of resetHandlers) handler(notice);
    },
    onError: emitError,
    onConnection: (what, detail, at) => bridge.connection(what, detail, at),
  });

  // Attach after the current task, so `subscribe()` calls right after createRealtime() are included.
  queueMicrotask(() => {
    if (!closed) client.attach(services());
  });

  let servicesScheduled = false;
  function servicesChanged(): void {
    if (servicesScheduled) return;
    servicesScheduled = true;
    queueMicrotask(() => {
      servicesScheduled = false;
      if (!closed) client.setServices(services());
    });
  }

  const onOnline = (): void => client.online();
  const onPageHide = (): void => client.detach();
  const onPageShow = (event: PageTransitionEvent): void => {
    // Back from the back/forward cache: the hub forgot us on pagehide.
    if (event.persisted && !closed) client.attach(services());
  };
  if (typeof window !== 'undefined') {
    window.addEventListener('online', onOnline);
    window.addEventListener('pagehide', onPageHide);
    window.addEventListener('pageshow', onPageShow);
    Object.defineProperty(window, '__realtimeStreaming', { value: { status: () => client.status() }, configurable: true });
  }

  return {
    subscribe(service, handler) {
      let set = handlers.get(service);
      const isNew = !set;
      if (!set) {
        set = new Set();
        handlers.set(service, set);
      }
      set.add(handler);
      if (isNew) servicesChanged();
      return () => {
        const current = handlers.get(service);
        if (!current?.delete(handler) || current.size > 0) return;
        handlers.delete(service);
        servicesChanged();
      };
    },
    onStatus(handler) {
      statusHandlers.add(handler);
      return () => statusHandlers.delete(handler);
    },
    onReset(handler) {
      resetHandlers.add(handler);
      return () => resetHandlers.delete(handler);
    },
    onError(handler) {
      errorHandlers.add(handler);
      return () => errorHandlers.delete(handler);
    },
    status: () => client.status(),
    close() {
      if (closed) return;
      closed = true;
      client.detach();
      port.close();
      bridge.close();
      if (typeof window !== 'undefined') {
        window.removeEventListener('online', onOnline);
        window.removeEventListener('pagehide', onPageHide);
        window.removeEventListener('pageshow', onPageShow);
      }
      currentStatus = { ...client.status(), state: 'closed' };
      for (const handler of statusHandlers) handler(currentStatus);
    },
  };
}

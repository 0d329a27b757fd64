/**
 * The messages between a tab and the hub (in the SharedWorker, the leader tab, or the page),
 * and the port shapes they travel over. Structured-cloned, so plain data only; errors cross as
 * `SerializedError` and are rebuilt with `StreamError.from`.
 *
 *   tab                                      hub
 *    | -- attach {tabId, build, orgs, -----> |  (tab holds its Web Lock first)
 *    |    services, cursors}                 |
 *    | <----------- attached {build,status} -|
 *    | <-- events {replayed:true} (catch-up) |  from the ring buffer or a v1 fetch
 *    | <------------ events / reset / status |
 *    | <------------------ token-request {id}|  tabs own getToken()
 *    | -- token {id, token} ---------------> |
 *    | -- services / online / detach ------> |
 *    | <--------------------- superseded ----|  a newer build took over
 */
import { isCursor, type ClientStatus, type ConnectionEventKind, type ResetReason, type SerializedError, type StreamEvent } from '../protocol/index.ts';

export interface AttachMessage {
  type: 'attach';
  tabId: string;
  build: string;
  /** Server base URLs (http/https), tried in this order; the first tab's list is the hub's. */
  urls: string[];
  /** The page's flag reading (the worker only runs for v2: `default` or `forced-on`). */
  flagReason: 'default' | 'forced-on' | 'forced-off';
  orgs: string[];
  services: string[];
  /** The tab's own last delivered cursor per org (from its sessionStorage). */
  cursors: Record<string, string>;
}

export type TabToHub =
  | AttachMessage
  | { type: 'services'; services: string[] }
  | { type: 'token'; id: number; token: string }
  | { type: 'token-error'; id: number; message: string }
  | { type: 'online' }
  | { type: 'detach' };

export type HubToTab =
  | { type: 'attached'; build: string; status: ClientStatus }
  | { type: 'events'; org: string; events: StreamEvent[]; replayed: boolean }
  | { type: 'reset'; org: string; reason: ResetReason; from: string; cursor: string; lost: number | null }
  | { type: 'status'; status: ClientStatus }
  | { type: 'error'; error: SerializedError }
  | { type: 'connection'; what: ConnectionEventKind; detail: string; at: number }
  | { type: 'token-request'; id: number }
  | { type: 'superseded'; build: string };

/** The hub's end of one tab's connection. */
export interface HubPort {
  post(message: HubToTab): void;
  onMessage(handler: (message: unknown) => void): void;
  close(): void;
}

/** The tab's end of its connection to the hub. */
export interface TabPort {
  post(message: TabToHub): void;
  onMessage(handler: (message: unknown) => void): void;
  /** Called when the port now leads to a different hub (a new leader tab): attach again. */
  onReconnect?(handler: () => void): void;
  close(): void;
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const isStrings = (value: unknown): value is string[] => Array.isArray(value) && value.every((item) => typeof item === 'string');

function isCursorRecord(value: unknown): value is Record<string, string> {
  return isObject(value) && Object.values(value).every(isCursor);
}

/** Narrows what arrived on a hub port; null for anything that is not a tab message. */
export function parseTabMessage(raw: unknown): TabToHub | null {
  if (!isObject(raw)) return null;
  switch (raw.type) {
    case 'attach':
      if (
        typeof raw.tabId !== 'string' ||
        typeof raw.build !== 'string' ||
        !isStrings(raw.urls) ||
        raw.urls.length === 0 ||
        (raw.flagReason !== 'default' && raw.flagReason !== 'forced-on' && raw.flagReason !== 'forced-off') ||
        !isStrings(raw.orgs) ||
        !isStrings(raw.services) ||
        !isCursorRecord(raw.cursors)
      ) {
        return null;
      }
      return {
        type: 'attach',
        tabId: raw.tabId,
        build: raw.build,
        urls: raw.urls,
        flagReason: raw.flagReason,
        orgs: raw.orgs,
        services: raw.services,
        cursors: raw.cursors,
      };
    case 'services':
      return isStrings(raw.services) ? { type: 'services', services: raw.services } : null;
    case 'token':
      return typeof raw.id === 'number' && typeof raw.token === 'string' ? { type: 'token', id: raw.id, token: raw.token } : null;
    case 'token-error':
      return typeof raw.id === 'number' && typeof raw.message === 'string'
        ? { type: 'token-error', id: raw.id, message: raw.message }
        : null;
    case 'online':
    case 'detach':
      return { type: raw.type };
    default:
      return null;
  }
}

const HUB_TYPES: ReadonlySet<string> = new Set(['attached', 'events', 'reset', 'status', 'error', 'connection', 'token-request', 'superseded']);

/**
 * Narrows what arrived on a tab port. The hub is our own code on the same origin, so this checks
 * the discriminant only; the events inside were parsed by `protocol/` when they left the network.
 */
export function parseHubMessage(raw: unknown): HubToTab | null {
  if (!isObject(raw) || typeof raw.type !== 'string' || !HUB_TYPES.has(raw.type)) return null;
  return raw as unknown as HubToTab;
}

/**
 * Two ends wired in memory, delivering asynchronously like a MessagePort (no cloning): the
 * page-local hub (v1 rollback, leader tab) uses it for its own tab.
 */
export function createPortPair(): { hub: HubPort; tab: TabPort } {
  let toHub: ((message: unknown) => void) | undefined;
  let toTab: ((message: unknown) => void) | undefined;
  let open = true;
  const hubQueue: unknown[] = [];
  const tabQueue: unknown[] = [];
  const send = (queue: unknown[], handler: () => ((message: unknown) => void) | undefined, message: unknown): void => {
    if (!open) return;
    queueMicrotask(() => {
      const target = handler();
      if (!open) return;
      if (target) target(message);
      else queue.push(message);
    });
  };
  return {
    hub: {
      post: (message) => send(tabQueue, () => toTab, message),
      onMessage(handler) {
        toHub = handler;
        for (const message of hubQueue.splice(0)) handler(message);
      },
      close() {
        open = false;
      },
    },
    tab: {
      post: (message) => send(hubQueue, () => toHub, message),
      onMessage(handler) {
        toTab = handler;
        for (const message of tabQueue.splice(0)) handler(message);
      },
      close() {
        open = false;
      },
    },
  };
}

/** Wraps a real MessagePort (SharedWorker) as either end. */
export function wrapMessagePort<Out>(port: MessagePort): { post(message: Out): void; onMessage(handler: (message: unknown) => void): void; close(): void } {
  return {
    post: (message) => port.postMessage(message),
    onMessage(handler) {
      port.addEventListener('message', (event: MessageEvent<unknown>) => handler(event.data));
      port.start();
    },
    close: () => port.close(),
  };
}

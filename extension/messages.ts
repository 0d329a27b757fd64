/**
 * Messages between the extension's own parts (never seen by pages).
 *
 *   page --window.postMessage--> content script --PAGE_PORT--> background --VIEW_PORT--> popup/panel/stream
 *                                      ^                                                   |
 *                                      +------------ tabs.sendMessage(get-status) ---------+ (popup)
 *
 * Everything arriving over a port or `runtime.onMessage` is `unknown` until a guard here narrows it.
 */
import { isBridgeMessage } from '../protocol/index.ts';
import type { BridgeMessage, ClientStatus, ConnectionState, Transport, TransportReason } from '../protocol/index.ts';

/** Name of the runtime port a content script opens to the background. */
export const PAGE_PORT = 'realtime-page';
/** Name of the runtime port a popup, panel or stream view opens to the background. */
export const VIEW_PORT = 'realtime-view';

/** Something about the page itself (not its client): it loaded, or went away (reload, navigation, close). */
export interface PageNotice {
  source: 'extension';
  kind: 'page';
  what: 'loaded' | 'unloaded';
  url: string;
  at: number;
}

/** What the background keeps and relays for a tab. */
export type RelayPayload = BridgeMessage | PageNotice;

/** One relayed item with a key unique across service-worker restarts, so views can drop repeats. */
export interface RelayEntry {
  key: string;
  payload: RelayPayload;
}

/** content script → background, over PAGE_PORT: a batch of page messages in order. */
export interface PageBatch {
  type: 'batch';
  payloads: RelayPayload[];
}

/** view → background, over VIEW_PORT: send me this tab's history, then its live entries. */
export interface WatchRequest {
  type: 'watch';
  tabId: number;
}

/** background → view, over VIEW_PORT. `history` comes once per watch, before any `entries`. */
export type ViewUpdate =
  | { type: 'history'; tabId: number; entries: RelayEntry[] }
  | { type: 'entries'; tabId: number; entries: RelayEntry[] };

/** popup → content script (`tabs.sendMessage`). */
export interface StatusRequest {
  type: 'get-status';
}

/** content script → popup: what the page's client last reported, plus the content script's own counters. */
export interface StatusReply {
  type: 'status-reply';
  /** Random per content-script instance: a new value means the page was reloaded. */
  instance: string;
  url: string;
  /** The client's latest status; null when the page has no realtime client (or it has not reported yet). */
  status: ClientStatus | null;
  /** Receipt time of the last event, ms since epoch; null before the first. */
  lastEventAt: number | null;
  /** Events per second over the last few seconds. */
  eventsPerSecond: number;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

export function isPageNotice(value: unknown): value is PageNotice {
  return (
    isObject(value) &&
    value.source === 'extension' &&
    value.kind === 'page' &&
    (value.what === 'loaded' || value.what === 'unloaded') &&
    typeof value.url === 'string' &&
    typeof value.at === 'number'
  );
}

export function isRelayPayload(value: unknown): value is RelayPayload {
  return isBridgeMessage(value) || isPageNotice(value);
}

export function isRelayEntry(value: unknown): value is RelayEntry {
  return isObject(value) && typeof value.key === 'string' && isRelayPayload(value.payload);
}

/** Narrows a PAGE_PORT message; payloads that are not relay payloads are dropped, not fatal. */
export function parsePageBatch(value: unknown): PageBatch | null {
  if (!isObject(value) || value.type !== 'batch' || !Array.isArray(value.payloads)) return null;
  return { type: 'batch', payloads: value.payloads.filter(isRelayPayload) };
}

export function isWatchRequest(value: unknown): value is WatchRequest {
  return isObject(value) && value.type === 'watch' && Number.isInteger(value.tabId);
}

export function parseViewUpdate(value: unknown): ViewUpdate | null {
  if (!isObject(value) || (value.type !== 'history' && value.type !== 'entries')) return null;
  const { tabId, entries } = value;
  if (typeof tabId !== 'number' || !Number.isInteger(tabId) || !Array.isArray(entries)) return null;
  return { type: value.type, tabId, entries: entries.filter(isRelayEntry) };
}

export function isStatusRequest(value: unknown): value is StatusRequest {
  return isObject(value) && value.type === 'get-status';
}

const TRANSPORTS: readonly unknown[] = ['v2', 'v1', 'none'] satisfies Transport[];
const STATES: readonly unknown[] = [
  'idle',
  'connecting',
  'connected',
  'reconnecting',
  'closed',
  'failed',
] satisfies ConnectionState[];
const REASONS: readonly unknown[] = [
  'default',
  'forced-on',
  'forced-off',
  'server-off',
  'websocket-unavailable',
] satisfies TransportReason[];

/**
 * Narrows a status a page reported. The bridge guard checks messages loosely (same origin only),
 * but the popup renders every field, so a status is checked field by field before it is kept.
 */
export function isClientStatus(value: unknown): value is ClientStatus {
  if (!isObject(value)) return false;
  const { cursors } = value;
  return (
    TRANSPORTS.includes(value.transport) &&
    STATES.includes(value.state) &&
    REASONS.includes(value.reason) &&
    typeof value.mode === 'string' &&
    typeof value.storage === 'string' &&
    isObject(cursors) &&
    Object.values(cursors).every((cursor) => typeof cursor === 'string') &&
    typeof value.tabs === 'number' &&
    typeof value.build === 'string'
  );
}

/** Narrows the content script's answer to `get-status`. */
export function isStatusReply(value: unknown): value is StatusReply {
  return (
    isObject(value) &&
    value.type === 'status-reply' &&
    typeof value.instance === 'string' &&
    typeof value.url === 'string' &&
    (value.status === null || isClientStatus(value.status)) &&
    (value.lastEventAt === null || typeof value.lastEventAt === 'number') &&
    typeof value.eventsPerSecond === 'number'
  );
}

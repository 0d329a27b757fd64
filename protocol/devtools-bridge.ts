/**
 * The devtools bridge: how the app's realtime client tells the developer extension what it sees.
 *
 *   page (client)  --window.postMessage-->  content script  --runtime port-->  extension
 *                                            (ISOLATED world)                   (popup, panel)
 *
 * No page hook can see a SharedWorker's socket, so the client reports itself. It does so only
 * when the extension's content script has marked the document with `BRIDGE_ATTRIBUTE` on
 * `<html>` at document_start: without the extension the bridge costs one attribute read.
 */
import type { ClientStatus } from './status.ts';
import type { StreamEvent } from './event.ts';

/** Set on `document.documentElement` by the content script; the client checks it once. */
export const BRIDGE_ATTRIBUTE = 'data-realtime-devtools';
/** `source` of every bridge message, so other postMessage traffic is ignored. */
export const BRIDGE_SOURCE = 'realtime-streaming-devtools';

/** Connection happenings shown in the stream view. */
export type ConnectionEventKind = 'connected' | 'reconnecting' | 'reset' | 'fallback' | 'closed' | 'error';

export type BridgeMessage =
  | { source: typeof BRIDGE_SOURCE; kind: 'status'; status: ClientStatus }
  | {
      source: typeof BRIDGE_SOURCE;
      kind: 'event';
      event: StreamEvent;
      replayed: boolean;
      /** Receipt time in the page (ms since epoch); latency is `receivedAt - event.ts`. */
      receivedAt: number;
    }
  | {
      source: typeof BRIDGE_SOURCE;
      kind: 'connection';
      what: ConnectionEventKind;
      detail: string;
      at: number;
    };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Narrows a `message` event's data to a bridge message (shape-checked loosely: same origin only). */
export function isBridgeMessage(data: unknown): data is BridgeMessage {
  return (
    isObject(data) &&
    data.source === BRIDGE_SOURCE &&
    (data.kind === 'status' || data.kind === 'event' || data.kind === 'connection')
  );
}

/**
 * Fired on `window` by the content script right after it set BRIDGE_ATTRIBUTE, so a client that
 * checked the attribute earlier (a tab opened before the extension was installed) starts reporting.
 */
export const BRIDGE_READY_EVENT = 'realtime-devtools-ready';

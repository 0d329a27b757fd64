/**
 * The page side of the devtools bridge (protocol/devtools-bridge.ts): when the extension's content
 * script marked `<html>` with `BRIDGE_ATTRIBUTE`, post what the client sees with
 * `window.postMessage(msg, location.origin)`; otherwise do nothing (one attribute read).
 */
import {
  BRIDGE_ATTRIBUTE,
  BRIDGE_READY_EVENT,
  BRIDGE_SOURCE,
  type BridgeMessage,
  type ClientStatus,
  type ConnectionEventKind,
  type StreamEvent,
} from '../protocol/index.ts';

export interface Bridge {
  status(status: ClientStatus): void;
  event(event: StreamEvent, replayed: boolean, receivedAt: number): void;
  connection(what: ConnectionEventKind, detail: string, at: number): void;
  /** Stops listening for the extension. */
  close(): void;
}

/** Creates the bridge for `win` (the page's window); `current` gives the status to resend on ready. */
export function createBridge(win: Window | undefined, current: () => ClientStatus): Bridge {
  if (!win) return { status() {}, event() {}, connection() {}, close() {} };
  const check = (): boolean => win.document.documentElement.hasAttribute(BRIDGE_ATTRIBUTE);
  let enabled = check();
  const post = (message: BridgeMessage): void => {
    if (enabled) win.postMessage(message, win.location.origin);
  };
  // The content script may mark the document after we looked (it runs at document_start, but a
  // page can create the client from an inline script before): it fires this event when ready.
  const onReady = (): void => {
    enabled = check();
    post({ source: BRIDGE_SOURCE, kind: 'status', status: current() });
  };
  win.addEventListener(BRIDGE_READY_EVENT, onReady);
  return {
    status: (status) => post({ source: BRIDGE_SOURCE, kind: 'status', status }),
    // Per event: without the extension, no message object is even built.
    event: (event, replayed, receivedAt) => {
      if (enabled) post({ source: BRIDGE_SOURCE, kind: 'event', event, replayed, receivedAt });
    },
    connection: (what, detail, at) => post({ source: BRIDGE_SOURCE, kind: 'connection', what, detail, at }),
    close: () => win.removeEventListener(BRIDGE_READY_EVENT, onReady),
  };
}

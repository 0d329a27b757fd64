/**
 * The content script's logic (ISOLATED world, document_start). It marks the document so the page's
 * client starts reporting, takes the client's bridge messages, keeps the latest status for the popup,
 * and forwards everything to the background in small batches.
 *
 * The background may be asleep or restarted: the port is opened lazily and reopened after it drops.
 * After the extension is reloaded, this script is orphaned and `connect` throws: it then stops forwarding.
 */
import { BRIDGE_ATTRIBUTE, BRIDGE_READY_EVENT, isBridgeMessage } from '../protocol/index.ts';
import type { ClientStatus } from '../protocol/index.ts';
import { isClientStatus } from './messages.ts';
import type { PageBatch, PageNotice, RelayPayload, StatusReply } from './messages.ts';
import { createRateMeter } from './rate-meter.ts';

/** The part of a runtime port the bridge uses. */
export interface PagePort {
  postMessage(message: PageBatch): void;
  onDisconnect: { addListener(listener: () => void): void };
}

export interface ContentBridgeOptions {
  /** The page's window: messages count only when `event.source` is this object. */
  window: unknown;
  url: string;
  /** Opens a port to the background (`runtime.connect({ name: PAGE_PORT })`). */
  connect: () => PagePort;
  now?: () => number;
  /** Batching delay: one port message per this many ms at most (default 16, about a frame). */
  flushDelayMs?: number;
  /** Messages held while the port cannot be opened (default 1,000; older ones are dropped). */
  maxQueue?: number;
}

export interface ContentBridge {
  /** The `message` event listener for the page's window. */
  onWindowMessage(event: { source: unknown; data: unknown }): void;
  /** The answer to a popup's `get-status`. */
  reply(): StatusReply;
}

// BRIDGE_READY_EVENT (protocol/devtools-bridge.ts) is dispatched after the mark is set: DOM events
// cross worlds, so a client that looked before the mark existed still starts reporting.
export { BRIDGE_READY_EVENT };

/**
 * Sets BRIDGE_ATTRIBUTE on `<html>`. At document_start Chrome has created `<html>`; where it does
 * not exist yet, wait for it, so the client still sees the mark before its first script runs.
 */
export function markDocument(doc: Document): void {
  const mark = (): boolean => {
    if (!doc.documentElement) return false;
    doc.documentElement.setAttribute(BRIDGE_ATTRIBUTE, '1');
    doc.defaultView?.dispatchEvent(new Event(BRIDGE_READY_EVENT));
    return true;
  };
  if (mark()) return;
  const observer = new MutationObserver(() => {
    if (mark()) observer.disconnect();
  });
  observer.observe(doc, { childList: true });
}

/** Creates the bridge; the caller adds `onWindowMessage` as the window's `message` listener. */
export function createContentBridge(options: ContentBridgeOptions): ContentBridge {
  const now = options.now ?? Date.now;
  const flushDelayMs = options.flushDelayMs ?? 16;
  const maxQueue = options.maxQueue ?? 1_000;
  const instance = Math.random().toString(36).slice(2, 12);
  const meter = createRateMeter();
  let status: ClientStatus | null = null;
  let lastEventAt: number | null = null;
  let port: PagePort | null = null;
  let orphaned = false;
  let queue: RelayPayload[] = [];
  let flushTimer: ReturnType<typeof setTimeout> | null = null;

  function openPort(): PagePort | null {
    if (port || orphaned) return port;
    try {
      const opened = options.connect();
      opened.onDisconnect.addListener(() => {
        if (port === opened) port = null;
      });
      port = opened;
    } catch {
      orphaned = true; // extension reloaded or removed: this script has nobody to talk to
      queue = [];
    }
    return port;
  }

  function flush(): void {
    flushTimer = null;
    if (queue.length === 0) return;
    const batch: PageBatch = { type: 'batch', payloads: queue };
    // A port whose worker was stopped throws on send: reopen once, then keep the queue for next time.
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const target = openPort();
      if (!target) return;
      try {
        target.postMessage(batch);
        queue = [];
        return;
      } catch {
        port = null;
      }
    }
  }

  function enqueue(payload: RelayPayload): void {
    if (orphaned) return;
    queue.push(payload);
    if (queue.length > maxQueue) queue.splice(0, queue.length - maxQueue);
    if (flushTimer === null) flushTimer = setTimeout(flush, flushDelayMs);
  }

  const loaded: PageNotice = { source: 'extension', kind: 'page', what: 'loaded', url: options.url, at: now() };
  enqueue(loaded);

  return {
    onWindowMessage(event) {
      if (event.source !== options.window || !isBridgeMessage(event.data)) return;
      const message = event.data;
      if (message.kind === 'status') {
        if (!isClientStatus(message.status)) return;
        status = message.status;
      } else if (message.kind === 'event') {
        const at = typeof message.receivedAt === 'number' ? message.receivedAt : now();
        lastEventAt = at;
        meter.mark(at);
      }
      enqueue(message);
    },
    reply() {
      return {
        type: 'status-reply',
        instance,
        url: options.url,
        status,
        lastEventAt,
        eventsPerSecond: meter.perSecond(now()),
      };
    },
  };
}

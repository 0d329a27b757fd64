/**
 * A view's (panel, stream page) link to the background: open VIEW_PORT, ask for one tab, take
 * the history then live entries. The service worker may stop and drop the port: reconnect after
 * a short pause (connecting wakes it) and ask again; the model drops entries it already has.
 */
import { VIEW_PORT, parseViewUpdate } from './messages.ts';
import type { RelayEntry, WatchRequest } from './messages.ts';

/** The part of a runtime port a view uses. */
export interface ViewPort {
  postMessage(message: WatchRequest): void;
  onMessage: { addListener(listener: (message: unknown) => void): void };
  onDisconnect: { addListener(listener: () => void): void };
  disconnect(): void;
}

export interface WatchOptions {
  /** Opens a port: `() => runtime.connect({ name: VIEW_PORT })`. */
  connect: (name: string) => ViewPort;
  onEntries: (entries: RelayEntry[]) => void;
  /** Told when the link goes up (history received) or down. */
  onLink?: (up: boolean) => void;
  /** Pause before reconnecting (default 500 ms). */
  retryMs?: number;
}

/** Watches one tab until `stop()`. */
export function watchTab(tabId: number, options: WatchOptions): { stop(): void } {
  const retryMs = options.retryMs ?? 500;
  let stopped = false;
  let port: ViewPort | null = null;
  let retry: ReturnType<typeof setTimeout> | null = null;

  function open(): void {
    retry = null;
    if (stopped) return;
    let opened: ViewPort;
    try {
      opened = options.connect(VIEW_PORT);
    } catch {
      return; // extension reloaded: this page is orphaned, nothing to reconnect to
    }
    port = opened;
    opened.onMessage.addListener((message) => {
      const update = parseViewUpdate(message);
      if (!update || update.tabId !== tabId) return;
      if (update.type === 'history') options.onLink?.(true);
      if (update.entries.length > 0) options.onEntries(update.entries);
    });
    opened.onDisconnect.addListener(() => {
      if (port !== opened) return;
      port = null;
      options.onLink?.(false);
      if (!stopped) retry = setTimeout(open, retryMs);
    });
    opened.postMessage({ type: 'watch', tabId });
  }

  open();
  return {
    stop() {
      stopped = true;
      if (retry !== null) clearTimeout(retry);
      port?.disconnect();
      port = null;
    },
  };
}

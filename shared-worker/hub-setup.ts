/**
 * Wires a hub to the real world: the browser WebSocket, fetch-based polls, Web Locks for tab
 * death. Used by the SharedWorker, the leader tab and the page (v1 rollback) alike.
 */
import type { ClientMode } from '../protocol/index.ts';
import type { CursorStore } from './cursor-store.ts';
import { createEngine } from './engine.ts';
import type { Logger } from './logger.ts';
import { createPoll } from './poll.ts';
import { watchTabLock } from './tab-lock.ts';
import { createWebSocketTransport } from './transport.ts';
import { createWorkerHub, type WorkerHub } from './worker-hub.ts';

export interface HubSetup {
  mode: ClientMode;
  build: string;
  store: CursorStore;
  logger: Logger;
}

/** A hub whose engine speaks v2 over WebSocket (unless the flag forced v1) and v1 over fetch. */
export function createBrowserHub({ mode, build, store, logger }: HubSetup): WorkerHub {
  return createWorkerHub({
    build,
    mode,
    store,
    logger,
    createPoll: (url) => createPoll(url),
    // In `page` mode the hub lives in its only tab: nothing to watch (and that tab holds no lock).
    ...(mode === 'page' ? {} : { watchTab: (tabId: string, onGone: () => void) => watchTabLock(tabId, onGone) }),
    createEngine: (context) =>
      createEngine({
        ...context,
        logger,
        servers: context.urls,
        poll: createPoll(context.urls[0] ?? ''),
        ...(context.flagReason === 'forced-off' || typeof WebSocket === 'undefined'
          ? {}
          : { connectV2: (token: string, server: string) => createWebSocketTransport(server, token) }),
      }),
  });
}

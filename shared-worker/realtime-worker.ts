/**
 * The SharedWorker entry: one per origin (and build), holding the only WebSocket for every tab.
 * The logic lives in worker-hub.ts; this file wires the worker's globals to it.
 *
 * Two builds open at once: the worker's URL carries a content hash, so each build starts its own
 * worker. They must not both hold sockets and fight over the stored cursor silently, so workers
 * announce their build on a BroadcastChannel and the older one yields: it tells its tabs
 * BUILD_SUPERSEDED (reload to get the new version), closes its socket, flushes its cursor.
 * We chose "newest wins" over a build-specific worker name because the name must be a literal for
 * Vite, and because an old build left running would keep a second socket per origin.
 */
import { BUILD, compareBuilds } from './build-version.ts';
import { openCursorStore } from './cursor-store.ts';
import { createBrowserHub } from './hub-setup.ts';
import { createLogger } from './logger.ts';
import { wrapMessagePort, type HubToTab } from './port-messages.ts';
import { holdWorkerLock } from './worker-port.ts';

interface SharedWorkerScope {
  addEventListener(type: 'connect', listener: (event: MessageEvent<unknown>) => void): void;
}

const scope = globalThis as unknown as SharedWorkerScope;
const logger = createLogger();
// Tabs learn of this worker's death through its lifetime lock (worker-port.ts): hold it before
// any tab is connected, so an attached tab never sees the lock free while the worker lives.
const hubReady = Promise.all([openCursorStore({ logger }), holdWorkerLock(BUILD)]).then(([store]) =>
  createBrowserHub({ mode: 'shared-worker', build: BUILD, store, logger }),
);

scope.addEventListener('connect', (event) => {
  const port = event.ports[0];
  if (!port) return;
  // Messages queue on the port until the hub listens (MessagePort starts on addEventListener+start).
  void hubReady.then((hub) => hub.connect(wrapMessagePort<HubToTab>(port)));
});

const builds = new BroadcastChannel('realtime-streaming-builds');
builds.addEventListener('message', (event: MessageEvent<unknown>) => {
  const data = event.data;
  if (typeof data !== 'object' || data === null || !('build' in data) || typeof data.build !== 'string') return;
  const newer = data.build;
  const order = compareBuilds(newer, BUILD);
  if (order > 0) void hubReady.then((hub) => hub.supersede(newer));
  else if (order < 0) builds.postMessage({ build: BUILD });
});
builds.postMessage({ build: BUILD });
logger.log('worker', { build: BUILD });

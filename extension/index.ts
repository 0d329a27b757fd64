/**
 * The developer extension (MV3). Built by `npm run build` into dist/extension (Chromium, load
 * unpacked) and dist/extension-firefox. What this folder offers to code outside it (tests):
 * the DOM-free models and the `data-testid`s of its pages. Pages talk to it only through the
 * devtools bridge (protocol/devtools-bridge.ts).
 */
export { createStreamModel, toRow, visibleWindow } from './stream-model.ts';
export type { StreamModel, StreamRow, StreamFilter } from './stream-model.ts';
export { describePopup, flagReason } from './popup-model.ts';
export type { PopupDisplay } from './popup-model.ts';
export { summarizeMetrics, formatMetricsSummary } from './metrics-summary.ts';
export { createRelay } from './relay.ts';
export { BRIDGE_READY_EVENT } from './content-bridge.ts';
export { chromiumManifest, firefoxManifest } from './manifest.ts';

/**
 * `data-testid`s of popup.html (`popup.html?tabId=N` when opened as a page). Where a stable value
 * exists the element also carries `data-value`: transport (`v2`|`v1`|`none`|`unknown`), state
 * (ConnectionState|`unknown`), reason (TransportReason), flag-switch (`on`|`off`). `<main>` carries
 * `data-phase` (`idle`|`reloading`|`done`|`failed`) and `data-client` (`present`|`absent`|`unreachable`).
 */
export const POPUP_TEST_IDS = [
  'origin',
  'notice',
  'grant-site',
  'flag-switch',
  'headline',
  'switch-message',
  'transport',
  'state',
  'reason',
  'mode',
  'cursor',
  'tabs',
  'rate',
  'last-event',
  'metrics-summary',
  'open-stream',
] as const;

/**
 * `data-testid`s of the stream view (stream.html?tabId=N, panel.html in DevTools or ?tabId=N).
 * `event-row` rows carry `data-event-id`, `data-service`, `data-replayed`; `connection-row` and
 * `page-row` carry `data-what`; `link` carries `data-state` (`up`|`down`). The list is virtualised:
 * only rows in view are in the DOM, so filter (`text-filter`) to find an older row.
 */
export const STREAM_TEST_IDS = [
  'stream-status',
  'service-filter',
  'text-filter',
  'pause',
  'clear',
  'export',
  'counts',
  'link',
  'event-list',
  'event-row',
  'connection-row',
  'page-row',
  'empty',
  'payload',
] as const;

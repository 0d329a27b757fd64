/**
 * panel.html, the DevTools "Realtime" panel: the stream view for the inspected tab. Opened as a
 * plain page (`panel.html?tabId=N`, e.g. for a screenshot) it takes the tab from the URL instead.
 */
import browser from 'webextension-polyfill';
import { mountStreamView } from './stream-view.ts';

const tabId = browser.devtools?.inspectedWindow.tabId ?? Number(new URLSearchParams(location.search).get('tabId'));
if (Number.isInteger(tabId) && tabId > 0) {
  mountStreamView(document.body, { tabId, connect: (name) => browser.runtime.connect({ name }) });
} else {
  document.body.textContent = 'Open this panel from DevTools, or as panel.html?tabId=N.';
}

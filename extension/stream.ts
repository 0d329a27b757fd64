/** stream.html?tabId=N (opened from the popup): the stream view for that tab. */
import browser from 'webextension-polyfill';
import { mountStreamView } from './stream-view.ts';

const tabId = Number(new URLSearchParams(location.search).get('tabId'));
if (Number.isInteger(tabId) && tabId > 0) {
  document.title = `Realtime stream · tab ${tabId}`;
  mountStreamView(document.body, { tabId, connect: (name) => browser.runtime.connect({ name }) });
} else {
  document.body.textContent = 'Open this page from the extension popup (it needs ?tabId=N).';
}

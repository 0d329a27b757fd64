/** Content script (ISOLATED world, document_start, built as one classic IIFE file): wires the bridge. */
import browser from 'webextension-polyfill';
import { createContentBridge, markDocument } from './content-bridge.ts';
import { PAGE_PORT, isStatusRequest } from './messages.ts';

markDocument(document);
const bridge = createContentBridge({
  window,
  url: location.href,
  connect: () => browser.runtime.connect({ name: PAGE_PORT }),
});
window.addEventListener('message', (event) => bridge.onWindowMessage(event));
browser.runtime.onMessage.addListener((message: unknown) => (isStatusRequest(message) ? Promise.resolve(bridge.reply()) : undefined));

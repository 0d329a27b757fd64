/** Background service worker (module): wires runtime ports and tab removal to the relay. */
import browser from 'webextension-polyfill';
import { createRelay } from './relay.ts';
import { createAreaRelayStore } from './relay-store.ts';

const relay = createRelay({ store: createAreaRelayStore(browser.storage.session) });
browser.runtime.onConnect.addListener((port) => relay.connect(port));
browser.tabs.onRemoved.addListener((tabId) => relay.dropTab(tabId));

/** popup.html: wires the popup controller to the browser and the DOM. */
import browser from 'webextension-polyfill';
import { createBrowserPopupPorts, enableOnOrigin, resolveTargetTab } from './browser-ports.ts';
import { createPopupController } from './popup-controller.ts';
import { bindPopupView } from './popup-view.ts';

const REFRESH_MS = 1_000;

async function main(): Promise<void> {
  const root = document.querySelector<HTMLElement>('main');
  const tabId = await resolveTargetTab(browser, location.search);
  if (!root || tabId === null) {
    document.body.textContent = 'No tab to inspect.';
    return;
  }
  const view = bindPopupView(root, {
    onSwitch: (on) => void controller.setV2(on),
    onOpenStream: () => void browser.tabs.create({ url: browser.runtime.getURL(`stream.html?tabId=${tabId}`) }),
    onGrantSite: () => {
      const origin = controller.state.origin;
      if (!origin) return;
      void enableOnOrigin(browser, origin).then(async (granted) => {
        if (granted) await browser.tabs.reload(tabId);
      });
    },
  });
  const controller = createPopupController(tabId, createBrowserPopupPorts(browser), (state) => view.render(state));
  view.render(controller.state);
  await controller.refresh();
  setInterval(() => void controller.refresh(), REFRESH_MS);
}

void main();

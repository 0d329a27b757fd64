/**
 * The popup's adapters over the real extension APIs. Takes the `browser` object as an argument so
 * this module never imports webextension-polyfill itself (entry points do).
 */
import type { Browser } from 'webextension-polyfill';
import { FLAG_KEY } from '../protocol/index.ts';
import { isStatusReply } from './messages.ts';
import type { StatusRequest } from './messages.ts';
import { readFlagInPage, writeFlagInPage } from './page-functions.ts';
import type { PopupPorts } from './popup-controller.ts';

/** Builds PopupPorts over `browser` (tabs, scripting, fetch with host permissions). */
export function createBrowserPopupPorts(browser: Browser): PopupPorts {
  return {
    async tabUrl(tabId) {
      const tab = await browser.tabs.get(tabId);
      return tab.url ?? null;
    },
    async getStatus(tabId) {
      const request: StatusRequest = { type: 'get-status' };
      try {
        // Top frame only: the content script runs there, and frames would answer in a race.
        const reply: unknown = await browser.tabs.sendMessage(tabId, request, { frameId: 0 });
        return isStatusReply(reply) ? reply : null;
      } catch {
        return null; // no content script in that page ("Receiving end does not exist")
      }
    },
    async readFlag(tabId) {
      try {
        const [result] = await browser.scripting.executeScript({
          target: { tabId },
          world: 'ISOLATED',
          func: readFlagInPage,
          args: [FLAG_KEY],
        });
        const value: unknown = result?.result;
        return typeof value === 'string' || value === null ? value : undefined;
      } catch {
        return undefined; // no host permission for this page, or not scriptable (chrome://…)
      }
    },
    async writeFlag(tabId, value) {
      const [result] = await browser.scripting.executeScript({
        target: { tabId },
        world: 'ISOLATED',
        func: writeFlagInPage,
        args: [FLAG_KEY, value],
      });
      const readBack: unknown = result?.result;
      return typeof readBack === 'string' ? readBack : null;
    },
    async reload(tabId) {
      await browser.tabs.reload(tabId);
    },
    async injectBridge(tabId) {
      try {
        await browser.scripting.executeScript({ target: { tabId }, files: ['content.js'] });
        return true;
      } catch {
        return false; // no host permission for this page
      }
    },
    async fetchMetrics(origin) {
      const response = await fetch(`${origin}/v2/realtime/metrics`, { cache: 'no-store', credentials: 'omit' });
      if (!response.ok || !(response.headers.get('content-type') ?? '').includes('json')) return null;
      return (await response.json()) as unknown;
    },
    now: () => Date.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
}

/** The popup's target tab: `?tabId=` when opened as a page (then it is itself the active tab), else the active tab. */
export async function resolveTargetTab(browser: Browser, search: string): Promise<number | null> {
  const fromUrl = Number(new URLSearchParams(search).get('tabId'));
  if (Number.isInteger(fromUrl) && fromUrl > 0) return fromUrl;
  const [tab] = await browser.tabs.query({ active: true, currentWindow: true });
  return tab?.id ?? null;
}

/**
 * Asks for `origin`'s host permission (optional_host_permissions) and registers the bridge content
 * script there, so sites beyond localhost can be inspected. Must run from a user gesture.
 */
export async function enableOnOrigin(browser: Browser, origin: string): Promise<boolean> {
  const pattern = `${origin}/*`;
  if (!(await browser.permissions.request({ origins: [pattern] }))) return false;
  const id = `bridge-${origin.replace(/[^A-Za-z0-9]/g, '_')}`;
  const existing = await browser.scripting.getRegisteredContentScripts({ ids: [id] });
  if (existing.length === 0) {
    await browser.scripting.registerContentScripts([
      { id, matches: [pattern], js: ['content.js'], runAt: 'document_start', persistAcrossSessions: true },
    ]);
  }
  return true;
}

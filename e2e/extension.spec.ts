/**
 * The developer extension, built and loaded unpacked in Debian's Chromium, against the real
 * server and the built demo: the popup flips the flag (the tab reloads onto long-polling, the
 * server sees no WebSocket) and back; published events appear in the stream view. The README's
 * screenshots are taken here, from the real build.
 */
import { chromium, type BrowserContext, type Page, type Worker } from '@playwright/test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './chromium.ts';
import { expectExactlyOnce, expectTransport, openDemo, uniqueOrg } from './demo-page.ts';
import { expect, test } from './fixtures.ts';

const EXTENSION_DIR = resolve(import.meta.dirname, '../dist/extension');
const SCREENSHOTS = resolve(import.meta.dirname, '../docs/screenshots');

let context: BrowserContext;
let extensionId: string;
let serviceWorker: Worker;

test.beforeAll(async () => {
  context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'realtime-ext-')), {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [`--disable-extensions-except=${EXTENSION_DIR}`, `--load-extension=${EXTENSION_DIR}`, ...CHROMIUM_ARGS],
  });
  serviceWorker = context.serviceWorkers()[0] ?? (await context.waitForEvent('serviceworker'));
  extensionId = new URL(serviceWorker.url()).host;
});

test.afterAll(async () => {
  await context.close();
});

async function tabIdOf(url: string): Promise<number> {
  const id = await serviceWorker.evaluate(async (prefix) => {
    type Tabs = { query(filter: object): Promise<Array<{ id?: number; url?: string }>> };
    const tabs = await (globalThis as unknown as { chrome: { tabs: Tabs } }).chrome.tabs.query({});
    return tabs.find((tab) => tab.url?.startsWith(prefix))?.id ?? null;
  }, url);
  if (id === null) throw new Error(`no tab for ${url}`);
  return id;
}

async function openPopup(tabId: number): Promise<Page> {
  const popup = await context.newPage();
  await popup.setViewportSize({ width: 380, height: 560 });
  await popup.goto(`chrome-extension://${extensionId}/popup.html?tabId=${tabId}`);
  return popup;
}

test('the popup flips v2 off (tab reloads onto long-polling, no WebSocket) and back on', async ({ server }) => {
  const org = uniqueOrg('ext');
  const page = await openDemo(context, server, org);
  await expectTransport(page, 'v2');
  const ids = [
    await server.publish(org, 'finance', 'invoice.posted', { amount: 1250 }),
    await server.publish(org, 'orders', 'order.created', { order: 'A-1042' }),
  ];
  await expectExactlyOnce(page, ids);
  const popup = await openPopup(await tabIdOf(page.url()));
  await expect(popup.getByTestId('transport')).toHaveAttribute('data-value', 'v2');
  await expect(popup.getByTestId('cursor')).toContainText(ids[1]!);
  await expect(popup.getByTestId('reason')).toHaveAttribute('data-value', 'default');
  await expect(popup.getByTestId('metrics-summary')).toContainText(/connection/i);
  await popup.screenshot({ path: join(SCREENSHOTS, 'popup.png') });

  await popup.getByTestId('flag-switch').click();
  await expect(popup.getByTestId('transport')).toHaveAttribute('data-value', 'v1', { timeout: 20_000 });
  await expect(popup.getByTestId('reason')).toHaveAttribute('data-value', 'forced-off');
  expect(await page.evaluate(() => localStorage.getItem('REALTIME_STREAMING_V2'))).toBe('false');
  await expectTransport(page, 'v1');
  await expect.poll(async () => (await server.metrics()).activeConnections).toBe(0);

  await popup.getByTestId('flag-switch').click();
  await expect(popup.getByTestId('transport')).toHaveAttribute('data-value', 'v2', { timeout: 20_000 });
  expect(await page.evaluate(() => localStorage.getItem('REALTIME_STREAMING_V2'))).toBeNull();
  await expectTransport(page, 'v2');
  await expect.poll(async () => (await server.metrics()).activeConnections).toBe(1);
  await popup.close();
  await page.close();
});

test('published events appear in the stream view with their service and id', async ({ server }) => {
  const org = uniqueOrg('view');
  const page = await openDemo(context, server, org);
  await expectTransport(page, 'v2');
  const popup = await openPopup(await tabIdOf(page.url()));
  const [view] = await Promise.all([context.waitForEvent('page'), popup.getByTestId('open-stream').click()]);
  await view.setViewportSize({ width: 1100, height: 640 });
  await expect(view.getByTestId('link')).toHaveAttribute('data-state', 'up');

  const published = [
    { service: 'finance', id: await server.publish(org, 'finance', 'invoice.posted', { amount: 1250, currency: 'EUR' }) },
    { service: 'orders', id: await server.publish(org, 'orders', 'order.shipped', { order: 'A-1042' }) },
    { service: 'chat', id: await server.publish(org, 'chat', 'message.sent', { text: 'invoice is out' }) },
  ];
  for (const { service, id } of published) {
    const row = view.locator(`[data-testid="event-row"][data-event-id="${id}"]`);
    await expect(row).toBeVisible();
    await expect(row).toHaveAttribute('data-service', service);
  }
  await view.screenshot({ path: join(SCREENSHOTS, 'stream-view.png') });

  await view.getByTestId('service-filter').selectOption('orders');
  await expect(view.locator(`[data-testid="event-row"][data-event-id="${published[0]!.id}"]`)).toHaveCount(0);
  await expect(view.locator(`[data-testid="event-row"][data-event-id="${published[1]!.id}"]`)).toBeVisible();
  await view.close();
  await popup.close();
  await page.close();
});

/**
 * The browser client against the real server: default on, rollback and roll-forward, the server's
 * kill switch, one socket for many tabs, zero loss across reloads, and the fallback without
 * SharedWorker.
 */
import { expect, test } from './fixtures.ts';
import {
  expectExactlyOnce,
  expectTransport,
  isSamePageLoad,
  markPage,
  openDemo,
  received,
  startPublishing,
  status,
  uniqueOrg,
} from './demo-page.ts';

const FLAG = 'REALTIME_STREAMING_V2';

test('default on: no flag → v2 over one WebSocket, a published event renders, latency recorded', async ({ context, server }, testInfo) => {
  const org = uniqueOrg('default');
  const page = await openDemo(context, server, org);
  await expectTransport(page, 'v2');
  expect((await status(page)).reason).toBe('default');
  await expect.poll(async () => (await server.metrics()).activeConnections).toBe(1);

  const ids: string[] = [];
  for (let i = 0; i < 10; i++) {
    ids.push(await server.publish(org, 'finance', 'invoice.posted', { amount: 100 + i }));
    await page.waitForTimeout(30);
  }
  const got = await expectExactlyOnce(page, ids);
  await expect(page.locator(`[data-event-id="${ids[0]}"]`)).toBeVisible();
  // The status (and so the demo's cursor field) follows delivery within its coalescing window.
  await expect(page.getByTestId('cursor')).toContainText(ids.at(-1)!);
  await page.screenshot({ path: 'docs/screenshots/demo.png' });
  expect(got.every((event) => !event.replayed)).toBe(true);

  const latencies = got.map((event) => event.renderedAt - event.ts).sort((a, b) => a - b);
  const p50 = latencies[Math.floor(latencies.length / 2)];
  testInfo.annotations.push({ type: 'publish→render latency ms', description: `p50 ${p50}, max ${latencies.at(-1)}` });
  console.log(`[e2e] publish→render latency over ${latencies.length} events: p50 ${p50} ms, max ${latencies.at(-1)} ms`);
  expect(latencies.every((latency) => latency >= 0)).toBe(true);
});

test('rollback and roll-forward by the flag: v1 opens no WebSocket, every event seen exactly once across both flips', async ({ context, server }) => {
  const org = uniqueOrg('flag');
  const page = await openDemo(context, server, org);
  await expectTransport(page, 'v2');
  const publisher = startPublishing(server, org, 'orders', 40);
  await page.waitForTimeout(500);

  await page.evaluate((key) => localStorage.setItem(key, 'false'), FLAG);
  const pollsBefore = (await server.metrics()).longPoll.requests;
  await page.reload();
  await expectTransport(page, 'v1');
  expect((await status(page)).reason).toBe('forced-off');
  await expect.poll(async () => (await server.metrics()).activeConnections).toBe(0);
  await page.waitForTimeout(1000);
  expect((await server.metrics()).longPoll.requests).toBeGreaterThan(pollsBefore);
  expect((await server.metrics()).activeConnections).toBe(0);

  await page.evaluate((key) => localStorage.removeItem(key), FLAG);
  await page.reload();
  await expectTransport(page, 'v2');
  await expect.poll(async () => (await server.metrics()).activeConnections).toBe(1);
  await page.waitForTimeout(500);

  const ids = await publisher.stop();
  expect(ids.length).toBeGreaterThan(20);
  await expectExactlyOnce(page, ids);
});

test('server kill switch: open tabs fall back to v1 and return to v2 without reloads, losing nothing', async ({ context, server }) => {
  const org = uniqueOrg('kill');
  const pages = [await openDemo(context, server, org), await openDemo(context, server, org)];
  for (const page of pages) {
    await expectTransport(page, 'v2');
    await markPage(page);
  }
  const publisher = startPublishing(server, org, 'chat', 40);
  try {
    await server.setStreamingV2(false);
    for (const page of pages) await expectTransport(page, 'v1');
    expect((await status(pages[0]!)).reason).toBe('server-off');
    await expect.poll(async () => (await server.metrics()).activeConnections).toBe(0);
    await pages[0]!.waitForTimeout(800);

    await server.setStreamingV2(true);
    for (const page of pages) await expectTransport(page, 'v2', 40_000);
    await expect.poll(async () => (await server.metrics()).activeConnections).toBe(1);
    await pages[0]!.waitForTimeout(500);
  } finally {
    await server.setStreamingV2(true);
  }
  const ids = await publisher.stop();
  for (const page of pages) {
    expect(await isSamePageLoad(page)).toBe(true);
    await expectExactlyOnce(page, ids);
  }
});

test('multi-tab: 5 tabs share one server connection; each event reaches each subscribed tab once', async ({ context, server }) => {
  const org = uniqueOrg('tabs');
  const pages = [];
  for (let i = 0; i < 4; i++) pages.push(await openDemo(context, server, org));
  const financeOnly = await openDemo(context, server, org, 'finance');
  for (const page of [...pages, financeOnly]) await expectTransport(page, 'v2');
  await expect.poll(async () => (await server.metrics()).activeConnections).toBe(1);
  await expect.poll(async () => (await status(financeOnly)).tabs).toBe(5);

  const finance: string[] = [];
  const chat: string[] = [];
  for (let i = 0; i < 5; i++) {
    finance.push(await server.publish(org, 'finance', 'invoice.posted', { i }));
    chat.push(await server.publish(org, 'chat', 'message.sent', { i }));
  }
  const all = [...finance, ...chat].sort((a, b) => Number(a.split(':')[1]) - Number(b.split(':')[1]));
  for (const page of pages) await expectExactlyOnce(page, all);
  await expectExactlyOnce(financeOnly, finance);
  expect((await received(financeOnly)).some((event) => event.service === 'chat')).toBe(false);
  expect((await server.metrics()).activeConnections).toBe(1);
});

test('reload replay: events published while the only tab reloads arrive once, in order; also after closing every tab', async ({ context, server }) => {
  const org = uniqueOrg('reload');
  const page = await openDemo(context, server, org);
  await expectTransport(page, 'v2');
  const publisher = startPublishing(server, org, 'finance', 30);
  await page.waitForTimeout(400);
  await page.reload();
  await expectTransport(page, 'v2');
  await page.waitForTimeout(400);
  await page.reload();
  await expectTransport(page, 'v2');
  const ids = await publisher.stop();
  await expectExactlyOnce(page, ids);

  // Close every tab: the SharedWorker goes away; what is published meanwhile reaches the next tab.
  await page.close();
  await expect.poll(async () => (await server.metrics()).activeConnections).toBe(0);
  const missed: string[] = [];
  for (let i = 0; i < 8; i++) missed.push(await server.publish(org, 'finance', 'invoice.posted', { missed: i }));
  const next = await openDemo(context, server, org);
  await expectTransport(next, 'v2');
  const got = await expectExactlyOnce(next, missed);
  expect(got.every((event) => event.replayed)).toBe(true);
});

test('without SharedWorker, 3 tabs elect a leader and still make one connection', async ({ context, server }) => {
  await context.addInitScript(() => {
    delete (window as { SharedWorker?: unknown }).SharedWorker;
  });
  const org = uniqueOrg('leader');
  const pages = [];
  for (let i = 0; i < 3; i++) pages.push(await openDemo(context, server, org));
  for (const page of pages) await expectTransport(page, 'v2');
  expect((await status(pages[0]!)).mode).toBe('leader-tab');
  await expect.poll(async () => (await server.metrics()).activeConnections).toBe(1);

  const ids: string[] = [];
  for (let i = 0; i < 6; i++) ids.push(await server.publish(org, 'orders', 'order.created', { i }));
  for (const page of pages) await expectExactlyOnce(page, ids);
  expect((await server.metrics()).activeConnections).toBe(1);
});

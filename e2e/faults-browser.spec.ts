/**
 * Fault scenarios inside the browser: the SharedWorker dies (4), a tab crashes (5), and storage or
 * SharedWorker are missing (8). Each test runs its own server and its own browser context.
 */
import type { BrowserContext, CDPSession, Page } from '@playwright/test';
import { expect, test } from '@playwright/test';
import { expectTransport, openDemo, status, uniqueOrg } from './demo-page.ts';
import { collectClientLogs, expectClean, expectSubscribed, recoveryMs, resets, settle } from './fault-checks.ts';
import { startLoad } from './load-publisher.ts';
import { recordResult, sumTallies, type Tally } from './reliability-report.ts';
import { startServerProcess, type ServerProcess } from './server-process.ts';

async function sharedWorkerTargets(cdp: CDPSession): Promise<string[]> {
  const { targetInfos } = (await cdp.send('Target.getTargets')) as { targetInfos: Array<{ targetId: string; type: string }> };
  return targetInfos.filter((target) => target.type === 'shared_worker').map((target) => target.targetId);
}

test('4 · the SharedWorker dies: tabs notice, a new worker starts and resumes from the stored cursor', async ({ browser, context }) => {
  const server = await startServerProcess();
  const cdp = await browser.newBrowserCDPSession();
  try {
    const org = uniqueOrg('worker');
    const pages = [await openDemo(context, server, org), await openDemo(context, server, org)];
    const logs = pages.map(collectClientLogs);
    for (const page of pages) await expectTransport(page, 'v2');
    const [oldWorker, ...others] = await sharedWorkerTargets(cdp);
    expect(oldWorker).toBeDefined();
    expect(others).toHaveLength(0);

    await expectSubscribed(server, org);

    const load = startLoad(server, { org, service: 'chat', perSecond: 200 });
    await expect.poll(() => load.ackedSoFar(), { timeout: 10_000 }).toBeGreaterThanOrEqual(100);
    const killedAt = Date.now();
    await cdp.send('Target.closeTarget', { targetId: oldWorker! });

    // Every tab notices through the worker's lifetime lock and a new worker (a new target) starts.
    for (const lines of logs) {
      await expect.poll(() => lines.some((line) => line.at >= killedAt && line.text.startsWith('[realtime][worker]'))).toBe(true);
    }
    await expect.poll(async () => (await sharedWorkerTargets(cdp)).filter((id) => id !== oldWorker)).toHaveLength(1);
    expect(await sharedWorkerTargets(cdp)).not.toContain(oldWorker);
    const noticedAt = Math.max(...logs.map((lines) => lines.find((line) => line.at >= killedAt && line.text.startsWith('[realtime][worker]'))!.at));
    const recovery = await Promise.all(pages.map((page) => recoveryMs(page, killedAt, { after: noticedAt })));
    const before = load.ackedSoFar();
    await expect.poll(() => load.ackedSoFar(), { timeout: 10_000 }).toBeGreaterThanOrEqual(before + 200);
    const run = await load.stop();

    const tallies = await Promise.all(pages.map((page) => settle(page, run.acked)));
    for (const [i, one] of tallies.entries()) expectClean(one, `tab ${i}`);
    const resetCount = (await Promise.all(pages.map(resets))).flat().length;
    expect(resetCount).toBe(0);
    for (const page of pages) expect((await status(page)).mode).toBe('shared-worker');
    // The dead worker's socket is gone from the server; the new worker holds the only one.
    await expect.poll(async () => (await server.metrics()).activeConnections).toBe(1);
    expect((await server.metrics()).connectionPoolStats.totalSubscriptions).toBe(1);

    recordResult({
      scenario: 4,
      name: 'SharedWorker killed',
      fault: 'Target.closeTarget on the SharedWorker (CDP) at 200 events/s; 2 tabs',
      ...sumTallies(run.acked.length, tallies),
      receivers: pages.length,
      recoveryMs: Math.max(...recovery),
      resets: resetCount,
      extra: { noticedMs: noticedAt - killedAt },
      notes: 'recovery: worker killed → first event rendered from the new worker in the slower tab',
    });
  } finally {
    await cdp.detach();
    await server.stop('SIGKILL');
  }
});

test('5 · a tab crashes: its subscription is released on the server, the other tab keeps the worker and its events', async ({ context }) => {
  const server = await startServerProcess();
  try {
    const orgX = uniqueOrg('crash-x');
    const orgY = uniqueOrg('crash-y');
    const crashing = await context.newPage();
    // No detach message on the way out: only the tab's Web Lock can tell the worker it is gone.
    await crashing.addInitScript(() => {
      addEventListener('pagehide', (event) => event.stopImmediatePropagation(), true);
    });
    // One worker, one socket, one token for both tabs: the token must cover both orgs, as a real user's would.
    const tokenOrgs = `&token-orgs=${orgX},${orgY}`;
    await crashing.goto(`${server.url}/?org=${orgX}&services=finance${tokenOrgs}`);
    const survivor = await context.newPage();
    await survivor.goto(`${server.url}/?org=${orgY}&services=finance${tokenOrgs}`);
    for (const page of [crashing, survivor]) await expectTransport(page, 'v2');
    await expect.poll(async () => (await server.metrics()).connectionPoolStats.totalSubscriptions).toBe(2);
    expect((await server.metrics()).activeConnections).toBe(1);

    await expectSubscribed(server, orgY);

    const load = startLoad(server, { org: orgY, service: 'finance', perSecond: 100 });
    await expect.poll(() => load.ackedSoFar()).toBeGreaterThanOrEqual(50);
    const crashedAt = Date.now();
    await crashing.close();
    await expect.poll(async () => (await server.metrics()).connectionPoolStats.totalSubscriptions, { intervals: [50, 100] }).toBe(1);
    const releaseMs = Date.now() - crashedAt;
    const metrics = await server.metrics();
    expect(metrics.activeConnections).toBe(1);
    expect(Object.keys(metrics.connectionPoolStats.orgs ?? {})).toEqual([orgY]);
    expect((await status(survivor)).tabs).toBe(1);
    const before = load.ackedSoFar();
    await expect.poll(() => load.ackedSoFar()).toBeGreaterThanOrEqual(before + 50);
    const run = await load.stop();
    const result = await settle(survivor, run.acked);
    expectClean(result, 'surviving tab');

    recordResult({
      scenario: 5,
      name: 'tab crash',
      fault: 'tab on org X closed without unload (no detach sent) while a tab on org Y keeps the worker; 100 events/s on Y',
      ...result,
      receivers: 1,
      recoveryMs: null,
      resets: (await resets(survivor)).length,
      extra: { subscriptionReleasedMs: releaseMs, totalSubscriptionsAfter: 1 },
      notes: 'the server drops org X (totalSubscriptions 2 → 1) while the one socket stays for org Y',
    });
  } finally {
    await server.stop('SIGKILL');
  }
});

/** Publishes `count` events to `org`; every page must get them exactly once, in order. */
async function publishAndCheck(server: ServerProcess, org: string, pages: Page[], count: number): Promise<{ ids: string[]; tallies: Tally[] }> {
  // A tab without a cursor starts at the head: publish only once the subscription exists.
  await expectSubscribed(server, org);
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push(await server.publish(org, 'orders', 'order.created', { i }));
  const tallies: Tally[] = [];
  for (const [i, page] of pages.entries()) {
    const one = await settle(page, ids);
    expectClean(one, `${org} tab ${i}`);
    tallies.push(one);
  }
  return { ids, tallies };
}

async function openTabs(context: BrowserContext, server: ServerProcess, org: string, count: number): Promise<Page[]> {
  const pages: Page[] = [];
  for (let i = 0; i < count; i++) pages.push(await openDemo(context, server, org));
  for (const page of pages) await expectTransport(page, 'v2');
  return pages;
}

test('8 · without IndexedDB, without SharedWorker, with localStorage throwing: events still arrive and the client says how', async ({ browser }) => {
  const server = await startServerProcess();
  const tallies: Tally[] = [];
  const contexts: BrowserContext[] = [];
  try {
    // (a) IndexedDB cannot be opened in the SharedWorker: a newer version of its database exists.
    const blocked = await browser.newContext();
    contexts.push(blocked);
    const setup = await blocked.newPage();
    await setup.goto(`${server.url}/v2/realtime/metrics`);
    await setup.evaluate(
      () =>
        new Promise<void>((done, fail) => {
          const request = indexedDB.open('realtime-streaming', 99);
          request.onsuccess = () => {
            request.result.close();
            done();
          };
          request.onerror = () => fail(request.error);
        }),
    );
    await setup.close();
    const orgA = uniqueOrg('noidb');
    const aPages = await openTabs(blocked, server, orgA, 2);
    for (const page of aPages) {
      expect(await status(page)).toMatchObject({ mode: 'shared-worker', storage: 'memory' });
      await expect(page.getByTestId('storage')).toHaveText('memory');
    }
    const a = await publishAndCheck(server, orgA, aPages, 20);
    tallies.push(...a.tallies);

    // (b) Neither SharedWorker nor IndexedDB: tabs elect a leader that keeps cursors in memory.
    const bare = await browser.newContext();
    contexts.push(bare);
    await bare.addInitScript(() => {
      delete (window as { SharedWorker?: unknown }).SharedWorker;
      Object.defineProperty(window, 'indexedDB', { get: () => undefined, configurable: true });
    });
    const orgB = uniqueOrg('bare');
    const bPages = await openTabs(bare, server, orgB, 2);
    for (const page of bPages) expect(await status(page)).toMatchObject({ mode: 'leader-tab', transport: 'v2' });
    await expect.poll(async () => (await status(bPages[0]!)).storage).toBe('memory');
    const b = await publishAndCheck(server, orgB, bPages, 20);
    tallies.push(...b.tallies);

    // (c) localStorage throws on access: the flag cannot be read, v2 is used, and the log says why.
    const locked = await browser.newContext();
    contexts.push(locked);
    await locked.addInitScript(() => {
      Object.defineProperty(window, 'localStorage', {
        get() {
          throw new DOMException('localStorage is disabled', 'SecurityError');
        },
        configurable: true,
      });
    });
    const orgC = uniqueOrg('nols');
    const cPage = await locked.newPage();
    const cLogs = collectClientLogs(cPage);
    await cPage.goto(`${server.url}/?org=${orgC}`);
    await expectTransport(cPage, 'v2');
    expect(await status(cPage)).toMatchObject({ reason: 'default', mode: 'shared-worker' });
    expect(cLogs.some((line) => line.text.startsWith('[realtime][flag]') && line.text.includes('storageError'))).toBe(true);
    const c = await publishAndCheck(server, orgC, [cPage], 20);
    tallies.push(...c.tallies);

    const published = a.ids.length + b.ids.length + c.ids.length;
    recordResult({
      scenario: 8,
      name: 'storage / SharedWorker unavailable',
      fault: 'IndexedDB open fails in the worker (2 tabs); no SharedWorker and no IndexedDB (2 tabs, leader); localStorage throws (1 tab)',
      ...sumTallies(published, tallies),
      receivers: 5,
      recoveryMs: null,
      resets: 0,
      extra: { storageA: 'memory', modeB: 'leader-tab', flagLoggedC: true },
      notes: 'status.storage "memory", mode "leader-tab", and the [realtime][flag] line with storageError say how it runs',
    });
  } finally {
    for (const context of contexts) await context.close();
    await server.stop('SIGKILL');
  }
});

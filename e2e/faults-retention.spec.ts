/**
 * Fault scenario 7: retention ran past a closed tab's cursor. The next tab cannot be brought up to
 * date: the app hears it through `onReset` (`window.__demo.resets`) and the developer extension's
 * stream view shows a `reset` connection row. Needs the server's REALTIME_RETENTION_MAX_EVENTS and
 * REALTIME_TRIM_INTERVAL_MS; the test skips (saying so) on a server without them.
 */
import { chromium, type BrowserContext } from '@playwright/test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './chromium.ts';
import { expectTransport, openDemo, uniqueOrg } from './demo-page.ts';
import { expectClean, expectSubscribed, resets, settle } from './fault-checks.ts';
import { expect, test } from '@playwright/test';
import { recordResult } from './reliability-report.ts';
import { startServerProcess } from './server-process.ts';

const EXTENSION_DIR = resolve(import.meta.dirname, '../dist/extension');
const KEEP = 20;

test('7 · retention exceeded while every tab was closed: onReset tells the app, the extension shows the reset', async () => {
  const server = await startServerProcess({
    env: { REALTIME_RETENTION_MAX_EVENTS: String(KEEP), REALTIME_TRIM_INTERVAL_MS: '200' },
  });
  let context: BrowserContext | undefined;
  try {
    context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'realtime-retention-')), {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: [`--disable-extensions-except=${EXTENSION_DIR}`, `--load-extension=${EXTENSION_DIR}`, ...CHROMIUM_ARGS],
    });
    const serviceWorker = context.serviceWorkers()[0] ?? (await context.waitForEvent('serviceworker'));
    const extensionId = new URL(serviceWorker.url()).host;
    const org = uniqueOrg('retention');
    const first = await openDemo(context, server, org);
    await expectTransport(first, 'v2');
    await expectSubscribed(server, org);
    const seen: string[] = [];
    for (let i = 0; i < 5; i++) seen.push(await server.publish(org, 'finance', 'invoice.posted', { i }));
    await settle(first, seen);
    await first.close();
    await expect.poll(async () => (await server.metrics()).activeConnections).toBe(0);

    // While no tab is open, far more than retention keeps is published, and the trim runs.
    const missed: string[] = [];
    for (let i = 0; i < KEEP * 3; i++) missed.push(await server.publish(org, 'finance', 'invoice.posted', { missed: i }));
    const stale = seen.at(-1)!;
    const trimmed = async (): Promise<boolean> => {
      const response = await fetch(`${server.url}/v1/realtime/poll?org=${org}&cursor=${encodeURIComponent(stale)}&timeout=1`, {
        headers: { authorization: `Bearer ${await server.token(org, 'read')}` },
      });
      return 'reset' in ((await response.json()) as object);
    };
    let retentionApplied = false;
    for (let i = 0; i < 15 && !retentionApplied; i++) {
      retentionApplied = await trimmed();
      if (!retentionApplied) await new Promise((done) => setTimeout(done, 200));
    }
    test.skip(!retentionApplied, 'this server has no REALTIME_RETENTION_MAX_EVENTS / REALTIME_TRIM_INTERVAL_MS yet');

    const next = await openDemo(context, server, org);
    await expectTransport(next, 'v2');
    await expect.poll(async () => (await resets(next)).length).toBeGreaterThanOrEqual(1);
    const [reset] = await resets(next);
    expect(reset).toMatchObject({ org, reason: 'retention' });
    await expect(next.locator(`[data-reset-org="${org}"]`).first()).toBeVisible();
    const after = await server.publish(org, 'finance', 'invoice.posted', { after: true });
    // The reset counts every event after the stale cursor as lost (the app refetches its state);
    // delivery resumes at the head, so only live events follow it.
    expect(reset!.lost).toBe(missed.length);
    const got = await settle(next, [after]);
    expectClean(got, 'tab after the reset');
    expect(await resets(next)).toHaveLength(1);

    const tabId = await serviceWorker.evaluate(async (prefix) => {
      type Tabs = { query(filter: object): Promise<Array<{ id?: number; url?: string }>> };
      const tabs = await (globalThis as unknown as { chrome: { tabs: Tabs } }).chrome.tabs.query({});
      return tabs.find((tab) => tab.url?.startsWith(prefix))?.id ?? null;
    }, next.url());
    const popup = await context.newPage();
    await popup.goto(`chrome-extension://${extensionId}/popup.html?tabId=${tabId}`);
    const [view] = await Promise.all([context.waitForEvent('page'), popup.getByTestId('open-stream').click()]);
    await expect(view.locator('[data-testid="connection-row"][data-what="reset"]').first()).toBeVisible();

    recordResult({
      scenario: 7,
      name: 'retention exceeded',
      fault: `every tab closed, ${missed.length} events published, retention keeps ${KEEP} per org (trim every 200 ms); a new tab opens`,
      ...got,
      receivers: 1,
      recoveryMs: null,
      resets: (await resets(next)).length,
      extra: { resetReason: reset!.reason, resetLost: reset!.lost ?? 'unknown', trimmedWhileClosed: missed.length - KEEP },
      notes:
        'one reset (reason retention, lost = all 60 events after the stale cursor, new position = head); published/lost count the live event ' +
        'after it, which arrives once; nothing is a silent gap',
    });
  } finally {
    await context?.close();
    await server.stop('SIGKILL');
  }
});

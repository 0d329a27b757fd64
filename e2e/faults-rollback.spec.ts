/**
 * Fault scenario 9: rollback under load. Three tabs, 200 events/s: the flag is flipped off (every
 * tab reloads onto v1 long-polling) and on again (reload back to v2), then the server's kill switch
 * is turned off and on (tabs move to v1 and back without reloading). Nothing lost, nothing twice.
 */
import { expect, test } from '@playwright/test';
import { expectTransport, isSamePageLoad, markPage, openDemo, status, uniqueOrg } from './demo-page.ts';
import { expectClean, expectSubscribed, resets, settle } from './fault-checks.ts';
import { startLoad } from './load-publisher.ts';
import { recordResult, sumTallies } from './reliability-report.ts';
import { startServerProcess } from './server-process.ts';

const FLAG = 'REALTIME_STREAMING_V2';

test('9 · rollback under load: flag off and on (reload), kill switch off and on, 3 tabs at 200 events/s', async ({ context }) => {
  const server = await startServerProcess({ env: { REALTIME_POLL_TIMEOUT_MS: '5000' } });
  try {
    const org = uniqueOrg('rollback');
    const pages = [];
    for (let i = 0; i < 3; i++) pages.push(await openDemo(context, server, org));
    for (const page of pages) await expectTransport(page, 'v2');
    await expect.poll(async () => (await server.metrics()).activeConnections).toBe(1);
    await expectSubscribed(server, org);
    const load = startLoad(server, { org, service: 'finance', perSecond: 200 });
    const pause = async (): Promise<void> => {
      const before = load.ackedSoFar();
      await expect.poll(() => load.ackedSoFar()).toBeGreaterThanOrEqual(before + 100);
    };
    await pause();

    // Roll back by the flag: every tab reloads onto v1; no WebSocket is left.
    await pages[0]!.evaluate((key) => localStorage.setItem(key, 'false'), FLAG);
    for (const page of pages) await page.reload();
    for (const page of pages) await expectTransport(page, 'v1');
    await expect.poll(async () => (await server.metrics()).activeConnections).toBe(0);
    await pause();

    // Roll forward: back to one WebSocket for the three tabs.
    await pages[0]!.evaluate((key) => localStorage.removeItem(key), FLAG);
    for (const page of pages) await page.reload();
    for (const page of pages) await expectTransport(page, 'v2');
    await expect.poll(async () => (await server.metrics()).activeConnections).toBe(1);
    await pause();

    // The server's kill switch: tabs fall back to v1 and return to v2 without a reload.
    for (const page of pages) await markPage(page);
    await server.setStreamingV2(false);
    try {
      for (const page of pages) await expectTransport(page, 'v1');
      expect((await status(pages[0]!)).reason).toBe('server-off');
      await expect.poll(async () => (await server.metrics()).activeConnections).toBe(0);
      await pause();
    } finally {
      await server.setStreamingV2(true);
    }
    for (const page of pages) await expectTransport(page, 'v2', 30_000);
    await expect.poll(async () => (await server.metrics()).activeConnections).toBe(1);
    await pause();
    const run = await load.stop();

    for (const page of pages) expect(await isSamePageLoad(page)).toBe(true);
    const tallies = await Promise.all(pages.map((page) => settle(page, run.acked)));
    for (const [i, one] of tallies.entries()) expectClean(one, `tab ${i}`);
    const resetCount = (await Promise.all(pages.map(resets))).flat().length;
    expect(resetCount).toBe(0);
    const metrics = await server.metrics();
    expect(metrics.events.published).toBe(run.acked.length);
    expect(metrics.longPoll.requests).toBeGreaterThan(0);
    expect(metrics.closeCodes?.['4010'] ?? 0).toBeGreaterThanOrEqual(1);

    recordResult({
      scenario: 9,
      name: 'rollback under load',
      fault: 'flag off + reload (v1), flag on + reload (v2), kill switch off (v1) and on (v2, no reload); 3 tabs at 200 events/s',
      ...sumTallies(run.acked.length, tallies),
      receivers: pages.length,
      recoveryMs: null,
      resets: resetCount,
      extra: { publishFailed: run.failed, publishSkippedSlow: run.skipped, longPolls: metrics.longPoll.requests },
    });
  } finally {
    await server.stop('SIGKILL');
  }
});

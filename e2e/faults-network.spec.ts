/**
 * Fault scenarios on the network between client and server: a blackholed (half-open) connection
 * found by heartbeats (2), and a consumer that stops reading, closed as slow and resumed (3).
 */
import { expect, test } from '@playwright/test';
import { expectTransport, openDemo, received, uniqueOrg } from './demo-page.ts';
import { collectClientLogs, expectClean, expectSubscribed, recoveryMs, resets, settle } from './fault-checks.ts';
import { startLoad } from './load-publisher.ts';
import { recordResult, sumTallies, tally } from './reliability-report.ts';
import { openStreamClient } from './stream-client.ts';
import { startServerProcess } from './server-process.ts';
import { isWebSocket, startTcpProxy } from './tcp-proxy.ts';

const HEARTBEAT_MS = 1000;

/** Time from the heartbeat timeout to the last failed getToken before the reconnect (0 if none failed or none was asked). */
function reconnectGap(logs: Array<{ at: number; text: string }>, detectedAt: number): number {
  const failures = logs.filter((line) => line.at >= detectedAt && line.text.includes('getToken'));
  return failures.length === 0 ? 0 : failures.at(-1)!.at - detectedAt;
}

test('2 · network cut: a half-open socket is found within the heartbeat bound, the client reconnects and replays', async ({ context }) => {
  const server = await startServerProcess({ env: { REALTIME_HEARTBEAT_MS: String(HEARTBEAT_MS) } });
  const proxy = await startTcpProxy(server.url);
  try {
    const org = uniqueOrg('cut');
    const pages = [await openDemo(context, proxy, org), await openDemo(context, proxy, org)];
    const logs = collectClientLogs(pages[0]!);
    for (const page of pages) await expectTransport(page, 'v2');
    await expectSubscribed(server, org);
    const load = startLoad(server, { org, service: 'orders', perSecond: 200 });
    await expect.poll(() => load.ackedSoFar(), { timeout: 10_000 }).toBeGreaterThanOrEqual(100);
    const closeCodesBefore = (await server.metrics()).closeCodes ?? {};

    const cutAt = Date.now();
    const cut = proxy.cut();
    expect(proxy.connections().filter((connection) => connection.blackholed && isWebSocket(connection))).toHaveLength(1);

    // The client finds the silence itself (2× heartbeat, checked every heartbeat): no close ever arrives.
    await expect
      .poll(() => logs.find((line) => line.at >= cutAt && line.text.includes('heartbeat timeout')) ?? null, { timeout: 10_000 })
      .not.toBeNull();
    const detectedAt = logs.find((line) => line.at >= cutAt && line.text.includes('heartbeat timeout'))!.at;
    const detectionMs = detectedAt - cutAt;
    expect(detectionMs).toBeLessThanOrEqual(3 * HEARTBEAT_MS + 1000);

    const recovery = await Promise.all(pages.map((page) => recoveryMs(page, cutAt, { after: detectedAt })));
    const before = load.ackedSoFar();
    await expect.poll(() => load.ackedSoFar(), { timeout: 10_000 }).toBeGreaterThanOrEqual(before + 200);
    const run = await load.stop();

    const tallies = await Promise.all(pages.map((page) => settle(page, run.acked)));
    for (const [i, one] of tallies.entries()) expectClean(one, `tab ${i}`);
    const resetCount = (await Promise.all(pages.map(resets))).flat().length;
    expect(resetCount).toBe(0);

    // The server found the half-open socket too (4011), and only the new one is counted open.
    await expect.poll(async () => ((await server.metrics()).closeCodes?.['4011'] ?? 0) - (closeCodesBefore['4011'] ?? 0)).toBe(1);
    const metrics = await server.metrics();
    expect(metrics.activeConnections).toBe(1);
    expect(metrics.connectionPoolStats.totalSubscriptions).toBe(1);
    const newSockets = proxy.connections().filter((connection) => !connection.blackholed && isWebSocket(connection));
    expect(newSockets).toHaveLength(1);
    const replayed = (await received(pages[0]!)).filter((event) => event.receivedAt >= detectedAt && event.replayed).length;

    recordResult({
      scenario: 2,
      name: 'network cut (half-open)',
      fault: `TCP proxy blackholes every open connection (${cut}) without closing them; heartbeat ${HEARTBEAT_MS} ms; 2 tabs at 200 events/s`,
      ...sumTallies(run.acked.length, tallies),
      receivers: pages.length,
      recoveryMs: Math.max(...recovery),
      resets: resetCount,
      extra: { detectionMs, tokenWaitMs: reconnectGap(logs, detectedAt), replayedAfterReconnect: replayed },
      notes:
        'recovery: cut → first event over the new connection (old connections stay blackholed); mostly detection (2× heartbeat). ' +
        'The reconnect reuses the last token (a JWT with > 60 s left), so it no longer waits on getToken(), whose fetch can hang on a ' +
        'pooled keep-alive connection the cut also blackholed; tokenWaitMs: heartbeat timeout → last failed getToken (0: none was needed)',
    });
  } finally {
    await proxy.close();
    await server.stop('SIGKILL');
  }
});

/** The p-th percentile (0–100) of `values`. */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;
}

test('3 · slow consumer: a client that stops reading is closed 4009 and resumes from its cursor; a tab’s latency stays in bound', async ({ context }) => {
  const server = await startServerProcess({ env: { REALTIME_MAX_BUFFERED_BYTES: String(256 * 1024) } });
  try {
    const slowOrg = uniqueOrg('slow');
    const tabOrg = uniqueOrg('tab');
    const page = await openDemo(context, server, tabOrg, 'finance');
    await expectTransport(page, 'v2');
    await expectSubscribed(server, tabOrg);
    const latencies = async (ids: string[]): Promise<number[]> => {
      const wanted = new Set(ids);
      return (await received(page)).filter((event) => wanted.has(event.id)).map((event) => event.renderedAt - event.ts);
    };

    // Baseline: the tab's publish → render latency with nothing else going on.
    const baselineLoad = startLoad(server, { org: tabOrg, service: 'finance', perSecond: 50 });
    await expect.poll(() => baselineLoad.ackedSoFar()).toBeGreaterThanOrEqual(100);
    const baselineRun = await baselineLoad.stop();
    expectClean(await settle(page, baselineRun.acked), 'tab (baseline)');
    const baseline = await latencies(baselineRun.acked);

    // The slow consumer: subscribed, then it stops reading its socket.
    const token = await server.token(slowOrg, 'read', 'slow-reader');
    const slow = await openStreamClient(server.url, token, slowOrg);
    await slow.live;
    slow.ws.pause();
    const closedBefore = (await server.metrics()).closeCodes?.['4009'] ?? 0;
    const flood = startLoad(server, { org: slowOrg, service: 'reports', perSecond: 100, padBytes: 30_000 });
    const tabLoad = startLoad(server, { org: tabOrg, service: 'finance', perSecond: 50 });
    await expect
      .poll(async () => ((await server.metrics()).closeCodes?.['4009'] ?? 0) - closedBefore, { timeout: 30_000, intervals: [200] })
      .toBe(1);
    const floodRun = await flood.stop();
    const tabRun = await tabLoad.stop();

    // It reads again: what the kernel buffered, then the end of the connection.
    slow.ws.resume();
    const closeCode = await slow.closed;
    const resumeFrom = slow.cursor();
    const resumed = await openStreamClient(server.url, token, slowOrg, resumeFrom);
    await resumed.live;
    const lastAcked = floodRun.acked.at(-1)!;
    await expect.poll(() => resumed.ids.includes(lastAcked) || slow.ids.includes(lastAcked), { timeout: 15_000 }).toBe(true);
    resumed.close();
    const slowTally = tally(floodRun.acked, [...slow.ids, ...resumed.ids]);
    expectClean(slowTally, 'slow consumer');

    const tabTally = await settle(page, tabRun.acked);
    expectClean(tabTally, 'tab (during)');
    const during = await latencies(tabRun.acked);
    const ratio = percentile(during, 95) / Math.max(1, percentile(baseline, 95));
    // A generous multiple of the same test's baseline: the slow socket must not hold others back.
    expect(ratio).toBeLessThan(20);

    recordResult({
      scenario: 3,
      name: 'slow consumer',
      fault: 'a ws client stops reading (socket paused) under 30 KB events at 100/s; send-buffer bound 256 KiB; a tab on another org at 50/s',
      ...sumTallies(floodRun.acked.length + tabRun.acked.length, [slowTally, tabTally]),
      receivers: 2,
      recoveryMs: null,
      resets: (await resets(page)).length,
      extra: {
        serverClosed4009: 1,
        clientSawClose: closeCode,
        replayedOnResume: resumed.ids.length,
        tabP95BaselineMs: percentile(baseline, 95),
        tabP95DuringMs: percentile(during, 95),
        p95Ratio: Math.round(ratio * 10) / 10,
      },
      notes: 'clientSawClose: the close code the paused client read once it resumed (1006 if the server had to cut it off)',
    });
  } finally {
    await server.stop('SIGKILL');
  }
});

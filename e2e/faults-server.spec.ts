/**
 * Fault scenarios around the server process: SIGKILL mid-stream (1) and a reconnect storm of
 * 1,000 clients after a restart (6). Each test runs its own server (a child process with its own
 * SQLite file), publishes numbered events through the publish API while the fault happens, and
 * checks every receiver against what the API acknowledged.
 */
import { expect, test } from '@playwright/test';
import { expectTransport, openDemo, received, uniqueOrg } from './demo-page.ts';
import { expectClean, expectSubscribed, recoveryMs, resets, settle } from './fault-checks.ts';
import { startLoad } from './load-publisher.ts';
import { recordResult, seqOf, sumTallies, tally } from './reliability-report.ts';
import { startServerProcess } from './server-process.ts';
import { openStreamClient, type StreamClient } from './stream-client.ts';

test('1 · server SIGKILLed mid-stream at 200 events/s, restarted on the same SQLite file and port: every tab recovers', async ({ context }) => {
  const server = await startServerProcess();
  try {
    const org = uniqueOrg('kill9');
    const pages = [await openDemo(context, server, org), await openDemo(context, server, org)];
    for (const page of pages) await expectTransport(page, 'v2');
    await expectSubscribed(server, org);
    const load = startLoad(server, { org, service: 'finance', perSecond: 200 });
    await expect.poll(() => load.ackedSoFar(), { timeout: 10_000 }).toBeGreaterThanOrEqual(200);

    await server.stop('SIGKILL');
    const killedAt = Date.now();
    // Publishes fail while the server is down; only acknowledged ids count.
    await pages[0]!.waitForTimeout(500);
    await server.start();
    const backAt = Date.now();
    const recovery = await Promise.all(pages.map((page) => recoveryMs(page, backAt)));
    const before = load.ackedSoFar();
    await expect.poll(() => load.ackedSoFar(), { timeout: 10_000 }).toBeGreaterThanOrEqual(before + 200);
    const run = await load.stop();

    const tallies = await Promise.all(pages.map((page) => settle(page, run.acked)));
    const total = sumTallies(run.acked.length, tallies);
    for (const [i, one] of tallies.entries()) expectClean(one, `tab ${i}`);
    const resetCount = (await Promise.all(pages.map(resets))).flat().length;
    expect(resetCount).toBe(0);

    // The restarted server's counters start at zero: it accepted exactly the acks that came after the kill.
    const metrics = await server.metrics();
    const ackedAfterKill = [...run.ackedAt.values()].filter((at) => at > killedAt).length;
    const ackedAfterBack = [...run.ackedAt.values()].filter((at) => at > backAt).length;
    expect(metrics.events.published).toBeGreaterThanOrEqual(ackedAfterBack);
    expect(metrics.events.published).toBeLessThanOrEqual(ackedAfterKill);
    expect(metrics.activeConnections).toBe(1);
    expect(metrics.connectionPoolStats.totalSubscriptions).toBe(1);
    const replayedAfterRestart = (await received(pages[0]!)).filter((event) => event.receivedAt >= backAt && event.replayed).length;

    recordResult({
      scenario: 1,
      name: 'server SIGKILL + restart',
      fault: 'SIGKILL mid-stream at 200 events/s, restarted 0.5 s later on the same SQLite file and port (downMs includes its boot); 2 tabs',
      ...total,
      receivers: pages.length,
      recoveryMs: Math.max(...recovery),
      resets: resetCount,
      extra: { downMs: backAt - killedAt, publishFailedWhileDown: run.failed + run.skipped, replayedAfterRestart },
      notes: 'recovery: server listening again → first event rendered in the slower tab (includes the client backoff)',
    });
  } finally {
    await server.stop('SIGKILL');
  }
});

test('6 · reconnect storm: 1,000 clients resume at once after a restart, none loses an event, metrics answer meanwhile', async () => {
  test.setTimeout(120_000);
  const CLIENTS = 1000;
  const ORGS = 10;
  const BEFORE = 30;
  const AFTER = 20;
  const server = await startServerProcess({ env: { REALTIME_MAX_SOCKETS_PER_USER: String(CLIENTS * 2) } });
  const clients: StreamClient[] = [];
  try {
    const orgs = Array.from({ length: ORGS }, (_, i) => uniqueOrg(`storm${i}`));
    const acked = new Map<string, string[]>(orgs.map((org) => [org, []]));
    const publishAll = async (count: number): Promise<void> => {
      await Promise.all(
        orgs.map(async (org) => {
          for (let i = 0; i < count; i++) acked.get(org)!.push(await server.publish(org, 'orders', 'order.created', { i }));
        }),
      );
    };
    await publishAll(BEFORE);
    const epoch = acked.get(orgs[0]!)![0]!.split(':')[0]!;
    const token = await server.token(orgs.join(','), 'read', 'storm');
    // Client i follows org i % ORGS from its own cursor: somewhere in the first BEFORE events.
    const starts = Array.from({ length: CLIENTS }, (_, i) => seqOf(acked.get(orgs[i % ORGS]!)![0]!) - 1 + (i % BEFORE));
    const received = Array.from({ length: CLIENTS }, () => [] as string[]);
    for (let batch = 0; batch < CLIENTS; batch += 100) {
      const opened = await Promise.all(
        Array.from({ length: 100 }, (_, k) => batch + k).map((i) => openStreamClient(server.url, token, orgs[i % ORGS]!, `${epoch}:${starts[i]}`)),
      );
      clients.push(...opened);
    }
    await Promise.all(clients.map((client) => client.live));
    expect((await server.metrics()).activeConnections).toBe(CLIENTS);

    await server.stop('SIGKILL');
    await Promise.all(clients.map((client) => client.closed));
    for (const [i, client] of clients.entries()) received[i]!.push(...client.ids);
    await server.start();
    const backAt = Date.now();

    // Everyone at once, each from its own cursor; publishing and a metrics read go on meanwhile.
    const storm = Promise.all(
      clients.map((client, i) => openStreamClient(server.url, token, orgs[i % ORGS]!, client.cursor() ?? `${epoch}:${starts[i]}`)),
    );
    const metricsStart = Date.now();
    const during = await server.metrics();
    const metricsMs = Date.now() - metricsStart;
    const publishing = publishAll(AFTER);
    const resumed = await storm;
    await Promise.all(resumed.map((client) => client.live));
    const allLiveMs = Date.now() - backAt;
    await publishing;
    clients.splice(0, clients.length, ...resumed);

    const tallies = [];
    for (const [i, client] of resumed.entries()) {
      const org = orgs[i % ORGS]!;
      const expected = acked.get(org)!.filter((id) => seqOf(id) > starts[i]!);
      const last = expected.at(-1)!;
      await expect.poll(() => client.ids.includes(last), { timeout: 15_000 }).toBe(true);
      tallies.push(tally(expected, [...received[i]!, ...client.ids]));
    }
    // Deliveries checked: each client's expected events, summed.
    const total = sumTallies(
      tallies.reduce((sum, one) => sum + one.published, 0),
      tallies,
    );
    expectClean(total, `${CLIENTS} clients`);
    const resetCount = resumed.reduce((sum, client) => sum + client.resets, 0);
    expect(resetCount).toBe(0);
    const metrics = await server.metrics();
    expect(metrics.activeConnections).toBe(CLIENTS);
    expect(metrics.connectionPoolStats.totalSubscriptions).toBe(ORGS);
    // The server answered its metrics in the middle of the storm, with a well-formed body.
    expect(typeof during.activeConnections).toBe('number');
    expect(during.activeConnections).toBeLessThanOrEqual(CLIENTS);

    recordResult({
      scenario: 6,
      name: 'reconnect storm',
      fault: `${CLIENTS} ws clients on ${ORGS} orgs, each with its own cursor, SIGKILL + restart, all resume at once while ${AFTER} events/org are published`,
      ...total,
      published: ORGS * (BEFORE + AFTER),
      receivers: CLIENTS,
      recoveryMs: allLiveMs,
      resets: resetCount,
      extra: { deliveriesChecked: total.published, metricsDuringStormMs: metricsMs, connectionsWhenMetricsAnswered: during.activeConnections },
      notes: 'recovery: server listening again → every client replayed and live; clients reconnect without backoff (worst case)',
    });
  } finally {
    for (const client of clients) client.ws.terminate();
    await server.stop('SIGKILL');
  }
});

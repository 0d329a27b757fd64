/**
 * Scale-out in the browser (10): three server processes on one real redis-server. The page is
 * served by A and streams from B or C (`?servers=B,C`): publishes on any process reach it, and when
 * the process holding its socket is SIGKILLed under load, the tab moves to the other one and gets
 * every acknowledged event exactly once, in order.
 */
import { expect, test, type Page } from '@playwright/test';
import { startRedisTestServer, type RedisTestServer } from '../server/redis-test-server.ts';
import { expectExactlyOnce, expectTransport, received, status, uniqueOrg } from './demo-page.ts';
import { expectClean, resets, settle } from './fault-checks.ts';
import { startLoad } from './load-publisher.ts';
import { recordResult } from './reliability-report.ts';
import { startServerProcess, type ServerProcess } from './server-process.ts';

const PUBLISH_PER_SECOND = 100;

/** Sockets open on each process, in the order given. */
function socketsOn(processes: readonly ServerProcess[]): Promise<number[]> {
  return Promise.all(processes.map(async (process) => (await process.metrics()).activeConnections));
}

/** Publishes `count` events on `process` one after another; resolves with the acknowledged ids. */
async function publishOn(process: ServerProcess, org: string, count: number, from: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push(await process.publish(org, 'finance', 'test.cross-process', { from, i }));
  return ids;
}

async function serverShown(page: Page): Promise<string | undefined> {
  return (await status(page)).server;
}

test('10 · three processes on Redis: the tab fails over from a SIGKILLed process to another, exactly once, in order', async ({ context }) => {
  test.setTimeout(120_000);
  const processes: ServerProcess[] = [];
  let redis: RedisTestServer | null = null;
  try {
    redis = await startRedisTestServer();
    const store = { REALTIME_STORE: redis.url };
    const a = await startServerProcess({ env: store });
    processes.push(a);
    // B and C serve a page of A's origin: its polls, token requests and WebSocket come from there.
    const crossOrigin = { ...store, ALLOWED_ORIGINS: a.url };
    const [b, c] = await Promise.all([startServerProcess({ env: crossOrigin }), startServerProcess({ env: crossOrigin })]);
    processes.push(b, c);

    const org = uniqueOrg('scale');
    const page = await context.newPage();
    await page.goto(`${a.url}/?org=${org}&services=finance&servers=${b.url},${c.url}`);
    await expectTransport(page, 'v2');
    await expect.poll(() => socketsOn([a, b, c])).toEqual([0, 1, 0]);
    expect(await serverShown(page)).toBe(b.url);
    await expect(page.getByTestId('server')).toHaveText(b.url);
    await expect.poll(async () => (await b.metrics()).connectionPoolStats.orgs?.[org] ?? 0).toBe(1);

    // Cross-process fan-out: published on C (and A), delivered by B's socket.
    const viaC = await publishOn(c, org, 20, 'C');
    const viaA = await publishOn(a, org, 5, 'A');
    await expectExactlyOnce(page, [...viaC, ...viaA]);

    // Under load through A, kill the process that holds the tab's socket.
    const load = startLoad(a, { org, service: 'finance', perSecond: PUBLISH_PER_SECOND });
    await expect.poll(() => load.ackedSoFar(), { timeout: 10_000 }).toBeGreaterThanOrEqual(100);
    const [onB, onC] = await socketsOn([b, c]);
    expect(onB! + onC!).toBe(1);
    const victim = onB === 1 ? b : c;
    const survivor = victim === b ? c : b;
    await victim.stop('SIGKILL');
    const killedAt = Date.now();

    await expect.poll(() => serverShown(page), { timeout: 15_000 }).toBe(survivor.url);
    await expect.poll(() => socketsOn([survivor]), { timeout: 15_000 }).toEqual([1]);
    await expectTransport(page, 'v2');
    const movedAt = Date.now();
    const before = load.ackedSoFar();
    await expect.poll(() => load.ackedSoFar(), { timeout: 10_000 }).toBeGreaterThanOrEqual(before + 100);
    const run = await load.stop();
    expect(run.failed).toBe(0); // A never went away: every publish was acknowledged

    const result = await settle(page, run.acked);
    expectClean(result, 'tab');
    const resetCount = (await resets(page)).length;
    expect(resetCount).toBe(0);

    // Recovery: kill → the first event the survivor delivered. It replays what the tab missed
    // (replayed: true); events B had sent before it died can still arrive after the kill, live.
    const after = (await received(page)).filter((event) => event.receivedAt >= killedAt);
    const firstFromSurvivor = after.find((event) => event.replayed) ?? after.find((event) => event.receivedAt >= movedAt);
    expect(firstFromSurvivor).toBeDefined();
    const recovery = firstFromSurvivor!.receivedAt - killedAt;
    const replayed = after.filter((event) => event.replayed).length;

    // The killed process comes back: what is published on it reaches the tab on the survivor.
    await victim.start();
    const viaVictim = await publishOn(victim, org, 20, 'restarted');
    await expectExactlyOnce(page, viaVictim);
    expect(await socketsOn([a, victim, survivor])).toEqual([0, 0, 1]);
    const survivorMetrics = await survivor.metrics();
    expect(survivorMetrics.connectionPoolStats.orgs?.[org]).toBe(1);

    recordResult({
      scenario: 10,
      name: 'process SIGKILL, failover to another process (Redis)',
      fault:
        `3 processes on one redis-server; page served by A with ?servers=B,C; SIGKILL of the process holding the socket ` +
        `at ${PUBLISH_PER_SECOND} events/s published through A; 1 tab`,
      ...result,
      receivers: 1,
      recoveryMs: recovery,
      resets: resetCount,
      extra: {
        killed: victim === b ? 'B' : 'C',
        movedTo: survivor === b ? 'B' : 'C',
        replayedAfterFailover: replayed,
        crossProcessChecked: viaC.length + viaA.length + viaVictim.length,
      },
      notes:
        'recovery: SIGKILL → first event delivered by the other process (the close is seen at once; then the backoff, under 0.5 s, ' +
        'and a reconnect with the reused token); cross-process: events published on C, A and the restarted process reached the tab exactly once',
    });
  } finally {
    await Promise.all(processes.map((process) => process.stop('SIGKILL')));
    await redis?.close();
  }
});

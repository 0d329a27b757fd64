/**
 * Browser: Debian's Chromium with the built demo (dist/demo), ours serving it.
 * - 1 and N tabs in one browser context (one SharedWorker, so one socket): publish→render
 *   latency (`renderedAt − ts` from `window.__demo.received`) and the server's connection count;
 * - one tab on v2 and one on v1 (the `REALTIME_STREAMING_V2=false` flag) behind a metering proxy:
 *   HTTP requests and bytes both ways, scaled to one tab-hour — the polling cost v2 removes.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Browser, type Page } from '@playwright/test';
import type { ClientStatus } from '../../protocol/index.ts';
import type { BenchContext, ServerHandle } from '../bench-context.ts';
import { createEventMix } from '../event-mix.ts';
import { createHttpPublisher, type HttpPublisher } from '../http-publisher.ts';
import { createLatencyRecorder } from '../latency-recorder.ts';
import { startMeteringProxy } from '../metering-proxy.ts';
import { fetchDevToken } from '../peers/index.ts';
import type { BrowserResult, BrowserTabsCase, TransportCost } from '../results-types.ts';

const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// Quiet on a closed network (NOTES.md, "Playwright with Debian Chromium").
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];
const DEMO_INDEX = resolve(import.meta.dirname, '../../dist/demo/index.html');
const SERVICES = 'finance,orders,chat,audit';
const HOUR_MS = 3_600_000;

interface DemoEntry {
  ts: number;
  renderedAt: number;
  replayed: boolean;
}

interface DemoWindow {
  __demo: { received: DemoEntry[]; status(): ClientStatus };
}

const sleep = (ms: number) => new Promise<void>((resolveSleep) => setTimeout(resolveSleep, ms));

async function waitForTransport(page: Page, transport: 'v1' | 'v2', timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no status';
  while (Date.now() < deadline) {
    last = await page
      .evaluate(() => {
        const demo = (window as unknown as Partial<DemoWindow>).__demo;
        if (!demo) return 'no window.__demo';
        const status = demo.status();
        return `${status.transport}/${status.state}`;
      })
      .catch((error: unknown) => String(error));
    if (last === `${transport}/connected`) return;
    await sleep(100);
  }
  throw new Error(`the demo did not reach ${transport}/connected in ${timeoutMs} ms (last: ${last})`);
}

/** Publishes `eventsPerSec` events of the mix to `org` for `durationMs`; resolves with how many. */
async function publishFor(publisher: HttpPublisher, org: string, eventsPerSec: number, durationMs: number): Promise<number> {
  const mix = createEventMix(11);
  const started = Date.now();
  let count = 0;
  while (Date.now() - started < durationMs) {
    await publisher.publish({ org, ...mix.next() });
    count += 1;
    await sleep(Math.max(0, started + (count * 1000) / eventsPerSec - Date.now()));
  }
  return count;
}

function renderedSince(page: Page, since: number): Promise<number[]> {
  return page.evaluate(
    (from) => (window as unknown as DemoWindow).__demo.received.filter((entry) => entry.ts >= from && !entry.replayed).map((entry) => entry.renderedAt - entry.ts),
    since,
  );
}

async function activeConnections(server: ServerHandle): Promise<number | null> {
  const response = await fetch(`${server.url}/v2/realtime/metrics`);
  const body: unknown = await response.json();
  return typeof body === 'object' && body !== null && 'activeConnections' in body && typeof body.activeConnections === 'number' ? body.activeConnections : null;
}

async function measureTabs(browser: Browser, server: ServerHandle, tabs: number, measureMs: number, eventsPerSec: number): Promise<BrowserTabsCase> {
  const org = `browser-${tabs}`;
  const token = await fetchDevToken(server.url, [org]);
  const publisher = createHttpPublisher({ url: `${server.url}/v1/events`, authorization: `Bearer ${token}` });
  const context = await browser.newContext();
  try {
    const pages: Page[] = [];
    for (let index = 0; index < tabs; index++) {
      const page = await context.newPage();
      await page.goto(`${server.url}/?org=${org}&services=${SERVICES}`);
      pages.push(page);
    }
    for (const page of pages) await waitForTransport(page, 'v2');
    const since = Date.now();
    const publishing = publishFor(publisher, org, eventsPerSec, measureMs);
    await sleep(measureMs / 2);
    const serverConnections = await activeConnections(server);
    const published = await publishing;
    const deadline = Date.now() + 5000;
    let latencies: number[][] = [];
    do {
      latencies = await Promise.all(pages.map((page) => renderedSince(page, since)));
      if (latencies.every((perPage) => perPage.length >= published)) break;
      await sleep(100);
    } while (Date.now() < deadline);
    const recorder = createLatencyRecorder();
    for (const value of latencies.flat()) recorder.record(value);
    const summary = recorder.summary();
    return { tabs, renderLatency: { count: summary.count, p50: summary.p50, p99: summary.p99, max: summary.max }, serverConnections };
  } finally {
    await context.close();
    publisher.close();
  }
}

async function measureCost(browser: Browser, server: ServerHandle, transport: 'v1' | 'v2', measureMs: number, eventsPerSec: number): Promise<TransportCost> {
  const org = `cost-${transport}`;
  const token = await fetchDevToken(server.url, [org]);
  const publisher = createHttpPublisher({ url: `${server.url}/v1/events`, authorization: `Bearer ${token}` });
  const proxy = await startMeteringProxy(new URL(server.url));
  const context = await browser.newContext();
  try {
    if (transport === 'v1') await context.addInitScript(() => localStorage.setItem('REALTIME_STREAMING_V2', 'false'));
    const page = await context.newPage();
    await page.goto(`${proxy.url}/?org=${org}&services=${SERVICES}`);
    await waitForTransport(page, transport);
    // Page load (HTML, scripts, token) is the same for both transports: only the stream is metered.
    await sleep(500);
    const before = proxy.reading();
    const started = Date.now();
    await publishFor(publisher, org, eventsPerSec, measureMs);
    await sleep(500);
    const after = proxy.reading();
    const elapsed = Date.now() - started;
    const perHour = (value: number) => Math.round((value * HOUR_MS) / elapsed);
    return {
      transport,
      requestsPerTabHour: perHour(after.requests - before.requests),
      bytesPerTabHour: perHour(after.bytesUp - before.bytesUp + after.bytesDown - before.bytesDown),
      measuredMs: elapsed,
      eventsPerSec,
    };
  } finally {
    await context.close();
    await proxy.close();
    publisher.close();
  }
}

export async function runBrowser(ctx: BenchContext): Promise<BrowserResult> {
  const params = ctx.params.browser;
  const result: BrowserResult = { skipped: null, tabs: [], cost: [], error: null };
  if (!params) return { ...result, skipped: 'no browser parameters' };
  if (!existsSync(CHROMIUM_PATH)) return { ...result, skipped: `no Chromium at ${CHROMIUM_PATH} (apt-get install -y chromium)` };
  if (!existsSync(DEMO_INDEX)) return { ...result, skipped: 'the demo is not built: run `npm run build` first' };
  // The shipped configuration: compression on.
  const server = await ctx.startServer({ peer: 'ours', label: 'ours (browser)', server: { compression: true, store: 'memory' }, deflate: true });
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
  try {
    for (const tabs of params.tabs) {
      const measured = await measureTabs(browser, server, tabs, params.measureMs, params.eventsPerSec);
      result.tabs.push(measured);
      ctx.log(`browser ${tabs} tab(s): render p50 ${measured.renderLatency?.p50} p99 ${measured.renderLatency?.p99} ms, ${measured.serverConnections} server connection(s)`);
    }
    for (const transport of ['v2', 'v1'] as const) {
      const cost = await measureCost(browser, server, transport, params.measureMs, params.eventsPerSec);
      result.cost.push(cost);
      ctx.log(`browser ${transport}: ${cost.requestsPerTabHour} requests and ${cost.bytesPerTabHour} bytes per tab-hour`);
    }
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
  } finally {
    await browser.close();
    await server.stop();
  }
  return result;
}

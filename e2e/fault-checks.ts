/** What the fault scenarios check on a demo tab: every acknowledged event, once, in order, and when delivery resumed. */
import { expect, type Page } from '@playwright/test';
import { received, type ReceivedEvent } from './demo-page.ts';
import { tally, type Tally } from './reliability-report.ts';
import type { ServerProcess } from './server-process.ts';

/** Waits until `page` has every id of `acked` (or `timeout` passes), then tallies what it got. */
export async function settle(page: Page, acked: readonly string[], timeout = 20_000): Promise<Tally> {
  const wanted = new Set(acked);
  await expect
    .poll(async () => (await received(page)).filter((event) => wanted.has(event.id)).length, { timeout, intervals: [100, 200, 500] })
    .toBeGreaterThanOrEqual(wanted.size)
    .catch(() => {
      // Report the loss in the tally (and fail on it there) rather than as a timeout.
    });
  return tally(acked, (await received(page)).map((event) => event.id));
}

/** The first event `page` received at or after `since` (ms since epoch), or null. */
export async function firstReceivedAfter(page: Page, since: number): Promise<ReceivedEvent | null> {
  const events = await received(page);
  return events.filter((event) => event.receivedAt >= since).sort((a, b) => a.receivedAt - b.receivedAt)[0] ?? null;
}

/**
 * Waits until `page` receives something at or after `after` (default `since`); resolves with the
 * time from `since` to that delivery.
 */
export async function recoveryMs(page: Page, since: number, { after = since, timeout = 20_000 } = {}): Promise<number> {
  let first: ReceivedEvent | null = null;
  await expect
    .poll(async () => (first = await firstReceivedAfter(page, after)) !== null, { timeout, intervals: [50, 100, 200] })
    .toBe(true);
  return ((first as ReceivedEvent | null)?.receivedAt ?? Number.NaN) - since;
}

/** Collects the page's `[realtime][…]` console lines with the time they were logged. */
export function collectClientLogs(page: Page): Array<{ at: number; text: string }> {
  const lines: Array<{ at: number; text: string }> = [];
  page.on('console', (message) => {
    const text = message.text();
    if (text.startsWith('[realtime]')) lines.push({ at: Date.now(), text });
  });
  return lines;
}

/** Resets the app was told about (`window.__demo.resets`). */
export function resets(page: Page): Promise<Array<{ org: string; reason: string; lost: number | null; cursor: string; from: string }>> {
  return page.evaluate(() => (window as unknown as { __demo: { resets: [] } }).__demo.resets);
}

/** Waits until the server holds a subscription for `org` (events appended from then on reach it). */
export async function expectSubscribed(server: ServerProcess, org: string): Promise<void> {
  await expect.poll(async () => (await server.metrics()).connectionPoolStats.orgs?.[org] ?? 0).toBeGreaterThan(0);
}

/** Asserts a tally has no loss, no duplicate, nothing out of order. */
export function expectClean(result: Tally, label: string): void {
  expect({ label, lost: result.lost, duplicates: result.duplicates, outOfOrder: result.outOfOrder }).toEqual({
    label,
    lost: 0,
    duplicates: 0,
    outOfOrder: 0,
  });
}

/** Drives the demo app the way a user's tab runs it, reading what it exposes for tests (`window.__demo`). */
import { expect, type BrowserContext, type Page } from '@playwright/test';
import type { ClientStatus } from '../protocol/index.ts';
import type { ServerProcess } from './server-process.ts';

export interface ReceivedEvent {
  id: string;
  service: string;
  type: string;
  replayed: boolean;
  ts: number;
  receivedAt: number;
  renderedAt: number;
}

interface DemoWindow {
  __demo: { received: ReceivedEvent[]; status(): ClientStatus; resets: unknown[] };
}

export async function openDemo(
  context: BrowserContext,
  server: Pick<ServerProcess, 'url'>,
  org: string,
  services = 'finance,orders,chat',
): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${server.url}/?org=${org}&services=${services}`);
  return page;
}

export function status(page: Page): Promise<ClientStatus> {
  return page.evaluate(() => (window as unknown as DemoWindow).__demo.status());
}

/** Waits until the page runs `transport` and is connected (v2: live on the socket; v1: polling). */
export async function expectTransport(page: Page, transport: 'v1' | 'v2', timeout = 15_000): Promise<void> {
  await expect
    .poll(async () => {
      const current = await status(page);
      return `${current.transport}/${current.state}`;
    }, { timeout })
    .toBe(`${transport}/connected`);
}

export function received(page: Page): Promise<ReceivedEvent[]> {
  return page.evaluate(() => (window as unknown as DemoWindow).__demo.received);
}

/** Every event of `ids` arrived exactly once, in publish order, and nothing else from that set. */
export async function expectExactlyOnce(page: Page, ids: string[], timeout = 15_000): Promise<ReceivedEvent[]> {
  const wanted = new Set(ids);
  await expect
    .poll(async () => (await received(page)).filter((event) => wanted.has(event.id)).length, { timeout })
    .toBeGreaterThanOrEqual(ids.length);
  const got = (await received(page)).filter((event) => wanted.has(event.id));
  expect(got.map((event) => event.id)).toEqual(ids);
  return got;
}

/** Publishes one event every `everyMs` until stopped; resolves with the acknowledged ids in order. */
export function startPublishing(
  server: ServerProcess,
  org: string,
  service: string,
  everyMs = 50,
): { stop(): Promise<string[]> } {
  const ids: string[] = [];
  let running = true;
  const loop = (async () => {
    let n = 0;
    while (running) {
      ids.push(await server.publish(org, service, 'test.numbered', { n: n++ }));
      await new Promise((done) => setTimeout(done, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return ids;
    },
  };
}

/** Marks the page so a later check can tell whether it was reloaded in between. */
export async function markPage(page: Page): Promise<void> {
  await page.evaluate(() => ((window as unknown as { __marker: boolean }).__marker = true));
}

export function isSamePageLoad(page: Page): Promise<boolean> {
  return page.evaluate(() => (window as unknown as { __marker?: boolean }).__marker === true);
}

export function uniqueOrg(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
}

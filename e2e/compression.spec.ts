/**
 * Chromium's inflater against the server's compress-once frames (server/prepared-frame.ts): each
 * event burst is deflated once with no context takeover and the same RSV1 frame is written to
 * every socket. A browser must decode those frames byte-exactly, single events and bursts alike.
 */
import type { Page } from '@playwright/test';
import { expect, test } from './fixtures.ts';
import { expectExactlyOnce, expectTransport, openDemo, uniqueOrg } from './demo-page.ts';

interface PageStream {
  extensions: string;
}

interface ReceivedData {
  id: string;
  data: unknown;
}

/** ~4 KB of JSON that compresses like real data. */
function invoiceBatch(n: number): unknown {
  return { batch: n, rows: Array.from({ length: 40 }, (_, i) => ({ invoice: `INV-${n}-${i}`, status: i % 3 === 0 ? 'posted' : 'draft', amount: (i * 37.5).toFixed(2), currency: 'EUR', note: 'é✓ unicode survives' })) };
}

/** Opens a stream socket in the page itself (Chromium's own WebSocket, permessage-deflate offered by default), live on `org`. */
async function openPageStream(page: Page, baseUrl: string, token: string, org: string): Promise<PageStream> {
  return page.evaluate(
    ({ url, org }) =>
      new Promise<PageStream>((resolve, reject) => {
        const ws = new WebSocket(url, ['realtime.v2']);
        const got: ReceivedData[] = [];
        (window as unknown as { __streamEvents: ReceivedData[] }).__streamEvents = got;
        ws.onmessage = (message) => {
          const parsed = JSON.parse(String(message.data)) as { type: string; events?: Array<{ id: string; data: unknown }> };
          if (parsed.type === 'welcome') ws.send(JSON.stringify({ type: 'subscribe', org, services: ['*'] }));
          if (parsed.type === 'live') resolve({ extensions: ws.extensions });
          if (parsed.type === 'events') for (const event of parsed.events ?? []) got.push({ id: event.id, data: event.data });
        };
        ws.onerror = () => reject(new Error('the page WebSocket failed'));
        ws.onclose = (event) => reject(new Error(`the page WebSocket closed ${event.code}`));
      }),
    { url: `${baseUrl.replace(/^http/, 'ws')}/v2/realtime/stream?access_token=${token}`, org },
  );
}

/** The server's stream byte counters (`bytes` of /v2/realtime/metrics). */
async function streamBytes(baseUrl: string): Promise<{ raw: number; wire: number }> {
  const body = (await (await fetch(`${baseUrl}/v2/realtime/metrics`)).json()) as { bytes: { raw: number; wire: number } };
  return body.bytes;
}

const pageEvents = (page: Page) => page.evaluate(() => (window as unknown as { __streamEvents: ReceivedData[] }).__streamEvents);

test('Chromium inflates compress-once frames byte-exactly: a 4 KB event, then a concurrent burst of 10', async ({ context, server }) => {
  const demoOrg = uniqueOrg('deflate-demo');
  const org = uniqueOrg('deflate');
  // Any page of the server's origin: the stream checks Origin.
  const page = await openDemo(context, server, demoOrg);
  await expectTransport(page, 'v2');
  const token = ((await (await fetch(`${server.url}/dev/token?org=${org}&scope=read`)).json()) as { token: string }).token;
  const stream = await openPageStream(page, server.url, token, org);
  expect(stream.extensions).toContain('permessage-deflate');
  const before = await streamBytes(server.url);

  const single = invoiceBatch(0);
  expect(JSON.stringify(single).length).toBeGreaterThan(4000);
  const firstId = await server.publish(org, 'finance', 'invoice.batch', single);
  await expect.poll(async () => (await pageEvents(page)).length).toBe(1);
  expect(await pageEvents(page)).toEqual([{ id: firstId, data: single }]);

  // Published concurrently: the server sends what arrives in one turn as one frame.
  const burst = Array.from({ length: 10 }, (_, n) => invoiceBatch(n + 1));
  const ids = await Promise.all(burst.map((data) => server.publish(org, 'finance', 'invoice.batch', data)));
  await expect.poll(async () => (await pageEvents(page)).length).toBe(11);
  const got = await pageEvents(page);
  const byId = new Map(ids.map((id, n) => [id, burst[n]]));
  expect(got.slice(1).map((event) => event.id)).toEqual([...ids].sort((a, b) => Number(a.split(':')[1]) - Number(b.split(':')[1])));
  for (const event of got.slice(1)) expect(event.data).toEqual(byId.get(event.id));

  // Compressed on the wire: far fewer bytes written than the events' JSON.
  const after = await streamBytes(server.url);
  expect(after.raw - before.raw).toBeGreaterThan(11 * 4000);
  expect(after.wire - before.wire).toBeLessThan((after.raw - before.raw) / 3);
  expect(Object.keys((await server.metrics()).closeCodes ?? {}).filter((code) => code === '1002' || code === '1007')).toEqual([]);
});

test('the SharedWorker client takes compressed events and bursts without a protocol error or a reconnect', async ({ context, server }) => {
  const org = uniqueOrg('deflate-worker');
  const page = await openDemo(context, server, org);
  await expectTransport(page, 'v2');
  await expect.poll(async () => (await server.metrics()).activeConnections).toBeGreaterThanOrEqual(1);
  const closesBefore = (await server.metrics()).closeCodes;

  const ids = [await server.publish(org, 'finance', 'invoice.batch', invoiceBatch(0))];
  ids.push(...(await Promise.all(Array.from({ length: 10 }, (_, n) => server.publish(org, 'orders', 'invoice.batch', invoiceBatch(n + 1))))));
  ids.sort((a, b) => Number(a.split(':')[1]) - Number(b.split(':')[1]));
  const got = await expectExactlyOnce(page, ids);
  expect(got.every((event) => !event.replayed)).toBe(true);
  // No socket was closed meanwhile (a frame Chromium could not inflate fails the connection).
  expect((await server.metrics()).closeCodes).toEqual(closesBefore);
});

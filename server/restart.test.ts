import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connectReady, range, requestJson, seqs, startTestServer, type TestServer } from './test-support.ts';

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function publishVia(server: TestServer, count: number, from: number): Promise<string[]> {
  const token = await server.token({ scopes: ['publish'] });
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await requestJson(`${server.url}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: JSON.stringify({ org: 'a', service: 'finance', type: 'invoice.posted', data: { n: from + i } }),
    });
    expect(res.status).toBe(201);
    ids.push(res.body.id);
  }
  return ids;
}

describe('restart on the same SQLite file', () => {
  it('loses nothing acknowledged, and old cursors resume on v2 and v1', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'realtime-restart-'));
    try {
      const first = await startTestServer({ dataDir });
      servers.push(first);
      const before = await publishVia(first, 20, 1);
      const epoch = first.log.epoch;
      await first.close();

      const second = await startTestServer({ dataDir });
      servers.push(second);
      expect(second.log.epoch).toBe(epoch);
      const after = await publishVia(second, 5, 21);
      expect(after[0]).toBe(`${epoch}:21`);

      const client = await connectReady(second);
      client.send({ type: 'subscribe', org: 'a', services: ['*'], cursor: before[9] });
      const live = await client.waitFor('live');
      expect(live.replayed).toBe(15);
      expect(seqs(client.events('a'))).toEqual(range(11, 25));
      expect(client.events('a').map((e) => (e.data as { n: number }).n)).toEqual(range(11, 25));
      await client.close();

      const token = await second.token();
      const poll = await requestJson(`${second.url}/v1/realtime/poll?org=a&cursor=${before[19]}`, { headers: { authorization: `Bearer ${token}` } });
      expect(poll.body.events.map((e: { id: string }) => e.id)).toEqual(after);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

import { describe, expect, it } from 'vitest';
import { openReceivedLog } from './received-log.ts';

function memoryStorage() {
  const data = new Map<string, string>();
  return { getItem: (key: string) => data.get(key) ?? null, setItem: (key: string, value: string) => void data.set(key, value) };
}

const entry = (id: string) => ({ id, service: 'finance', type: 't', replayed: false, receivedAt: 2, renderedAt: 3, ts: 1 });

describe('demo received log', () => {
  it('keeps the history across reloads of the tab and numbers the page loads', async () => {
    const storage = memoryStorage();
    const first = openReceivedLog(storage);
    expect(first.load).toBe(1);
    first.add(entry('e1:1'));
    first.add(entry('e1:2'));
    first.flush();
    const second = openReceivedLog(storage);
    expect(second.load).toBe(2);
    second.add(entry('e1:3'));
    expect(second.entries.map((item) => [item.id, item.load])).toEqual([
      ['e1:1', 1],
      ['e1:2', 1],
      ['e1:3', 2],
    ]);
  });
});

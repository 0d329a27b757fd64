import 'fake-indexeddb/auto';
import { openDB } from 'idb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openCursorStore } from './cursor-store.ts';

let counter = 0;
const freshName = (): string => `cursor-store-test-${++counter}-${Date.now()}`;

/** Reads what is actually committed, through a second connection. */
async function committed(name: string): Promise<Record<string, string>> {
  const db = await openDB(name);
  const records: Array<{ org: string; cursor: string }> = await db.getAll('cursors');
  db.close();
  return Object.fromEntries(records.map((record) => [record.org, record.cursor]));
}

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

describe('cursor store', () => {
  it('persists the last cursor per org across reopening (the next worker resumes from it)', async () => {
    const name = freshName();
    const store = await openCursorStore({ name });
    expect(store.kind).toBe('indexeddb');
    store.set('456', 'e1:7');
    store.set('789', 'e1:2');
    await store.close();
    const again = await openCursorStore({ name });
    expect(again.get('456')).toBe('e1:7');
    expect(again.all()).toEqual({ '456': 'e1:7', '789': 'e1:2' });
    await again.close();
  });

  it('coalesces a burst of writes into one transaction within the batch window', async () => {
    const name = freshName();
    const store = await openCursorStore({ name, batchMs: 50 });
    const put = vi.spyOn(IDBObjectStore.prototype, 'put');
    for (let seq = 1; seq <= 500; seq++) store.set('456', `e1:${seq}`);
    expect(await committed(name)).toEqual({});
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(await committed(name)).toEqual({ '456': 'e1:500' });
    expect(put).toHaveBeenCalledTimes(1);
    await store.close();
  });

  it('only moves forward within an epoch, unless forced (a reset)', async () => {
    const name = freshName();
    const store = await openCursorStore({ name });
    store.set('456', 'e1:9');
    store.set('456', 'e1:4');
    expect(store.get('456')).toBe('e1:9');
    store.set('456', 'e2:1');
    expect(store.get('456')).toBe('e2:1');
    store.set('456', 'e2:0', { force: true });
    await store.flush();
    expect(await committed(name)).toEqual({ '456': 'e2:0' });
    await store.close();
  });

  it('does not move a committed cursor backwards when another writer is ahead', async () => {
    const name = freshName();
    const ahead = await openCursorStore({ name });
    const behind = await openCursorStore({ name });
    ahead.set('456', 'e1:20');
    await ahead.flush();
    behind.set('456', 'e1:12');
    await behind.flush();
    expect(await committed(name)).toEqual({ '456': 'e1:20' });
    await Promise.all([ahead.close(), behind.close()]);
  });

  it('keeps working in memory, and says so, when IndexedDB cannot be opened', async () => {
    const logged: unknown[] = [];
    vi.stubGlobal('indexedDB', {
      open() {
        throw new DOMException('private mode', 'InvalidStateError');
      },
    });
    const store = await openCursorStore({ name: freshName(), logger: { log: (what, details) => logged.push([what, details]) } });
    expect(store.kind).toBe('memory');
    store.set('456', 'e1:3');
    expect(store.get('456')).toBe('e1:3');
    await store.flush();
    expect(logged).toContainEqual(['storage', expect.objectContaining({ storage: 'memory' })]);
  });
});

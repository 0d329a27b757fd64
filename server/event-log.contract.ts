/**
 * The behaviour every EventLog must have, as one suite run against each store
 * (`memory-event-log.test.ts`, `sqlite-event-log.test.ts`, later Redis).
 */
import { describe, expect, it } from 'vitest';
import { parseCursor, type Cursor, type StreamEvent } from '../protocol/index.ts';
import type { EventLog, Retention } from './event-log.ts';

export interface ContractStoreOptions {
  retention?: Partial<Retention>;
  now?: () => number;
}

export type OpenLog = (options?: ContractStoreOptions) => Promise<EventLog>;

const at = (id: string): Cursor => {
  const cursor = parseCursor(id);
  if (!cursor) throw new Error(`not a cursor: ${id}`);
  return cursor;
};

export function describeEventLogContract(name: string, open: OpenLog): void {
  describe(`event log contract: ${name}`, () => {
    it('assigns increasing cursors per org and reads them back after a cursor, paged', async () => {
      const log = await open();
      const appended: StreamEvent[] = [];
      for (let i = 0; i < 5; i++) appended.push(await log.append({ org: 'a', service: 'finance', type: 't', data: { i } }));
      await log.append({ org: 'b', service: 'chat', type: 't', data: null });
      expect(appended.map((event) => at(event.id).seq)).toEqual([1, 2, 3, 4, 5]);
      expect(appended.every((event) => at(event.id).epoch === log.epoch)).toBe(true);

      const page = await log.read('a', at(appended[1]!.id), 2);
      expect(page.kind).toBe('events');
      if (page.kind === 'events') {
        expect(page.events.map((event) => event.data)).toEqual([{ i: 2 }, { i: 3 }]);
        expect(page.head).toBe(appended[4]!.id);
      }
      const all = await log.read('a', null, 100);
      expect(all.kind === 'events' && all.events.length).toBe(5);
      expect(await log.head('b')).toBe(`${log.epoch}:1`);
      expect(await log.head('nobody')).toBe(`${log.epoch}:0`);
      await log.close();
    });

    it('notifies subscribers of each org in order, and stops after unsubscribe', async () => {
      const log = await open();
      const seen: string[] = [];
      const stop = log.subscribe('a', (event) => seen.push(event.id));
      await log.append({ org: 'a', service: 's', type: 't', data: 1 });
      await log.append({ org: 'b', service: 's', type: 't', data: 2 });
      await log.append({ org: 'a', service: 's', type: 't', data: 3 });
      stop();
      await log.append({ org: 'a', service: 's', type: 't', data: 4 });
      expect(seen).toEqual([`${log.epoch}:1`, `${log.epoch}:2`]);
      await log.close();
    });

    it('resets a cursor from another epoch or past the head', async () => {
      const log = await open();
      await log.append({ org: 'a', service: 's', type: 't', data: 1 });
      expect(await log.read('a', { epoch: 'otherepoch', seq: 1 }, 10)).toEqual({
        kind: 'reset',
        reason: 'epoch',
        lost: null,
        head: `${log.epoch}:1`,
      });
      const ahead = await log.read('a', { epoch: log.epoch, seq: 9 }, 10);
      expect(ahead.kind === 'reset' && ahead.reason).toBe('unknown_position');
      await log.close();
    });

    it('trims by count and resets a cursor older than retention, saying how many are lost', async () => {
      const log = await open({ retention: { maxEventsPerOrg: 3 } });
      for (let i = 1; i <= 6; i++) await log.append({ org: 'a', service: 's', type: 't', data: i });
      await log.trim();
      const old = await log.read('a', { epoch: log.epoch, seq: 1 }, 10);
      expect(old).toEqual({ kind: 'reset', reason: 'retention', lost: 5, head: `${log.epoch}:6` });
      // Exactly at the retention edge nothing is missing.
      const edge = await log.read('a', { epoch: log.epoch, seq: 3 }, 10);
      expect(edge.kind === 'events' && edge.events.map((event) => event.data)).toEqual([4, 5, 6]);
      await log.close();
    });

    it('trims by age', async () => {
      let clock = 1_000_000;
      const log = await open({ retention: { maxAgeMs: 1000 }, now: () => clock });
      await log.append({ org: 'a', service: 's', type: 't', data: 'old' });
      clock += 5000;
      await log.append({ org: 'a', service: 's', type: 't', data: 'new' });
      expect(await log.trim(clock)).toBe(1);
      const read = await log.read('a', null, 10);
      expect(read.kind === 'events' && read.events.map((event) => event.data)).toEqual(['new']);
      await log.close();
    });
  });
}

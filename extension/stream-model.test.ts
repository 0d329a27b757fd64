import { describe, expect, it } from 'vitest';
import { BRIDGE_SOURCE } from '../protocol/index.ts';
import type { ClientStatus } from '../protocol/index.ts';
import type { RelayEntry } from './messages.ts';
import { createStreamModel, toRow, visibleWindow } from './stream-model.ts';
import type { StreamRow } from './stream-model.ts';

let seq = 0;
function ev(id: string, service: string, extra: { replayed?: boolean; data?: unknown; ts?: number } = {}): RelayEntry {
  seq += 1;
  return {
    key: `k.${seq}`,
    payload: {
      source: BRIDGE_SOURCE,
      kind: 'event',
      event: { id, org: '456', service, type: `${service}.changed`, data: extra.data ?? { id }, ts: extra.ts ?? 1_000 },
      replayed: extra.replayed ?? false,
      receivedAt: 1_040,
    },
  };
}

function conn(what: 'connected' | 'reset' | 'fallback', detail: string): RelayEntry {
  seq += 1;
  return { key: `k.${seq}`, payload: { source: BRIDGE_SOURCE, kind: 'connection', what, detail, at: 2_000 } };
}

const ids = (rows: readonly StreamRow[]): string[] => rows.map((row) => (row.kind === 'event' ? row.id : `(${row.kind}:${row.what})`));

describe('stream model', () => {
  it('turns an event into a row with latency and live/replayed', () => {
    const row = toRow(ev('ep:1', 'finance', { replayed: true, ts: 1_000 }));
    expect(row).toMatchObject({ kind: 'event', id: 'ep:1', org: '456', service: 'finance', type: 'finance.changed', latencyMs: 40, replayed: true, at: 1_040 });
  });

  it('keeps the last `capacity` rows and counts what it dropped', () => {
    const model = createStreamModel({ capacity: 3 });
    model.append(['a', 'b', 'c', 'd', 'e'].map((id) => ev(id, 'finance')));
    expect(ids(model.rows())).toEqual(['c', 'd', 'e']);
    expect(model.dropped).toBe(2);
    expect(model.total).toBe(3);
  });

  it('ignores entries it already has (a reconnect replays the history)', () => {
    const model = createStreamModel();
    const entries = [ev('a', 'finance'), ev('b', 'finance')];
    model.append(entries);
    const version = model.version;
    model.append(entries);
    expect(ids(model.rows())).toEqual(['a', 'b']);
    expect(model.version).toBe(version);
  });

  it('filters by service (events only) and by text in type, id and payload', () => {
    const model = createStreamModel();
    model.append([ev('a', 'finance', { data: { amount: 'EUR 12' } }), conn('reset', 'retention: 3 lost'), ev('b', 'orders'), ev('c', 'finance')]);
    model.setFilter({ service: 'finance' });
    expect(ids(model.rows())).toEqual(['a', '(connection:reset)', 'c']);
    model.setFilter({ text: 'eur 12' });
    expect(ids(model.rows())).toEqual(['a']);
    model.setFilter({ service: '', text: 'RETENTION' });
    expect(ids(model.rows())).toEqual(['(connection:reset)']);
    expect(model.services()).toEqual(['finance', 'orders']);
  });

  it('holds entries while paused and shows them on resume, in order', () => {
    const model = createStreamModel();
    model.append([ev('a', 'finance')]);
    model.pause();
    model.append([ev('b', 'finance'), ev('c', 'finance')]);
    expect(ids(model.rows())).toEqual(['a']);
    expect(model.held).toBe(2);
    model.resume();
    expect(ids(model.rows())).toEqual(['a', 'b', 'c']);
    expect(model.held).toBe(0);
  });

  it('keeps the latest status out of the rows, even while paused', () => {
    const model = createStreamModel();
    const status: ClientStatus = { transport: 'v1', state: 'connected', reason: 'forced-off', mode: 'page', storage: 'memory', cursors: {}, tabs: 1, build: 'x' };
    model.pause();
    model.append([{ key: 's.1', payload: { source: BRIDGE_SOURCE, kind: 'status', status } }]);
    expect(model.status?.reason).toBe('forced-off');
    expect(model.held).toBe(0);
    expect(model.rows()).toHaveLength(0);
  });

  it('clears rows, and a reconnect’s history does not bring them back', () => {
    const model = createStreamModel();
    const history = [ev('a', 'finance'), ev('b', 'finance')];
    model.append(history);
    model.clear();
    expect(model.rows()).toHaveLength(0);
    model.append([...history, ev('c', 'finance')]);
    expect(ids(model.rows())).toEqual(['c']);
  });

  it('exports the shown rows as JSON with ISO times', () => {
    const model = createStreamModel();
    model.append([ev('a', 'finance', { data: { amount: 12 } }), ev('b', 'orders')]);
    model.setFilter({ service: 'finance' });
    const exported: unknown = JSON.parse(model.exportJson(0));
    expect(exported).toMatchObject({
      exportedAt: '1970-01-01T00:00:00.000Z',
      filter: { service: 'finance', text: '' },
      count: 1,
      rows: [{ id: 'a', service: 'finance', data: { amount: 12 }, time: '1970-01-01T00:00:01.040Z' }],
    });
  });

  it('stays fast at 5,000 kept rows: 50,000 appends and a text filter in well under a second', () => {
    const model = createStreamModel({ capacity: 5_000 });
    const started = performance.now();
    for (let batch = 0; batch < 500; batch += 1) {
      model.append(Array.from({ length: 100 }, (_, i) => ev(`ep:${batch * 100 + i}`, i % 2 ? 'finance' : 'orders')));
      model.rows();
    }
    model.setFilter({ text: 'ep:49999' });
    expect(ids(model.rows())).toEqual(['ep:49999']);
    expect(model.total).toBe(5_000);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('renders only the rows in the viewport, plus overscan', () => {
    expect(visibleWindow(0, 220, 22, 5_000, 5)).toEqual({ start: 0, end: 15 });
    expect(visibleWindow(22 * 1_000, 220, 22, 5_000, 5)).toEqual({ start: 995, end: 1_015 });
    expect(visibleWindow(22 * 4_995, 220, 22, 5_000, 5)).toEqual({ start: 4_990, end: 5_000 });
    expect(visibleWindow(0, 220, 22, 0, 5)).toEqual({ start: 0, end: 0 });
  });
});

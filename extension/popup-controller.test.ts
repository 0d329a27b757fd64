import { describe, expect, it } from 'vitest';
import type { ClientStatus } from '../protocol/index.ts';
import type { StatusReply } from './messages.ts';
import { createPopupController } from './popup-controller.ts';
import type { PopupPorts, PopupState } from './popup-controller.ts';

const TAB = 9;

/**
 * A fake tab: localStorage, a client that picks its transport from the flag when the page loads,
 * and a reload that takes a few status polls to finish (the old page answers meanwhile).
 */
function fakeTab(options: { client?: (flag: string | null) => ClientStatus | null; reloadPolls?: number } = {}) {
  const storage = new Map<string, string>();
  const client =
    options.client ??
    ((flag): ClientStatus => ({
      transport: flag === 'false' ? 'v1' : 'v2',
      state: 'connected',
      reason: flag === null ? 'default' : flag === 'false' ? 'forced-off' : 'forced-on',
      mode: flag === 'false' ? 'page' : 'shared-worker',
      storage: 'indexeddb',
      cursors: { '456': 'ep:1' },
      tabs: 1,
      build: 'test',
    }));
  let instance = 1;
  let status = client(null);
  let pendingPolls = -1; // > 0 while a reload is on its way
  let time = 0;
  const log: string[] = [];
  const ports: PopupPorts = {
    tabUrl: async () => 'http://127.0.0.1:4000/demo',
    async getStatus() {
      if (pendingPolls > 0) pendingPolls -= 1;
      else if (pendingPolls === 0) {
        pendingPolls = -1;
        instance += 1;
        status = client(storage.get('REALTIME_STREAMING_V2') ?? null);
      }
      const reply: StatusReply = { type: 'status-reply', instance: `i${instance}`, url: 'http://127.0.0.1:4000/demo', status, lastEventAt: null, eventsPerSecond: 0 };
      return reply;
    },
    readFlag: async () => storage.get('REALTIME_STREAMING_V2') ?? null,
    async writeFlag(_tab, value) {
      log.push(`write ${value}`);
      if (value === null) storage.delete('REALTIME_STREAMING_V2');
      else storage.set('REALTIME_STREAMING_V2', value);
      return storage.get('REALTIME_STREAMING_V2') ?? null;
    },
    async reload() {
      log.push('reload');
      pendingPolls = options.reloadPolls ?? 2;
    },
    injectBridge: async () => {
      log.push('inject');
      return false;
    },
    fetchMetrics: async () => ({ activeConnections: 1, connectionPoolStats: { totalSubscriptions: 1 } }),
    now: () => time,
    sleep: async (ms) => {
      time += ms;
    },
  };
  return { ports, storage, log, instance: () => instance };
}

describe('popup controller', () => {
  it('shows what the page reports, the flag and the metrics line', async () => {
    const tab = fakeTab();
    const states: PopupState[] = [];
    const controller = createPopupController(TAB, tab.ports, (state) => states.push(state));
    await controller.refresh();
    expect(controller.state.origin).toBe('http://127.0.0.1:4000');
    expect(controller.state.display.transport.value).toBe('v2');
    expect(controller.state.display.switchOn).toBe(true);
    expect(controller.state.metrics).toBe('1 connection · 1 subscription');
    expect(states.length).toBeGreaterThan(0);
  });

  it('rolls back: sets the flag to "false", reloads, and shows the state the NEW page reports', async () => {
    const tab = fakeTab({ reloadPolls: 3 });
    const phases: string[] = [];
    const controller = createPopupController(TAB, tab.ports, (state) => phases.push(state.switchPhase));
    await controller.refresh();
    await controller.setV2(false);
    expect(tab.log).toEqual(['write false', 'reload']);
    expect(tab.instance()).toBe(2);
    expect(controller.state.switchPhase).toBe('done');
    expect(controller.state.display).toMatchObject({ switchOn: false, transport: { value: 'v1' }, reason: { value: 'forced-off' } });
    expect(controller.state.switchMessage).toContain('v1 (long-polling)');
    expect(controller.state.switchMessage).not.toContain('not what the flag asks');
    expect(phases[0]).toBe('idle');
    expect(phases).toContain('reloading');

    await controller.setV2(true);
    expect(tab.storage.has('REALTIME_STREAMING_V2')).toBe(false);
    expect(controller.state.display).toMatchObject({ switchOn: true, transport: { value: 'v2' }, reason: { value: 'default' } });
  });

  it('reports what the page says even when it ignores the flag (not what was expected)', async () => {
    const stubborn = (): ClientStatus => ({ transport: 'v2', state: 'connected', reason: 'forced-on', mode: 'shared-worker', storage: 'memory', cursors: {}, tabs: 1, build: 'x' });
    const tab = fakeTab({ client: stubborn });
    const controller = createPopupController(TAB, tab.ports, () => {});
    await controller.refresh();
    await controller.setV2(false);
    expect(controller.state.display.transport.value).toBe('v2');
    expect(controller.state.display.switchOn).toBe(false); // the flag as read back from the page
    expect(controller.state.switchMessage).toContain('not what the flag asks');
  });

  it('fails visibly when the reloaded page never reports', async () => {
    const tab = fakeTab({ reloadPolls: 1_000_000 });
    const controller = createPopupController(TAB, tab.ports, () => {}, { reloadTimeoutMs: 2_000, pollMs: 100 });
    await controller.refresh();
    await controller.setV2(false);
    expect(controller.state.switchPhase).toBe('failed');
    expect(controller.state.switchMessage).toMatch(/did not report/);
  });

  it('surfaces a failed flag write instead of reloading', async () => {
    const tab = fakeTab();
    tab.ports.writeFlag = async () => {
      throw new Error('Cannot access contents of the page');
    };
    const controller = createPopupController(TAB, tab.ports, () => {});
    await controller.setV2(false);
    expect(tab.log).toEqual([]);
    expect(controller.state.switchPhase).toBe('failed');
    expect(controller.state.switchMessage).toContain('Cannot access contents');
  });

  it('injects the bridge once into a page that has no content script, then asks again', async () => {
    const tab = fakeTab();
    let bridged = false;
    const answer = tab.ports.getStatus;
    tab.ports.getStatus = async (tabId) => (bridged ? answer(tabId) : null);
    tab.ports.injectBridge = async () => {
      tab.log.push('inject');
      bridged = true;
      return true;
    };
    const controller = createPopupController(TAB, tab.ports, () => {});
    await controller.refresh();
    expect(tab.log).toEqual(['inject']);
    expect(controller.state.display.client).toBe('present');
    bridged = false; // the page loses it again: no injection loop
    await controller.refresh();
    expect(tab.log).toEqual(['inject']);
    expect(controller.state.display.client).toBe('unreachable');
  });

  it('says so when the site does not serve metrics', async () => {
    const tab = fakeTab();
    tab.ports.fetchMetrics = async () => null;
    const controller = createPopupController(TAB, tab.ports, () => {});
    await controller.refresh();
    expect(controller.state.metrics).toMatch(/does not serve/);
  });
});

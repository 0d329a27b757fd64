import { describe, expect, it } from 'vitest';
import type { ClientStatus } from '../protocol/index.ts';
import type { StatusReply } from './messages.ts';
import { describePopup, flagReason, formatAge, formatRate } from './popup-model.ts';

const v2: ClientStatus = {
  transport: 'v2',
  state: 'connected',
  reason: 'default',
  mode: 'shared-worker',
  storage: 'indexeddb',
  cursors: { '456': 'ep1:41', '789': 'ep1:3' },
  tabs: 3,
  build: '0.1.0',
};

function reply(status: ClientStatus | null, extra: Partial<StatusReply> = {}): StatusReply {
  return { type: 'status-reply', instance: 'i1', url: 'http://127.0.0.1:4000/', status, lastEventAt: 9_600, eventsPerSecond: 12.4, ...extra };
}

describe('popup model', () => {
  it('reads the flag like the client: only "false" turns v2 off', () => {
    expect(flagReason(null)).toBe('default');
    expect(flagReason('false')).toBe('forced-off');
    expect(flagReason('true')).toBe('forced-on');
    expect(flagReason('FALSE')).toBe('forced-on');
  });

  it('shows a v2 page: transport, state, why, cursors, tabs, rate and last event age', () => {
    const display = describePopup(reply(v2), null, 10_000);
    expect(display).toMatchObject({
      client: 'present',
      switchOn: true,
      headline: 'v2 on (default)',
      transport: { value: 'v2', text: 'v2 · WebSocket' },
      state: { value: 'connected' },
      reason: { value: 'default' },
      cursor: '456 → ep1:41, 789 → ep1:3',
      tabs: '3 tabs share the socket',
      rate: '12/s',
      lastEvent: '0.4 s ago',
      notice: null,
    });
    expect(display.reason.text).toContain('REALTIME_STREAMING_V2 is not set');
  });

  it('shows a rolled-back page as v1, forced off, with the switch off', () => {
    const display = describePopup(reply({ ...v2, transport: 'v1', reason: 'forced-off', mode: 'page', tabs: 1 }), 'false', 10_000);
    expect(display.switchOn).toBe(false);
    expect(display.headline).toBe('v2 off (forced off)');
    expect(display.transport).toEqual({ value: 'v1', text: 'v1 · long-polling' });
    expect(display.tabs).toContain('each tab polls');
  });

  it('says why v2 is off when the server turned it away although the flag wants it', () => {
    const display = describePopup(reply({ ...v2, transport: 'v1', reason: 'server-off' }), null, 10_000);
    expect(display.switchOn).toBe(true);
    expect(display.headline).toBe('v2 off (server kill switch)');
    expect(display.reason.text).toContain('kill switch');
  });

  it('says plainly when the page has no realtime client, and falls back to the flag for the why', () => {
    const display = describePopup(reply(null), 'false', 10_000);
    expect(display.client).toBe('absent');
    expect(display.notice).toMatch(/no realtime client/);
    expect(display.switchOn).toBe(false);
    expect(display.reason.value).toBe('forced-off');
    expect(display.transport.value).toBe('unknown');
  });

  it('says the page is out of reach when no content script answers, and disables the switch when the flag is unreadable', () => {
    const display = describePopup(null, undefined, 10_000);
    expect(display.client).toBe('unreachable');
    expect(display.flagReadable).toBe(false);
    expect(display.notice).toMatch(/cannot see this page/);
    expect(describePopup(null, null, 0).flagReadable).toBe(true);
  });

  it('formats ages and rates for people', () => {
    expect(formatAge(null, 5)).toBe('never');
    expect(formatAge(1_000, 1_250)).toBe('0.3 s ago');
    expect(formatAge(0, 45_000)).toBe('45 s ago');
    expect(formatAge(0, 600_000)).toBe('10 min ago');
    expect(formatRate(0)).toBe('0/s');
    expect(formatRate(0.4)).toBe('0.4/s');
    expect(formatRate(1_250.2)).toBe('1,250/s');
  });
});

/**
 * The popup's model: turns what the page reported (and the flag read from its localStorage) into
 * the text the popup shows. Pure functions, so every wording is tested without a browser.
 */
import { FLAG_KEY, flagReason } from '../protocol/index.ts';
import type { ClientStatus, ConnectionState, Transport, TransportReason } from '../protocol/index.ts';
import type { StatusReply } from './messages.ts';

/** A shown value: `value` is stable (a `data-value` attribute for tests), `text` is for people. */
export interface Shown<T extends string = string> {
  value: T;
  text: string;
}

export interface PopupDisplay {
  /** `present`: the page's client reported; `absent`: the page answered but has no client; `unreachable`: no content script answered. */
  client: 'present' | 'absent' | 'unreachable';
  /** The flag switch: on = v2 wanted (key missing or anything but 'false'). */
  switchOn: boolean;
  /** False when the page's localStorage cannot be reached (no permission, not a website): the switch is disabled. */
  flagReadable: boolean;
  /** One line: v2 on or off, and the short why. */
  headline: string;
  transport: Shown<Transport | 'unknown'>;
  state: Shown<ConnectionState | 'unknown'>;
  reason: Shown<TransportReason>;
  /** Where the socket lives and where cursors persist, e.g. "SharedWorker · cursors in IndexedDB". */
  mode: string;
  cursor: string;
  tabs: string;
  rate: string;
  lastEvent: string;
  /** A plain sentence when there is nothing live to show (no client, page not reachable). */
  notice: string | null;
}

/** What the flag alone says: only `'false'` turns v2 off; a missing key is the default (on). */
export { flagReason };

/** v2 is wanted unless the flag says `forced-off` (the client's rule, from protocol/status.ts). */
function flagWantsV2(flag: string | null): boolean {
  return flagReason(flag) !== 'forced-off';
}

const REASON_TEXT: Record<TransportReason, (flag: string | null) => string> = {
  default: () => `on by default: localStorage.${FLAG_KEY} is not set`,
  'forced-on': (flag) => `forced on: localStorage.${FLAG_KEY} = ${JSON.stringify(flag ?? '')}`,
  'forced-off': () => `forced off: localStorage.${FLAG_KEY} = "false" (long-polling, no WebSocket)`,
  'server-off': () => "the server's kill switch turned v2 away: long-polling until it returns",
  'websocket-unavailable': () => 'WebSocket could not connect: fell back to long-polling',
};

const HEADLINE: Record<TransportReason, string> = {
  default: 'v2 on (default)',
  'forced-on': 'v2 on (forced on)',
  'forced-off': 'v2 off (forced off)',
  'server-off': 'v2 off (server kill switch)',
  'websocket-unavailable': 'v2 off (WebSocket unavailable)',
};

const TRANSPORT_TEXT: Record<Transport, string> = {
  v2: 'v2 · WebSocket',
  v1: 'v1 · long-polling',
  none: 'none',
};

const MODE_TEXT: Record<string, string> = {
  'shared-worker': 'SharedWorker',
  'leader-tab': 'leader tab (no SharedWorker)',
  page: 'this page',
};

/** Human wording of a reason, given the raw flag value where known. */
export function describeReason(reason: TransportReason, flag: string | null): string {
  return REASON_TEXT[reason](flag);
}

/** "0.4 s ago", "12 s ago", "3 min ago", "never". */
export function formatAge(lastAt: number | null, now: number): string {
  if (lastAt === null) return 'never';
  const ms = Math.max(0, now - lastAt);
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s ago`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s ago`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min ago`;
  return `${Math.round(ms / 3_600_000)} h ago`;
}

/** "0/s", "0.4/s", "12/s", "1,250/s". */
export function formatRate(perSecond: number): string {
  if (perSecond <= 0) return '0/s';
  if (perSecond < 10) return `${Number(perSecond.toFixed(1))}/s`;
  return `${Math.round(perSecond).toLocaleString('en-US')}/s`;
}

/** "456 → ab12:90" per org, comma-separated; "none yet" without cursors. */
export function formatCursors(cursors: Record<string, string>): string {
  const parts = Object.entries(cursors).map(([org, cursor]) => `${org} → ${cursor}`);
  return parts.length > 0 ? parts.join(', ') : 'none yet';
}

function formatTabs(status: ClientStatus): string {
  if (status.transport === 'v1') return `${status.tabs} (each tab polls for itself on v1)`;
  return status.tabs === 1 ? '1 tab' : `${status.tabs} tabs share the socket`;
}

/**
 * Builds what the popup shows.
 * @param reply the content script's answer, or null when no content script answered
 * @param flag the raw `localStorage.REALTIME_STREAMING_V2` read from the page; undefined when unreadable
 */
export function describePopup(reply: StatusReply | null, flag: string | null | undefined, now: number): PopupDisplay {
  const knownFlag = flag === undefined ? null : flag;
  const status = reply?.status ?? null;
  if (!status) {
    const reason = flagReason(knownFlag);
    return {
      client: reply ? 'absent' : 'unreachable',
      switchOn: flag === undefined ? true : flagWantsV2(flag),
      flagReadable: flag !== undefined,
      headline: flag === undefined ? 'no realtime client' : `${HEADLINE[reason]}, by the flag alone`,
      transport: { value: 'unknown', text: '—' },
      state: { value: 'unknown', text: '—' },
      reason: { value: reason, text: describeReason(reason, knownFlag) },
      mode: '—',
      cursor: '—',
      tabs: '—',
      rate: '—',
      lastEvent: '—',
      notice: reply
        ? 'This page has no realtime client (or it has not reported yet).'
        : 'The extension cannot see this page: by default it runs on http://localhost and http://127.0.0.1 pages.',
    };
  }
  return {
    client: 'present',
    switchOn: flag === undefined ? status.reason !== 'forced-off' : flagWantsV2(flag),
    flagReadable: flag !== undefined,
    headline: HEADLINE[status.reason],
    transport: { value: status.transport, text: TRANSPORT_TEXT[status.transport] },
    state: { value: status.state, text: status.state },
    reason: { value: status.reason, text: describeReason(status.reason, knownFlag) },
    mode: `${MODE_TEXT[status.mode] ?? status.mode} · cursors in ${status.storage === 'indexeddb' ? 'IndexedDB' : 'memory only'} · build ${status.build}`,
    cursor: formatCursors(status.cursors),
    tabs: formatTabs(status),
    rate: formatRate(reply?.eventsPerSecond ?? 0),
    lastEvent: formatAge(reply?.lastEventAt ?? null, now),
    notice: null,
  };
}

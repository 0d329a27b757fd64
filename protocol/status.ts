/** What a page's realtime client reports about itself: shown by the demo and the extension. */

/** Which transport carries the stream right now. */
export type Transport = 'v2' | 'v1' | 'none';

/** Connection state of the client, one value at a time (see `onStatus`). */
export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed' | 'failed';

/**
 * Why the page runs the transport it runs:
 * - `default`: no `REALTIME_STREAMING_V2` key, v2 on;
 * - `forced-on`: the key is set to anything but `'false'`, v2 on;
 * - `forced-off`: the key is `'false'`, v1 long-polling, no WebSocket;
 * - `server-off`: v2 is wanted but the server's kill switch turned it away, v1 until it returns;
 * - `websocket-unavailable`: WebSocket never connected after bounded tries, v1 instead.
 */
export type TransportReason = 'default' | 'forced-on' | 'forced-off' | 'server-off' | 'websocket-unavailable';

/** Where the socket lives: one SharedWorker per origin, an elected leader tab, or this page (v1). */
export type ClientMode = 'shared-worker' | 'leader-tab' | 'page';

/** Where the last delivered cursors persist. */
export type CursorStorage = 'indexeddb' | 'memory';

export interface ClientStatus {
  transport: Transport;
  state: ConnectionState;
  reason: TransportReason;
  mode: ClientMode;
  storage: CursorStorage;
  /** Last delivered cursor per org. */
  cursors: Record<string, string>;
  /** How many tabs share this origin's connection (1 on v1, where each tab polls for itself). */
  tabs: number;
  /** The client build, carried in the worker handshake. */
  build: string;
  /**
   * The server base URL the stream uses now (or tries next): one of `createRealtime({ urls })`,
   * which moves round-robin when a server fails. Absent before the connection starts.
   */
  server?: string;
}

/** The localStorage key of the rollback flag. */
export const FLAG_KEY = 'REALTIME_STREAMING_V2';

/** What the flag alone decides: `default` (key missing), `forced-off` (exactly `'false'`), else `forced-on`. */
export type FlagReason = Extract<TransportReason, 'default' | 'forced-on' | 'forced-off'>;

/**
 * The rollback rule, one place for the client and the extension: the raw value of
 * `localStorage.REALTIME_STREAMING_V2` (null when missing) → why v2 is on or off. v2 is on unless
 * the value is exactly `'false'`.
 */
export function flagReason(raw: string | null): FlagReason {
  if (raw === null) return 'default';
  return raw === 'false' ? 'forced-off' : 'forced-on';
}

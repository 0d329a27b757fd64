/** What the runner, the load generator and the servers under test agree on. */

/** The three systems under test: this product's server and the two peers. */
export type PeerId = 'ours' | 'raw-ws' | 'socket-io';

/**
 * How the raw `ws` broadcast server writes an event:
 * - `plain`: `ws.send(buffer)` to every socket, no compression (the floor);
 * - `deflate`: the same with `ws`'s permessage-deflate, no context takeover, threshold 0 (one
 *   deflate per socket per event);
 * - `compress-once`: deflate the event once without context takeover, frame it once, write the
 *   same bytes to every socket (see servers/compress-once.ts, server/prepared-frame.ts).
 */
export type RawWsMode = 'plain' | 'deflate' | 'compress-once';

/** Options for a server under test (each server reads the ones that apply to it). */
export interface ServerConfig {
  /** ours: negotiate permessage-deflate. */
  compression?: boolean;
  /** ours: the event log. */
  store?: 'memory' | 'sqlite';
  /** raw-ws: the write path. */
  mode?: RawWsMode;
}

/** One configuration of one peer, as it appears in the results. */
export interface PeerVariant {
  peer: PeerId;
  /** Short name in tables and charts, e.g. `ours`, `ours+deflate`, `raw ws (compress once)`. */
  label: string;
  server: ServerConfig;
  /** Clients offer permessage-deflate. */
  deflate: boolean;
}

export interface StartedServer {
  /** `http://127.0.0.1:PORT` */
  url: string;
}

/** Resource use of a server process, read in the process itself. */
export interface ServerStats {
  cpuUserMs: number;
  cpuSystemMs: number;
  rssBytes: number;
  heapUsedBytes: number;
  externalBytes: number;
  /** Open client sockets as the server counts them. */
  connections: number;
}

export interface SeedResult {
  /** Cursor before the first seeded event. */
  before: string;
  /** Cursor of the last seeded event. */
  head: string;
}

/** The commands every server child answers (`seed` only ours). */
export type ServerCommands = {
  start: { params: ServerConfig; result: StartedServer };
  stats: { params: null; result: ServerStats };
  /** Runs the garbage collector twice, then reports stats: memory deltas without garbage. */
  gc: { params: null; result: ServerStats };
  /** Appends `count` events of the mix to `org` inside the server (replay scenario). */
  seed: { params: { org: string; count: number }; result: SeedResult };
};

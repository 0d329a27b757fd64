/** The systems under test: for each, its server entry (a child process) and its client side. */
import { fileURLToPath } from 'node:url';
import type { PeerClient } from './client-types.ts';
import { oursClient } from './ours-client.ts';
import { rawWsClient } from './raw-ws-client.ts';
import { socketIoClient } from './socket-io-client.ts';
import type { PeerId, PeerVariant } from './types.ts';

export type { PeerId, PeerVariant, RawWsMode, ServerCommands, ServerConfig, ServerStats } from './types.ts';
export type { BenchStamp, PeerClient, PeerSession } from './client-types.ts';
export { fetchDevToken, openStream } from './ours-client.ts';

const SERVER_FILES: Record<PeerId, string> = { ours: 'ours.ts', 'raw-ws': 'raw-ws.ts', 'socket-io': 'socket-io.ts' };

/** Path of the child-process entry that runs `peer`'s server. */
export function serverEntry(peer: PeerId): string {
  return fileURLToPath(new URL(`../servers/${SERVER_FILES[peer]}`, import.meta.url));
}

export function clientFor(peer: PeerId): PeerClient {
  if (peer === 'ours') return oursClient;
  if (peer === 'raw-ws') return rawWsClient;
  return socketIoClient;
}

/** The variants every fan-out case compares, without compression. */
export const FAN_OUT_PEERS: PeerVariant[] = [
  { peer: 'ours', label: 'ours', server: { compression: false, store: 'memory' }, deflate: false },
  { peer: 'socket-io', label: 'Socket.IO', server: {}, deflate: false },
  { peer: 'raw-ws', label: 'raw ws', server: { mode: 'plain' }, deflate: false },
];

/** The compression variants: ours with deflate, ws's per-socket deflate, and the raw ws broadcaster with compress-once frames. */
export const DEFLATE_PEERS: PeerVariant[] = [
  { peer: 'ours', label: 'ours + deflate', server: { compression: true, store: 'memory' }, deflate: true },
  { peer: 'raw-ws', label: 'raw ws + per-socket deflate', server: { mode: 'deflate' }, deflate: true },
  { peer: 'raw-ws', label: 'raw ws + compress once', server: { mode: 'compress-once' }, deflate: true },
];

/** The load generator's view of a peer: how to connect a socket to an org and how to publish. */
import type { Socket } from 'node:net';

/** What the load generator puts in every event's `data` to measure it. */
export interface BenchStamp {
  /** Unique per published event in one load run. */
  benchSeq: number;
  /** `wallClockMs()` when the publish was due (fixed rate) or sent (saturation). */
  sentAt: number;
}

export interface SocketHandlers {
  /** Events of one frame, in order. */
  onEvents(stamps: BenchStamp[]): void;
  /** The socket closed without our asking (e.g. slow-consumer close); its code. */
  onClose(code: number): void;
}

export interface ClientConnection {
  close(): void;
}

/** One peer server as the load generator sees it, with credentials prepared for some orgs. */
export interface PeerSession {
  /** Resolves once the socket receives the org's live events. */
  connect(org: string, handlers: SocketHandlers, deflate: boolean): Promise<ClientConnection>;
  publish(input: { org: string; service: string; type: string; data: unknown }): Promise<void>;
  close(): void;
}

export interface PeerClient {
  prepare(baseUrl: string, orgs: string[], onPublisherSocket: (socket: Socket) => void): Promise<PeerSession>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** The stamps of an `events` message (`{type:'events', events:[{data:{benchSeq, sentAt}}]}`); [] for anything else. */
export function readStamps(message: unknown): BenchStamp[] {
  if (!isRecord(message) || message.type !== 'events' || !Array.isArray(message.events)) return [];
  const stamps: BenchStamp[] = [];
  for (const event of message.events) {
    const data: unknown = isRecord(event) ? event.data : undefined;
    if (isRecord(data) && typeof data.benchSeq === 'number' && typeof data.sentAt === 'number') {
      stamps.push({ benchSeq: data.benchSeq, sentAt: data.sentAt });
    }
  }
  return stamps;
}

/** Parses a text frame; null when it is not JSON. */
export function parseFrame(data: unknown): unknown {
  try {
    return JSON.parse(String(data));
  } catch {
    return null;
  }
}

export function toWebSocketUrl(baseUrl: string, path: string): string {
  return baseUrl.replace(/^http/, 'ws') + path;
}

/**
 * Client-side permessage-deflate for the load generator's `ws` clients. ws runs every inflate
 * through one process-wide queue of `concurrencyLimit` (default 10) async zlib calls; with
 * thousands of sockets in one process that queue, not the server, would set the pace (browsers
 * inflate natively, one tab each). The limiter is created by the first socket, so every client
 * passes the same value.
 */
export function clientDeflateOptions(deflate: boolean): false | { concurrencyLimit: number } {
  return deflate ? { concurrencyLimit: 256 } : false;
}

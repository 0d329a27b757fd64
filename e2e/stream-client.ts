/**
 * A bare v2 stream client over Node `ws`, for faults that need many clients or one that misbehaves
 * (stops reading). It speaks the documented protocol: token as subprotocol, `subscribe` with a
 * cursor, `pong` to every `ping`; it keeps the ids it received, in order.
 */
import WebSocket from 'ws';
import { parseServerMessage } from '../protocol/index.ts';

export interface StreamClient {
  readonly ws: WebSocket;
  /** Event ids received, in arrival order. */
  readonly ids: string[];
  /** `reset` messages received (the server could not fill a gap). */
  readonly resets: number;
  /** The last position received (event id or `live` cursor). */
  cursor(): string | null;
  /** Resolves with the close code when the socket closes. */
  readonly closed: Promise<number>;
  /** Resolves once the server sent `live` for the org (replay done). */
  readonly live: Promise<void>;
  close(): void;
}

/** Opens a stream to `base` (`http://…`) and subscribes to every service of `org`, after `cursor` if given. */
export function openStreamClient(base: string, token: string, org: string, cursor: string | null = null): Promise<StreamClient> {
  const url = `${base.replace(/^http/, 'ws')}/v2/realtime/stream`;
  const ws = new WebSocket(url, ['realtime.v2', `bearer.${token}`]);
  const ids: string[] = [];
  let resets = 0;
  let position = cursor;
  let markLive: () => void = () => {};
  const live = new Promise<void>((resolve) => (markLive = resolve));
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  // A reset connection (server killed) also emits `error`; `close` follows and is what counts.
  ws.on('error', () => {});
  ws.on('message', (data) => {
    const parsed = parseServerMessage(data.toString());
    if (!parsed.ok) throw new Error(`the server sent a malformed frame: ${parsed.error.code}`);
    const message = parsed.value;
    switch (message.type) {
      case 'welcome':
        ws.send(JSON.stringify({ type: 'subscribe', org, services: ['*'], ...(position ? { cursor: position } : {}) }));
        return;
      case 'events':
        for (const event of message.events) {
          ids.push(event.id);
          position = event.id;
        }
        return;
      case 'live':
        if (!position) position = message.cursor;
        markLive();
        return;
      case 'reset':
        resets += 1;
        position = message.cursor;
        return;
      case 'ping':
        ws.send(JSON.stringify({ type: 'pong', t: message.t }));
        return;
    }
  });
  return new Promise((resolve, reject) => {
    ws.once('open', () =>
      resolve({
        ws,
        ids,
        get resets() {
          return resets;
        },
        cursor: () => position,
        closed,
        live,
        close: () => ws.close(1000),
      }),
    );
    ws.once('error', reject);
  });
}

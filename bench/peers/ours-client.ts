/**
 * Load-generator side of ours: `ws` clients on `/v2/realtime/stream` with the token as the
 * `bearer.<JWT>` subprotocol, `subscribe {org, services:['*']}` after `welcome`, connected once
 * `live` arrives; publish with `POST /v1/events` and a publish-scoped token.
 */
import WebSocket from 'ws';
import type { ServerMessage } from '../../protocol/index.ts';
import { createHttpPublisher } from '../http-publisher.ts';
import { clientDeflateOptions, parseFrame, readStamps, toWebSocketUrl, type BenchStamp, type ClientConnection, type PeerClient } from './client-types.ts';

const CONNECT_TIMEOUT_MS = 15_000;
const STREAM_PATH = '/v2/realtime/stream';

/** A token for `orgs` with read and publish scope, from the dev token endpoint. */
export async function fetchDevToken(baseUrl: string, orgs: string[]): Promise<string> {
  const response = await fetch(`${baseUrl}/dev/token?org=${orgs.map(encodeURIComponent).join(',')}&scope=read,publish&sub=bench`);
  if (!response.ok) throw new Error(`/dev/token answered ${response.status}`);
  const body: unknown = await response.json();
  if (typeof body !== 'object' || body === null || !('token' in body) || typeof body.token !== 'string') throw new Error('/dev/token: no token in the answer');
  return body.token;
}

function hasType(message: unknown): message is { type: ServerMessage['type'] } & Record<string, unknown> {
  return typeof message === 'object' && message !== null && 'type' in message && typeof message.type === 'string';
}

export interface StreamHandlers {
  onMessage(message: { type: ServerMessage['type'] } & Record<string, unknown>): void;
  onClose(code: number): void;
}

/** Opens one v2 stream socket, answers heartbeats, and hands every other message to `onMessage`. */
export function openStream(baseUrl: string, token: string, deflate: boolean, handlers: StreamHandlers): WebSocket {
  const ws = new WebSocket(toWebSocketUrl(baseUrl, STREAM_PATH), ['realtime.v2', `bearer.${token}`], {
    perMessageDeflate: clientDeflateOptions(deflate),
    skipUTF8Validation: true,
    handshakeTimeout: CONNECT_TIMEOUT_MS,
  });
  ws.on('message', (data) => {
    const message = parseFrame(data);
    if (!hasType(message)) return;
    if (message.type === 'ping') {
      ws.send(JSON.stringify({ type: 'pong', t: message.t }));
      return;
    }
    handlers.onMessage(message);
  });
  ws.on('close', (code) => handlers.onClose(code));
  ws.on('error', () => {});
  return ws;
}

export const oursClient: PeerClient = {
  async prepare(baseUrl, orgs, onPublisherSocket) {
    const token = await fetchDevToken(baseUrl, orgs);
    const publisher = createHttpPublisher({ url: `${baseUrl}/v1/events`, authorization: `Bearer ${token}`, onSocket: onPublisherSocket });
    return {
      connect(org, handlers, deflate) {
        return new Promise<ClientConnection>((resolve, reject) => {
          let state: 'connecting' | 'live' | 'closing' = 'connecting';
          const timer = setTimeout(() => fail(new Error('no live message in time')), CONNECT_TIMEOUT_MS);
          const fail = (error: Error) => {
            clearTimeout(timer);
            ws.terminate();
            reject(error);
          };
          const ws = openStream(baseUrl, token, deflate, {
            onMessage(message) {
              if (message.type === 'events') handlers.onEvents(readStamps(message) satisfies BenchStamp[]);
              else if (message.type === 'welcome') ws.send(JSON.stringify({ type: 'subscribe', org, services: ['*'] }));
              else if (message.type === 'live' && state === 'connecting') {
                state = 'live';
                clearTimeout(timer);
                resolve({ close: () => ((state = 'closing'), ws.close()) });
              } else if (message.type === 'error' && state === 'connecting') fail(new Error(`server error ${String(message.code)}`));
            },
            onClose(code) {
              if (state === 'connecting') fail(new Error(`closed ${code} before live`));
              else if (state === 'live') handlers.onClose(code);
            },
          });
        });
      },
      publish: (input) => publisher.publish(input),
      close: () => publisher.close(),
    };
  },
};

/**
 * Peer: a bare `ws` broadcast server. Sockets join an org with `?org=`; `POST /publish` writes the
 * event to every socket of the org and does nothing else (no log, no auth, no backpressure): the
 * floor for Node that ours is measured against. Modes: see `RawWsMode`.
 */
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { RawWsMode } from '../peers/types.ts';
import { createStamper, eventsFrameText, handlePublish } from './bench-events.ts';
import { acceptsDeflate, COMPRESS_ONCE_DEFLATE, prepareFrame } from './compress-once.ts';
import { serveServer } from './server-commands.ts';

interface Member {
  ws: WebSocket;
  tcp: Socket;
  deflate: boolean;
}

const orgs = new Map<string, Set<Member>>();
let connections = 0;

function deflateOptions(mode: RawWsMode) {
  if (mode === 'plain') return false;
  if (mode === 'compress-once') return COMPRESS_ONCE_DEFLATE;
  // Per-socket deflate with the same framing as compress-once (no context takeover, every message
  // compressed), so the two differ only in how many times each event is deflated.
  return { serverNoContextTakeover: true, clientNoContextTakeover: true, threshold: 0 };
}

function broadcast(mode: RawWsMode, text: string, members: Set<Member>): void {
  if (mode === 'compress-once') {
    const frame = prepareFrame(text);
    for (const member of members) member.tcp.write(member.deflate ? frame.deflated() : frame.plain);
    return;
  }
  const data = Buffer.from(text);
  for (const member of members) member.ws.send(data, { binary: false });
}

serveServer({
  connections: () => connections,
  async start(config) {
    const mode = config.mode ?? 'plain';
    const stamp = createStamper();
    const http = createServer((req, res) =>
      handlePublish(req, res, (input) => {
        const event = stamp(input);
        const members = orgs.get(event.org);
        if (members) broadcast(mode, eventsFrameText(event), members);
        return event;
      }),
    );
    const wss = new WebSocketServer({ server: http, maxPayload: 64 * 1024, clientTracking: false, perMessageDeflate: deflateOptions(mode) });
    wss.on('connection', (ws, req) => {
      const org = new URL(req.url ?? '/', 'http://localhost').searchParams.get('org') ?? 'default';
      let members = orgs.get(org);
      if (!members) orgs.set(org, (members = new Set()));
      const member: Member = { ws, tcp: req.socket as Socket, deflate: acceptsDeflate(ws.extensions) };
      members.add(member);
      connections += 1;
      ws.on('error', () => {});
      ws.on('close', () => {
        connections -= 1;
        members.delete(member);
      });
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const { port } = http.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}` };
  },
});

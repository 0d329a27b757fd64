/**
 * What the peer servers do with a publish: the same event shape and frame as ours
 * (`{type:'events', org, replayed:false, events:[{id, org, service, type, data, ts}]}`), so every
 * system under test carries the same bytes per event.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseEventInput, parseJson, type EventInput, type StreamEvent } from '../../protocol/index.ts';

export const PUBLISH_PATH = '/publish';

/** Numbers events per org like a log would (`bench:seq`). */
export function createStamper(): (input: EventInput) => StreamEvent {
  const seqs = new Map<string, number>();
  return (input) => {
    const seq = (seqs.get(input.org) ?? 0) + 1;
    seqs.set(input.org, seq);
    return { id: `bench:${seq}`, org: input.org, service: input.service, type: input.type, data: input.data, ts: Date.now() };
  };
}

export function eventsFrameText(event: StreamEvent): string {
  return JSON.stringify({ type: 'events', org: event.org, replayed: false, events: [event] });
}

/** Handles `POST /publish` with an EventInput body: calls `broadcast`, answers 201 `{id}`. */
export function handlePublish(req: IncomingMessage, res: ServerResponse, broadcast: (input: EventInput) => StreamEvent): void {
  if (req.method !== 'POST' || req.url !== PUBLISH_PATH) {
    res.writeHead(404).end();
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const json = parseJson(Buffer.concat(chunks).toString('utf8'));
    const input = json.ok ? parseEventInput(json.value) : json;
    if (!input.ok) {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: input.error.code }));
      return;
    }
    const event = broadcast(input.value);
    res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id: event.id }));
  });
}

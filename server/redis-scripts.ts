/**
 * The Redis side of the event log: the key layout, the two Lua scripts that make an append and a
 * read atomic, and the parsing of every reply from `unknown` (a key of the wrong type or a foreign
 * writer must fail loudly, never turn into a malformed event). See redis-event-log.ts for the model.
 */
import type { Redis } from 'ioredis';
import { formatCursor, type StreamEvent } from '../protocol/index.ts';

/*
 * KEYS: epoch, head, stream, orgs. ARGV: candidate epoch, org, service, type, data, ts, maxlen ('' = none).
 * Returns {epoch, seq}. XADD runs before INCR: if it fails (e.g. the stream holds a larger id than
 * the head says), nothing was written, so a failed append never leaves a seq without its event.
 */
export const APPEND_SCRIPT = `
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
end
local seq = tonumber(redis.call('GET', KEYS[2]) or '0') + 1
local id = string.format('%d-0', seq)
if ARGV[7] == '' then
  redis.call('XADD', KEYS[3], id, 'service', ARGV[3], 'type', ARGV[4], 'data', ARGV[5], 'ts', ARGV[6], 'epoch', epoch)
else
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[7], id, 'service', ARGV[3], 'type', ARGV[4], 'data', ARGV[5], 'ts', ARGV[6], 'epoch', epoch)
end
redis.call('INCR', KEYS[2])
redis.call('SADD', KEYS[4], ARGV[2])
return {epoch, seq}
`;

/*
 * KEYS: epoch, head, stream. ARGV: candidate epoch, cursor epoch ('' = no cursor), cursor seq, count.
 * Returns {epoch, head, trimmedThrough, entries}: one atomic snapshot, so a trim between "where does
 * the log start" and "give me the page" cannot open a silent gap. The page is only fetched when the
 * read will not reset (classifyRead decides in TypeScript from the same numbers).
 */
export const READ_SCRIPT = `
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
end
local head = tonumber(redis.call('GET', KEYS[2]) or '0')
local trimmed = head
local first = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', 1)
if #first > 0 then
  trimmed = tonumber(string.match(first[1][1], '^(%d+)')) - 1
end
local from = trimmed
if ARGV[2] ~= '' then
  from = tonumber(ARGV[3])
end
local count = tonumber(ARGV[4])
local entries = {}
if count > 0 and from >= trimmed and from < head and (ARGV[2] == '' or ARGV[2] == epoch) then
  entries = redis.call('XRANGE', KEYS[3], string.format('%d-0', from + 1), '+', 'COUNT', count)
end
return {epoch, head, trimmed, entries}
`;

/** The client with the two scripts defined on it (ioredis adds them at runtime). */
export interface ScriptedRedis extends Redis {
  realtimeAppend(...args: (string | number)[]): Promise<unknown>;
  realtimeRead(...args: (string | number)[]): Promise<unknown>;
}

export interface Keys {
  epoch: string;
  orgs: string;
  head(org: string): string;
  stream(org: string): string;
}

/** The key names of one log under `prefix`. */
export function redisKeys(prefix: string): Keys {
  return {
    epoch: `${prefix}epoch`,
    orgs: `${prefix}orgs`,
    head: (org) => `${prefix}head:${org}`,
    stream: (org) => `${prefix}stream:${org}`,
  };
}

/** One stream entry as stored. */
export interface Entry {
  seq: number;
  epoch: string;
  service: string;
  type: string;
  data: string;
  ts: number;
}

/** CLIENT SETNAME takes no spaces: names show in CLIENT LIST, which is how operators count readers. */
export function connectionName(name: string): string {
  return name.replace(/\s/g, '_');
}

/** A stored entry as the event the wire carries; `epoch` is the one the reader or read is in. */
export function toEvent(org: string, epoch: string, entry: Entry): StreamEvent {
  return {
    id: formatCursor({ epoch, seq: entry.seq }),
    org,
    service: entry.service,
    type: entry.type,
    data: JSON.parse(entry.data) as unknown,
    ts: entry.ts,
  };
}

// Replies are parsed from unknown: a key of the wrong type or a foreign writer must fail loudly,
// as STORE_UNAVAILABLE, never turn into a malformed event. Each parser throws a plain Error; the
// log wraps it into a StreamError STORE_UNAVAILABLE.

/** APPEND_SCRIPT: `{epoch, seq}`. */
export function parseAppendReply(reply: unknown): { epoch: string; seq: number } {
  if (!Array.isArray(reply) || reply.length !== 2) throw new Error('the append script returned an unexpected reply');
  return { epoch: parseString(reply[0], 'epoch'), seq: parseInteger(reply[1], 'seq') };
}

/** READ_SCRIPT: `{epoch, head, trimmedThrough, entries}`. */
export function parseReadReply(reply: unknown): { epoch: string; headSeq: number; trimmedThrough: number; entries: Entry[] } {
  if (!Array.isArray(reply) || reply.length !== 4) throw new Error('the read script returned an unexpected reply');
  return {
    epoch: parseString(reply[0], 'epoch'),
    headSeq: parseInteger(reply[1], 'head'),
    trimmedThrough: parseInteger(reply[2], 'trimmedThrough'),
    entries: parseEntries(reply[3]),
  };
}

/** XREAD with one stream: `[[key, entries]]`. */
export function parseXreadReply(reply: unknown): Entry[] {
  if (!Array.isArray(reply)) throw new Error('XREAD returned an unexpected reply');
  const [stream] = reply as unknown[];
  if (stream === undefined) return [];
  if (!Array.isArray(stream) || stream.length !== 2) throw new Error('XREAD returned an unexpected stream');
  return parseEntries(stream[1]);
}

/** XRANGE: `[[id, [field, value, …]], …]`. */
export function parseEntries(reply: unknown): Entry[] {
  if (!Array.isArray(reply)) throw new Error('expected a list of stream entries');
  return reply.map((item: unknown): Entry => {
    if (!Array.isArray(item) || item.length !== 2) throw new Error('malformed stream entry');
    const [id, fields] = item as [unknown, unknown];
    const match = typeof id === 'string' ? /^(\d{1,16})-0$/.exec(id) : null;
    if (!match || !Array.isArray(fields)) throw new Error(`malformed stream entry ${String(id)}`);
    const values = new Map<string, string>();
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const name: unknown = fields[i];
      const value: unknown = fields[i + 1];
      if (typeof name === 'string' && typeof value === 'string') values.set(name, value);
    }
    const ts = Number(values.get('ts'));
    const service = values.get('service');
    const type = values.get('type');
    const data = values.get('data');
    const epoch = values.get('epoch');
    if (service === undefined || type === undefined || data === undefined || epoch === undefined || !Number.isSafeInteger(ts)) {
      throw new Error(`stream entry ${id} lacks a field`);
    }
    return { seq: Number(match[1]), epoch, service, type, data, ts };
  });
}

/** SSCAN: `[next cursor, members]`. */
export function parseScanReply(reply: unknown): [string, string[]] {
  if (!Array.isArray(reply) || reply.length !== 2) throw new Error('SSCAN returned an unexpected reply');
  const [next, members] = reply as [unknown, unknown];
  if (typeof next !== 'string' || !Array.isArray(members)) throw new Error('SSCAN returned an unexpected reply');
  return [next, members.filter((member): member is string => typeof member === 'string')];
}

/** A bulk string reply. */
export function parseString(reply: unknown, what: string): string {
  if (typeof reply !== 'string') throw new Error(`Redis returned no ${what}`);
  return reply;
}

/** A bulk string reply, or null for a missing key. */
export function parseNullableString(reply: unknown, what: string): string | null {
  return reply === null ? null : parseString(reply, what);
}

/** An integer reply, or a bulk string holding one (GET of a counter). */
export function parseInteger(reply: unknown, what: string): number {
  const value = typeof reply === 'string' ? Number(reply) : reply;
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new Error(`Redis returned no integer ${what}`);
  return value;
}

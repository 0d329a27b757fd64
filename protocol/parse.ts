/**
 * Parse-and-validate of untrusted input: every frame and body from outside goes through here and
 * comes out as a typed message or a `StreamError` with a stable code. Nothing is `as`-cast.
 */
import { ErrorCode, ResetReason } from './codes.ts';
import { isCursor } from './cursor.ts';
import { StreamError } from './errors.ts';
import { ALL_SERVICES, isName, type EventInput, type StreamEvent } from './event.ts';
import type {
  ClientMessage,
  PollResponse,
  ServerMessage,
} from './messages.ts';

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: StreamError };

/** At most this many services in one subscribe/unsubscribe. */
export const MAX_SERVICES_PER_MESSAGE = 64;
/** Tokens longer than this are refused before any signature check. */
export const MAX_TOKEN_LENGTH = 4096;

type Json = Record<string, unknown>;

const ok = <T>(value: T): ParseResult<T> => ({ ok: true, value });
const fail = <T>(code: ErrorCode, message: string): ParseResult<T> => ({
  ok: false,
  error: new StreamError(code, message),
});

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A number JSON can carry. `JSON.parse('1e999')` is Infinity, so `typeof === 'number'` alone lets
 * an overflowing literal through (a `heartbeatMs` of Infinity makes `setInterval` spin every 1 ms).
 */
function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** JSON.parse that reports a typed error instead of throwing. */
export function parseJson(text: string): ParseResult<unknown> {
  try {
    return ok(JSON.parse(text) as unknown);
  } catch {
    return fail(ErrorCode.BAD_JSON, 'the message is not valid JSON');
  }
}

function parseServices(value: unknown): ParseResult<string[]> {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_SERVICES_PER_MESSAGE) {
    return fail(ErrorCode.BAD_MESSAGE, `"services" must be an array of 1 to ${MAX_SERVICES_PER_MESSAGE} service names`);
  }
  const services: string[] = [];
  for (const item of value) {
    if (item !== ALL_SERVICES && !isName(item)) {
      return fail(ErrorCode.BAD_NAME, `service names are 1-64 of [A-Za-z0-9_.-] or "*"`);
    }
    services.push(item);
  }
  return ok([...new Set(services)]);
}

function parseOrg(value: unknown): ParseResult<string> {
  return isName(value) ? ok(value) : fail(ErrorCode.BAD_NAME, '"org" must be 1-64 of [A-Za-z0-9_.-]');
}

function parseTimestamp(value: unknown): ParseResult<number> {
  return isFiniteNumber(value)
    ? ok(value)
    : fail(ErrorCode.BAD_MESSAGE, '"t" must be a number');
}

/** Parses one text frame a client sent on the v2 socket. */
export function parseClientMessage(text: string): ParseResult<ClientMessage> {
  const json = parseJson(text);
  if (!json.ok) return json;
  const raw = json.value;
  if (!isObject(raw) || typeof raw.type !== 'string') {
    return fail(ErrorCode.BAD_MESSAGE, 'a message is a JSON object with a string "type"');
  }
  switch (raw.type) {
    case 'subscribe': {
      const org = parseOrg(raw.org);
      if (!org.ok) return org;
      const services = parseServices(raw.services);
      if (!services.ok) return services;
      if (raw.cursor === undefined || raw.cursor === null) {
        return ok({ type: 'subscribe', org: org.value, services: services.value });
      }
      if (!isCursor(raw.cursor)) return fail(ErrorCode.BAD_CURSOR, '"cursor" must be a cursor of the form epoch:seq');
      return ok({ type: 'subscribe', org: org.value, services: services.value, cursor: raw.cursor });
    }
    case 'unsubscribe': {
      const org = parseOrg(raw.org);
      if (!org.ok) return org;
      const services = parseServices(raw.services);
      if (!services.ok) return services;
      return ok({ type: 'unsubscribe', org: org.value, services: services.value });
    }
    case 'auth': {
      if (typeof raw.token !== 'string' || raw.token.length === 0 || raw.token.length > MAX_TOKEN_LENGTH) {
        return fail(ErrorCode.TOKEN_MISSING, '"token" must be a non-empty string');
      }
      return ok({ type: 'auth', token: raw.token });
    }
    case 'ping':
    case 'pong': {
      const t = parseTimestamp(raw.t);
      if (!t.ok) return t;
      return ok({ type: raw.type, t: t.value });
    }
    default:
      return fail(ErrorCode.BAD_MESSAGE, `unknown message type "${raw.type.slice(0, 40)}"`);
  }
}

/** Validates a publish body: `{ org, service, type, data }`. */
export function parseEventInput(raw: unknown): ParseResult<EventInput> {
  if (!isObject(raw)) return fail(ErrorCode.BAD_MESSAGE, 'the body must be a JSON object { org, service, type, data }');
  const org = parseOrg(raw.org);
  if (!org.ok) return org;
  if (!isName(raw.service)) return fail(ErrorCode.BAD_NAME, '"service" must be 1-64 of [A-Za-z0-9_.-]');
  if (!isName(raw.type)) return fail(ErrorCode.BAD_NAME, '"type" must be 1-64 of [A-Za-z0-9_.-]');
  if (!('data' in raw)) return fail(ErrorCode.BAD_MESSAGE, '"data" is required (any JSON value, null included)');
  return ok({ org: org.value, service: raw.service, type: raw.type, data: raw.data });
}

function parseEvent(raw: unknown): StreamEvent | null {
  if (!isObject(raw)) return null;
  if (!isCursor(raw.id)) return null;
  if (!isName(raw.org) || !isName(raw.service) || !isName(raw.type)) return null;
  if (!isFiniteNumber(raw.ts) || !('data' in raw)) return null;
  return { id: raw.id, org: raw.org, service: raw.service, type: raw.type, data: raw.data, ts: raw.ts };
}

function parseEvents(raw: unknown): StreamEvent[] | null {
  if (!Array.isArray(raw)) return null;
  const events: StreamEvent[] = [];
  for (const item of raw) {
    const event = parseEvent(item);
    if (!event) return null;
    events.push(event);
  }
  return events;
}

function isResetReason(value: unknown): value is ResetReason {
  return Object.values(ResetReason).some((reason) => reason === value);
}

function isErrorCode(value: unknown): value is ErrorCode {
  return Object.values(ErrorCode).some((code) => code === value);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

const badServerFrame = <T>(what: string): ParseResult<T> => fail(ErrorCode.BAD_MESSAGE, `malformed "${what}" message from the server`);

/** Parses one text frame the server sent (the client does not trust the network either). */
export function parseServerMessage(text: string): ParseResult<ServerMessage> {
  const json = parseJson(text);
  if (!json.ok) return json;
  const raw = json.value;
  if (!isObject(raw) || typeof raw.type !== 'string') return badServerFrame('unknown');
  switch (raw.type) {
    case 'welcome':
      if (
        typeof raw.connectionId !== 'string' ||
        !isFiniteNumber(raw.heartbeatMs) ||
        !isFiniteNumber(raw.tokenExpiresAt) ||
        typeof raw.epoch !== 'string' ||
        !isStringArray(raw.orgs)
      ) {
        return badServerFrame('welcome');
      }
      return ok({
        type: 'welcome',
        connectionId: raw.connectionId,
        heartbeatMs: raw.heartbeatMs,
        tokenExpiresAt: raw.tokenExpiresAt,
        orgs: raw.orgs,
        epoch: raw.epoch,
      });
    case 'events': {
      const events = parseEvents(raw.events);
      if (!isName(raw.org) || typeof raw.replayed !== 'boolean' || !events) return badServerFrame('events');
      return ok({ type: 'events', org: raw.org, replayed: raw.replayed, events });
    }
    case 'live':
      if (!isName(raw.org) || !isCursor(raw.cursor) || !isFiniteNumber(raw.replayed)) return badServerFrame('live');
      return ok({ type: 'live', org: raw.org, cursor: raw.cursor, replayed: raw.replayed });
    case 'reset':
      if (
        !isName(raw.org) ||
        !isResetReason(raw.reason) ||
        typeof raw.from !== 'string' ||
        !isCursor(raw.cursor) ||
        !(raw.lost === null || isFiniteNumber(raw.lost))
      ) {
        return badServerFrame('reset');
      }
      return ok({
        type: 'reset',
        org: raw.org,
        reason: raw.reason,
        from: raw.from,
        cursor: raw.cursor,
        lost: raw.lost,
      });
    case 'authenticated':
      if (!isFiniteNumber(raw.tokenExpiresAt) || !isStringArray(raw.orgs)) return badServerFrame('authenticated');
      return ok({ type: 'authenticated', tokenExpiresAt: raw.tokenExpiresAt, orgs: raw.orgs });
    case 'subscribed':
      if (!isName(raw.org) || !isStringArray(raw.services)) return badServerFrame('subscribed');
      return ok({ type: 'subscribed', org: raw.org, services: raw.services });
    case 'error':
      if (!isErrorCode(raw.code) || typeof raw.message !== 'string') return badServerFrame('error');
      return ok({
        type: 'error',
        code: raw.code,
        message: raw.message,
        ...(isName(raw.org) ? { org: raw.org } : {}),
      });
    case 'ping':
    case 'pong':
      if (!isFiniteNumber(raw.t)) return badServerFrame(raw.type);
      return ok({ type: raw.type, t: raw.t });
    default:
      return badServerFrame(raw.type.slice(0, 40));
  }
}

/** Parses a v1 poll answer (client side). */
export function parsePollResponse(raw: unknown): ParseResult<PollResponse> {
  if (!isObject(raw)) return fail(ErrorCode.BAD_MESSAGE, 'malformed poll response');
  const events = parseEvents(raw.events);
  if (!events || !isCursor(raw.cursor) || typeof raw.v2 !== 'boolean') {
    return fail(ErrorCode.BAD_MESSAGE, 'malformed poll response');
  }
  const response: PollResponse = { events, cursor: raw.cursor, v2: raw.v2 };
  if (raw.reset !== undefined) {
    const reset = raw.reset;
    if (
      !isObject(reset) ||
      !isResetReason(reset.reason) ||
      typeof reset.from !== 'string' ||
      !(reset.lost === null || isFiniteNumber(reset.lost))
    ) {
      return fail(ErrorCode.BAD_MESSAGE, 'malformed poll response');
    }
    response.reset = { reason: reset.reason, from: reset.from, lost: reset.lost };
  }
  return ok(response);
}

/** Parses an HTTP error body into a StreamError (client side); null when it is not one of ours. */
export function parseHttpError(raw: unknown): StreamError | null {
  if (!isObject(raw) || !isObject(raw.error)) return null;
  const { code, message } = raw.error;
  if (!isErrorCode(code) || typeof message !== 'string') return null;
  return new StreamError(code, message);
}

/** One event of an org's live feed, as stored in the log and delivered to apps. */
export interface StreamEvent {
  /** The event's cursor (`epoch:seq`): totally ordered within its org, opaque to apps. */
  id: string;
  org: string;
  /** The part of the app the event belongs to (`finance`, `orders`, `chat`…); tabs subscribe by service. */
  service: string;
  /** What happened, e.g. `invoice.posted`. */
  type: string;
  /** The event's JSON payload. */
  data: unknown;
  /** When the server accepted the event, in milliseconds since the Unix epoch. */
  ts: number;
}

/** What a publisher sends (`POST /v1/events`); the server adds `id` and `ts`. */
export interface EventInput {
  org: string;
  service: string;
  type: string;
  data: unknown;
}

/** Org, service and event-type names: 1–64 of letters, digits, `_`, `.` and `-`. */
export const NAME_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** The service name that subscribes to every service of an org. */
export const ALL_SERVICES = '*';

export function isName(value: unknown): value is string {
  return typeof value === 'string' && NAME_PATTERN.test(value);
}

/**
 * The hub (connection pool): one upstream `log.subscribe(org)` per org that has at least one
 * consumer (a v2 socket or an open v1 poll), released when the last one leaves. Each event is
 * serialized once into its `events` frame and the same bytes go to every interested consumer.
 *
 *   log ──subscribe(org)──▶ hub ──frame──▶ socket A (services: finance)
 *                                   └─────▶ socket B (services: *)
 *                                   └─────▶ poll    (services: *)
 */
import { ALL_SERVICES, type StreamEvent } from '../protocol/index.ts';
import type { EventLog } from './event-log.ts';
import type { Logger } from './logger.ts';

/** One event, serialized once for every consumer. */
export interface HubFrame {
  event: StreamEvent;
  /** `{"type":"events","org":…,"replayed":false,"events":[event]}` */
  text: string;
  /** `text` as UTF-8, written as-is to every socket. */
  data: Buffer;
}

export interface HubConsumer {
  /** The services this consumer wants (`*` for all); read at every event, so it may change. */
  readonly services: ReadonlySet<string>;
  deliver(frame: HubFrame): void;
}

export interface HubStats {
  /** Upstream log subscriptions held: one per org with consumers. */
  totalSubscriptions: number;
  /** Consumers attached, over all orgs. */
  consumers: number;
  /** Consumers per org. */
  orgs: Record<string, number>;
}

export interface Hub {
  /** Adds a consumer of `org`; returns the function that removes it (idempotent). */
  attach(org: string, consumer: HubConsumer): () => void;
  stats(): HubStats;
  /** Drops every upstream subscription. */
  close(): void;
}

interface OrgEntry {
  consumers: Set<HubConsumer>;
  unsubscribe: () => void;
}

/** Serializes a live `events` frame for one event. */
export function eventsFrame(event: StreamEvent): HubFrame {
  const text = JSON.stringify({ type: 'events', org: event.org, replayed: false, events: [event] });
  return { event, text, data: Buffer.from(text) };
}

export function wantsService(services: ReadonlySet<string>, service: string): boolean {
  return services.has(ALL_SERVICES) || services.has(service);
}

export function createHub(log: EventLog, logger?: Logger): Hub {
  const orgs = new Map<string, OrgEntry>();

  function fanOut(entry: OrgEntry, event: StreamEvent): void {
    let frame: HubFrame | null = null;
    for (const consumer of entry.consumers) {
      if (!wantsService(consumer.services, event.service)) continue;
      frame ??= eventsFrame(event);
      try {
        consumer.deliver(frame);
      } catch (error) {
        // One broken consumer must not starve the others of this event.
        logger?.error('hub', 'a consumer failed to take an event', { org: event.org, error: String(error) });
      }
    }
  }

  return {
    attach(org, consumer) {
      let entry = orgs.get(org);
      if (!entry) {
        const created: OrgEntry = { consumers: new Set(), unsubscribe: () => {} };
        created.unsubscribe = log.subscribe(org, (event) => fanOut(created, event));
        orgs.set(org, created);
        entry = created;
      }
      entry.consumers.add(consumer);
      const owner = entry;
      return () => {
        if (!owner.consumers.delete(consumer)) return;
        if (owner.consumers.size === 0 && orgs.get(org) === owner) {
          owner.unsubscribe();
          orgs.delete(org);
        }
      };
    },
    stats() {
      let consumers = 0;
      const perOrg: Record<string, number> = {};
      for (const [org, entry] of orgs) {
        consumers += entry.consumers.size;
        perOrg[org] = entry.consumers.size;
      }
      return { totalSubscriptions: orgs.size, consumers, orgs: perOrg };
    },
    close() {
      for (const entry of orgs.values()) entry.unsubscribe();
      orgs.clear();
    },
  };
}

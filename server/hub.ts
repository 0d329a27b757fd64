/**
 * The hub (connection pool): one upstream `log.subscribe(org)` per org that has at least one
 * consumer (a v2 socket or an open v1 poll), released when the last one leaves.
 *
 * Events are not handed out one by one: the events an org gets within one turn of the event loop
 * (a burst: concurrent publishes, a Redis read of several entries) are collected and flushed
 * together on `setImmediate`, as ONE `events` frame per consumer. Most of the server's cost per
 * delivery is the kernel's per-write cost (NOTES.md), so a burst of n events costs one write per
 * socket instead of n. A lone event waits for nothing but the end of the current loop turn (no
 * timer). Each distinct frame is serialized and framed once and shared by every consumer that
 * wants the same events (see prepared-frame.ts).
 *
 *   log ──subscribe(org)──▶ hub ─(same turn: pending)─ setImmediate ─frame─▶ socket A (finance)
 *                                                                   └────▶ socket B (*)
 *                                                                   └────▶ poll     (*)
 */
import { ALL_SERVICES, type StreamEvent } from '../protocol/index.ts';
import type { EventLog } from './event-log.ts';
import type { Logger } from './logger.ts';
import { prepareTextFrame, type PreparedFrame } from './prepared-frame.ts';

/** Live events of one org for one consumer, serialized once for every consumer that wants the same ones. */
export interface HubFrame {
  readonly org: string;
  /** In log order; only the services the consumer wanted at flush time. */
  readonly events: readonly StreamEvent[];
  /** `{"type":"events","org":…,"replayed":false,"events":[…]}` framed once, built on first use. */
  readonly frame: PreparedFrame;
}

export interface HubConsumer {
  /** The services this consumer wants (`*` for all); read at every flush, so it may change. */
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
  /** Drops every upstream subscription (and events not flushed yet). */
  close(): void;
}

interface OrgEntry {
  org: string;
  consumers: Set<HubConsumer>;
  /** Events received this turn, flushed on the next `setImmediate`. */
  pending: StreamEvent[];
  unsubscribe: () => void;
}

/** A live `events` frame of `events` (one org, log order); serialized and framed on first use. */
export function eventsFrame(org: string, events: readonly StreamEvent[]): HubFrame {
  let prepared: PreparedFrame | null = null;
  return {
    org,
    events,
    get frame() {
      prepared ??= prepareTextFrame(JSON.stringify({ type: 'events', org, replayed: false, events }));
      return prepared;
    },
  };
}

export function wantsService(services: ReadonlySet<string>, service: string): boolean {
  return services.has(ALL_SERVICES) || services.has(service);
}

/**
 * The events of `events` that `services` wants: `events` itself when it wants all of them (the
 * common case, shared by every such consumer), null when none, else the positions it wants.
 */
function pick(services: ReadonlySet<string>, events: readonly StreamEvent[]): readonly StreamEvent[] | number[] | null {
  if (services.has(ALL_SERVICES)) return events;
  let positions: number[] | null = null;
  for (let i = 0; i < events.length; i++) {
    const event = events[i];
    if (event && services.has(event.service)) (positions ??= []).push(i);
  }
  if (positions === null) return null;
  return positions.length === events.length ? events : positions;
}

/**
 * Most events one frame carries: a bulk import in one turn becomes several frames, so no frame
 * (and no socket's buffer) grows without bound and the 4009 bound still sees every write.
 */
export const MAX_EVENTS_PER_FRAME = 100;

export function createHub(log: EventLog, logger?: Logger): Hub {
  const orgs = new Map<string, OrgEntry>();
  /** Orgs with pending events, in the order their first event arrived this turn. */
  const dirty = new Set<OrgEntry>();
  let flushing: NodeJS.Immediate | null = null;

  function flushOrg(entry: OrgEntry): void {
    const pending = entry.pending;
    entry.pending = [];
    if (pending.length <= MAX_EVENTS_PER_FRAME) {
      flushEvents(entry, pending);
      return;
    }
    for (let start = 0; start < pending.length; start += MAX_EVENTS_PER_FRAME) flushEvents(entry, pending.slice(start, start + MAX_EVENTS_PER_FRAME));
  }

  function flushEvents(entry: OrgEntry, events: StreamEvent[]): void {
    let everything: HubFrame | null = null;
    // Consumers wanting the same subset share its frame; keyed by the positions they want.
    let subsets: Map<string, HubFrame> | null = null;
    for (const consumer of entry.consumers) {
      try {
        const picked = pick(consumer.services, events);
        if (picked === null) continue;
        let frame: HubFrame;
        if (picked === events) {
          frame = everything ??= eventsFrame(entry.org, events);
        } else {
          const positions = picked as number[];
          const key = positions.join(',');
          subsets ??= new Map();
          let shared = subsets.get(key);
          if (!shared) {
            shared = eventsFrame(entry.org, positions.map((position) => events[position] as StreamEvent));
            subsets.set(key, shared);
          }
          frame = shared;
        }
        consumer.deliver(frame);
      } catch (error) {
        // One broken consumer must not starve the others of these events.
        logger?.error('hub', 'a consumer failed to take events', { org: entry.org, error: String(error) });
      }
    }
  }

  function flush(): void {
    flushing = null;
    // Orgs whose events arrive while this runs (a consumer's write never appends, but a log may
    // call back synchronously) are flushed on the next turn, after these.
    const entries = [...dirty];
    dirty.clear();
    for (const entry of entries) flushOrg(entry);
  }

  function receive(entry: OrgEntry, event: StreamEvent): void {
    entry.pending.push(event);
    dirty.add(entry);
    flushing ??= setImmediate(flush);
  }

  return {
    attach(org, consumer) {
      let entry = orgs.get(org);
      if (!entry) {
        const created: OrgEntry = { org, consumers: new Set(), pending: [], unsubscribe: () => {} };
        created.unsubscribe = log.subscribe(org, (event) => receive(created, event));
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
          // Nobody is left to take its pending events.
          dirty.delete(owner);
          owner.pending = [];
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
      dirty.clear();
      if (flushing) clearImmediate(flushing);
      flushing = null;
    },
  };
}

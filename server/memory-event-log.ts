/** An in-memory event log for tests: the same semantics as the SQLite log, nothing durable. */
import { formatCursor, type Cursor, type EventInput, type StreamEvent } from '../protocol/index.ts';
import {
  classifyRead,
  DEFAULT_RETENTION,
  newEpoch,
  type EventListener,
  type EventLog,
  type ReadResult,
  type Retention,
} from './event-log.ts';

interface OrgLog {
  events: StreamEvent[];
  /** seq of `events[0]` minus one: everything at or before it was trimmed. */
  trimmedThrough: number;
  headSeq: number;
  listeners: Set<EventListener>;
}

export interface MemoryEventLogOptions {
  epoch?: string;
  retention?: Partial<Retention>;
  now?: () => number;
}

export function createMemoryEventLog(options: MemoryEventLogOptions = {}): EventLog {
  const epoch = options.epoch ?? newEpoch();
  const retention = { ...DEFAULT_RETENTION, ...options.retention };
  const now = options.now ?? Date.now;
  const orgs = new Map<string, OrgLog>();

  function orgLog(org: string): OrgLog {
    let log = orgs.get(org);
    if (!log) {
      log = { events: [], trimmedThrough: 0, headSeq: 0, listeners: new Set() };
      orgs.set(org, log);
    }
    return log;
  }

  function trimOrg(log: OrgLog, at: number): number {
    const oldestAllowed = at - retention.maxAgeMs;
    let drop = Math.max(0, log.events.length - retention.maxEventsPerOrg);
    while (drop < log.events.length && (log.events[drop]?.ts ?? Infinity) < oldestAllowed) drop++;
    if (drop === 0) return 0;
    log.events.splice(0, drop);
    log.trimmedThrough += drop;
    return drop;
  }

  return {
    epoch,
    async append(input: EventInput): Promise<StreamEvent> {
      const log = orgLog(input.org);
      log.headSeq += 1;
      const event: StreamEvent = {
        id: formatCursor({ epoch, seq: log.headSeq }),
        org: input.org,
        service: input.service,
        type: input.type,
        data: input.data,
        ts: now(),
      };
      log.events.push(event);
      if (log.events.length > retention.maxEventsPerOrg) trimOrg(log, event.ts);
      for (const listener of log.listeners) {
        // The event is stored: a failing subscriber must not make append reject (the publisher would retry → duplicate).
        try {
          listener(event);
        } catch (error) {
          queueMicrotask(() => {
            throw error;
          });
        }
      }
      return event;
    },
    async read(org: string, after: Cursor | null, limit: number): Promise<ReadResult> {
      const log = orgLog(org);
      const head = formatCursor({ epoch, seq: log.headSeq });
      const decision = classifyRead(epoch, after, log.headSeq, log.trimmedThrough);
      if (decision.kind === 'reset') return { kind: 'reset', reason: decision.reason, lost: decision.lost, head };
      const start = decision.fromSeq - log.trimmedThrough;
      return { kind: 'events', events: log.events.slice(start, start + limit), head };
    },
    async head(org: string): Promise<string> {
      return formatCursor({ epoch, seq: orgs.get(org)?.headSeq ?? 0 });
    },
    subscribe(org: string, listener: EventListener): () => void {
      const log = orgLog(org);
      log.listeners.add(listener);
      return () => log.listeners.delete(listener);
    },
    async trim(at = now()): Promise<number> {
      let removed = 0;
      for (const log of orgs.values()) removed += trimOrg(log, at);
      return removed;
    },
    async close(): Promise<void> {
      for (const log of orgs.values()) log.listeners.clear();
    },
  };
}

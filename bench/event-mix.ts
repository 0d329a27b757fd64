/**
 * A realistic, seeded mix of event payloads: JSON of 150–2,000 bytes as apps publish them
 * (invoices with line items, task moves, chat messages, audit records). Text comes from small
 * vocabularies with random ids and amounts, so it compresses like real JSON: neither random
 * bytes (incompressible) nor one repeated string (unrealistically compressible).
 */

/** A payload to publish: what `POST /v1/events` takes, minus the org. */
export interface MixedEvent {
  service: string;
  type: string;
  data: Record<string, unknown>;
}

export interface EventMix {
  next(): MixedEvent;
}

/** mulberry32: a small seeded PRNG, so every run publishes the same mix. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  'invoice payment approved pending review quarterly budget customer account region north south ' +
  'shipment delayed warehouse priority sprint backlog design deploy release hotfix meeting agenda ' +
  'contract renewal discount tax total net gross ledger reconcile export import report summary ' +
  'the a of to for with on in and please check updated attached thanks team today tomorrow'
).split(' ');
const NAMES = ['Ada Lovelace', 'Grace Hopper', 'Alan Turing', 'Katherine Johnson', 'Linus Pauling', 'Mary Jackson', 'Edsger Dijkstra'];
const CURRENCIES = ['EUR', 'USD', 'GBP', 'CHF'];
const STATUSES = ['todo', 'doing', 'review', 'done'];

/** The smallest and largest serialized `data` the mix aims at (bytes of JSON). */
export const MIX_MIN_BYTES = 150;
export const MIX_MAX_BYTES = 2000;

export function createEventMix(seed = 42): EventMix {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const hex = (length: number) => {
    let out = '';
    while (out.length < length) out += Math.floor(random() * 0x100000000).toString(16).padStart(8, '0');
    return out.slice(0, length);
  };
  const uuid = () => `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`;
  const sentence = (words: number) => Array.from({ length: words }, () => pick(WORDS)).join(' ');
  const amount = () => Math.round(random() * 1_000_000) / 100;
  const iso = () => new Date(Date.UTC(2025, Math.floor(random() * 12), 1 + Math.floor(random() * 28), Math.floor(random() * 24))).toISOString();

  function invoice(lines: number): MixedEvent {
    return {
      service: 'finance',
      type: 'invoice.posted',
      data: {
        invoiceId: uuid(),
        number: `INV-${Math.floor(random() * 1e6)}`,
        customer: { id: uuid(), name: pick(NAMES) },
        currency: pick(CURRENCIES),
        issuedAt: iso(),
        lines: Array.from({ length: lines }, () => ({ sku: `SKU-${hex(6)}`, description: sentence(4), quantity: 1 + Math.floor(random() * 9), unitPrice: amount() })),
        total: amount(),
      },
    };
  }

  function taskMoved(): MixedEvent {
    return {
      service: 'orders',
      type: 'task.moved',
      data: { taskId: uuid(), title: sentence(3 + Math.floor(random() * 6)), from: pick(STATUSES), to: pick(STATUSES), by: pick(NAMES), at: iso() },
    };
  }

  function chatMessage(words: number): MixedEvent {
    return {
      service: 'chat',
      type: 'message.created',
      data: { messageId: uuid(), channel: `#${pick(WORDS)}`, author: pick(NAMES), text: sentence(words), mentions: [pick(NAMES)], at: iso() },
    };
  }

  function audit(entries: number): MixedEvent {
    return {
      service: 'audit',
      type: 'record.changed',
      data: {
        recordId: uuid(),
        actor: pick(NAMES),
        changes: Array.from({ length: entries }, () => ({ field: pick(WORDS), before: sentence(2), after: sentence(2) })),
        at: iso(),
      },
    };
  }

  // Weights: many small events, some medium, a few large ones (as app feeds look).
  return {
    next() {
      const roll = random();
      if (roll < 0.35) return taskMoved();
      if (roll < 0.6) return chatMessage(8 + Math.floor(random() * 40));
      if (roll < 0.85) return audit(2 + Math.floor(random() * 10));
      return invoice(3 + Math.floor(random() * 15));
    },
  };
}

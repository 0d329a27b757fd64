/**
 * Demo traffic for `npm start`: a few realistic events a second for orgs 456 and 789, appended
 * through the same path as the publish API, so they are durable and counted like real ones.
 */
import type { EventInput, StreamEvent } from '../protocol/index.ts';
import type { Logger } from './logger.ts';

export const DEMO_ORGS = ['456', '789'] as const;

const CUSTOMERS = ['Acme GmbH', 'Globex', 'Initech', 'Umbrella Ltd', 'Hooli', 'Stark Industries', 'Wayne Enterprises'];
const PEOPLE = ['ana', 'ben', 'chen', 'dara', 'emil', 'fatima'];
const LINES = [
  'Can someone check the Q3 numbers?',
  'Shipped the hotfix, watching the dashboards.',
  'Invoice run is done for today.',
  'Customer asked for an ETA on their order.',
  'Standup in 5.',
  'Thanks, that fixed it!',
];

export interface DemoPublisher {
  stop(): void;
}

/** Generators of one realistic event each. `n` is a running number, `random` a [0,1) source. */
export function demoEvent(org: string, n: number, random: () => number = Math.random): EventInput {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const amount = Math.round((50 + random() * 9950) * 100) / 100;
  const kinds: Array<() => EventInput> = [
    () => ({ org, service: 'finance', type: 'invoice.posted', data: { invoiceId: `INV-${org}-${10000 + n}`, customer: pick(CUSTOMERS), amount, currency: 'EUR' } }),
    () => ({ org, service: 'finance', type: 'payment.received', data: { paymentId: `PAY-${org}-${20000 + n}`, invoiceId: `INV-${org}-${10000 + Math.max(0, n - 3)}`, amount, method: pick(['sepa', 'card', 'wire']) } }),
    () => ({ org, service: 'orders', type: 'order.created', data: { orderId: `ORD-${org}-${30000 + n}`, customer: pick(CUSTOMERS), items: 1 + Math.floor(random() * 6), total: amount } }),
    () => ({ org, service: 'orders', type: 'order.shipped', data: { orderId: `ORD-${org}-${30000 + Math.max(0, n - 5)}`, carrier: pick(['DHL', 'UPS', 'DPD']), tracking: `TRK${Math.floor(random() * 1e9)}` } }),
    () => ({ org, service: 'chat', type: 'message.sent', data: { channel: pick(['#general', '#finance', '#ops']), author: pick(PEOPLE), text: pick(LINES) } }),
  ];
  return pick(kinds)();
}

/** Publishes one demo event every ~`intervalMs` (jittered) until stopped. */
export function startDemoPublisher(publish: (input: EventInput) => Promise<StreamEvent>, intervalMs: number, logger: Logger): DemoPublisher {
  let n = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    const org = DEMO_ORGS[n % DEMO_ORGS.length] ?? '456';
    publish(demoEvent(org, n++)).catch((error: unknown) => logger.warn('demo', 'demo publish failed', { error: String(error) }));
    timer = setTimeout(tick, intervalMs * (0.5 + Math.random()));
    timer.unref();
  };
  timer = setTimeout(tick, intervalMs);
  timer.unref();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

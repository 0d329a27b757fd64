/**
 * The load generator: ONE child process that opens every client socket of a case, publishes at
 * a fixed rate or at saturation, and measures deliveries/s and publish→receive latency.
 * Commands (from the runner, over IPC): see LoadGeneratorCommands in load-types.ts.
 *
 * Saturation is closed-loop: `inFlight` events are outstanding at any time, and the next one is
 * published when an event has reached every socket of its org. That keeps the pipeline full
 * without letting unbounded queues build up in either process, so the figure is the rate the
 * server sustains, not how fast it can buffer.
 */
import { createDeliveryTracker, type DeliveryTracker, type TrackedSocket } from './delivery-tracker.ts';
import { createEventMix } from './event-mix.ts';
import { sendNotice, serveCommands } from './ipc.ts';
import { wallClockMs } from './latency-recorder.ts';
import type { ConnectParams, DeliverOneResult, LoadGeneratorCommands, LoadParams, LoadResult } from './load-types.ts';
import { clientFor, type PeerSession } from './peers/index.ts';
import type { ClientConnection } from './peers/client-types.ts';
import { installSyncInflate } from './peers/sync-inflate.ts';
import { runReplay } from './replay-client.ts';
import { createWireMeter } from './wire-meter.ts';

const CONNECT_CONCURRENCY = 64;
/** An in-flight event not complete after this long frees its slot (its deliveries still count). */
const SLOT_TIMEOUT_MS = 5000;

interface OpenSocket {
  tracked: TrackedSocket;
  connection: ClientConnection;
}

installSyncInflate();
const meter = createWireMeter();
const mix = createEventMix(42);
let session: PeerSession | null = null;
let sockets: OpenSocket[] = [];
let orgs: string[] = [];
const openPerOrg = new Map<string, number>();
let tracker: DeliveryTracker | null = null;
let nextSeq = 1;
const closeCodes: Record<string, number> = {};

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function orgNames(count: number): string[] {
  return Array.from({ length: count }, (_, index) => `org-${index}`);
}

async function connect(params: ConnectParams) {
  const started = wallClockMs();
  orgs = orgNames(params.orgs);
  session = await clientFor(params.peer).prepare(params.url, orgs, (socket) => meter.exclude(socket));
  const current = session;
  const errors: string[] = [];
  let failed = 0;
  let index = 0;
  const worker = async () => {
    while (index < params.sockets) {
      const org = orgs[index++ % orgs.length] as string;
      const tracked: TrackedSocket = { org, lastSeq: 0, open: true };
      try {
        const connection = await current.connect(
          org,
          {
            onEvents(stamps) {
              const now = wallClockMs();
              for (const stamp of stamps) tracker?.delivered(tracked, stamp.benchSeq, stamp.sentAt, now);
            },
            onClose(code) {
              closeCodes[code] = (closeCodes[code] ?? 0) + 1;
              if (tracked.open) openPerOrg.set(org, (openPerOrg.get(org) ?? 1) - 1);
              if (tracker) tracker.socketClosed(tracked);
              else tracked.open = false;
            },
          },
          params.deflate,
        );
        sockets.push({ tracked, connection });
        openPerOrg.set(org, (openPerOrg.get(org) ?? 0) + 1);
      } catch (error) {
        failed += 1;
        if (errors.length < 5) errors.push(error instanceof Error ? error.message : String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: CONNECT_CONCURRENCY }, worker));
  return { connected: sockets.length, failed, ms: Math.round(wallClockMs() - started), errors };
}

function publishEvent(current: PeerSession, seq: number, org: string, sentAt: number, minBytes = 0): Promise<void> {
  let event = mix.next();
  while (JSON.stringify(event.data).length < minBytes) event = mix.next();
  const { service, type, data } = event;
  return current.publish({ org, service, type, data: { ...data, benchSeq: seq, sentAt } });
}

async function waitUntil(done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) await sleep(20);
}

async function load(params: LoadParams): Promise<LoadResult> {
  const current = session;
  if (!current || sockets.length === 0) throw new Error('load before connect');
  for (const key of Object.keys(closeCodes)) delete closeCodes[key];
  const inFlightSlots = new Map<number, NodeJS.Timeout>();
  let stopped = false;
  let published = 0;
  let publishErrors = 0;
  let orgCursor = 0;

  const freeSlot = (seq: number) => {
    const timer = inFlightSlots.get(seq);
    if (timer === undefined) return;
    clearTimeout(timer);
    inFlightSlots.delete(seq);
    if (params.mode === 'saturation') setImmediate(publishSaturated);
  };
  const run = createDeliveryTracker((org) => openPerOrg.get(org) ?? 0, freeSlot);
  tracker = run;

  const start = wallClockMs();
  const windowStart = start + params.warmupMs;
  const windowEnd = windowStart + params.measureMs;
  run.setWindow(windowStart, windowEnd);

  function publishOne(sentAt: number): void {
    const seq = nextSeq++;
    const org = orgs[orgCursor++ % orgs.length] as string;
    const measured = sentAt >= windowStart && sentAt < windowEnd;
    if (measured) published += 1;
    if (params.mode === 'saturation') inFlightSlots.set(seq, setTimeout(() => freeSlot(seq), SLOT_TIMEOUT_MS));
    run.published(seq, org, measured);
    publishEvent(current as PeerSession, seq, org, sentAt).catch(() => {
      publishErrors += 1;
      freeSlot(seq);
    });
  }

  function publishSaturated(): void {
    while (!stopped && inFlightSlots.size < params.inFlight) publishOne(wallClockMs());
  }

  // Fixed rate: event i is due at start + i/rate and stamped with that due time, so a publisher
  // that falls behind shows up as latency instead of silently publishing less (coordinated omission).
  let due = 0;
  function publishFixed(): void {
    if (stopped) return;
    const now = wallClockMs();
    const interval = 1000 / params.rate;
    while (start + due * interval <= now) publishOne(start + due++ * interval);
    setTimeout(publishFixed, Math.max(0, start + due * interval - wallClockMs()));
  }

  let cpuAtStart = process.cpuUsage();
  let bytesAtStart = 0;
  const windowOpened = new Promise<void>((resolve) =>
    setTimeout(() => {
      cpuAtStart = process.cpuUsage();
      bytesAtStart = meter.bytesRead();
      sendNotice('window-start');
      resolve();
    }, params.warmupMs),
  );
  if (params.mode === 'saturation') publishSaturated();
  else publishFixed();
  await windowOpened;
  await sleep(Math.max(0, windowEnd - wallClockMs()));
  stopped = true;
  sendNotice('window-end');
  const cpu = process.cpuUsage(cpuAtStart);
  const bytes = meter.bytesRead() - bytesAtStart;
  const measuredMs = wallClockMs() - windowStart;
  await waitUntil(() => run.outstanding() === 0, params.drainMs);
  for (const timer of inFlightSlots.values()) clearTimeout(timer);
  tracker = null;
  const counts = run.counts();
  return {
    mode: params.mode,
    rate: params.mode === 'fixed' ? params.rate : null,
    inFlight: params.mode === 'saturation' ? params.inFlight : null,
    measuredMs: Math.round(measuredMs),
    published,
    publishErrors,
    deliveries: counts.deliveries,
    deliveriesPerSec: Math.round((counts.deliveries * 1000) / measuredMs),
    eventsPerSec: Math.round((published * 10_000) / measuredMs) / 10,
    expected: counts.expected,
    missing: counts.missing,
    latency: counts.latency,
    wireBytesPerDelivery: counts.deliveries > 0 ? Math.round((bytes / counts.deliveries) * 10) / 10 : null,
    closedSockets: Object.values(closeCodes).reduce((sum, count) => sum + count, 0),
    closeCodes: { ...closeCodes },
    loadGeneratorCpuPercent: Math.round(((cpu.user + cpu.system) / 1000 / measuredMs) * 100),
  };
}

async function deliverOne({ minBytes }: { minBytes: number }): Promise<DeliverOneResult> {
  const current = session;
  if (!current) throw new Error('deliverOne before connect');
  const run = createDeliveryTracker((org) => openPerOrg.get(org) ?? 0, () => {});
  tracker = run;
  const started = wallClockMs();
  run.setWindow(started, Infinity);
  const bytesBefore = meter.bytesRead();
  for (const org of orgs) {
    const seq = nextSeq++;
    run.published(seq, org, true);
    await publishEvent(current, seq, org, wallClockMs(), minBytes);
  }
  await waitUntil(() => run.outstanding() === 0, 10_000);
  tracker = null;
  const counts = run.counts();
  return {
    delivered: counts.deliveries,
    expected: counts.expected,
    ms: Math.round(wallClockMs() - started),
    wireBytesPerDelivery: counts.deliveries > 0 ? Math.round(((meter.bytesRead() - bytesBefore) / counts.deliveries) * 10) / 10 : null,
  };
}

async function disconnect() {
  const started = wallClockMs();
  for (const { tracked, connection } of sockets) {
    tracked.open = false;
    connection.close();
  }
  sockets = [];
  openPerOrg.clear();
  session?.close();
  session = null;
  // Let close frames go out before the runner stops the server.
  await sleep(200);
  return { ms: Math.round(wallClockMs() - started) };
}

serveCommands<LoadGeneratorCommands>({ connect, load, deliverOne, disconnect, replay: runReplay });

/**
 * Scale-out: the same load against one server process on the embedded SQLite log, one on Redis
 * Streams, and two on one Redis (sockets split evenly, every publish through the first process,
 * so half of the deliveries cross processes through Redis). Deliveries/s at saturation and at a
 * fixed rate, publish→receive latency (the load generator), and `POST /v1/events` → 201 latency.
 *
 * The servers are `server/main.ts` as plain processes configured only by the environment, as an
 * operator runs them (server/server-process.ts), on a real redis-server configured for durability
 * (server/redis-test-server.ts: AOF fsynced before every reply). They answer no bench IPC, so
 * their CPU and RSS are read from /proc when the load generator announces the window's edges.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// Test support of server/ (not part of what server/index.ts offers), imported directly as e2e/ does.
import { startRedisTestServer, type RedisTestServer } from '../../server/redis-test-server.ts';
import { startServerProcess, type ServerProcess } from '../../server/server-process.ts';
import { MiB, type BenchContext } from '../bench-context.ts';
import { createEventMix } from '../event-mix.ts';
import { createHttpPublisher } from '../http-publisher.ts';
import { createLatencyRecorder } from '../latency-recorder.ts';
import type { ConnectResult, LoadParams } from '../load-types.ts';
import type { ScaleOutSize } from '../params.ts';
import { fetchDevToken } from '../peers/index.ts';
import type { ProcessUsage, PublishLatency, ScaleOutCase, ScaleOutLoad } from '../results-types.ts';

interface Deployment {
  readonly processes: ServerProcess[];
  readonly redisPid: number | null;
  stop(): Promise<void>;
}

/** One deployment to measure. */
export interface ScaleOutSpec {
  label: string;
  store: 'sqlite' | 'redis';
  processes: number;
}

/** The three cases, baseline first (the report divides by it). */
export const SCALE_OUT_CASES: readonly ScaleOutSpec[] = [
  { label: 'SQLite, 1 process', store: 'sqlite', processes: 1 },
  { label: 'Redis, 1 process', store: 'redis', processes: 1 },
  { label: 'Redis, 2 processes', store: 'redis', processes: 2 },
];

const STOP_GRACE_MS = 5000;
const NOT_CONNECTED: ConnectResult = { connected: 0, failed: 0, ms: 0, errors: [] };
const round1 = (value: number) => Math.round(value * 10) / 10;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface ProcSample {
  cpuMs: number;
  systemMs: number;
  rssBytes: number;
  at: number;
}

let ticksPerSecond: number | null = null;

/** /proc counts CPU time in clock ticks (USER_HZ, 100 on Linux nearly everywhere). */
function ticksToMs(ticks: number): number {
  if (ticksPerSecond === null) {
    try {
      const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
      ticksPerSecond = Number.isFinite(value) && value > 0 ? value : 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return (ticks * 1000) / ticksPerSecond;
}

/** CPU (user + system) and RSS of `pid` now; null when the process is gone. */
function sampleProcess(pid: number): ProcSample | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may hold spaces and parentheses: count fields from the last ')'. After it come
    // field 3 (state) … field 14 (utime) and 15 (stime), in clock ticks.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const user = Number(fields[11]);
    const system = Number(fields[12]);
    const rssKiB = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? Number.NaN);
    if (![user, system, rssKiB].every(Number.isFinite)) return null;
    return { cpuMs: ticksToMs(user + system), systemMs: ticksToMs(system), rssBytes: rssKiB * 1024, at: performance.now() };
  } catch {
    return null;
  }
}

/** CPU time all cores spent busy so far (ms), from the first line of /proc/stat. */
function machineBusyMs(): number {
  try {
    const [user, nice, system, , , irq, softirq, steal] = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
    const busy = [user, nice, system, irq, softirq, steal].reduce<number>((sum, value) => sum + (value ?? 0), 0);
    return Number.isFinite(busy) ? ticksToMs(busy) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

function usageBetween(start: ProcSample, end: ProcSample): ProcessUsage {
  const cpuMs = end.cpuMs - start.cpuMs;
  return {
    cpuPercent: Math.round((cpuMs / Math.max(1, end.at - start.at)) * 100),
    systemShare: cpuMs > 0 ? Math.round(((end.systemMs - start.systemMs) / cpuMs) * 100) / 100 : 0,
    rssMiB: round1(end.rssBytes / MiB),
  };
}

/** The redis-server listening on `port`: Debian's names its process `redis-server 127.0.0.1:PORT`. */
function findRedisPid(port: number): number | null {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmdline.includes('redis-server') && (cmdline.includes(`:${port} `) || cmdline.includes(`--port ${port} `) || cmdline.trimEnd().endsWith(`:${port}`))) return Number(entry);
    } catch {
      // A process that ended while we looked.
    }
  }
  return null;
}

function packageVersion(name: string): string {
  try {
    const json: unknown = JSON.parse(readFileSync(createRequire(import.meta.url).resolve(`${name}/package.json`), 'utf8'));
    return typeof json === 'object' && json !== null && 'version' in json && typeof json.version === 'string' ? json.version : 'unknown';
  } catch {
    return 'not installed';
  }
}

function redisServerVersion(): string {
  try {
    return /v=(\S+)/.exec(execFileSync('redis-server', ['--version'], { encoding: 'utf8' }))?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function storeNote(store: ScaleOutSpec['store']): string {
  if (store === 'sqlite') return `better-sqlite3 ${packageVersion('better-sqlite3')}, WAL, synchronous=FULL, a temp dir`;
  return `redis-server ${redisServerVersion()} on loopback (appendonly yes, appendfsync always), ioredis ${packageVersion('ioredis')}`;
}

/**
 * `spec.processes` server processes on a fresh store. Every process signs tokens with one secret
 * (a token from one works on the others); the socket cap and heartbeat are lifted so the bench's
 * one user can hold every socket and no ping lands in a measure window; no trimming.
 */
async function startDeployment(spec: ScaleOutSpec): Promise<Deployment> {
  let redis: RedisTestServer | null = null;
  let dataDir: string | null = null;
  const started: ServerProcess[] = [];
  const stop = async () => {
    // SIGTERM closes sockets and the log cleanly; a process that hangs on it is killed.
    await Promise.all(started.map((server) => Promise.race([server.kill('SIGTERM'), sleep(STOP_GRACE_MS)]).then(() => server.kill('SIGKILL'))));
    await redis?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    if (spec.store === 'redis') redis = await startRedisTestServer();
    else dataDir = mkdtempSync(join(tmpdir(), 'realtime-bench-scale-'));
    const env: Record<string, string> = {
      REALTIME_TOKEN_SECRET: randomBytes(32).toString('hex'),
      REALTIME_MAX_SOCKETS_PER_USER: '1000000',
      REALTIME_HEARTBEAT_MS: String(10 * 60_000),
      REALTIME_TRIM_INTERVAL_MS: '0',
      // Explicit either way: the runner's own environment must not pick the store.
      REALTIME_STORE: redis ? redis.url : 'sqlite',
      ...(dataDir ? { REALTIME_DATA_DIR: dataDir } : {}),
    };
    const results = await Promise.allSettled(Array.from({ length: spec.processes }, () => startServerProcess({ env, startTimeoutMs: 30_000 })));
    for (const result of results) if (result.status === 'fulfilled') started.push(result.value);
    const failed = results.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
    return { processes: started, redisPid: redis ? findRedisPid(redis.port) : null, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function poolStats(url: string): Promise<{ connections: number; subscriptions: number }> {
  const response = await fetch(`${url}/v2/realtime/metrics`);
  if (!response.ok) throw new Error(`${url}/v2/realtime/metrics answered ${response.status}`);
  const body = (await response.json()) as { activeConnections?: unknown; connectionPoolStats?: { totalSubscriptions?: unknown } };
  return {
    connections: typeof body.activeConnections === 'number' ? body.activeConnections : -1,
    subscriptions: typeof body.connectionPoolStats?.totalSubscriptions === 'number' ? body.connectionPoolStats.totalSubscriptions : -1,
  };
}

/** Splits `sockets` over `processes` as evenly as they go, the first ones getting the remainder. */
function splitSockets(sockets: number, processes: number): number[] {
  return Array.from({ length: processes }, (_, index) => Math.floor(sockets / processes) + (index < sockets % processes ? 1 : 0));
}

/**
 * Opens the sockets, split over the processes. The load generator's `connect` adds to the sockets
 * already open and makes its new session the publisher, so the publishing process comes last.
 */
async function connectSplit(ctx: BenchContext, processes: ServerProcess[], size: ScaleOutSize): Promise<ConnectResult> {
  const shares = splitSockets(size.sockets, processes.length);
  const total: ConnectResult = { ...NOT_CONNECTED, errors: [] };
  for (let index = processes.length - 1; index >= 0; index--) {
    const result = await ctx.loadGenerator.request('connect', { peer: 'ours', url: (processes[index] as ServerProcess).url, sockets: shares[index] ?? 0, orgs: size.orgs, deflate: false });
    // `connected` counts every socket the load generator holds, those of earlier calls included.
    total.connected = result.connected;
    total.failed += result.failed;
    total.ms += result.ms;
    total.errors.push(...result.errors);
  }
  return total;
}

/** One load from the load generator, with every server's (and Redis's) CPU read at the window's edges. */
async function measure(ctx: BenchContext, deployment: Deployment, load: LoadParams): Promise<ScaleOutLoad> {
  const pids = [...deployment.processes.map((server) => server.pid), ...(deployment.redisPid === null ? [] : [deployment.redisPid])];
  interface Edge {
    processes: Array<ProcSample | null>;
    machineBusyMs: number;
    at: number;
  }
  const edges: { start?: Edge; end?: Edge } = {};
  const edge = (): Edge => ({ processes: pids.map(sampleProcess), machineBusyMs: machineBusyMs(), at: performance.now() });
  const listener = (notice: string) => {
    if (notice === 'window-start') edges.start = edge();
    if (notice === 'window-end') edges.end = edge();
  };
  ctx.loadGenerator.onNotice(listener);
  try {
    const result = await ctx.loadGenerator.request('load', load);
    const { start, end } = edges;
    if (!start || !end) throw new Error('the measure window was not announced');
    const usage = (index: number): ProcessUsage | null => {
      const first = start.processes[index];
      const last = end.processes[index];
      return first && last ? usageBetween(first, last) : null;
    };
    const servers = deployment.processes.map((server, index) => {
      const found = usage(index);
      if (!found) throw new Error(`server process ${server.pid} is gone:\n${server.output().slice(-2000)}`);
      return found;
    });
    const redis = deployment.redisPid === null ? null : usage(deployment.processes.length);
    // Whatever else ran on the machine in the window: it took CPU from the processes measured.
    const machinePercent = ((end.machineBusyMs - start.machineBusyMs) / Math.max(1, end.at - start.at)) * 100;
    const ours = servers.reduce((sum, server) => sum + server.cpuPercent, 0) + (redis?.cpuPercent ?? 0) + result.loadGeneratorCpuPercent;
    const otherCpuPercent = Number.isFinite(machinePercent) ? Math.max(0, Math.round(machinePercent - ours)) : null;
    return { load: result, servers, redis, otherCpuPercent };
  } finally {
    ctx.loadGenerator.offNotice(listener);
  }
}

/**
 * `POST /v1/events` → 201 at `rate` events/s (open loop, the mix's payloads, orgs round-robin)
 * through `url` while every socket is subscribed, so each accepted event also fans out. Only
 * requests sent inside the measure window count; each is timed from its send to its answer.
 */
async function measurePublishLatency(url: string, size: ScaleOutSize, drainMs: number): Promise<PublishLatency> {
  const orgs = Array.from({ length: size.orgs }, (_, index) => `org-${index}`);
  const publisher = createHttpPublisher({ url: `${url}/v1/events`, authorization: `Bearer ${await fetchDevToken(url, orgs)}` });
  const mix = createEventMix(99);
  const recorder = createLatencyRecorder();
  const inFlight = new Set<Promise<void>>();
  const interval = 1000 / size.rate;
  const start = performance.now();
  const windowStart = start + size.warmupMs;
  const windowEnd = windowStart + size.measureMs;
  let sent = 0;
  let published = 0;
  let errors = 0;
  // Once the drain is over, late answers (or the errors of closing the publisher) count no more.
  let settled = false;

  const send = () => {
    const sentAt = performance.now();
    const measured = sentAt >= windowStart;
    const request = publisher
      .publish({ org: orgs[sent % orgs.length] as string, ...mix.next() })
      .then(
        () => {
          if (!measured || settled) return;
          recorder.record(performance.now() - sentAt);
          published += 1;
        },
        () => {
          if (measured && !settled) errors += 1;
        },
      )
      .finally(() => inFlight.delete(request));
    inFlight.add(request);
    sent += 1;
  };
  try {
    await new Promise<void>((resolve) => {
      const tick = () => {
        const now = performance.now();
        while (start + sent * interval <= now && start + sent * interval < windowEnd) send();
        if (start + sent * interval >= windowEnd) resolve();
        else setTimeout(tick, Math.max(0, start + sent * interval - performance.now()));
      };
      tick();
    });
    // Answers that never come within the drain count as errors, not as a latency.
    const answered = await Promise.race([Promise.all(inFlight).then(() => true), sleep(drainMs).then(() => false)]);
    if (!answered) errors += inFlight.size;
    settled = true;
  } finally {
    settled = true;
    publisher.close();
  }
  return { rate: size.rate, measuredMs: Math.round(windowEnd - windowStart), published, errors, latency: recorder.summary() };
}

export async function runScaleOutCase(ctx: BenchContext, spec: ScaleOutSpec, size: ScaleOutSize): Promise<ScaleOutCase> {
  const result: ScaleOutCase = {
    label: spec.label,
    store: spec.store,
    processes: spec.processes,
    sockets: size.sockets,
    orgs: size.orgs,
    storeNote: storeNote(spec.store),
    connect: NOT_CONNECTED,
    connections: [],
    subscriptions: [],
    saturation: null,
    fixed: null,
    publish: null,
    error: null,
  };
  let deployment: Deployment | null = null;
  try {
    deployment = await startDeployment(spec);
    result.connect = await connectSplit(ctx, deployment.processes, size);
    const pools = await Promise.all(deployment.processes.map((server) => poolStats(server.url)));
    result.connections = pools.map((pool) => pool.connections);
    result.subscriptions = pools.map((pool) => pool.subscriptions);
    const base = { inFlight: ctx.params.inFlight, warmupMs: size.warmupMs, measureMs: size.measureMs, drainMs: ctx.params.drainMs };
    // Saturation first: it is closed-loop and leaves no backlog; an overloaded fixed rate can.
    result.saturation = await measure(ctx, deployment, { ...base, mode: 'saturation', rate: 0 });
    result.fixed = await measure(ctx, deployment, { ...base, mode: 'fixed', rate: size.rate });
    result.publish = await measurePublishLatency((deployment.processes[0] as ServerProcess).url, size, ctx.params.drainMs);
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
  } finally {
    await ctx.loadGenerator.request('disconnect', null).catch(() => {});
    await deployment?.stop().catch((error: unknown) => {
      result.error ??= `stopping the servers failed: ${error instanceof Error ? error.message : String(error)}`;
    });
  }
  const sat = result.saturation?.load;
  const fixed = result.fixed?.load;
  ctx.log(
    `scale-out ${spec.label} ${size.sockets}×${size.orgs}: ` +
      (result.error ??
        `saturation ${sat?.deliveriesPerSec}/s p99 ${sat?.latency.p99} ms; ${fixed?.rate}/s p50 ${fixed?.latency.p50} p99 ${fixed?.latency.p99} ms; ` +
          `publish p50 ${result.publish?.latency.p50} p99 ${result.publish?.latency.p99} ms`),
  );
  return result;
}

export async function runScaleOut(ctx: BenchContext): Promise<ScaleOutCase[]> {
  const cases: ScaleOutCase[] = [];
  for (const spec of SCALE_OUT_CASES) cases.push(await runScaleOutCase(ctx, spec, ctx.params.scaleOut));
  return cases;
}

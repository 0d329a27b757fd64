/** The shape of bench/results/*.json: every figure of one run. */
import type { LatencySummary } from './latency-recorder.ts';
import type { LoadResult, ReplayResult, ConnectResult, DeliverOneResult } from './load-types.ts';
import type { MachineInfo } from './machine.ts';
import type { BenchParams } from './params.ts';
import type { PeerId } from './peers/types.ts';

/** A server process's resource use over a measure window. */
export interface ServerUsage {
  /** user + system CPU ÷ wall time (100 = one core). */
  cpuPercent: number;
  /** Share of that CPU spent in the kernel (socket writes, mostly). */
  systemShare: number;
  rssMiB: number;
  rssPeakMiB: number;
  heapUsedMiB: number;
}

export interface MeasuredLoad {
  load: LoadResult;
  server: ServerUsage;
}

export interface FanOutCase {
  label: string;
  peer: PeerId;
  sockets: number;
  orgs: number;
  connect: ConnectResult;
  saturation: MeasuredLoad | null;
  /** One per fixed rate, in the order of `parameters.fanOut[].rates`. */
  fixed: MeasuredLoad[];
  error: string | null;
}

export interface CompressionCase {
  label: string;
  peer: PeerId;
  deflate: boolean;
  sockets: number;
  connect: ConnectResult;
  saturation: MeasuredLoad | null;
  error: string | null;
}

export interface MemoryFigures {
  rssMiB: number;
  heapUsedMiB: number;
  /** (RSS now − RSS before any socket) ÷ sockets, in KiB. */
  rssPerConnectionKiB: number;
  heapPerConnectionKiB: number;
}

export interface MemoryCase {
  label: string;
  peer: PeerId;
  deflate: boolean;
  sockets: number;
  connect: ConnectResult;
  baseline: { rssMiB: number; heapUsedMiB: number } | null;
  idle: MemoryFigures | null;
  /** After one event reached every socket (zlib state is allocated lazily, on the first compressed message). */
  afterFirstMessage: (MemoryFigures & { delivery: DeliverOneResult }) | null;
  error: string | null;
}

export interface ReplayCase {
  store: 'memory' | 'sqlite';
  events: number;
  runs: ReplayResult[];
  /** Median and max over runs of connect→live. */
  medianConnectToLiveMs: number | null;
  maxConnectToLiveMs: number | null;
  seamIntactEveryRun: boolean;
  /** How long seeding the log took (not part of the replay time). */
  seedMs: number;
  error: string | null;
}

export interface BrowserTabsCase {
  tabs: number;
  /** publish→render (renderedAt − event ts) over every tab. */
  renderLatency: { count: number; p50: number; p99: number; max: number } | null;
  /** activeConnections on the server while the tabs were open. */
  serverConnections: number | null;
}

export interface TransportCost {
  transport: 'v1' | 'v2';
  /** HTTP requests (v1 polls, or v2 upgrade) and bytes both ways per tab, scaled to one hour. */
  requestsPerTabHour: number;
  bytesPerTabHour: number;
  measuredMs: number;
  eventsPerSec: number;
}

export interface BrowserResult {
  skipped: string | null;
  tabs: BrowserTabsCase[];
  cost: TransportCost[];
  error: string | null;
}

/** A process's CPU and RSS over a measure window, read from /proc (the scale-out servers are plain processes). */
export interface ProcessUsage {
  /** user + system CPU ÷ wall time (100 = one core). */
  cpuPercent: number;
  /** Share of that CPU spent in the kernel. */
  systemShare: number;
  rssMiB: number;
}

export interface ScaleOutLoad {
  load: LoadResult;
  /** Each server process, in the case's order (the first one takes every publish). */
  servers: ProcessUsage[];
  /** redis-server (Redis cases; null for SQLite or when its process was not found). */
  redis: ProcessUsage | null;
  /**
   * Machine CPU in the window not spent by the servers, Redis or the load generator (the runner and
   * anything else running): other work skews the figures. Null where /proc/stat could not be read.
   */
  otherCpuPercent: number | null;
}

/** `POST /v1/events` → `201`, timed by the runner at the fixed rate with every socket subscribed. */
export interface PublishLatency {
  rate: number;
  measuredMs: number;
  published: number;
  errors: number;
  latency: LatencySummary;
}

export interface ScaleOutCase {
  /** e.g. `SQLite, 1 process`, `Redis, 2 processes`. */
  label: string;
  store: 'sqlite' | 'redis';
  processes: number;
  sockets: number;
  orgs: number;
  /** How the store was configured (durability), and its version. */
  storeNote: string;
  connect: ConnectResult;
  /** `activeConnections` and `connectionPoolStats.totalSubscriptions` of each process once connected. */
  connections: number[];
  subscriptions: number[];
  saturation: ScaleOutLoad | null;
  fixed: ScaleOutLoad | null;
  publish: PublishLatency | null;
  error: string | null;
}

export interface TargetCheck {
  target: string;
  /** null: not measured in this run. */
  met: boolean | null;
  figure: string;
}

export interface BenchResults {
  quick: boolean;
  startedAt: string;
  durationMs: number;
  machine: MachineInfo;
  parameters: BenchParams;
  /** Anything the run changed or could not do (fd limit, missing pieces). */
  notes: string[];
  fanOut: FanOutCase[];
  compression: CompressionCase[];
  memory: MemoryCase[];
  replay: ReplayCase[];
  browser: BrowserResult;
  /** Absent in results written before the scale-out scenario existed. */
  scaleOut?: ScaleOutCase[];
  targets: TargetCheck[];
}

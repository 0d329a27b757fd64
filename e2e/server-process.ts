/**
 * The real server as operators run it: `server/main.ts` in a child process, on a free loopback
 * port, with its own data directory (SQLite file). Tests talk to it only over HTTP.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');

export interface Metrics {
  activeConnections: number;
  connectionPoolStats: { totalSubscriptions: number; orgs?: Record<string, number> };
  closeCodes?: Record<string, number>;
  longPoll: { requests: number; open: number };
  events: { published: number; delivered: number; replayed: number };
  [key: string]: unknown;
}

export interface ServerProcess {
  readonly url: string;
  readonly dataDir: string;
  /** Publishes through the fixed publish API; resolves with the event id (cursor). */
  publish(org: string, service: string, type?: string, data?: unknown): Promise<string>;
  metrics(): Promise<Metrics>;
  /** The runtime kill switch (admin endpoint). */
  setStreamingV2(enabled: boolean): Promise<void>;
  /** SIGKILL (or the given signal) and wait for exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the stopped server again on the same port and data directory; resolves once it listens. */
  start(): Promise<void>;
  /** Stops (SIGTERM unless `signal` says otherwise) and starts again on the same port and data directory. */
  restart(options?: { signal?: NodeJS.Signals }): Promise<void>;
  /** A dev token (cached per org, scope and sub) for clients the test drives itself. */
  token(org: string, scope: string, sub?: string): Promise<string>;
  /** The server's stdout and stderr so far (for failure messages). */
  output(): string;
}

export interface ServerProcessOptions {
  env?: Record<string, string>;
  dataDir?: string;
}

function waitForUrl(child: ChildProcess, log: (chunk: string) => void): Promise<string> {
  return new Promise((resolveUrl, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`server did not start in 20 s:\n${output}`)), 20_000);
    const onData = (chunk: Buffer): void => {
      log(chunk.toString());
      output += chunk.toString();
      const match = /http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolveUrl(match[0]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => {
      log(chunk.toString());
      output += chunk.toString();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${output}`));
    });
  });
}

export async function startServerProcess(options: ServerProcessOptions = {}): Promise<ServerProcess> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'realtime-e2e-'));
  let port = '0';
  let child: ChildProcess;
  let url = '';
  const tokens = new Map<string, string>();
  let logTail = '';
  const log = (chunk: string): void => {
    logTail = (logTail + chunk).slice(-20_000);
  };

  async function launch(): Promise<void> {
    child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'server/main.ts')], {
      cwd: ROOT,
      env: {
        ...process.env,
        PORT: port,
        HOST: '127.0.0.1',
        REALTIME_DATA_DIR: dataDir,
        REALTIME_DEMO_PUBLISHER: 'false',
        REALTIME_TOKEN_SECRET: 'e2e-secret-e2e-secret-e2e-secret-32',
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    url = await waitForUrl(child, log);
    port = new URL(url).port;
  }

  async function token(org: string, scope: string, sub?: string): Promise<string> {
    const key = `${org}/${scope}/${sub ?? ''}`;
    const cached = tokens.get(key);
    if (cached) return cached;
    const response = await fetch(`${url}/dev/token?org=${org}&scope=${scope}${sub ? `&sub=${encodeURIComponent(sub)}` : ''}`);
    if (!response.ok) throw new Error(`dev token: ${response.status}`);
    const body = (await response.json()) as { token: string };
    tokens.set(key, body.token);
    return body.token;
  }

  async function stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    child.kill(signal);
    await exited;
  }

  await launch();
  return {
    get url() {
      return url;
    },
    dataDir,
    async publish(org, service, type = 'test.event', data = {}) {
      const response = await fetch(`${url}/v1/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await token(org, 'publish')}`, 'content-type': 'application/json' },
        body: JSON.stringify({ org, service, type, data }),
      });
      if (response.status !== 201) throw new Error(`publish answered ${response.status}: ${await response.text()}`);
      const body = (await response.json()) as { id: string };
      return body.id;
    },
    async metrics() {
      const response = await fetch(`${url}/v2/realtime/metrics`);
      return (await response.json()) as Metrics;
    },
    async setStreamingV2(enabled) {
      const response = await fetch(`${url}/admin/streaming-v2`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await token('admin', 'admin')}`, 'content-type': 'application/json' },
        body: JSON.stringify({ enabled }),
      });
      if (!response.ok) throw new Error(`kill switch answered ${response.status}: ${await response.text()}`);
    },
    stop,
    start: launch,
    async restart({ signal = 'SIGTERM' } = {}) {
      await stop(signal);
      await launch();
    },
    token,
    output: () => logTail,
  };
}

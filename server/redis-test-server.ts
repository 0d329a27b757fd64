/**
 * Test support: a real `redis-server` (Debian's package) on a free 127.0.0.1 port, with its data in
 * a temp dir, configured like production should be for this log: no RDB snapshots, an append-only
 * file fsynced at every write (`appendfsync always`), so an acknowledged append survives a restart.
 *
 * `stop()` keeps the data dir so `restart()` brings the same data back on the same port (the
 * "Redis went away and returned" fault); `close()` stops it and deletes the dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export interface RedisTestServerOptions {
  /** Path of the `redis-server` binary; default `$REDIS_SERVER`, then `PATH`, then `/usr/bin/redis-server`. */
  binary?: string;
  /** How long to wait for "Ready to accept connections" (ms). */
  startTimeoutMs?: number;
}

export interface RedisTestServer {
  /** `redis://127.0.0.1:PORT`, the form `REALTIME_STORE` takes. */
  readonly url: string;
  readonly port: number;
  /** The data dir (holds the append-only file). */
  readonly dir: string;
  /** Stops the process: SIGTERM (clean shutdown) by default, SIGKILL to simulate a crash. Keeps the data dir. */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Freezes the process (SIGSTOP): connections stay open, nothing answers (a hung Redis). */
  pause(): void;
  /** Thaws a paused process (SIGCONT). */
  resume(): void;
  /** Starts redis-server again on the same port and data dir; it replays the append-only file. */
  restart(): Promise<void>;
  /** Stops the process and deletes the data dir. */
  close(): Promise<void>;
}

const INSTALL_HINT = 'install it with `apt-get install -y redis-server` (Debian), or set REDIS_SERVER to its path';

/** Every server this process started, killed on exit so a crashed test run leaves no redis behind. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Starts a fresh redis-server. Rejects (never skips) when the binary is missing, naming the
 * command that installs it.
 */
export async function startRedisTestServer(options: RedisTestServerOptions = {}): Promise<RedisTestServer> {
  const binary = findBinary(options.binary);
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  const dir = mkdtempSync(join(tmpdir(), 'redis-test-'));
  let child: ChildProcess | null = null;
  let port = 0;

  // A free port can be taken between probing and binding it: try a few.
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      child = await launch(binary, port, dir, startTimeoutMs);
      break;
    } catch (error) {
      if (attempt >= 3) {
        rmSync(dir, { recursive: true, force: true });
        throw error;
      }
    }
  }

  const stop = async (signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> => {
    const current = child;
    child = null;
    if (!current) return;
    await terminate(current, signal);
  };

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    stop,
    pause() {
      child?.kill('SIGSTOP');
    },
    resume() {
      child?.kill('SIGCONT');
    },
    async restart() {
      await stop();
      child = await launch(binary, port, dir, startTimeoutMs);
    },
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function findBinary(explicit: string | undefined): string {
  const candidates = explicit
    ? [explicit]
    : [
        ...(process.env['REDIS_SERVER'] ? [process.env['REDIS_SERVER']] : []),
        ...(process.env['PATH'] ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, 'redis-server')),
        '/usr/bin/redis-server',
      ];
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here: try the next place.
    }
  }
  throw new Error(`redis-server not found (looked at ${candidates.join(', ')}): ${INSTALL_HINT}`);
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', resolve);
  });
  const address = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('the port probe has no TCP address');
  return address.port;
}

/** Spawns redis-server and resolves once it accepts connections; rejects with its log if it exits first. */
function launch(binary: string, port: number, dir: string, timeoutMs: number): Promise<ChildProcess> {
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    // Durability comes from the AOF alone: RDB snapshots would only add background forks.
    '--save', '',
    '--appendonly', 'yes',
    '--appendfsync', 'always',
    '--daemonize', 'no',
    '--logfile', '',
  ];
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  installExitHook();
  child.once('exit', () => running.delete(child));

  return new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(`redis-server did not become ready within ${timeoutMs} ms`);
    }, timeoutMs);
    const onOutput = (chunk: Buffer): void => {
      log += chunk.toString();
      if (/Ready to accept connections/.test(log)) {
        cleanup();
        resolve(child);
      }
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
      fail(`redis-server exited before it was ready (code ${code}, signal ${signal})`);
    const onError = (error: Error): void => fail(`redis-server could not be started: ${error.message}`);
    function cleanup(): void {
      clearTimeout(timer);
      child.stdout?.off('data', onOutput);
      child.off('exit', onExit);
      child.off('error', onError);
      // Keep draining the pipes so a chatty server never blocks on a full pipe.
      child.stdout?.resume();
      child.stderr?.resume();
    }
    function fail(message: string): void {
      cleanup();
      reject(new Error(`${message}\n${log.trim()}`));
    }
    child.stdout?.on('data', onOutput);
    child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

function terminate(child: ChildProcess, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    // SIGKILL also ends a paused (SIGSTOPped) server.
    for (const child of running) child.kill('SIGKILL');
  });
}

/**
 * Test support: the real server as a child process (`node --import tsx server/main.ts`, what
 * `npm run serve` runs), configured only through the environment, on 127.0.0.1 and a free port.
 * Several of them on one Redis are the scale-out deployment under test.
 *
 * Every process started here is SIGKILLed when the test process exits, and `stopServerProcesses()`
 * (in `afterEach`) ends those a test left running, so a failed test leaves nothing behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export interface ServerProcess {
  /** `http://127.0.0.1:PORT`, as main.ts printed it. */
  readonly url: string;
  /** `ws://127.0.0.1:PORT/v2/realtime/stream` */
  readonly wsUrl: string;
  readonly pid: number;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves once the process has exited. */
  readonly exited: Promise<void>;
  /** Sends `signal` and resolves once the process has exited. */
  kill(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
}

export interface ServerProcessOptions {
  /** Added to the environment (PORT=0, HOST=127.0.0.1 and no demo publisher unless set here). */
  env: Record<string, string>;
  /** How long to wait for the start line. Default 15 s. */
  startTimeoutMs?: number;
}

const MAIN = join(import.meta.dirname, 'main.ts');
const ROOT = join(import.meta.dirname, '..');
const START_LINE = /Realtime Streaming on (http:\/\/127\.0\.0\.1:\d+)/;

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Starts `server/main.ts` and resolves once it printed its URL; rejects with its output if it exits first. */
export function startServerProcess({ env, startTimeoutMs = 15_000 }: ServerProcessOptions): Promise<ServerProcess> {
  installExitHook();
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', NODE_ENV: 'development', REALTIME_DEMO_PUBLISHER: 'false', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let output = '';
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      running.delete(child);
      resolve();
    });
  });
  const collect = (chunk: Buffer) => (output += chunk.toString());
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);

  return new Promise<ServerProcess>((resolve, reject) => {
    const timer = setTimeout(() => fail(`no start line within ${startTimeoutMs} ms`), startTimeoutMs);
    const onData = () => {
      const match = START_LINE.exec(output);
      if (!match) return;
      cleanup();
      const url = match[1] as string;
      resolve({
        url,
        wsUrl: `${url.replace(/^http/, 'ws')}/v2/realtime/stream`,
        pid: child.pid ?? 0,
        output: () => output,
        exited,
        async kill(signal = 'SIGTERM') {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          await exited;
        },
      });
    };
    const onExit = () => fail('the server exited before it was ready');
    function cleanup(): void {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.off('exit', onExit);
    }
    function fail(why: string): void {
      cleanup();
      child.kill('SIGKILL');
      reject(new Error(`${why}:\n${output.trim()}`));
    }
    child.stdout.on('data', onData);
    child.once('exit', onExit);
  });
}

/** SIGKILLs every server process still running and waits for them to exit. */
export async function stopServerProcesses(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) {
            resolve();
            return;
          }
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

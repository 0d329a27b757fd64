/**
 * Request/reply over Node's IPC channel between the bench runner and its child processes (the
 * servers under test and the load generator), plus one-way notices from a child (e.g. "the
 * measurement window starts now", so the runner can read the server's CPU at that moment).
 *
 *   runner ── {id, command, params} ──▶ child
 *   runner ◀── {id, ok, result|error} ── child
 *   runner ◀── {notice, payload} ─────── child
 */
import { fork, type ChildProcess } from 'node:child_process';

/** A child's command set: each command's params and result types. */
export type CommandMap = Record<string, { params: unknown; result: unknown }>;

type Handlers<C extends CommandMap> = { [K in keyof C]: (params: C[K]['params']) => Promise<C[K]['result']> | C[K]['result'] };

interface RequestMessage {
  id: number;
  command: string;
  params: unknown;
}

type ReplyMessage = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

interface NoticeMessage {
  notice: string;
  payload: unknown;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/**
 * In a child: answers the runner's requests with `handlers`, and exits when the runner goes away
 * (a crashed runner must not leave servers holding thousands of sockets).
 */
export function serveCommands<C extends CommandMap>(handlers: Handlers<C>): void {
  if (!process.send) throw new Error('serveCommands needs an IPC channel: start this file with fork()');
  process.on('disconnect', () => process.exit(0));
  process.on('message', (message: unknown) => {
    if (!isRecord(message)) return;
    const { id, command, params } = message;
    if (typeof id !== 'number' || typeof command !== 'string') return;
    const handler = (handlers as Record<string, (params: unknown) => unknown>)[command];
    // The runner may have gone (or be stopping us) while a command ran: a reply nobody reads is dropped.
    const reply = (body: ReplyMessage) => {
      if (process.connected) process.send?.(body, undefined, {}, () => {});
    };
    if (!handler) {
      reply({ id, ok: false, error: `unknown command "${command}"` });
      return;
    }
    Promise.resolve()
      .then(() => handler(params))
      .then(
        (result) => reply({ id, ok: true, result }),
        (error: unknown) => reply({ id, ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
      );
  });
}

/** In a child: tells the runner something happened (no reply). */
export function sendNotice(notice: string, payload: unknown = null): void {
  if (process.connected) process.send?.({ notice, payload } satisfies NoticeMessage, undefined, {}, () => {});
}

export interface ChildHandle<C extends CommandMap> {
  readonly pid: number;
  request<K extends keyof C & string>(command: K, params: C[K]['params'], timeoutMs?: number): Promise<C[K]['result']>;
  onNotice(listener: (notice: string, payload: unknown) => void): void;
  offNotice(listener: (notice: string, payload: unknown) => void): void;
  /** Disconnects and waits for the exit; SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

const TSX_EXEC_ARGV = ['--import', 'tsx', '--expose-gc'];

/** Forks `entry` (a .ts file) with tsx and an IPC channel. Its stdout/stderr go to ours, prefixed. */
export function spawnChild<C extends CommandMap>(entry: string, label: string): ChildHandle<C> {
  const child: ChildProcess = fork(entry, [], { execArgv: TSX_EXEC_ARGV, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], serialization: 'advanced' });
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }>();
  const noticeListeners: Array<(notice: string, payload: unknown) => void> = [];
  let nextId = 1;
  let exitReason: string | null = null;

  const prefix = (chunk: Buffer) =>
    chunk
      .toString()
      .split('\n')
      .filter((line) => line.trim().length > 0)
      .map((line) => `[${label}] ${line}\n`)
      .join('');
  child.stdout?.on('data', (chunk: Buffer) => process.stdout.write(prefix(chunk)));
  child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(prefix(chunk)));

  child.on('message', (message: unknown) => {
    if (!isRecord(message)) return;
    if (typeof message.notice === 'string') {
      for (const listener of noticeListeners) listener(message.notice, message.payload);
      return;
    }
    if (typeof message.id !== 'number') return;
    const waiter = pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    clearTimeout(waiter.timer);
    if (message.ok === true) waiter.resolve(message.result);
    else waiter.reject(new Error(`${label}: ${String(message.error)}`));
  });
  child.on('exit', (code, signal) => {
    exitReason = `${label} exited (code ${code}, signal ${signal})`;
    for (const waiter of pending.values()) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error(exitReason));
    }
    pending.clear();
  });

  return {
    pid: child.pid ?? -1,
    request(command, params, timeoutMs = 120_000) {
      if (exitReason) return Promise.reject(new Error(exitReason));
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${label}: "${command}" got no answer in ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
        child.send({ id, command, params } satisfies RequestMessage);
      });
    },
    onNotice(listener) {
      noticeListeners.push(listener);
    },
    offNotice(listener) {
      const index = noticeListeners.indexOf(listener);
      if (index >= 0) noticeListeners.splice(index, 1);
    },
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      if (child.connected) child.disconnect();
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

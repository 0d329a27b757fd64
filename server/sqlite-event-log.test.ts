import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCode, parseCursor, StreamError, type StreamEvent } from '../protocol/index.ts';
import { describeEventLogContract } from './event-log.contract.ts';
import { createSqliteEventLog } from './sqlite-event-log.ts';

const dir = mkdtempSync(join(tmpdir(), 'sqlite-event-log-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
const tmpFile = (): string => join(dir, `log-${++files}`, 'events.db');

const seqOf = (id: string): number => {
  const cursor = parseCursor(id);
  if (!cursor) throw new Error(`not a cursor: ${id}`);
  return cursor.seq;
};

const append = (log: ReturnType<typeof createSqliteEventLog>, org: string, data: unknown): Promise<StreamEvent> =>
  log.append({ org, service: 's', type: 't', data });

function openError(file: string): unknown {
  try {
    void createSqliteEventLog({ file }).close();
  } catch (error) {
    return error;
  }
  return null;
}

describeEventLogContract('sqlite', async (options = {}) => createSqliteEventLog({ file: tmpFile(), ...options }));

describe('sqlite event log', () => {
  it('keeps the epoch, the events and the sequence across close and reopen', async () => {
    const file = tmpFile();
    const first = createSqliteEventLog({ file });
    const written: StreamEvent[] = [];
    for (let i = 1; i <= 4; i++) written.push(await append(first, 'a', { i, nested: [i, 'x'] }));
    await append(first, 'b', 'other org');
    await first.close();

    const second = createSqliteEventLog({ file });
    expect(second.epoch).toBe(first.epoch);
    const all = await second.read('a', null, 100);
    expect(all).toEqual({ kind: 'events', events: written, head: written[3]!.id });
    // A cursor handed out before the restart reads the rest.
    const rest = await second.read('a', parseCursor(written[1]!.id), 100);
    expect(rest.kind === 'events' && rest.events.map((event) => event.id)).toEqual([written[2]!.id, written[3]!.id]);
    const next = await append(second, 'a', 'after restart');
    expect(next.id).toBe(`${first.epoch}:5`);
    expect(await second.head('b')).toBe(`${first.epoch}:1`);
    await second.close();
  });

  it('gives a deleted or replaced file a new epoch and resets cursors of the old one', async () => {
    const file = tmpFile();
    const original = createSqliteEventLog({ file });
    const old = await append(original, 'a', 1);
    await original.close();

    rmSync(file);
    const wiped = createSqliteEventLog({ file });
    expect(wiped.epoch).not.toBe(original.epoch);
    expect(await wiped.read('a', parseCursor(old.id), 10)).toEqual({
      kind: 'reset',
      reason: 'epoch',
      lost: null,
      head: `${wiped.epoch}:0`,
    });
    expect((await append(wiped, 'a', 2)).id).toBe(`${wiped.epoch}:1`);
    await wiped.close();

    const otherFile = tmpFile();
    const other = createSqliteEventLog({ file: otherFile });
    await append(other, 'a', 'x');
    await other.close();
    copyFileSync(otherFile, file);
    const replaced = createSqliteEventLog({ file });
    expect(replaced.epoch).toBe(other.epoch);
    const stale = await replaced.read('a', parseCursor(old.id), 10);
    expect(stale.kind === 'reset' && stale.reason).toBe('epoch');
    await replaced.close();
  });

  it('loses no acknowledged event when the writing process is SIGKILLed mid-stream', async () => {
    const file = tmpFile();
    const fixture = fileURLToPath(new URL('./sqlite-crash-fixture.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, file], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // 'close', not 'exit': every line the child wrote before dying is read before the check below.
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, signal) => resolve(signal)));

    const acknowledged: string[] = [];
    await new Promise<void>((resolve, reject) => {
      let buffered = '';
      child.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        acknowledged.push(...lines);
        // Kill while appends are in flight, not at a quiet moment.
        if (acknowledged.length >= 200 && child.exitCode === null) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.on('exit', () => reject(new Error(`fixture exited before being killed: ${stderr}`)));
    });
    expect(await exited).toBe('SIGKILL');

    const log = createSqliteEventLog({ file });
    const read = await log.read('crash', null, 1_000_000);
    if (read.kind !== 'events') throw new Error(`expected events, got ${read.kind}`);
    const ids = read.events.map((event) => event.id);
    expect(ids.length).toBeGreaterThanOrEqual(acknowledged.length);
    expect(ids.slice(0, acknowledged.length)).toEqual(acknowledged);
    // Gap-free: seq 1..n, and the head is the last stored event.
    expect(ids.map(seqOf)).toEqual(ids.map((_, index) => index + 1));
    expect(read.head).toBe(ids.at(-1));
    expect(read.events.map((event) => event.data)).toEqual(ids.map((_, i) => ({ i })));
    await log.close();
  });

  it('keeps the head when retention removes every event of an org, also after reopening', async () => {
    const file = tmpFile();
    let clock = 1_000_000;
    const log = createSqliteEventLog({ file, retention: { maxAgeMs: 1000 }, now: () => clock });
    for (let i = 1; i <= 3; i++) await append(log, 'a', i);
    clock += 10_000;
    expect(await log.trim()).toBe(3);
    expect(await log.trim()).toBe(0);

    const head = `${log.epoch}:3`;
    expect(await log.head('a')).toBe(head);
    expect(await log.read('a', parseCursor(head), 10)).toEqual({ kind: 'events', events: [], head });
    expect(await log.read('a', null, 10)).toEqual({ kind: 'events', events: [], head });
    expect(await log.read('a', { epoch: log.epoch, seq: 1 }, 10)).toEqual({ kind: 'reset', reason: 'retention', lost: 2, head });
    await log.close();

    // The head lives in the orgs table, not in MAX(seq): a restart must not reuse seq 1.
    const reopened = createSqliteEventLog({ file, now: () => clock });
    expect(await reopened.head('a')).toBe(head);
    expect((await append(reopened, 'a', 4)).id).toBe(`${log.epoch}:4`);
    const after = await reopened.read('a', parseCursor(head), 10);
    expect(after.kind === 'events' && after.events.map((event) => event.data)).toEqual([4]);
    await reopened.close();
  });

  it('trims by count and by age together, only a prefix, per org', async () => {
    let clock = 0;
    const log = createSqliteEventLog({ file: tmpFile(), retention: { maxEventsPerOrg: 4, maxAgeMs: 100 }, now: () => clock });
    for (let i = 1; i <= 6; i++) await append(log, 'a', i); // ts 0
    clock = 500;
    await append(log, 'a', 7);
    await append(log, 'b', 'young');
    // Count alone would keep 4..7; age removes the old 4..6 too. Org b is untouched.
    expect(await log.trim(550)).toBe(6);
    const a = await log.read('a', null, 10);
    expect(a.kind === 'events' && a.events.map((event) => event.data)).toEqual([7]);
    const b = await log.read('b', null, 10);
    expect(b.kind === 'events' && b.events.map((event) => event.data)).toEqual(['young']);
    await log.close();
  });

  it('calls subscribers only after the event is committed and visible to other connections', async () => {
    const file = tmpFile();
    const log = createSqliteEventLog({ file });
    const observer = new Database(file, { readonly: true });
    const visible: number[] = [];
    const count = observer.prepare<[string, number], number>('SELECT count(*) FROM events WHERE org = ? AND seq = ?').pluck();
    log.subscribe('a', (event) => visible.push(count.get('a', seqOf(event.id)) ?? 0));
    await append(log, 'a', 1);
    await append(log, 'a', 2);
    expect(visible).toEqual([1, 1]);
    observer.close();
    await log.close();
  });

  it('keeps calling subscribers and resolves the append when one subscriber throws', async () => {
    const failures: unknown[] = [];
    const log = createSqliteEventLog({ file: tmpFile(), onListenerError: (error) => failures.push(error) });
    const seen: unknown[] = [];
    log.subscribe('a', () => {
      throw new Error('broken subscriber');
    });
    log.subscribe('a', (event) => seen.push(event.data));
    const event = await append(log, 'a', 'x');
    expect(seen).toEqual(['x']);
    expect(failures).toHaveLength(1);
    expect(await log.head('a')).toBe(event.id);
    await log.close();
  });

  it('opens in WAL mode and leaves no WAL content behind after close', async () => {
    const file = tmpFile();
    const log = createSqliteEventLog({ file });
    await append(log, 'a', 1);
    const probe = new Database(file, { readonly: true });
    expect(probe.pragma('journal_mode', { simple: true })).toBe('wal');
    probe.close();
    await log.close();
    const wal = `${file}-wal`;
    expect(existsSync(wal) ? statSync(wal).size : 0).toBe(0);
    const after = new Database(file, { readonly: true });
    expect(after.prepare('SELECT count(*) AS n FROM events').get()).toEqual({ n: 1 });
    after.close();
  });

  it('fails to open with STORE_UNAVAILABLE for a path it cannot create or a file that is not a database', () => {
    const notADirectory = join(dir, 'plain-file');
    writeFileSync(notADirectory, 'x');
    const badDir = openError(join(notADirectory, 'events.db'));
    expect(badDir).toBeInstanceOf(StreamError);
    expect((badDir as StreamError).code).toBe(ErrorCode.STORE_UNAVAILABLE);

    const garbage = join(dir, 'garbage.db');
    writeFileSync(garbage, 'this is not a sqlite database, just some text long enough to have a header'.repeat(20));
    const notDb = openError(garbage);
    expect(notDb).toBeInstanceOf(StreamError);
    expect((notDb as StreamError).code).toBe(ErrorCode.STORE_UNAVAILABLE);
  });

  it('refuses a file from a newer schema version', async () => {
    const file = tmpFile();
    await createSqliteEventLog({ file }).close();
    const raw = new Database(file);
    raw.pragma('user_version = 99');
    raw.close();
    const error = openError(file);
    expect(error instanceof StreamError && error.code).toBe(ErrorCode.STORE_UNAVAILABLE);
  });

  it('rejects use after close with STORE_UNAVAILABLE', async () => {
    const log = createSqliteEventLog({ file: tmpFile() });
    await log.close();
    await log.close();
    await expect(append(log, 'a', 1)).rejects.toMatchObject({ code: ErrorCode.STORE_UNAVAILABLE });
    await expect(log.read('a', null, 10)).rejects.toMatchObject({ code: ErrorCode.STORE_UNAVAILABLE });
  });
});

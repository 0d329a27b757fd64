/**
 * This product's server under test: `startServer` with an in-memory log (fan-out: the log is
 * not what is measured) or a SQLite log in a temp directory (replay: the real default store).
 * No demo publisher; a socket cap high enough for thousands of bench sockets of one user.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createMemoryEventLog, silentLogger, startServer, type RunningServer } from '../../server/index.ts';
import { createEventMix } from '../event-mix.ts';
import { serveServer } from './server-commands.ts';

/** Signs the bench's tokens; any 32+ characters do, the server only runs on loopback. */
export const BENCH_TOKEN_SECRET = 'bench-secret-bench-secret-bench-secret';

/** The built demo (`npm run build`), for the browser scenario. */
const DEMO_DIR = resolve(import.meta.dirname, '../../dist/demo');

let running: RunningServer | null = null;
let dataDir: string | null = null;

process.on('exit', () => {
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

serveServer({
  connections: () => running?.metrics().activeConnections ?? 0,
  async start(config) {
    const sqlite = config.store === 'sqlite';
    dataDir = sqlite ? mkdtempSync(join(tmpdir(), 'realtime-bench-')) : null;
    running = await startServer({
      port: 0,
      host: '127.0.0.1',
      tokenSecret: BENCH_TOKEN_SECRET,
      log: sqlite ? undefined : createMemoryEventLog(),
      dataDir: dataDir ?? undefined,
      logger: silentLogger,
      demoPublisher: false,
      compression: config.compression ?? false,
      // Long enough that no heartbeat traffic lands inside a measurement window.
      heartbeatMs: 10 * 60_000,
      maxSocketsPerUser: 1_000_000,
      trimIntervalMs: 0,
      staticDir: DEMO_DIR,
    });
    return { url: running.url };
  },
  async seed(org, count) {
    if (!running) throw new Error('seed before start');
    const mix = createEventMix(7);
    const before = await running.log.head(org);
    let head = before;
    for (let n = 0; n < count; n++) head = (await running.publish({ org, ...mix.next() })).id;
    return { before, head };
  },
});

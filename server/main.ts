/** `npm start`: the server from the environment; Ctrl-C closes sockets with 1001 and flushes the log. */
import { resolve } from 'node:path';
import { startServer } from './index.ts';

async function main(): Promise<void> {
  const server = await startServer();
  console.log(`Realtime Streaming on ${server.url} — demo at /`);
  console.log(`Developer extension: load unpacked from ${resolve('dist/extension')} (chrome://extensions → Developer mode)`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`[realtime-server][main] ${signal}: closing sockets and flushing the log`);
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('[realtime-server][main] shutdown failed', error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(`[realtime-server][main] could not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});

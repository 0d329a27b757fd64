import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

describe('npm start entry (server/main.ts)', () => {
  it('prints the URL, serves, and exits 0 on SIGTERM (1001 on shutdown: stream-limits.test; durability: restart.test)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'realtime-main-'));
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'main.ts')], {
      env: { ...process.env, PORT: '0', REALTIME_DATA_DIR: dataDir, REALTIME_DEMO_INTERVAL_MS: '20', NODE_ENV: 'development' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let output = '';
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no start line; got: ${output}`)), 10_000);
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          const match = /Realtime Streaming on (http:\/\/127\.0\.0\.1:\d+) — demo at \/\nDeveloper extension: load unpacked from \S+dist\/extension /.exec(output);
          if (match) {
            clearTimeout(timer);
            resolve(match[1]!);
          }
        });
      });
      // The demo publisher produces durable events for org 456.
      const { token } = (await (await fetch(`${url}/dev/token?org=456&scope=read`)).json()) as { token: string };
      const head = (await (await fetch(`${url}/v1/realtime/poll?org=456&access_token=${token}`)).json()) as { cursor: string };
      const epoch = head.cursor.split(':')[0];
      // From the start of the log: answers as soon as the first demo event exists.
      const { events } = (await (await fetch(`${url}/v1/realtime/poll?org=456&cursor=${epoch}:0&timeout=5&access_token=${token}`)).json()) as { events: unknown[] };
      expect(events.length).toBeGreaterThan(0);
      const code = await new Promise<number | null>((resolve) => {
        child.once('exit', (exitCode) => resolve(exitCode));
        child.kill('SIGTERM');
      });
      expect(code).toBe(0);
      expect(output).not.toMatch(/eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\./);
    } finally {
      child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

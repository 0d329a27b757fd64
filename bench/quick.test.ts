/**
 * `npm test` runs the bench with `--quick` (tiny sizes) so its code cannot rot. It asserts that
 * every scenario ran and produced figures, never what the figures are: benchmarks assert no timing.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BenchResults } from './results-types.ts';

const ROOT = resolve(import.meta.dirname, '..');

describe('bench --quick', () => {
  it('runs every scenario against ours and both peers and writes quick.json with every target judged', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick'], { cwd: ROOT, encoding: 'utf8', timeout: 90_000 });
    expect(run.stderr + run.stdout).not.toContain('[bench] FAILED');
    expect(run.status).toBe(0);
    const results = JSON.parse(readFileSync(resolve(ROOT, 'bench/results/quick.json'), 'utf8')) as BenchResults;
    expect(results.quick).toBe(true);

    expect(results.fanOut.map((item) => item.label).sort()).toEqual(['Socket.IO', 'ours', 'raw ws']);
    for (const item of results.fanOut) {
      expect(item.connect.failed).toBe(0);
      expect(item.saturation?.load.deliveries).toBeGreaterThan(0);
      expect(item.saturation?.server.cpuPercent).toBeGreaterThanOrEqual(0);
      expect(item.fixed[0]?.load.missing).toBe(0);
      expect(item.fixed[0]?.load.latency.count).toBe(item.fixed[0]?.load.expected);
    }

    const bytes = (label: string) => results.compression.find((item) => item.label === label)?.saturation?.load.wireBytesPerDelivery ?? 0;
    expect(bytes('raw ws + compress once')).toBeGreaterThan(0);
    expect(bytes('raw ws + compress once')).toBeLessThan(bytes('raw ws'));

    expect(results.memory.every((item) => item.afterFirstMessage?.delivery.delivered === item.sockets)).toBe(true);
    expect(results.replay.map((item) => item.store)).toEqual(['memory', 'sqlite']);
    for (const item of results.replay) expect(item.seamIntactEveryRun).toBe(true);

    expect(results.scaleOut?.map((item) => item.label)).toEqual(['SQLite, 1 process', 'Redis, 1 process', 'Redis, 2 processes']);
    for (const item of results.scaleOut ?? []) {
      expect(item.connect.failed).toBe(0);
      expect(item.connections.reduce((a, b) => a + b, 0)).toBe(item.sockets);
      expect(item.saturation?.load.deliveries).toBeGreaterThan(0);
      expect(item.fixed?.load.missing).toBe(0);
      expect(item.publish?.errors).toBe(0);
    }
    expect(results.browser.skipped).not.toBeNull();
    expect(results.targets).toHaveLength(11);
    expect(results.targets.filter((item) => item.met !== null).map((item) => item.target)).toEqual(
      expect.arrayContaining([expect.stringContaining('compression on'), expect.stringContaining('replay live again')]),
    );
    expect(results.machine.cores).toBeGreaterThan(0);
  }, 100_000);
});

/**
 * `npm run bench`: every scenario against ours and the peers, then bench/results/latest.json,
 * bench/RESULTS.md and the SVG charts (bench/results/*.svg), all generated from the JSON.
 *
 *   --quick          tiny sizes (runs inside `npm test`): results/quick.json, and RESULTS.md + charts
 *                    in a temp directory, so the real results stay untouched
 *   --only=a,b       only these scenarios (fan-out, compression, memory, replay, scale-out, browser); written
 *                    like --quick, to a temp directory
 *   --render         no measuring: regenerate RESULTS.md and the charts from results/latest.json
 *
 * Exits non-zero when a scenario failed to run (broken bench code or server), never because of a
 * figure: benchmarks report, they assert no timing.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBenchContext, type BenchContext } from './bench-context.ts';
import { machineInfo } from './machine.ts';
import { fitToFdLimit, FULL, QUICK } from './params.ts';
import { renderCharts, renderResultsMarkdown } from './report.ts';
import type { BenchResults, BrowserResult } from './results-types.ts';
import { runBrowser } from './scenarios/browser.ts';
import { runCompression } from './scenarios/compression.ts';
import { runFanOut } from './scenarios/fan-out.ts';
import { runMemory } from './scenarios/memory.ts';
import { runReplay } from './scenarios/replay.ts';
import { runScaleOut } from './scenarios/scale-out.ts';
import { checkTargets } from './targets.ts';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const SCENARIOS = ['fan-out', 'compression', 'memory', 'replay', 'scale-out', 'browser'] as const;
type Scenario = (typeof SCENARIOS)[number];

function selectedScenarios(argv: string[]): Set<Scenario> {
  const only = argv.find((arg) => arg.startsWith('--only='));
  if (!only) return new Set(SCENARIOS);
  const names = only.slice('--only='.length).split(',');
  const unknown = names.filter((name) => !SCENARIOS.some((scenario) => scenario === name));
  if (unknown.length > 0) throw new Error(`unknown scenario(s) ${unknown.join(', ')}: pick from ${SCENARIOS.join(', ')}`);
  return new Set(SCENARIOS.filter((scenario) => names.includes(scenario)));
}

async function runBrowserScenario(ctx: BenchContext, quick: boolean): Promise<BrowserResult> {
  if (quick || !ctx.params.browser) return { skipped: 'skipped in --quick', tabs: [], cost: [], error: null };
  return runBrowser(ctx);
}

function failures(results: BenchResults): string[] {
  return [
    ...results.fanOut.filter((item) => item.error).map((item) => `fan-out ${item.label}: ${item.error}`),
    ...results.compression.filter((item) => item.error).map((item) => `compression ${item.label}: ${item.error}`),
    ...results.memory.filter((item) => item.error).map((item) => `memory ${item.label}: ${item.error}`),
    ...results.replay.filter((item) => item.error).map((item) => `replay ${item.store}: ${item.error}`),
    ...(results.scaleOut ?? []).filter((item) => item.error).map((item) => `scale-out ${item.label}: ${item.error}`),
    ...(results.browser.error ? [`browser: ${results.browser.error}`] : []),
  ];
}

function writeOutputs(results: BenchResults, partial: boolean, log: (line: string) => void): void {
  const charts = renderCharts(results);
  const markdown = renderResultsMarkdown(results);
  const json = `${JSON.stringify(results, null, 2)}\n`;
  if (!partial) {
    mkdirSync(join(BENCH_DIR, 'results'), { recursive: true });
    writeFileSync(join(BENCH_DIR, 'results', 'latest.json'), json);
    writeFileSync(join(BENCH_DIR, 'results', 'throughput.svg'), charts.throughput);
    writeFileSync(join(BENCH_DIR, 'results', 'latency.svg'), charts.latency);
    writeFileSync(join(BENCH_DIR, 'RESULTS.md'), markdown);
    log('wrote bench/results/latest.json, bench/RESULTS.md, bench/results/throughput.svg, bench/results/latency.svg');
    return;
  }
  if (results.quick) {
    mkdirSync(join(BENCH_DIR, 'results'), { recursive: true });
    writeFileSync(join(BENCH_DIR, 'results', 'quick.json'), json);
  }
  const dir = mkdtempSync(join(tmpdir(), 'realtime-bench-'));
  mkdirSync(join(dir, 'results'));
  writeFileSync(join(dir, 'results', 'latest.json'), json);
  writeFileSync(join(dir, 'results', 'throughput.svg'), charts.throughput);
  writeFileSync(join(dir, 'results', 'latency.svg'), charts.latency);
  writeFileSync(join(dir, 'RESULTS.md'), markdown);
  log(`wrote ${results.quick ? 'bench/results/quick.json and ' : ''}${join(dir, 'RESULTS.md')} (+ results/)`);
}

function render(log: (line: string) => void): number {
  const results = JSON.parse(readFileSync(join(BENCH_DIR, 'results', 'latest.json'), 'utf8')) as BenchResults;
  writeOutputs({ ...results, targets: checkTargets(results) }, false, log);
  return 0;
}

async function main(): Promise<number> {
  if (process.argv.includes('--render')) return render((line) => console.log(`[bench] ${line}`));
  const quick = process.argv.includes('--quick');
  const scenarios = selectedScenarios(process.argv);
  const partial = quick || scenarios.size < SCENARIOS.length;
  const started = Date.now();
  const machine = machineInfo();
  const { params, notes } = fitToFdLimit(quick ? QUICK : FULL, machine.fdLimit);
  const log = (line: string) => console.log(`[bench] ${line}`);
  log(`${quick ? 'quick' : 'full'} run on ${machine.cpuModel} × ${machine.cores}, node ${machine.node}, ulimit -n ${machine.fdLimit}, load average ${machine.loadAverage.map((value) => value.toFixed(2)).join(' ')}`);
  for (const note of notes) log(note);
  if (scenarios.size < SCENARIOS.length) notes.push(`partial run: ${[...scenarios].join(', ')} only`);

  const ctx = createBenchContext(params, log);
  const results: Omit<BenchResults, 'targets' | 'durationMs'> = {
    quick,
    startedAt: new Date(started).toISOString(),
    machine,
    parameters: params,
    notes,
    fanOut: [],
    compression: [],
    memory: [],
    replay: [],
    scaleOut: [],
    browser: { skipped: 'not selected', tabs: [], cost: [], error: null },
  };
  try {
    if (scenarios.has('fan-out')) results.fanOut = await runFanOut(ctx);
    if (scenarios.has('compression')) results.compression = await runCompression(ctx);
    if (scenarios.has('memory')) results.memory = await runMemory(ctx);
    if (scenarios.has('replay')) results.replay = await runReplay(ctx);
    if (scenarios.has('scale-out')) results.scaleOut = await runScaleOut(ctx);
    if (scenarios.has('browser')) results.browser = await runBrowserScenario(ctx, quick);
  } finally {
    await ctx.loadGenerator.stop();
  }
  const complete = { ...results, durationMs: Date.now() - started };
  const final: BenchResults = { ...complete, targets: checkTargets(complete) };
  writeOutputs(final, partial, log);
  for (const target of final.targets) log(`target ${target.met === null ? 'not measured' : target.met ? 'met' : 'NOT met'}: ${target.target}: ${target.figure}`);
  const failed = failures(final);
  for (const failure of failed) log(`FAILED ${failure}`);
  log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return failed.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error('[bench] failed:', error);
    process.exit(1);
  },
);

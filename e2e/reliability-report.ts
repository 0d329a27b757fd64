/**
 * The figures of the fault scenarios: what each tab received compared with what the publish API
 * acknowledged, and how long recovery took. Each scenario prints one summary line and writes its
 * row into `test-results/reliability.json`; with `RELIABILITY_RECORD=1` it writes the committed
 * `e2e/results/reliability.json` instead, the figures the README's Reliability table quotes (so a
 * plain `npm test` never rewrites them behind the README's back).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';

export const RESULTS_FILE = process.env.RELIABILITY_RECORD === '1'
  ? resolve(import.meta.dirname, 'results/reliability.json')
  : resolve(import.meta.dirname, '../test-results/reliability.json');

/** The seq part of an `epoch:seq` id. */
export function seqOf(id: string): number {
  return Number(id.slice(id.lastIndexOf(':') + 1));
}

export interface Tally {
  /** Acknowledged by the publish API. */
  published: number;
  /** Acknowledged but never received. */
  lost: number;
  /** Receipts beyond the first of the same id. */
  duplicates: number;
  /** Receipts whose seq is not above the previous receipt's. */
  outOfOrder: number;
}

/** Compares what one receiver got (in arrival order, ids of one org) with the acknowledged ids. */
export function tally(acked: readonly string[], received: readonly string[]): Tally {
  const seen = new Map<string, number>();
  let outOfOrder = 0;
  let previous = -Infinity;
  for (const id of received) {
    seen.set(id, (seen.get(id) ?? 0) + 1);
    const seq = seqOf(id);
    if (seq <= previous) outOfOrder += 1;
    previous = Math.max(previous, seq);
  }
  let duplicates = 0;
  for (const count of seen.values()) duplicates += count - 1;
  const lost = acked.filter((id) => !seen.has(id)).length;
  return { published: acked.length, lost, duplicates, outOfOrder };
}

/** Sums tallies of several receivers (tabs, clients) of the same acknowledged events. */
export function sumTallies(published: number, tallies: readonly Tally[]): Tally {
  return tallies.reduce<Tally>(
    (sum, one) => ({
      published,
      lost: sum.lost + one.lost,
      duplicates: sum.duplicates + one.duplicates,
      outOfOrder: sum.outOfOrder + one.outOfOrder,
    }),
    { published, lost: 0, duplicates: 0, outOfOrder: 0 },
  );
}

export interface ScenarioResult extends Tally {
  scenario: number;
  name: string;
  /** What was done, in one line (the README table's second column). */
  fault: string;
  /** How many receivers were checked (tabs or clients). */
  receivers: number;
  /** Fault end (or fault start where it says so in `notes`) → first event delivered again; null when not applicable. */
  recoveryMs: number | null;
  /** Resets reported to the app (expected only where the design says so). */
  resets: number;
  /** Other figures worth quoting (detection time, latency ratio, close codes…). */
  extra?: Record<string, number | string | boolean>;
  notes?: string;
}

interface ResultsFile {
  updatedAt: string;
  machine: string;
  scenarios: Array<ScenarioResult & { recordedAt: string }>;
}

function readResults(): ResultsFile | null {
  try {
    const parsed: unknown = JSON.parse(readFileSync(RESULTS_FILE, 'utf8'));
    if (typeof parsed === 'object' && parsed !== null && 'scenarios' in parsed && Array.isArray(parsed.scenarios)) {
      return parsed as ResultsFile;
    }
  } catch {
    // Missing or unreadable: start a new file.
  }
  return null;
}

/** Writes (or replaces) the scenario's row in the results file and prints its summary line. */
export function recordResult(result: ScenarioResult): void {
  const previous = readResults();
  const now = new Date().toISOString();
  const rows = (previous?.scenarios ?? []).filter((row) => row.scenario !== result.scenario);
  rows.push({ ...result, recordedAt: now });
  rows.sort((a, b) => a.scenario - b.scenario);
  const file: ResultsFile = {
    updatedAt: now,
    machine: `${process.platform} ${process.arch}, Node ${process.versions.node}, ${availableParallelism()} cores`,
    scenarios: rows,
  };
  mkdirSync(dirname(RESULTS_FILE), { recursive: true });
  writeFileSync(RESULTS_FILE, `${JSON.stringify(file, null, 2)}\n`);
  const recovery = result.recoveryMs === null ? 'n/a' : `${result.recoveryMs} ms`;
  const extra = result.extra ? ` ${Object.entries(result.extra).map(([key, value]) => `${key}=${value}`).join(' ')}` : '';
  console.log(
    `[reliability] #${result.scenario} ${result.name}: published ${result.published}, lost ${result.lost}, duplicates ${result.duplicates}, ` +
      `out of order ${result.outOfOrder}, resets ${result.resets}, receivers ${result.receivers}, recovery ${recovery}${extra}`,
  );
}

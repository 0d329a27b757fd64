/**
 * One line from `GET /v2/realtime/metrics`. Only `activeConnections` and
 * `connectionPoolStats.totalSubscriptions` are fixed contracts (DESIGN.md); the delivered count and
 * the p99 latency are found by name (`…delivered…`, `…latency….p99…`), so the popup keeps working
 * as the server's metrics grow.
 */

export interface MetricsSummary {
  connections: number | null;
  subscriptions: number | null;
  delivered: number | null;
  p99Ms: number | null;
}

type Leaf = { path: string[]; value: number };

function leaves(value: unknown, path: string[] = [], out: Leaf[] = []): Leaf[] {
  if (path.length > 5) return out;
  if (typeof value === 'number' && Number.isFinite(value)) out.push({ path, value });
  else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    for (const [key, child] of Object.entries(value)) leaves(child, [...path, key], out);
  }
  return out;
}

function pick(all: Leaf[], match: (path: string[]) => boolean): number | null {
  // The shortest matching path is the most general figure (a total rather than a per-org one).
  const found = all.filter((leaf) => match(leaf.path)).sort((a, b) => a.path.length - b.path.length)[0];
  return found ? found.value : null;
}

const lower = (path: string[]): string[] => path.map((part) => part.toLowerCase());

/** Extracts the summary figures; null when the body is not a metrics object at all. */
export function summarizeMetrics(body: unknown): MetricsSummary | null {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return null;
  const all = leaves(body);
  const summary: MetricsSummary = {
    connections: pick(all, (p) => p.join('.') === 'activeConnections'),
    subscriptions: pick(all, (p) => p.join('.') === 'connectionPoolStats.totalSubscriptions'),
    delivered: pick(all, (p) => {
      const parts = lower(p);
      const last = parts[parts.length - 1] ?? '';
      return /^(events)?delivered(total|count)?$/.test(last) || (last === 'total' && parts.some((x) => x.includes('delivered')));
    }),
    p99Ms: pick(all, (p) => {
      const parts = lower(p);
      return /^p99(ms)?$/.test(parts[parts.length - 1] ?? '') && parts.some((x) => x.includes('latency'));
    }),
  };
  const anything = Object.values(summary).some((v) => v !== null);
  return anything ? summary : null;
}

const count = (n: number): string => Math.round(n).toLocaleString('en-US');

/** "3 connections · 2 subscriptions · 1,204 delivered · p99 8 ms" (figures the server lacks are left out). */
export function formatMetricsSummary(summary: MetricsSummary): string {
  const parts: string[] = [];
  if (summary.connections !== null) parts.push(`${count(summary.connections)} connection${summary.connections === 1 ? '' : 's'}`);
  if (summary.subscriptions !== null) parts.push(`${count(summary.subscriptions)} subscription${summary.subscriptions === 1 ? '' : 's'}`);
  if (summary.delivered !== null) parts.push(`${count(summary.delivered)} delivered`);
  if (summary.p99Ms !== null) parts.push(`p99 ${summary.p99Ms < 10 ? Number(summary.p99Ms.toFixed(1)) : Math.round(summary.p99Ms)} ms`);
  return parts.join(' · ');
}

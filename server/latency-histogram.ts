/**
 * A fixed-bucket log histogram for latencies in ms: O(1) record, O(buckets) percentile, no
 * allocation per sample. Bucket i > 0 holds values up to 2^((i-1)/4) ms (4 buckets per doubling,
 * so a percentile is at most ~19% high); bucket 0 holds values under 1 ms.
 */
const BUCKETS_PER_DOUBLING = 4;
const BUCKET_COUNT = 1 + 24 * BUCKETS_PER_DOUBLING; // up to 2^24 ms (~4.6 h); beyond lands in the last

export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  count: number;
}

export interface LatencyHistogram {
  record(ms: number): void;
  summary(): LatencySummary;
}

function upperBound(index: number): number {
  return index === 0 ? 1 : 2 ** ((index - 1) / BUCKETS_PER_DOUBLING);
}

export function createLatencyHistogram(): LatencyHistogram {
  const counts = new Float64Array(BUCKET_COUNT);
  let count = 0;
  let max = 0;

  function percentile(p: number): number {
    if (count === 0) return 0;
    const rank = Math.ceil(p * count);
    let seen = 0;
    for (let i = 0; i < BUCKET_COUNT; i++) {
      seen += counts[i] ?? 0;
      if (seen >= rank) return Math.min(Math.round(upperBound(i) * 100) / 100, max);
    }
    return max;
  }

  return {
    record(ms) {
      const value = ms > 0 && Number.isFinite(ms) ? ms : 0;
      const index = value < 1 ? 0 : Math.min(BUCKET_COUNT - 1, Math.ceil(Math.log2(value) * BUCKETS_PER_DOUBLING) + 1);
      counts[index] = (counts[index] ?? 0) + 1;
      count += 1;
      if (value > max) max = value;
    },
    summary() {
      return { p50: percentile(0.5), p95: percentile(0.95), p99: percentile(0.99), max, count };
    },
  };
}

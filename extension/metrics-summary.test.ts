import { describe, expect, it } from 'vitest';
import { formatMetricsSummary, summarizeMetrics } from './metrics-summary.ts';

describe('metrics summary', () => {
  it('summarizes the fixed fields and finds delivered and p99 latency by name', () => {
    const body = {
      activeConnections: 3,
      connectionPoolStats: { totalSubscriptions: 2, perOrg: { '456': 1 } },
      events: { delivered: 1204, replayed: 88, published: 400 },
      deliveryLatencyMs: { p50: 2.1, p95: 6, p99: 8.44 },
      bytes: { raw: 1, wire: 1 },
    };
    const summary = summarizeMetrics(body);
    expect(summary).toEqual({ connections: 3, subscriptions: 2, delivered: 1204, p99Ms: 8.44 });
    expect(formatMetricsSummary(summary!)).toBe('3 connections · 2 subscriptions · 1,204 delivered · p99 8.4 ms');
  });

  it('prefers the most general figure when several paths match', () => {
    const summary = summarizeMetrics({
      activeConnections: 1,
      orgs: { '456': { delivered: 5, latency: { p99: 99 } } },
      delivered: 50,
      latency: { p99: 12.6 },
    });
    expect(summary).toMatchObject({ delivered: 50, p99Ms: 12.6 });
    expect(formatMetricsSummary(summary!)).toBe('1 connection · 50 delivered · p99 13 ms');
  });

  it('gives null for a body that is not metrics', () => {
    expect(summarizeMetrics('<html>')).toBeNull();
    expect(summarizeMetrics([1, 2])).toBeNull();
    expect(summarizeMetrics({ hello: 'world' })).toBeNull();
  });
});

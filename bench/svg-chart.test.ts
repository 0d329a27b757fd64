import { describe, expect, it } from 'vitest';
import { escapeXml, renderLineChart, ticks } from './svg-chart.ts';

describe('svg chart', () => {
  it('picks round linear ticks that cover the maximum', () => {
    expect(ticks(87_000, false)).toEqual([0, 20_000, 40_000, 60_000, 80_000, 100_000]);
    expect(ticks(4.2, false)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('picks powers of ten for a log axis from the smallest value up', () => {
    expect(ticks(2300, true, 3.5)).toEqual([1, 10, 100, 1000, 10_000]);
  });

  it('draws one polyline per series with two or more points, and skips missing values', () => {
    const svg = renderLineChart({
      title: 'T',
      xLabel: 'sockets',
      yLabel: 'deliveries/s',
      categories: ['1,000', '5,000'],
      series: [
        { name: 'ours', color: '#d62728', values: [80_000, 60_000] },
        { name: 'peer', color: '#1f77b4', values: [40_000, null], dashed: true },
      ],
    });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.match(/<polyline /g)).toHaveLength(1);
    expect(svg.match(/<circle /g)).toHaveLength(3);
    expect(svg).toContain('stroke-dasharray="6 4"');
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
  });

  it('escapes text so labels cannot break the markup', () => {
    expect(escapeXml('a<b & "c"')).toBe('a&#60;b &#38; &#34;c&#34;');
    const svg = renderLineChart({ title: '<script>', xLabel: 'x', yLabel: 'y', categories: ['1'], series: [] });
    expect(svg).not.toContain('<script>');
  });
});

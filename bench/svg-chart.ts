/**
 * Line charts as hand-written SVG (no chart library): one x category per measured size, one line
 * per series, optional log scale for latencies that span orders of magnitude.
 */

export interface ChartSeries {
  name: string;
  /** y per x category, null where not measured. */
  values: Array<number | null>;
  dashed?: boolean;
  color: string;
}

export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  categories: string[];
  series: ChartSeries[];
  logY?: boolean;
}

const WIDTH = 640;
const HEIGHT = 360;
const MARGIN = { top: 40, right: 170, bottom: 50, left: 70 };

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** Round tick values: 1, 2, 5 × 10^k covering [0, max] (linear) or powers of ten (log). */
export function ticks(max: number, logY: boolean, min = 1): number[] {
  if (logY) {
    const out: number[] = [];
    for (let value = 10 ** Math.floor(Math.log10(Math.max(min, 1e-3))); value <= max * 1.0001; value *= 10) out.push(value);
    if (out.length === 0 || (out.at(-1) as number) < max) out.push((out.at(-1) ?? 1) * 10);
    return out;
  }
  if (max <= 0) return [0, 1];
  const rough = max / 5;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((factor) => factor * power).find((candidate) => candidate >= rough) ?? rough;
  const out: number[] = [];
  for (let value = 0; value <= max + step * 0.999; value += step) out.push(Math.round(value * 1e6) / 1e6);
  return out;
}

function format(value: number): string {
  if (value >= 1_000_000) return `${value / 1_000_000}M`;
  if (value >= 1000) return `${value / 1000}k`;
  return String(value);
}

export function renderLineChart(chart: LineChart): string {
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const values = chart.series.flatMap((series) => series.values.filter((value): value is number => value !== null && value > 0));
  const maxValue = values.length > 0 ? Math.max(...values) : 1;
  const minValue = values.length > 0 ? Math.min(...values) : 1;
  const logY = chart.logY === true;
  const yTicks = ticks(maxValue, logY, minValue);
  const yMin = logY ? (yTicks[0] as number) : 0;
  const yMax = yTicks.at(-1) as number;
  const y = (value: number) => {
    const share = logY ? (Math.log10(value) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin) || 1) : (value - yMin) / (yMax - yMin || 1);
    return MARGIN.top + plotHeight * (1 - share);
  };
  const count = chart.categories.length;
  const x = (index: number) => MARGIN.left + (count === 1 ? plotWidth / 2 : (plotWidth * index) / (count - 1));
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`);
  parts.push(`<text x="${WIDTH / 2 - MARGIN.right / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(chart.title)}</text>`);
  for (const tick of yTicks) {
    const ty = y(tick).toFixed(1);
    parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${ty}" y2="${ty}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${MARGIN.left - 8}" y="${ty}" text-anchor="end" dominant-baseline="middle">${format(tick)}</text>`);
  }
  chart.categories.forEach((category, index) => {
    parts.push(`<text x="${x(index).toFixed(1)}" y="${MARGIN.top + plotHeight + 18}" text-anchor="middle">${escapeXml(category)}</text>`);
  });
  parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${MARGIN.top + plotHeight}" stroke="#333"/>`);
  parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${MARGIN.top + plotHeight}" y2="${MARGIN.top + plotHeight}" stroke="#333"/>`);
  parts.push(`<text x="${MARGIN.left + plotWidth / 2}" y="${HEIGHT - 10}" text-anchor="middle">${escapeXml(chart.xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${MARGIN.top + plotHeight / 2}) rotate(-90)" text-anchor="middle">${escapeXml(chart.yLabel)}${logY ? ' (log scale)' : ''}</text>`);
  chart.series.forEach((series, seriesIndex) => {
    const dash = series.dashed ? ' stroke-dasharray="6 4"' : '';
    const points = series.values.flatMap((value, index) => (value !== null && value > 0 ? [`${x(index).toFixed(1)},${y(value).toFixed(1)}`] : []));
    if (points.length > 1) parts.push(`<polyline fill="none" stroke="${series.color}" stroke-width="2"${dash} points="${points.join(' ')}"/>`);
    for (const point of points) {
      const [px, py] = point.split(',');
      parts.push(`<circle cx="${px}" cy="${py}" r="3.5" fill="${series.color}"/>`);
    }
    const ly = MARGIN.top + 10 + seriesIndex * 20;
    const lx = MARGIN.left + plotWidth + 16;
    parts.push(`<line x1="${lx}" x2="${lx + 24}" y1="${ly}" y2="${ly}" stroke="${series.color}" stroke-width="2"${dash}/>`);
    parts.push(`<text x="${lx + 30}" y="${ly}" dominant-baseline="middle">${escapeXml(series.name)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** bench/RESULTS.md and the SVG charts, generated from the results JSON alone. */
import type { BenchResults, FanOutCase, MeasuredLoad, ScaleOutCase } from './results-types.ts';
import { renderLineChart, type ChartSeries } from './svg-chart.ts';

const COLORS: Record<string, string> = { ours: '#d62728', 'Socket.IO': '#1f77b4', 'raw ws': '#2ca02c' };
const PEER_ORDER = ['ours', 'Socket.IO', 'raw ws'];

const num = (value: number | null | undefined, digits = 0) => (value === null || value === undefined ? '–' : value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const ms = (value: number | null | undefined) => (value === null || value === undefined ? '–' : value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0));
const times = (value: number | null) => (value === null ? '–' : `${value.toFixed(2)}×`);

function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  return a !== null && a !== undefined && b !== null && b !== undefined && b > 0 ? a / b : null;
}

function table(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');
}

function sizeKey(item: { sockets: number; orgs: number }): string {
  return item.orgs === 1 ? `${item.sockets.toLocaleString('en-US')} sockets, one org` : `${item.orgs} orgs × ${(item.sockets / item.orgs).toLocaleString('en-US')} sockets`;
}

function fixedRows(cases: FanOutCase[]): string[][] {
  const rows: string[][] = [];
  const rates = [...new Set(cases.flatMap((item) => item.fixed.map((run) => run.load.rate ?? 0)))];
  for (const rate of rates) {
    const ioP99 = cases.find((item) => item.label === 'Socket.IO')?.fixed.find((run) => run.load.rate === rate)?.load.latency.p99;
    for (const item of cases) {
      const run: MeasuredLoad | undefined = item.fixed.find((candidate) => candidate.load.rate === rate);
      if (!run) continue;
      const { load, server } = run;
      rows.push([
        `${rate}/s`,
        item.label,
        num(load.deliveriesPerSec),
        ms(load.latency.p50),
        ms(load.latency.p90),
        ms(load.latency.p99),
        ms(load.latency.max),
        item.label === 'Socket.IO' ? '1×' : times(ratio(load.latency.p99, ioP99)),
        `${num(load.missing)} / ${num(load.expected)}`,
        num(load.closedSockets),
        `${server.cpuPercent}%`,
        num(server.rssPeakMiB, 1),
      ]);
    }
  }
  return rows;
}

function fanOutSection(results: BenchResults): string {
  const out: string[] = ['## Fan-out', ''];
  out.push(
    'Saturation is closed-loop: ' +
      `${results.parameters.inFlight} events are in flight at any time and the next is published when one has reached every socket of its org, ` +
      'so it measures what the server sustains without letting queues grow. Fixed rates are open-loop, each event stamped with its due time ' +
      '(a publisher that falls behind shows up as latency). Latency is publish (before the HTTP POST) → message handler in the client, over every socket.',
    '',
  );
  const sizes = [...new Map(results.fanOut.map((item) => [sizeKey(item), item])).keys()];
  for (const size of sizes) {
    const cases = results.fanOut.filter((item) => sizeKey(item) === size).sort((a, b) => PEER_ORDER.indexOf(a.label) - PEER_ORDER.indexOf(b.label));
    const io = cases.find((item) => item.label === 'Socket.IO')?.saturation?.load.deliveriesPerSec;
    const raw = cases.find((item) => item.label === 'raw ws')?.saturation?.load.deliveriesPerSec;
    out.push(`### ${size}`, '', '**Saturation**', '');
    out.push(
      table(
        ['peer', 'deliveries/s', 'vs Socket.IO', 'vs raw ws', 'events/s', 'p50 ms', 'p99 ms', 'server CPU', 'server CPU µs/delivery', 'kernel share', 'server RSS MiB', 'load-gen CPU', 'connect s'],
        cases.map((item) => {
          const load = item.saturation?.load;
          const server = item.saturation?.server;
          return [
            item.label,
            num(load?.deliveriesPerSec),
            times(ratio(load?.deliveriesPerSec, io)),
            times(ratio(load?.deliveriesPerSec, raw)),
            num(load?.eventsPerSec, 1),
            ms(load?.latency.p50),
            ms(load?.latency.p99),
            server ? `${server.cpuPercent}%` : '–',
            server && load && load.deliveriesPerSec > 0 ? num((server.cpuPercent * 10_000) / load.deliveriesPerSec, 1) : '–',
            server ? `${Math.round(server.systemShare * 100)}%` : '–',
            num(server?.rssPeakMiB, 1),
            load ? `${load.loadGeneratorCpuPercent}%` : '–',
            `${(item.connect.ms / 1000).toFixed(1)}${item.connect.failed > 0 ? ` (${item.connect.failed} failed)` : ''}`,
          ];
        }),
      ),
      '',
    );
    const rows = fixedRows(cases);
    if (rows.length > 0) {
      out.push('**Fixed rate**', '');
      out.push(table(['rate', 'peer', 'deliveries/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'p99 vs Socket.IO', 'missing / owed', 'sockets closed', 'server CPU', 'server RSS MiB'], rows), '');
    }
    for (const item of cases.filter((candidate) => candidate.error)) out.push(`- ${item.label}: **error**: ${item.error}`);
    out.push('');
  }
  out.push('![deliveries per second against sockets](results/throughput.svg)', '', '![latency against sockets](results/latency.svg)', '');
  return out.join('\n');
}

function compressionSection(results: BenchResults): string {
  const out: string[] = ['## Compression', ''];
  out.push(
    `${results.parameters.compressionSockets.toLocaleString('en-US')} sockets, one org, saturation, the event mix (JSON data of 150–2,000 bytes, ~470 on average; ` +
      'the `events` frame adds ~150). Bytes are what the clients read from TCP (frame headers included) per delivered event.',
    '',
  );
  const plainOf = (peer: string) => results.compression.find((item) => item.peer === peer && !item.deflate)?.saturation?.load;
  out.push(
    table(
      ['variant', 'B/event on the wire', '% of uncompressed', 'deliveries/s', 'vs compression off', 'server CPU', 'load-gen CPU', 'server CPU µs/delivery', 'server RSS MiB'],
      results.compression.map((item) => {
        const load = item.saturation?.load;
        const plain = plainOf(item.peer);
        return [
          item.label,
          num(load?.wireBytesPerDelivery, 1),
          load && plain?.wireBytesPerDelivery && load.wireBytesPerDelivery ? `${Math.round((load.wireBytesPerDelivery / plain.wireBytesPerDelivery) * 100)}%` : '–',
          num(load?.deliveriesPerSec),
          times(ratio(load?.deliveriesPerSec, plain?.deliveriesPerSec)),
          item.saturation ? `${item.saturation.server.cpuPercent}%` : '–',
          load ? `${load.loadGeneratorCpuPercent}%` : '–',
          item.saturation && load && load.deliveriesPerSec > 0 ? num((item.saturation.server.cpuPercent * 10_000) / load.deliveriesPerSec, 1) : '–',
          num(item.saturation?.server.rssPeakMiB, 1),
        ];
      }),
    ),
    '',
  );
  out.push(
    '`ours + deflate` is the server as configured (`compression: true`): each burst of events deflated once (no context takeover, 256-byte threshold) and the same frame written to every socket (`server/prepared-frame.ts`). ' +
      '`raw ws + per-socket deflate` is `ws` with permessage-deflate, no context takeover and threshold 0: one deflate per socket per event. ' +
      '`raw ws + compress once` is the bare broadcaster with the same prepared frames (`bench/servers/compress-once.ts` → `server/prepared-frame.ts`): `server_no_context_takeover`, each event deflated once, framed once ' +
      "(RSV1 set) and the same bytes written to every socket's TCP socket. " +
      'The load generator inflates with a synchronous one-shot inflate (`bench/peers/sync-inflate.ts`; ws\'s async per-socket inflate made the load generator, not the server, the bottleneck). ' +
      'Server CPU µs per delivery is the cost that does not depend on who the bottleneck was.',
    '',
  );
  for (const item of results.compression.filter((candidate) => candidate.error)) out.push(`- ${item.label}: **error**: ${item.error}`);
  return out.join('\n');
}

function memorySection(results: BenchResults): string {
  const out: string[] = ['## Memory per idle connection', ''];
  out.push('Server process, garbage collected before each reading; per connection = (reading − reading before any socket) ÷ sockets. "After one message": one event delivered to every socket (ws creates a socket\'s zlib stream on its first compressed message).', '');
  out.push(
    table(
      ['variant', 'sockets', 'baseline RSS MiB', 'idle RSS KiB/conn', 'idle heap KiB/conn', 'after one message RSS KiB/conn', 'heap KiB/conn', 'B/event'],
      results.memory.map((item) => [
        item.label,
        num(item.connect.connected),
        num(item.baseline?.rssMiB, 1),
        num(item.idle?.rssPerConnectionKiB, 1),
        num(item.idle?.heapPerConnectionKiB, 1),
        num(item.afterFirstMessage?.rssPerConnectionKiB, 1),
        num(item.afterFirstMessage?.heapPerConnectionKiB, 1),
        num(item.afterFirstMessage?.delivery.wireBytesPerDelivery, 0),
      ]),
    ),
    '',
  );
  for (const item of results.memory.filter((candidate) => candidate.error)) out.push(`- ${item.label}: **error**: ${item.error}`);
  return out.join('\n');
}

function replaySection(results: BenchResults): string {
  const out: string[] = ['## Replay', ''];
  out.push(`A client resumes ${results.parameters.replayEvents.toLocaleString('en-US')} events behind while ${results.parameters.replayLiveRate} events/s keep being published; time from opening the socket (and from sending \`subscribe\`) to \`live\`. Seam: the ids received are exactly cursor+1 … the last published, none missing, none twice.`, '');
  out.push(
    table(
      ['store', 'run', 'open → live ms', 'subscribe → live ms', 'replayed', 'live during replay', 'seam'],
      results.replay.flatMap((item) =>
        item.runs.map((run, index) => [item.store, String(index + 1), ms(run.connectToLiveMs), ms(run.subscribeToLiveMs), num(run.replayedEvents), num(run.liveEventsDuringReplay), run.seamIntact ? 'intact' : `**broken**: ${run.seamProblem ?? ''}`]),
      ),
    ),
    '',
  );
  for (const item of results.replay) {
    out.push(`- ${item.store}: median ${ms(item.medianConnectToLiveMs)} ms, max ${ms(item.maxConnectToLiveMs)} ms${item.error ? `; **error**: ${item.error}` : ''}`);
  }
  return `${out.join('\n')}\n`;
}

function scaleOutSection(results: BenchResults): string {
  const out: string[] = ['## Scale-out: SQLite vs Redis Streams, one and two processes', ''];
  const cases = results.scaleOut ?? [];
  if (cases.length === 0) return `${out.join('\n')}\nNot measured in this run.\n`;
  const first = cases[0] as ScaleOutCase;
  const rate = first.fixed?.load.rate ?? results.parameters.scaleOut?.rate ?? null;
  out.push(
    `${first.sockets.toLocaleString('en-US')} sockets over ${first.orgs} orgs (events round-robin over the orgs, each reaching its org's ${Math.round(first.sockets / first.orgs).toLocaleString('en-US')} sockets), the same load in every case: \`server/main.ts\` processes configured by the environment ` +
      '(`REALTIME_STORE`), one on the embedded SQLite log, one on Redis, two on one Redis with the sockets split evenly and every publish sent to the first ' +
      '(so half of the deliveries cross processes through Redis). Publish→receive is measured by the load generator as in Fan-out; ' +
      `publish latency is \`POST /v1/events\` → \`201\` (the append is durable), timed by the runner at ${rate ?? '–'} events/s in a separate window with every socket subscribed. ` +
      'Ratios divide by SQLite (1 process): above 1× is more deliveries/s, or a longer latency. Server CPU is per process, read from /proc; every process, Redis and the load generator share the same cores. ' +
        '"Other CPU" is the machine\'s busy time in the window minus all of those (the runner and anything else running): when it is high, the figures are skewed.',
    '',
  );
  const base = cases.find((item) => item.store === 'sqlite');
  const vsBase = (pick: (item: ScaleOutCase) => number | null | undefined, item: ScaleOutCase) => (item === base ? '1×' : times(ratio(pick(item), base ? pick(base) : null)));
  const saturation = (item: ScaleOutCase) => item.saturation?.load.deliveriesPerSec;
  const fixedP99 = (item: ScaleOutCase) => item.fixed?.load.latency.p99;
  const publishP99 = (item: ScaleOutCase) => item.publish?.latency.p99;
  out.push(
    table(
      ['case', 'deliveries/s at saturation', 'vs SQLite', `p99 publish→receive at ${rate ?? '–'}/s ms`, 'vs SQLite', 'publish p99 ms (POST → 201)', 'vs SQLite'],
      cases.map((item) => [item.label, num(saturation(item)), vsBase(saturation, item), ms(fixedP99(item)), vsBase(fixedP99, item), ms(publishP99(item)), vsBase(publishP99, item)]),
    ),
    '',
  );
  out.push(
    '**Saturation**',
    '',
    table(
      ['case', 'sockets per process', 'subscriptions per process', 'events/s', 'p50 ms', 'p99 ms', 'server CPU per process', 'Redis CPU', 'load-gen CPU', 'other CPU'],
      cases.map((item) => {
        const run = item.saturation;
        return [
          item.label,
          item.connections.join(' + ') || '–',
          item.subscriptions.join(' + ') || '–',
          num(run?.load.eventsPerSec, 1),
          ms(run?.load.latency.p50),
          ms(run?.load.latency.p99),
          run ? run.servers.map((server) => `${server.cpuPercent}%`).join(' + ') : '–',
          run?.redis ? `${run.redis.cpuPercent}%` : '–',
          run ? `${run.load.loadGeneratorCpuPercent}%` : '–',
          run?.otherCpuPercent === null || run?.otherCpuPercent === undefined ? '–' : `${run.otherCpuPercent}%`,
        ];
      }),
    ),
    '',
    `**${rate ?? '–'} events/s** (publish→receive; then \`POST\` → \`201\` in its own window)`,
    '',
    table(
      ['case', 'deliveries/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'missing / owed', 'server CPU per process', 'Redis CPU', 'other CPU', 'publish p50 ms', 'publish p99 ms', 'publish max ms', 'publish errors'],
      cases.map((item) => {
        const run = item.fixed;
        const publish = item.publish;
        return [
          item.label,
          num(run?.load.deliveriesPerSec),
          ms(run?.load.latency.p50),
          ms(run?.load.latency.p90),
          ms(run?.load.latency.p99),
          ms(run?.load.latency.max),
          run ? `${num(run.load.missing)} / ${num(run.load.expected)}` : '–',
          run ? run.servers.map((server) => `${server.cpuPercent}%`).join(' + ') : '–',
          run?.redis ? `${run.redis.cpuPercent}%` : '–',
          run?.otherCpuPercent === null || run?.otherCpuPercent === undefined ? '–' : `${run.otherCpuPercent}%`,
          ms(publish?.latency.p50),
          ms(publish?.latency.p99),
          ms(publish?.latency.max),
          publish ? `${num(publish.errors)} of ${num(publish.published + publish.errors)}` : '–',
        ];
      }),
    ),
    '',
  );
  for (const store of ['sqlite', 'redis'] as const) {
    const note = cases.find((item) => item.store === store)?.storeNote;
    if (note) out.push(`- ${store === 'sqlite' ? 'SQLite' : 'Redis'}: ${note}`);
  }
  for (const item of cases.filter((candidate) => candidate.error)) out.push(`- ${item.label}: **error**: ${item.error}`);
  return `${out.join('\n')}\n`;
}

function browserSection(results: BenchResults): string {
  const out: string[] = ['## Browser', ''];
  const { browser } = results;
  if (browser.skipped) return `${out.join('\n')}Skipped: ${browser.skipped}\n`;
  const rate = results.parameters.browser?.eventsPerSec ?? 0;
  out.push(
    `Debian Chromium (headless) with the built demo, ours with compression on; ${rate} events/s of the mix. Tabs of one browser context share one SharedWorker and so one socket. ` +
      'Publish→render is `renderedAt − ts` from `window.__demo.received` (ts: the server accepted the event; renderedAt: its row is in the DOM).',
    '',
  );
  if (browser.error) out.push(`**error**: ${browser.error}`, '');
  if (browser.tabs.length > 0) {
    out.push(
      table(
        ['tabs', 'events rendered', 'publish→render p50 ms', 'p99 ms', 'max ms', 'server connections'],
        browser.tabs.map((item) => [String(item.tabs), num(item.renderLatency?.count), ms(item.renderLatency?.p50), ms(item.renderLatency?.p99), ms(item.renderLatency?.max), num(item.serverConnections)]),
      ),
      '',
    );
  }
  if (browser.cost.length > 0) {
    const v2 = browser.cost.find((item) => item.transport === 'v2');
    const v1 = browser.cost.find((item) => item.transport === 'v1');
    out.push(
      'Cost of one tab, metered by a TCP proxy in front of the server (page load excluded; requests are HTTP request lines from the browser, the v2 figure has none after the upgrade):',
      '',
      table(
        ['transport', 'HTTP requests per tab-hour', 'bytes per tab-hour (both ways)', 'measured over', 'events/s'],
        browser.cost.map((item) => [item.transport, num(item.requestsPerTabHour), num(item.bytesPerTabHour), `${(item.measuredMs / 1000).toFixed(0)} s`, String(item.eventsPerSec)]),
      ),
      '',
    );
    if (v1 && v2 && v2.bytesPerTabHour > 0) out.push(`v1 long-polling moves ${(v1.bytesPerTabHour / v2.bytesPerTabHour).toFixed(1)}× the bytes of v2 and makes ${num(v1.requestsPerTabHour)} requests per tab-hour more.`, '');
  }
  return out.join('\n');
}

/** The Markdown report. `quick` runs get a banner saying the sizes are too small to mean anything. */
export function renderResultsMarkdown(results: BenchResults): string {
  const { machine } = results;
  const out: string[] = ['# Benchmark results', ''];
  if (results.quick) out.push('> **Quick run** (`--quick`): tiny sizes that only prove the bench code works. These figures mean nothing.', '');
  out.push(
    `Command: \`npm run bench\` (${results.quick ? 'with `--quick`' : 'full run'}), ${results.startedAt}, ${(results.durationMs / 1000).toFixed(0)} s.`,
    '',
    `Machine: ${machine.cpuModel} × ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}, Node ${machine.node}, ulimit -n ${machine.fdLimit}, load average at start ${machine.loadAverage.map((value) => value.toFixed(2)).join(' / ')}. ` +
      `Packages: ${Object.entries(machine.packages).map(([name, version]) => `${name} ${version}`).join(', ')}.`,
    '',
    'Every server under test runs in its own child process; one load-generator process holds all client sockets and publishes over HTTP (`POST /v1/events` with a token for ours, `POST /publish` for the peers); the runner only orchestrates. ' +
      'Server, load generator and runner share the machine\'s cores, so the load generator\'s CPU (shown) competes with the server\'s: the ratios between peers are the meaningful part, not the absolute figures. Loopback only.',
    '',
  );
  const load = machine.loadAverage[0] ?? 0;
  // Other work on the same cores takes CPU from the server and the load generator unevenly across cases.
  if (load > machine.cores / 2) {
    out.push(`> **The machine was busy** (load average ${load.toFixed(2)} on ${machine.cores} cores when the run started): every figure is noisy, ratios included. Rerun on an idle machine before quoting them.`, '');
  }
  if (results.notes.length > 0) out.push('Notes:', '', ...results.notes.map((note) => `- ${note}`), '');
  out.push('## Targets', '');
  out.push(table(['target', 'figure', 'met'], results.targets.map((item) => [item.target, item.figure, item.met === null ? 'not measured' : item.met ? 'met' : '**not met**'])), '');
  out.push(fanOutSection(results), compressionSection(results), '', memorySection(results), '', replaySection(results), scaleOutSection(results), browserSection(results));
  out.push('', 'Raw figures (every run, with parameters): `bench/results/latest.json`.', '');
  return out.join('\n');
}

/** Throughput and latency against sockets (single-org cases), one line per peer. */
export function renderCharts(results: BenchResults): { throughput: string; latency: string } {
  const singleOrg = results.fanOut.filter((item) => item.orgs === 1);
  const sizes = [...new Set(singleOrg.map((item) => item.sockets))].sort((a, b) => a - b);
  const categories = sizes.map((sockets) => sockets.toLocaleString('en-US'));
  const byPeer = (label: string, pick: (item: FanOutCase) => number | null | undefined) =>
    sizes.map((sockets) => pick(singleOrg.find((item) => item.label === label && item.sockets === sockets) as FanOutCase) ?? null);
  const labels = PEER_ORDER.filter((label) => singleOrg.some((item) => item.label === label));
  const throughputSeries: ChartSeries[] = labels.map((label) => ({ name: label, color: COLORS[label] ?? '#555', values: byPeer(label, (item) => item?.saturation?.load.deliveriesPerSec) }));
  // The lowest fixed rate of each size: below saturation, so latency is fan-out time, not queueing.
  const firstFixed = (item: FanOutCase | undefined) => item?.fixed[0]?.load;
  const rateNote = sizes.map((sockets) => `${sockets}: ${firstFixed(singleOrg.find((item) => item.sockets === sockets))?.rate ?? '–'}/s`).join(', ');
  const latencySeries: ChartSeries[] = labels.flatMap((label) => [
    { name: `${label} p50`, color: COLORS[label] ?? '#555', values: byPeer(label, (item) => firstFixed(item)?.latency.p50) },
    { name: `${label} p99`, color: COLORS[label] ?? '#555', dashed: true, values: byPeer(label, (item) => firstFixed(item)?.latency.p99) },
  ]);
  return {
    throughput: renderLineChart({ title: 'Fan-out at saturation (one org)', xLabel: 'sockets', yLabel: 'deliveries/s', categories, series: throughputSeries }),
    latency: renderLineChart({ title: `Publish→receive latency (${rateNote} events/s)`, xLabel: 'sockets', yLabel: 'ms', categories, series: latencySeries, logY: true }),
  };
}

/** The targets, each checked against this run's figures: met, not met, or not measured. */
import type { BenchResults, FanOutCase, TargetCheck } from './results-types.ts';

const ratio = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 100) / 100 : null);

function saturationOf(cases: FanOutCase[], label: string, sockets: number): number | null {
  const found = cases.find((item) => item.label === label && item.sockets === sockets && item.orgs === 1);
  return found?.saturation?.load.deliveriesPerSec ?? null;
}

function check(target: string, met: boolean | null, figure: string): TargetCheck {
  return { target, met, figure };
}

export function checkTargets(results: Omit<BenchResults, 'targets'>): TargetCheck[] {
  const checks: TargetCheck[] = [];
  // The sizes, whether or not this run measured them (a quick run reports them unmeasured).
  for (const sockets of [1000, 5000]) {
    const ours = saturationOf(results.fanOut, 'ours', sockets);
    const socketIo = saturationOf(results.fanOut, 'Socket.IO', sockets);
    const raw = saturationOf(results.fanOut, 'raw ws', sockets);
    const vsIo = ours !== null && socketIo !== null ? ratio(ours, socketIo) : null;
    const vsRaw = ours !== null && raw !== null ? ratio(ours, raw) : null;
    checks.push(check(`deliveries/s ≥ 2× Socket.IO at ${sockets} sockets`, vsIo === null ? null : vsIo >= 2, `${ours ?? '–'} vs ${socketIo ?? '–'}/s = ${vsIo ?? '–'}×`));
    checks.push(check(`deliveries/s ≥ 0.8× raw ws at ${sockets} sockets`, vsRaw === null ? null : vsRaw >= 0.8, `${ours ?? '–'} vs ${raw ?? '–'}/s = ${vsRaw ?? '–'}×`));
  }

  const p99At = (label: string) =>
    results.fanOut.find((item) => item.label === label && item.sockets === 1000 && item.orgs === 1)?.fixed.find((run) => run.load.rate === 100)?.load.latency.p99 ?? null;
  const oursP99 = p99At('ours');
  const ioP99 = p99At('Socket.IO');
  checks.push(
    check(
      'p99 publish→receive at 1,000 sockets, 100 events/s ≤ ½ of Socket.IO',
      oursP99 !== null && ioP99 !== null ? oursP99 <= ioP99 / 2 : null,
      `${oursP99 ?? '–'} ms vs ${ioP99 ?? '–'} ms`,
    ),
  );

  const compression = (label: string) => results.compression.find((item) => item.label === label)?.saturation?.load ?? null;
  const plain = compression('ours');
  const deflated = compression('ours + deflate');
  const throughputRatio = plain && deflated ? ratio(deflated.deliveriesPerSec, plain.deliveriesPerSec) : null;
  checks.push(check('fan-out with compression on ≥ 0.7× of off (ours)', throughputRatio === null ? null : throughputRatio >= 0.7, `${deflated?.deliveriesPerSec ?? '–'} vs ${plain?.deliveriesPerSec ?? '–'}/s = ${throughputRatio ?? '–'}×`));
  const bytesRatio = plain?.wireBytesPerDelivery && deflated?.wireBytesPerDelivery ? ratio(deflated.wireBytesPerDelivery, plain.wireBytesPerDelivery) : null;
  checks.push(check('bytes on the wire ≤ 40% of raw on the event mix (ours)', bytesRatio === null ? null : bytesRatio <= 0.4, `${deflated?.wireBytesPerDelivery ?? '–'} vs ${plain?.wireBytesPerDelivery ?? '–'} B/event = ${bytesRatio === null ? '–' : Math.round(bytesRatio * 100)}%`));

  const memory = (label: string) => results.memory.find((item) => item.label === label) ?? null;
  const idlePlain = memory('ours')?.afterFirstMessage?.rssPerConnectionKiB ?? null;
  const idleDeflate = memory('ours + deflate')?.afterFirstMessage?.rssPerConnectionKiB ?? null;
  const memorySockets = memory('ours')?.sockets ?? 0;
  checks.push(check('idle RSS per connection ≤ 16 KiB without deflate (ours)', idlePlain === null ? null : idlePlain <= 16, `${idlePlain ?? '–'} KiB over ${memorySockets} sockets`));
  checks.push(check('idle RSS per connection ≤ 64 KiB with deflate (ours)', idleDeflate === null ? null : idleDeflate <= 64, `${idleDeflate ?? '–'} KiB over ${memorySockets} sockets`));

  const sqlite = results.replay.find((item) => item.store === 'sqlite') ?? null;
  const replayMs = sqlite?.medianConnectToLiveMs ?? null;
  checks.push(
    check(
      `${sqlite?.events ?? 10_000}-event replay live again in < 250 ms (SQLite, seam intact)`,
      replayMs === null ? null : replayMs < 250 && sqlite?.seamIntactEveryRun === true,
      `median ${replayMs ?? '–'} ms, max ${sqlite?.maxConnectToLiveMs ?? '–'} ms, seam ${sqlite?.seamIntactEveryRun ? 'intact' : 'not intact'}`,
    ),
  );

  const fiveTabs = results.browser.tabs.find((item) => item.tabs === 5)?.renderLatency ?? null;
  checks.push(
    check(
      'browser publish→render p99 < 50 ms with 5 tabs on one socket',
      fiveTabs === null ? null : fiveTabs.p99 < 50,
      fiveTabs === null ? (results.browser.skipped ?? results.browser.error ?? 'not measured') : `p99 ${fiveTabs.p99} ms (p50 ${fiveTabs.p50} ms)`,
    ),
  );
  return checks;
}

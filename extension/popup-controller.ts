/**
 * The popup's behaviour, behind adapters (`PopupPorts`) so tests drive it without a browser:
 * refresh what the page reports, and flip the flag.
 *
 *   switch ──> writeFlag (read back) ──> reload tab ──> poll get-status until a NEW page instance
 *                                                       reports ──> read the flag again ──> show both
 *
 * The state after the flip is what the reloaded page reports, never what we expect it to be.
 */
import { describePopup } from './popup-model.ts';
import type { PopupDisplay } from './popup-model.ts';
import { formatMetricsSummary, summarizeMetrics } from './metrics-summary.ts';
import type { StatusReply } from './messages.ts';

/** What the controller needs from the browser. */
export interface PopupPorts {
  /** The tab's URL, or null when the tab is gone. */
  tabUrl(tabId: number): Promise<string | null>;
  /** The content script's answer, or null when none answered (no content script in that page). */
  getStatus(tabId: number): Promise<StatusReply | null>;
  /** The raw flag in the page's localStorage; undefined when the page cannot be scripted. */
  readFlag(tabId: number): Promise<string | null | undefined>;
  /** Sets (`'false'`) or removes (`null`) the flag; resolves to the value read back. */
  writeFlag(tabId: number, value: string | null): Promise<string | null>;
  reload(tabId: number): Promise<void>;
  /**
   * Injects the bridge content script into a page that has none (a tab opened before the extension
   * was installed or reloaded); resolves to false where that is not allowed.
   */
  injectBridge(tabId: number): Promise<boolean>;
  /** The parsed JSON of `${origin}/v2/realtime/metrics`, or null when the site does not serve it. */
  fetchMetrics(origin: string): Promise<unknown>;
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** Where a flip is: `reloading` from the write until the new page reports. */
export type SwitchPhase = 'idle' | 'reloading' | 'done' | 'failed';

export interface PopupState {
  tabId: number;
  origin: string | null;
  display: PopupDisplay;
  /** The metrics line, or a short sentence saying why there is none. */
  metrics: string;
  switchPhase: SwitchPhase;
  /** What the last flip did, read back from the page. */
  switchMessage: string | null;
}

export interface PopupController {
  readonly state: PopupState;
  /** Reads the page's status, flag and the site's metrics again. Skipped while a flip is running. */
  refresh(): Promise<void>;
  /** Wants v2 (`true`: remove the flag) or rollback (`false`: flag = 'false'), then reloads the tab. */
  setV2(on: boolean): Promise<void>;
}

export interface PopupControllerOptions {
  /** How long to wait for the reloaded page to report (default 15 s). */
  reloadTimeoutMs?: number;
  /** Poll interval while waiting (default 150 ms). */
  pollMs?: number;
}

function originOf(url: string | null): string | null {
  if (!url) return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.origin : null;
  } catch {
    return null;
  }
}

/** The sentence shown after a flip, from what the reloaded page reported. */
export function describeSwitchOutcome(wantV2: boolean, reply: StatusReply | null, flag: string | null | undefined): string {
  const flagText = flag === undefined ? 'unreadable' : flag === null ? 'not set' : JSON.stringify(flag);
  const status = reply?.status;
  if (!status) return `Reloaded, but the page's realtime client did not report (flag ${flagText}).`;
  const runs = status.transport === 'v2' ? 'v2 (WebSocket)' : status.transport === 'v1' ? 'v1 (long-polling)' : 'no transport';
  const expected = wantV2 ? status.transport === 'v2' || status.reason === 'server-off' || status.reason === 'websocket-unavailable' : status.transport === 'v1';
  const base = `Reloaded: the page runs ${runs}, reason ${status.reason}; flag ${flagText}.`;
  return expected ? base : `${base} That is not what the flag asks for.`;
}

/** Creates the controller for one tab; `onChange` gets every new state (render it). */
export function createPopupController(
  tabId: number,
  ports: PopupPorts,
  onChange: (state: PopupState) => void,
  options: PopupControllerOptions = {},
): PopupController {
  const reloadTimeoutMs = options.reloadTimeoutMs ?? 15_000;
  const pollMs = options.pollMs ?? 150;
  let lastReply: StatusReply | null = null;
  let injected = false;
  let state: PopupState = {
    tabId,
    origin: null,
    display: describePopup(null, undefined, ports.now()),
    metrics: '…',
    switchPhase: 'idle',
    switchMessage: null,
  };

  // A function, not an inline test: the phase changes across awaits, which narrowing cannot see.
  const flipping = (): boolean => state.switchPhase === 'reloading';

  function update(next: Partial<PopupState>): void {
    state = { ...state, ...next };
    onChange(state);
  }

  async function metricsLine(origin: string | null): Promise<string> {
    if (!origin) return 'no metrics: not a website';
    try {
      const summary = summarizeMetrics(await ports.fetchMetrics(origin));
      return summary ? formatMetricsSummary(summary) : 'this site does not serve /v2/realtime/metrics';
    } catch {
      return 'this site does not serve /v2/realtime/metrics';
    }
  }

  async function status(origin: string | null): Promise<StatusReply | null> {
    const reply = await ports.getStatus(tabId).catch(() => null);
    if (reply || injected || !origin) return reply;
    // Once per popup: a page without our content script gets it now (the client then starts
    // reporting on the bridge's ready event), instead of asking the developer to reload.
    injected = true;
    if (!(await ports.injectBridge(tabId).catch(() => false))) return null;
    return ports.getStatus(tabId).catch(() => null);
  }

  async function read(): Promise<Partial<PopupState>> {
    const origin = originOf(await ports.tabUrl(tabId).catch(() => null));
    const [reply, flag, metrics] = await Promise.all([
      status(origin),
      origin ? ports.readFlag(tabId).catch(() => undefined) : Promise.resolve(undefined),
      metricsLine(origin),
    ]);
    lastReply = reply;
    return { origin, display: describePopup(reply, flag, ports.now()), metrics };
  }

  return {
    get state() {
      return state;
    },
    async refresh() {
      if (flipping()) return;
      const next = await read();
      // A flip may have started while we were reading: its result wins.
      if (!flipping()) update(next);
    },
    async setV2(on) {
      if (flipping()) return;
      const before = lastReply?.instance ?? null;
      update({ switchPhase: 'reloading', switchMessage: on ? 'Removing the flag and reloading the tab…' : 'Setting the flag to "false" and reloading the tab…' });
      try {
        await ports.writeFlag(tabId, on ? null : 'false');
        await ports.reload(tabId);
        const deadline = ports.now() + reloadTimeoutMs;
        let reply: StatusReply | null = null;
        // The old page may still answer until it unloads: wait for a new instance that has reported.
        while (ports.now() < deadline) {
          const candidate = await ports.getStatus(tabId).catch(() => null);
          if (candidate && candidate.instance !== before) {
            reply = candidate;
            if (candidate.status) break;
          }
          await ports.sleep(pollMs);
        }
        const flag = await ports.readFlag(tabId).catch(() => undefined);
        lastReply = reply;
        const fresh = await read().catch(() => ({}));
        update({
          ...fresh,
          display: describePopup(reply, flag, ports.now()),
          switchPhase: reply?.status ? 'done' : 'failed',
          switchMessage: describeSwitchOutcome(on, reply, flag),
        });
      } catch (error) {
        update({
          switchPhase: 'failed',
          switchMessage: `Could not change the flag: ${error instanceof Error ? error.message : String(error)}`,
        });
      }
    },
  };
}

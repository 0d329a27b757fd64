/**
 * Fills popup.html (whose elements carry the `data-testid`s the e2e suite uses) from a PopupState.
 * Each field also gets `data-value` where a stable machine value exists (transport, state, reason).
 */
import type { PopupState } from './popup-controller.ts';

export interface PopupViewHandlers {
  onSwitch(on: boolean): void;
  onOpenStream(): void;
  /** Asks for this site's permission (optional host permission) so the bridge runs there. */
  onGrantSite(): void;
}

export interface PopupView {
  render(state: PopupState): void;
}

function byTestId<T extends HTMLElement = HTMLElement>(root: ParentNode, id: string): T {
  const node = root.querySelector<T>(`[data-testid="${id}"]`);
  if (!node) throw new Error(`popup.html lacks data-testid="${id}"`);
  return node;
}

/** Binds popup.html's elements under `root` to the handlers; returns the renderer. */
export function bindPopupView(root: HTMLElement, handlers: PopupViewHandlers): PopupView {
  const flagSwitch = byTestId<HTMLInputElement>(root, 'flag-switch');
  const openStream = byTestId<HTMLButtonElement>(root, 'open-stream');
  const grantSite = byTestId<HTMLButtonElement>(root, 'grant-site');
  const fields = {
    origin: byTestId(root, 'origin'),
    notice: byTestId(root, 'notice'),
    headline: byTestId(root, 'headline'),
    switchMessage: byTestId(root, 'switch-message'),
    transport: byTestId(root, 'transport'),
    state: byTestId(root, 'state'),
    reason: byTestId(root, 'reason'),
    mode: byTestId(root, 'mode'),
    cursor: byTestId(root, 'cursor'),
    tabs: byTestId(root, 'tabs'),
    rate: byTestId(root, 'rate'),
    lastEvent: byTestId(root, 'last-event'),
    metrics: byTestId(root, 'metrics-summary'),
  };

  flagSwitch.addEventListener('change', () => handlers.onSwitch(flagSwitch.checked));
  openStream.addEventListener('click', () => handlers.onOpenStream());
  grantSite.addEventListener('click', () => handlers.onGrantSite());

  return {
    render(state) {
      const { display } = state;
      root.dataset.client = display.client;
      root.dataset.phase = state.switchPhase;
      fields.origin.textContent = state.origin ?? 'not a website';
      fields.notice.textContent = display.notice ?? '';
      fields.notice.hidden = display.notice === null;
      fields.headline.textContent = display.headline;
      fields.switchMessage.textContent = state.switchMessage ?? '';
      fields.switchMessage.hidden = state.switchMessage === null;
      fields.transport.textContent = display.transport.text;
      fields.transport.dataset.value = display.transport.value;
      fields.state.textContent = display.state.text;
      fields.state.dataset.value = display.state.value;
      fields.reason.textContent = display.reason.text;
      fields.reason.dataset.value = display.reason.value;
      fields.mode.textContent = display.mode;
      fields.cursor.textContent = display.cursor;
      fields.tabs.textContent = display.tabs;
      fields.rate.textContent = display.rate;
      fields.lastEvent.textContent = display.lastEvent;
      fields.metrics.textContent = state.metrics;
      const reloading = state.switchPhase === 'reloading';
      // Do not fight the user's click while a flip is running; otherwise mirror the page's flag.
      if (!reloading) flagSwitch.checked = display.switchOn;
      flagSwitch.disabled = reloading || !display.flagReadable;
      flagSwitch.dataset.value = display.switchOn ? 'on' : 'off';
      grantSite.hidden = !(display.client === 'unreachable' && state.origin !== null);
      grantSite.textContent = `Enable the bridge on ${state.origin ?? 'this site'}`;
    },
  };
}

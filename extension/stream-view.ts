/**
 * The stream view's DOM, used by panel.html (DevTools) and stream.html (opened from the popup).
 * Rendering is batched: entries only mark the view dirty, and one animation frame draws the rows
 * that fit in the viewport (a virtualised list of fixed-height rows), so hundreds of events a
 * second cost one small DOM update per frame. Page data is only ever set as text, never as HTML.
 */
import { createStreamModel, formatClock, visibleWindow } from './stream-model.ts';
import type { StreamModel, StreamRow } from './stream-model.ts';
import { watchTab } from './view-connection.ts';
import type { ViewPort } from './view-connection.ts';

export interface StreamViewOptions {
  tabId: number;
  /** Opens a runtime port by name. */
  connect: (name: string) => ViewPort;
  /** Rows kept (default 5,000). */
  capacity?: number;
}

/** Row height in px; must match `.row` in stream-view.css. */
const ROW_HEIGHT = 22;

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  textContent?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  if (textContent !== undefined) node.textContent = textContent;
  return node;
}

function cells(row: StreamRow): string[] {
  const time = formatClock(row.at);
  switch (row.kind) {
    case 'event':
      return [time, row.org, row.service, row.type, row.id, row.latencyMs === null ? '' : `${row.latencyMs} ms`, row.replayed ? 'replayed' : 'live'];
    case 'connection':
      return [time, '', '', row.what, row.detail, '', 'connection'];
    case 'page':
      return [time, '', '', `page ${row.what}`, row.url, '', 'page'];
  }
}

function renderRow(row: StreamRow, selected: boolean): HTMLElement {
  const attrs: Record<string, string> = { class: `row ${row.kind}${selected ? ' selected' : ''}`, 'data-key': row.key };
  if (row.kind === 'event') {
    attrs['data-testid'] = 'event-row';
    attrs['data-event-id'] = row.id;
    attrs['data-service'] = row.service;
    attrs['data-replayed'] = String(row.replayed);
    if (row.replayed) attrs.class += ' replayed';
  } else {
    attrs['data-testid'] = `${row.kind}-row`;
    attrs['data-what'] = row.what;
  }
  const node = el('div', attrs);
  for (const value of cells(row)) node.append(el('span', {}, value));
  return node;
}

function statusLine(model: StreamModel): string {
  const status = model.status;
  if (!status) return 'no client status yet';
  return `${status.transport} · ${status.state} · ${status.reason} · ${status.tabs} tab${status.tabs === 1 ? '' : 's'}`;
}

/** Builds the view inside `root` and starts watching the tab. */
export function mountStreamView(root: HTMLElement, options: StreamViewOptions): { stop(): void; model: StreamModel } {
  const model = createStreamModel(options.capacity === undefined ? {} : { capacity: options.capacity });
  let selectedKey: string | null = null;
  let frame: number | null = null;
  let renderedVersion = -1;
  let renderedWindow = '';
  let servicesShown = '';

  const status = el('span', { 'data-testid': 'stream-status', class: 'status' }, 'connecting to the extension…');
  const service = el('select', { 'data-testid': 'service-filter', title: 'Filter by service' });
  service.append(el('option', { value: '' }, 'all services'));
  const search = el('input', { 'data-testid': 'text-filter', type: 'search', placeholder: 'Filter text (type, id, payload…)' });
  const pause = el('button', { 'data-testid': 'pause', type: 'button' }, 'Pause');
  const clear = el('button', { 'data-testid': 'clear', type: 'button' }, 'Clear');
  const exportButton = el('button', { 'data-testid': 'export', type: 'button', title: 'Download the shown rows as JSON' }, 'Export JSON');
  const counts = el('span', { 'data-testid': 'counts', class: 'counts' });
  const link = el('span', { 'data-testid': 'link', class: 'link down' }, 'offline');
  const bar = el('header', { class: 'bar' });
  bar.append(status, service, search, pause, clear, exportButton, counts, link);

  const head = el('div', { class: 'row head' });
  for (const name of ['time', 'org', 'service', 'type', 'id', 'latency', '']) head.append(el('span', {}, name));
  const list = el('div', { class: 'list', 'data-testid': 'event-list' });
  const spacer = el('div', { class: 'spacer' });
  const rowsBox = el('div', { class: 'rows' });
  spacer.append(rowsBox);
  list.append(spacer);
  const empty = el('p', { class: 'empty', 'data-testid': 'empty' }, 'No events yet. Events appear here as the page receives them.');
  const payload = el('pre', { 'data-testid': 'payload', class: 'payload' }, 'Click a row to see its payload.');
  const main = el('div', { class: 'main' });
  const left = el('section', { class: 'left' });
  left.append(head, list, empty);
  main.append(left, payload);
  root.replaceChildren(bar, main);

  function render(): void {
    frame = null;
    const rows = model.rows();
    const following = list.scrollTop + list.clientHeight >= list.scrollHeight - ROW_HEIGHT * 2;
    spacer.style.height = `${rows.length * ROW_HEIGHT}px`;
    if (following) list.scrollTop = list.scrollHeight;
    const { start, end } = visibleWindow(list.scrollTop, list.clientHeight || 600, ROW_HEIGHT, rows.length);
    const windowKey = `${start}:${end}:${selectedKey ?? ''}`;
    if (renderedVersion !== model.version || renderedWindow !== windowKey) {
      rowsBox.style.transform = `translateY(${start * ROW_HEIGHT}px)`;
      rowsBox.replaceChildren(...rows.slice(start, end).map((row) => renderRow(row, row.key === selectedKey)));
      renderedVersion = model.version;
      renderedWindow = windowKey;
    }
    empty.hidden = rows.length > 0;
    status.textContent = statusLine(model);
    counts.textContent = `${rows.length} shown · ${model.total} kept${model.dropped ? ` · ${model.dropped} dropped` : ''}${model.paused ? ` · ${model.held} held` : ''}`;
    pause.textContent = model.paused ? 'Resume' : 'Pause';
    pause.setAttribute('aria-pressed', String(model.paused));
    const services = model.services();
    if (services.join('\n') !== servicesShown) {
      servicesShown = services.join('\n');
      const current = service.value;
      service.replaceChildren(el('option', { value: '' }, 'all services'), ...services.map((name) => el('option', { value: name }, name)));
      service.value = current;
    }
  }

  function schedule(): void {
    if (frame === null) frame = requestAnimationFrame(render);
  }

  function showPayload(row: StreamRow | undefined): void {
    if (!row) return;
    payload.textContent = JSON.stringify({ time: new Date(row.at).toISOString(), ...row }, null, 2);
  }

  list.addEventListener('scroll', schedule, { passive: true });
  window.addEventListener('resize', schedule);
  rowsBox.addEventListener('click', (event) => {
    const target = event.target instanceof Element ? event.target.closest<HTMLElement>('[data-key]') : null;
    if (!target?.dataset.key) return;
    selectedKey = target.dataset.key;
    showPayload(model.find(selectedKey));
    schedule();
  });
  service.addEventListener('change', () => {
    model.setFilter({ service: service.value });
    schedule();
  });
  search.addEventListener('input', () => {
    model.setFilter({ text: search.value.trim() });
    schedule();
  });
  pause.addEventListener('click', () => {
    if (model.paused) model.resume();
    else model.pause();
    schedule();
  });
  clear.addEventListener('click', () => {
    model.clear();
    selectedKey = null;
    payload.textContent = 'Click a row to see its payload.';
    schedule();
  });
  exportButton.addEventListener('click', () => {
    const url = URL.createObjectURL(new Blob([model.exportJson()], { type: 'application/json' }));
    const anchor = el('a', { href: url, download: `realtime-stream-tab${options.tabId}-${new Date().toISOString().replace(/[:.]/g, '-')}.json` });
    anchor.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  });

  const watcher = watchTab(options.tabId, {
    connect: options.connect,
    onEntries(entries) {
      model.append(entries);
      schedule();
    },
    onLink(up) {
      link.textContent = up ? 'live' : 'reconnecting…';
      link.className = `link ${up ? 'up' : 'down'}`;
      link.setAttribute('data-state', up ? 'up' : 'down');
    },
  });
  schedule();
  return {
    model,
    stop() {
      watcher.stop();
      if (frame !== null) cancelAnimationFrame(frame);
    },
  };
}

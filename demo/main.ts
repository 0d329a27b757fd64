/**
 * The demo app: one page using the client as an app would. A live feed per service, the
 * connection status, a publish button, reset notices. Everything an e2e test needs is on
 * `data-testid` / `data-event-id` attributes and `window.__demo`.
 */
import { createRealtime, firstAnswer, type ClientStatus, type ResetNotice, type StreamEvent } from '../shared-worker/index.ts';
import { openReceivedLog, type ReceivedEntry } from './received-log.ts';

const FEED_LIMIT = 200;
const params = new URLSearchParams(location.search);
const org = params.get('org') ?? '456';
// The orgs the dev token covers (default: this page's org). Tabs share one worker and one socket,
// which uses one tab's token for every org: a real app's token covers all of the user's orgs.
const tokenOrgs = params.get('token-orgs') ?? org;
const services = (params.get('services') ?? 'finance,orders,chat')
  .split(',')
  .map((service) => service.trim())
  .filter(Boolean);
// `?servers=http://127.0.0.1:4001,http://127.0.0.1:4002`: processes sharing one log (Redis) that
// the stream fails over between; each must list this page's origin in ALLOWED_ORIGINS.
const servers = parseServers(params.get('servers'));

function parseServers(value: string | null): string[] {
  const origins: string[] = [];
  for (const item of (value ?? '').split(',')) {
    if (item.trim() === '') continue;
    try {
      origins.push(new URL(item.trim()).origin);
    } catch {
      console.warn('[demo] ignoring a server that is not a URL:', item);
    }
  }
  return origins.length > 0 ? [...new Set(origins)] : [location.origin];
}

const byTestId = <T extends HTMLElement>(id: string): T => {
  const element = document.querySelector<T>(`[data-testid="${id}"]`);
  if (!element) throw new Error(`missing [data-testid="${id}"]`);
  return element;
};

function storage(): Storage | null {
  try {
    return sessionStorage;
  } catch {
    return null;
  }
}

/** A token request that hangs (a pooled keep-alive connection gone half-open) must not stall reconnects. */
const TOKEN_TIMEOUT_MS = 3_000;

/** Asked first: the server that answered the last token request (then the others, in order). */
let tokenServer = servers[0] ?? location.origin;

/**
 * A token from the first server that answers: the one that answered last time first, the next
 * one too when it has not answered within a second (a dead process refuses at once, a hung one
 * does not), the first answer wins. Every process signs with the same secret.
 */
function fetchToken(scope: 'read' | 'publish'): Promise<string> {
  const order = [tokenServer, ...servers.filter((server) => server !== tokenServer)];
  return firstAnswer(
    order,
    async (server) => {
      const token = await fetchTokenFrom(server, scope);
      tokenServer = server;
      return token;
    },
    { hedgeMs: 1_000 },
  );
}

async function fetchTokenFrom(server: string, scope: 'read' | 'publish'): Promise<string> {
  const response = await fetch(`${server}/dev/token?org=${encodeURIComponent(tokenOrgs)}&scope=${scope}`, {
    cache: 'no-store',
    signal: AbortSignal.timeout(TOKEN_TIMEOUT_MS),
  });
  if (!response.ok) throw new Error(`token endpoint answered ${response.status}`);
  const body: unknown = await response.json();
  if (typeof body !== 'object' || body === null || !('token' in body) || typeof body.token !== 'string') {
    throw new Error('token endpoint answered without a token');
  }
  return body.token;
}

const log = openReceivedLog(storage());
addEventListener('pagehide', () => log.flush());
const resets: ResetNotice[] = [];
const errors: Array<{ code: string; message: string; at: number }> = [];

// ─── layout ──────────────────────────────────────────────────────────────────────────────────────

byTestId('org').textContent = org;
const feeds = new Map<string, HTMLOListElement>();
for (const service of services) {
  const section = document.createElement('section');
  section.className = 'feed';
  section.dataset.feed = service;
  const title = document.createElement('h2');
  title.textContent = service;
  const list = document.createElement('ol');
  list.dataset.testid = `feed-${service}`;
  section.append(title, list);
  byTestId('feeds').append(section);
  feeds.set(service, list);
  const option = document.createElement('option');
  option.value = option.textContent = service;
  byTestId<HTMLSelectElement>('publish-service').append(option);
}

function renderEvent(event: StreamEvent, replayed: boolean): HTMLLIElement | null {
  const list = feeds.get(event.service);
  if (!list) return null;
  const item = document.createElement('li');
  item.dataset.eventId = event.id;
  item.dataset.service = event.service;
  item.dataset.replayed = String(replayed);
  item.textContent = `${event.id} ${event.type}`;
  list.prepend(item);
  while (list.childElementCount > FEED_LIMIT) list.lastElementChild?.remove();
  return item;
}

// Show what this tab received before a reload, so the feed does not look empty.
for (const entry of log.entries.slice(-FEED_LIMIT)) {
  renderEvent({ id: entry.id, org, service: entry.service, type: entry.type, data: null, ts: entry.ts }, entry.replayed)?.setAttribute(
    'data-load',
    String(entry.load),
  );
}

function renderStatus(status: ClientStatus): void {
  byTestId('transport').textContent = status.transport;
  byTestId('state').textContent = status.state;
  byTestId('reason').textContent = status.reason;
  byTestId('mode').textContent = status.mode;
  byTestId('tabs').textContent = String(status.tabs);
  byTestId('storage').textContent = status.storage;
  byTestId('cursor').textContent = status.cursors[org] ?? '–';
  byTestId('server').textContent = status.server ?? '–';
  document.documentElement.dataset.realtimeState = status.state;
  document.documentElement.dataset.realtimeTransport = status.transport;
}

// ─── the client ──────────────────────────────────────────────────────────────────────────────────

const realtime = createRealtime({ urls: servers, orgs: [org], services, getToken: () => fetchToken('read') });

for (const service of services) {
  realtime.subscribe(service, (event, { replayed }) => {
    const receivedAt = Date.now();
    const item = renderEvent(event, replayed);
    const renderedAt = Date.now();
    const entry: ReceivedEntry = log.add({
      id: event.id,
      service: event.service,
      type: event.type,
      replayed,
      receivedAt,
      renderedAt,
      ts: event.ts,
    });
    if (item) {
      item.dataset.load = String(entry.load);
      const latency = document.createElement('span');
      latency.className = 'latency';
      latency.textContent = `${renderedAt - event.ts} ms`;
      item.append(latency);
    }
    byTestId('received-count').textContent = String(log.entries.length);
  });
}

realtime.onStatus(renderStatus);
renderStatus(realtime.status());

realtime.onReset((reset) => {
  resets.push(reset);
  const item = document.createElement('li');
  item.dataset.resetOrg = reset.org;
  item.textContent = `Reset for org ${reset.org}: ${reset.reason}, ${reset.lost ?? 'unknown number of'} events lost — refetch your state.`;
  byTestId('resets').prepend(item);
});

realtime.onError((error) => {
  errors.push({ code: error.code, message: error.message, at: Date.now() });
  const item = document.createElement('li');
  item.dataset.errorCode = error.code;
  item.textContent = `${error.code}: ${error.message}`;
  byTestId('errors').prepend(item);
});

// ─── publish ─────────────────────────────────────────────────────────────────────────────────────

async function publish(service: string): Promise<string> {
  const token = await fetchToken('publish');
  const response = await fetch('/v1/events', {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ org, service, type: 'test.published', data: { from: 'demo', at: Date.now() } }),
  });
  const body: unknown = await response.json().catch(() => null);
  if (response.status !== 201 || typeof body !== 'object' || body === null || !('id' in body) || typeof body.id !== 'string') {
    throw new Error(`publish answered ${response.status}`);
  }
  return body.id;
}

byTestId<HTMLFormElement>('publish-form').addEventListener('submit', (submit) => {
  submit.preventDefault();
  const service = byTestId<HTMLSelectElement>('publish-service').value;
  const output = byTestId('publish-result');
  output.textContent = 'publishing…';
  publish(service).then(
    (id) => {
      output.textContent = `published ${id}`;
      output.dataset.lastId = id;
    },
    (error: unknown) => {
      output.textContent = error instanceof Error ? error.message : String(error);
    },
  );
});

// ─── for tests and curious developers ───────────────────────────────────────────────────────────

Object.assign(window, {
  __demo: {
    org,
    services,
    servers,
    load: log.load,
    received: log.entries,
    resets,
    errors,
    status: () => realtime.status(),
    publish,
  },
});

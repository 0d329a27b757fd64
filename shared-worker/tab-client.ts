/**
 * The tab's end of the hub connection: attaches with its cursors, drops anything at or before
 * its own last delivered cursor (exactly-once per tab, across reloads), answers token requests
 * with the app's `getToken`, and turns hub messages into the app-facing callbacks.
 */
import {
  ErrorCode,
  StreamError,
  isAfter,
  type ClientStatus,
  type ConnectionEventKind,
  type StreamEvent,
} from '../protocol/index.ts';
import type { ResetInfo } from './engine.ts';
import { silentLogger, type Logger } from './logger.ts';
import { parseHubMessage, type AttachMessage, type TabPort } from './port-messages.ts';
import type { SessionCursors } from './session-cursors.ts';

export interface TabListener {
  onEvents(org: string, events: StreamEvent[], replayed: boolean): void;
  onStatus(status: ClientStatus): void;
  onReset(org: string, reset: ResetInfo): void;
  onError(error: StreamError): void;
  onConnection(what: ConnectionEventKind, detail: string, at: number): void;
}

export interface TabClientOptions extends TabListener {
  port: TabPort;
  tabId: string;
  build: string;
  /** Server base URLs, in order (see `createRealtime({ urls })`). */
  urls: string[];
  flagReason: AttachMessage['flagReason'];
  orgs: string[];
  session: SessionCursors;
  getToken(): Promise<string>;
  /** The status shown before the hub answers. */
  initialStatus: ClientStatus;
  logger?: Logger;
}

export interface TabClient {
  /** Sends (or re-sends) `attach` with the current services and cursors. */
  attach(services: string[]): void;
  setServices(services: string[]): void;
  online(): void;
  detach(): void;
  status(): ClientStatus;
}

/** Longest delay between a cursor moving and status listeners hearing of it. */
const STATUS_COALESCE_MS = 250;

export function createTabClient(options: TabClientOptions): TabClient {
  const { port, session } = options;
  const logger = options.logger ?? silentLogger;
  let services: string[] = [];
  let attached = false;
  let hubStatus: ClientStatus = options.initialStatus;

  const status = (): ClientStatus => ({ ...hubStatus, cursors: session.all(), build: options.build });

  // Cursors move with every event: tell status listeners (demo, devtools bridge) at most every
  // STATUS_COALESCE_MS, not once per event, so a burst costs one status message.
  let statusTimer: ReturnType<typeof setTimeout> | undefined;
  function scheduleStatus(): void {
    if (statusTimer !== undefined) return;
    statusTimer = setTimeout(() => {
      statusTimer = undefined;
      options.onStatus(status());
    }, STATUS_COALESCE_MS);
  }

  function attach(next: string[]): void {
    services = next;
    attached = true;
    port.post({
      type: 'attach',
      tabId: options.tabId,
      build: options.build,
      urls: options.urls,
      flagReason: options.flagReason,
      orgs: options.orgs,
      services,
      cursors: session.all(),
    });
  }

  port.onReconnect?.(() => {
    if (attached) attach(services);
  });

  port.onMessage((raw) => {
    const message = parseHubMessage(raw);
    if (!message) return;
    switch (message.type) {
      case 'attached':
        if (message.build !== options.build) logger.log('build', { tabBuild: options.build, workerBuild: message.build }, 'warn');
        hubStatus = message.status;
        options.onStatus(status());
        return;
      case 'status':
        hubStatus = message.status;
        options.onStatus(status());
        return;
      case 'events': {
        const fresh: StreamEvent[] = [];
        let last = session.get(message.org);
        for (const event of message.events) {
          if (event.org !== message.org || !isAfter(event.id, last)) continue;
          last = event.id;
          fresh.push(event);
        }
        // One sessionStorage write per frame, not per event: a burst is one synchronous write.
        if (last) session.set(message.org, last);
        if (fresh.length > 0) {
          options.onEvents(message.org, fresh, message.replayed);
          scheduleStatus();
        }
        return;
      }
      case 'reset':
        session.set(message.org, message.cursor, true);
        options.onReset(message.org, { reason: message.reason, from: message.from, cursor: message.cursor, lost: message.lost });
        return;
      case 'error':
        options.onError(StreamError.from(message.error));
        return;
      case 'connection':
        logger.log(message.what, parseDetail(message.detail), message.what === 'error' ? 'error' : 'info');
        options.onConnection(message.what, message.detail, message.at);
        return;
      case 'token-request':
        options.getToken().then(
          (token) => port.post({ type: 'token', id: message.id, token }),
          (error: unknown) => port.post({ type: 'token-error', id: message.id, message: error instanceof Error ? error.message : String(error) }),
        );
        return;
      case 'superseded':
        hubStatus = { ...hubStatus, state: 'closed' };
        logger.log('closed', { superseded: true, by: message.build }, 'warn');
        options.onStatus(status());
        options.onError(
          new StreamError(ErrorCode.BUILD_SUPERSEDED, `a newer version of this app (${message.build}) is open in another tab: reload this page`),
        );
        return;
    }
  });

  return {
    attach,
    setServices(next) {
      services = next;
      if (attached) port.post({ type: 'services', services });
    },
    online() {
      if (attached) port.post({ type: 'online' });
    },
    detach() {
      clearTimeout(statusTimer);
      if (!attached) return;
      attached = false;
      port.post({ type: 'detach' });
    },
    status,
  };
}

function parseDetail(detail: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(detail);
    return typeof value === 'object' && value !== null ? { ...value } : { detail };
  } catch {
    return { detail };
  }
}

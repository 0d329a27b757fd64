/**
 * Shared helpers for the server's integration tests: a real server on 127.0.0.1:0 with an
 * in-memory log and captured log lines, real `ws` clients that record every frame, and JSON
 * requests.
 */
import { afterEach } from 'vitest';
import { WebSocket } from 'ws';
import { parseServerMessage, type ServerMessage, type StreamEvent } from '../protocol/index.ts';
import type { Scope } from './auth.ts';
import { randomSecret, type ServerOptions } from './config.ts';
import { createLogger } from './logger.ts';
import { createMemoryEventLog } from './memory-event-log.ts';
import { startServer, type RunningServer } from './index.ts';

export interface TestServer extends RunningServer {
  /** `ws://127.0.0.1:PORT/v2/realtime/stream` */
  wsUrl: string;
  /** Every log line the server wrote (already redacted). */
  logLines: string[];
  token(params?: TokenParams): Promise<string>;
}

export interface TokenParams {
  sub?: string;
  orgs?: string[];
  scopes?: Scope[];
  ttlSeconds?: number;
}

/**
 * Starts a server for one test: memory log (or, when `dataDir` is given, the default SQLite log in
 * it), no demo publisher, quiet logger that records lines.
 */
export async function startTestServer(options: Partial<ServerOptions> = {}): Promise<TestServer> {
  const logLines: string[] = [];
  const server = await startServer({
    port: 0,
    host: '127.0.0.1',
    tokenSecret: randomSecret(),
    demoPublisher: false,
    trimIntervalMs: 0,
    staticDir: '/nonexistent-static-dir',
    log: options.log ?? (options.dataDir ? undefined : createMemoryEventLog()),
    logger: createLogger((line) => logLines.push(line)),
    ...options,
  });
  return {
    ...server,
    wsUrl: `${server.url.replace(/^http/, 'ws')}/v2/realtime/stream`,
    logLines,
    token: ({ sub = 'user-1', orgs = ['a'], scopes = ['read' as Scope], ttlSeconds = 3600 }: TokenParams = {}) =>
      server.auth.issueToken({ sub, orgs, scopes, ttlSeconds }),
  };
}

export interface CloseInfo {
  code: number;
  reason: string;
}

export interface TestClient {
  ws: WebSocket;
  /** Every server frame so far, parsed and validated by protocol's parseServerMessage. */
  messages: ServerMessage[];
  send(message: unknown): void;
  sendRaw(text: string): void;
  /** The first message (already received or still to come) matching `predicate`. */
  waitFor<T extends ServerMessage['type']>(type: T, predicate?: (message: Extract<ServerMessage, { type: T }>) => boolean, timeoutMs?: number): Promise<Extract<ServerMessage, { type: T }>>;
  /** Like `waitFor`, but only for messages that arrive after this call. */
  next<T extends ServerMessage['type']>(type: T, predicate?: (message: Extract<ServerMessage, { type: T }>) => boolean, timeoutMs?: number): Promise<Extract<ServerMessage, { type: T }>>;
  /** Resolves once `count` events of `org` arrived (replayed or live), with all of them. */
  waitForEvents(org: string, count: number, timeoutMs?: number): Promise<StreamEvent[]>;
  /** Events of `org` received so far, in arrival order. */
  events(org: string): StreamEvent[];
  closed: Promise<CloseInfo>;
  close(): Promise<CloseInfo>;
}

export interface ConnectOptions {
  token?: string;
  /** How to send the token: query (default), header, or subprotocol. */
  via?: 'query' | 'header' | 'protocol';
  origin?: string;
  protocols?: string[];
  perMessageDeflate?: boolean;
}

export interface RefusedUpgrade {
  status: number;
  body: unknown;
}

function streamUrl(server: TestServer, options: ConnectOptions): string {
  if (options.token && (options.via ?? 'query') === 'query') return `${server.wsUrl}?access_token=${encodeURIComponent(options.token)}`;
  return server.wsUrl;
}

function openSocket(server: TestServer, options: ConnectOptions): WebSocket {
  const headers: Record<string, string> = {};
  if (options.token && options.via === 'header') headers.authorization = `Bearer ${options.token}`;
  const protocols = options.protocols ?? (options.token && options.via === 'protocol' ? ['realtime.v2', `bearer.${options.token}`] : ['realtime.v2']);
  return new WebSocket(streamUrl(server, options), protocols, {
    headers,
    ...(options.origin ? { origin: options.origin } : {}),
    perMessageDeflate: options.perMessageDeflate ?? true,
  });
}

/** Opens a stream socket and resolves once it is open (messages are recorded from the start). */
export function connect(server: TestServer, options: ConnectOptions = {}): Promise<TestClient> {
  const ws = openSocket(server, options);
  const messages: ServerMessage[] = [];
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const waiter of [...waiters]) waiter();
  };
  ws.on('message', (data: Buffer) => {
    const parsed = parseServerMessage(data.toString('utf8'));
    if (!parsed.ok) throw new Error(`the server sent a frame the protocol rejects: ${data.toString('utf8').slice(0, 200)}`);
    messages.push(parsed.value);
    notify();
  });
  const closed = new Promise<CloseInfo>((resolve) => {
    ws.on('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
      notify();
    });
  });

  const events = (org: string) =>
    messages.flatMap((message) => (message.type === 'events' && message.org === org ? message.events : []));

  function until<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const attempt = () => {
        const value = check();
        if (value === undefined) return false;
        waiters.delete(attempt);
        clearTimeout(timer);
        resolve(value);
        return true;
      };
      const timer = setTimeout(() => {
        waiters.delete(attempt);
        reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(messages.map((m) => m.type))}`));
      }, timeoutMs);
      if (!attempt()) waiters.add(attempt);
    });
  }

  const client: TestClient = {
    ws,
    messages,
    send: (message) => ws.send(JSON.stringify(message)),
    sendRaw: (text) => ws.send(text),
    waitFor(type, predicate, timeoutMs = 3000) {
      return until(
        () =>
          messages.find(
            (message): message is Extract<ServerMessage, { type: typeof type }> =>
              message.type === type && (!predicate || predicate(message as Extract<ServerMessage, { type: typeof type }>)),
          ),
        timeoutMs,
        `a "${type}" message`,
      );
    },
    next(type, predicate, timeoutMs = 3000) {
      const mark = messages.length;
      return until(
        () =>
          messages.find(
            (message, index): message is Extract<ServerMessage, { type: typeof type }> =>
              index >= mark && message.type === type && (!predicate || predicate(message as Extract<ServerMessage, { type: typeof type }>)),
          ),
        timeoutMs,
        `a new "${type}" message`,
      );
    },
    waitForEvents(org, count, timeoutMs = 5000) {
      return until(() => {
        const got = events(org);
        return got.length >= count ? got : undefined;
      }, timeoutMs, `${count} events of ${org}`);
    },
    events,
    closed,
    close() {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000);
      return closed;
    },
  };

  return new Promise<TestClient>((resolve, reject) => {
    ws.once('open', () => resolve(client));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      res.on('end', () => {
        let json: unknown = body;
        try {
          json = JSON.parse(body);
        } catch {
          // not JSON: keep the text
        }
        const refused: RefusedUpgrade = { status: res.statusCode ?? 0, body: json };
        reject(Object.assign(new Error(`upgrade refused with ${res.statusCode}`), { refused }));
      });
    });
    ws.once('error', (error) => reject(error));
  });
}

/** Connects and expects the upgrade to be refused; returns the HTTP status and JSON body. */
export async function connectRefused(server: TestServer, options: ConnectOptions = {}): Promise<RefusedUpgrade> {
  try {
    const client = await connect(server, options);
    await client.close();
  } catch (error) {
    const refused = (error as { refused?: RefusedUpgrade }).refused;
    if (refused) return refused;
    throw error;
  }
  throw new Error('the upgrade was accepted');
}

/** Connects with a fresh token for `orgs` and waits for `welcome`. */
export async function connectReady(server: TestServer, params: TokenParams = {}, options: ConnectOptions = {}): Promise<TestClient> {
  const token = await server.token(params);
  const client = await connect(server, { token, ...options });
  await client.waitFor('welcome');
  return client;
}

export interface JsonResponse {
  status: number;
  body: any;
  headers: Headers;
}

/** fetch + JSON body (text when the body is not JSON). */
export async function requestJson(url: string, init: RequestInit = {}): Promise<JsonResponse> {
  const response = await fetch(url, init);
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // keep text
  }
  return { status: response.status, body, headers: response.headers };
}

/** Appends `count` events to `org` through the log (not counted as published). */
export async function appendEvents(server: RunningServer, org: string, count: number, service = 'finance'): Promise<StreamEvent[]> {
  // Batches of 200 in flight: one Redis round trip carries many; every store assigns ids in call order.
  const out: StreamEvent[] = [];
  for (let start = 0; start < count; start += 200) {
    const batch = Array.from({ length: Math.min(200, count - start) }, (_, i) =>
      server.log.append({ org, service, type: 'test.event', data: { i: start + i } }),
    );
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

/** Sequence numbers of event ids, for compact assertions. */
export function seqs(events: readonly StreamEvent[]): number[] {
  return events.map((event) => Number(event.id.split(':')[1]));
}

/** 1..n */
export function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i <= to; i++) out.push(i);
  return out;
}

/** Polls `check` every few ms until it returns true (for state only visible through HTTP). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Registers an afterEach that closes every client passed to `track` (then forgets them) and the
 * server `currentServer()` returns, so a failing test leaks no socket or port. `clients` is the
 * live list of tracked clients.
 */
export function closeAfterEach(currentServer: () => TestServer | undefined): {
  track: <T extends TestClient>(client: T) => T;
  clients: TestClient[];
} {
  const clients: TestClient[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await currentServer()?.close();
  });
  return {
    clients,
    track: (client) => {
      clients.push(client);
      return client;
    },
  };
}

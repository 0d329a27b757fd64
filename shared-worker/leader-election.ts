/**
 * The fallback where SharedWorker does not exist (Chrome for Android before 148): the tabs of an
 * origin elect one leader with a Web Lock; the leader runs the hub (so still one socket per
 * origin) and relays over a BroadcastChannel. When the leader goes away its lock passes to the
 * next tab in line, which starts a hub (cursor from IndexedDB) and announces itself; every tab
 * attaches again with its own cursors, so nothing is lost or doubled.
 *
 *   follower tab ──{to-leader, from, message}──▶ BroadcastChannel ──▶ leader tab → hub
 *   follower tab ◀──{to-tab, to, message}─────── BroadcastChannel ◀── leader tab ← hub
 *   leader's own tab ◀── in-memory port pair ──▶ hub
 */
import { silentLogger, type Logger } from './logger.ts';
import { createPortPair, type HubPort, type TabPort, type TabToHub } from './port-messages.ts';
import type { WorkerHub } from './worker-hub.ts';

export const LEADER_LOCK = 'realtime-leader';
const CHANNEL = 'realtime-streaming';

type Relay =
  | { kind: 'to-leader'; from: string; message: unknown }
  | { kind: 'to-tab'; to: string; message: unknown }
  | { kind: 'leader'; leaderId: string };

function parseRelay(raw: unknown): Relay | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const data: Record<string, unknown> = { ...raw };
  if (data.kind === 'to-leader' && typeof data.from === 'string') return { kind: 'to-leader', from: data.from, message: data.message };
  if (data.kind === 'to-tab' && typeof data.to === 'string') return { kind: 'to-tab', to: data.to, message: data.message };
  if (data.kind === 'leader' && typeof data.leaderId === 'string') return { kind: 'leader', leaderId: data.leaderId };
  return null;
}

export interface LeaderElectionOptions {
  tabId: string;
  /** Creates this tab's hub when it becomes the leader. */
  createHub(): Promise<WorkerHub>;
  locks?: LockManager;
  channel?: BroadcastChannel;
  logger?: Logger;
  /** Told when this tab becomes the leader. */
  onLeader?(): void;
}

/** Joins the election and returns this tab's port to whichever tab leads. */
export function connectViaLeader(options: LeaderElectionOptions): TabPort {
  const logger = options.logger ?? silentLogger;
  const locks = options.locks ?? navigator.locks;
  const channel = options.channel ?? new BroadcastChannel(CHANNEL);
  let tabHandler: ((message: unknown) => void) | undefined;
  let reconnectHandler: (() => void) | undefined;
  let local: { hub: WorkerHub; port: TabPort } | null = null;
  const followers = new Map<string, (message: unknown) => void>();
  let resign: () => void = () => {};
  let closed = false;

  function followerPort(tabId: string): HubPort {
    return {
      post: (message) => channel.postMessage({ kind: 'to-tab', to: tabId, message } satisfies Relay),
      onMessage: (handler) => followers.set(tabId, handler),
      close: () => followers.delete(tabId),
    };
  }

  channel.addEventListener('message', (event: MessageEvent<unknown>) => {
    const relay = parseRelay(event.data);
    if (!relay || closed) return;
    switch (relay.kind) {
      case 'to-tab':
        if (!local && relay.to === options.tabId) tabHandler?.(relay.message);
        return;
      case 'to-leader': {
        if (!local) return;
        if (!followers.has(relay.from)) local.hub.connect(followerPort(relay.from));
        followers.get(relay.from)?.(relay.message);
        return;
      }
      case 'leader':
        if (relay.leaderId !== options.tabId && !local) {
          logger.log('leader', { leader: relay.leaderId, me: options.tabId });
          reconnectHandler?.();
        }
        return;
    }
  });

  void locks
    .request(LEADER_LOCK, async () => {
      if (closed) return;
      const hub = await options.createHub();
      const pair = createPortPair();
      hub.connect(pair.hub);
      pair.tab.onMessage((message) => tabHandler?.(message));
      local = { hub, port: pair.tab };
      logger.log('leader', { leader: options.tabId, me: options.tabId });
      options.onLeader?.();
      channel.postMessage({ kind: 'leader', leaderId: options.tabId } satisfies Relay);
      reconnectHandler?.();
      await new Promise<void>((release) => {
        resign = release;
      });
      await hub.close();
    })
    .catch((error: unknown) => logger.log('error', { leaderLock: error instanceof Error ? error.message : String(error) }, 'warn'));

  return {
    post(message: TabToHub) {
      if (closed) return;
      if (local) local.port.post(message);
      else channel.postMessage({ kind: 'to-leader', from: options.tabId, message } satisfies Relay);
    },
    onMessage(handler) {
      tabHandler = handler;
    },
    onReconnect(handler) {
      reconnectHandler = handler;
    },
    close() {
      closed = true;
      resign();
      channel.close();
    },
  };
}

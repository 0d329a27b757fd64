/**
 * An in-memory stand-in for a runtime port, for the extension's tests: records what was posted,
 * lets the test deliver messages and disconnect. Chrome JSON-serializes port messages, so this does too.
 */
export interface FakePort {
  name: string;
  sender?: { tab?: { id?: number }; url?: string };
  posted: unknown[];
  /** Throws on postMessage, like a port whose other end went away. */
  broken: boolean;
  postMessage(message: unknown): void;
  onMessage: { addListener(listener: (message: unknown) => void): void };
  onDisconnect: { addListener(listener: () => void): void };
  disconnect(): void;
  /** Delivers `message` to the port's onMessage listeners (as if the other end posted it). */
  deliver(message: unknown): void;
  /** Fires onDisconnect (as if the other end went away). */
  drop(): void;
}

export function createFakePort(name: string, sender?: FakePort['sender']): FakePort {
  const messageListeners: ((message: unknown) => void)[] = [];
  const disconnectListeners: (() => void)[] = [];
  const port: FakePort = {
    name,
    posted: [],
    broken: false,
    postMessage(message) {
      if (port.broken) throw new Error('Attempting to use a disconnected port object');
      port.posted.push(JSON.parse(JSON.stringify(message)));
    },
    onMessage: { addListener: (listener) => void messageListeners.push(listener) },
    onDisconnect: { addListener: (listener) => void disconnectListeners.push(listener) },
    disconnect() {
      port.broken = true;
    },
    deliver(message) {
      const copy: unknown = JSON.parse(JSON.stringify(message));
      for (const listener of messageListeners) listener(copy);
    },
    drop() {
      port.broken = true;
      for (const listener of disconnectListeners) listener();
    },
  };
  if (sender) port.sender = sender;
  return port;
}

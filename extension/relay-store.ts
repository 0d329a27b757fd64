/** Keeps the relay's rings in a storage area (storage.session: in memory, survives worker restarts). */
import { isRelayEntry } from './messages.ts';
import type { RelayEntry } from './messages.ts';
import type { RelayStore } from './relay.ts';

/** The part of `storage.StorageArea` the store uses. */
export interface StorageAreaLike {
  get(keys?: null | string | string[]): Promise<Record<string, unknown>>;
  set(items: Record<string, unknown>): Promise<void>;
  remove(keys: string | string[]): Promise<void>;
}

const PREFIX = 'relay:tab:';

/** Creates a RelayStore over `area`: one key per tab, `relay:tab:<tabId>`. */
export function createAreaRelayStore(area: StorageAreaLike): RelayStore {
  return {
    async load() {
      const items = await area.get(null);
      const out = new Map<number, RelayEntry[]>();
      for (const [key, value] of Object.entries(items)) {
        if (!key.startsWith(PREFIX) || !Array.isArray(value)) continue;
        const tabId = Number(key.slice(PREFIX.length));
        if (Number.isInteger(tabId)) out.set(tabId, value.filter(isRelayEntry));
      }
      return out;
    },
    save(tabId, entries) {
      return area.set({ [PREFIX + tabId]: entries });
    },
    remove(tabId) {
      return area.remove(PREFIX + tabId);
    },
  };
}

/**
 * Noticing a dead tab. MessagePort has no close event in any shipped browser, so each tab holds a
 * Web Lock named after itself for its whole life; the hub asks for the same lock and is granted
 * it only when the tab is gone (closed, crashed, navigated away).
 */

import { holdLifetimeLock, watchLifetimeLock } from './lifetime-lock.ts';

const tabLockName = (tabId: string): string => `realtime-tab-${tabId}`;

/** Holds the tab's lock until the page dies; resolves once it is held (attach only after that). */
export function holdTabLock(tabId: string, locks: LockManager | undefined = globalThis.navigator?.locks): Promise<void> {
  return holdLifetimeLock(tabLockName(tabId), locks);
}

/** Calls `onGone` when the tab's lock is released; the returned function stops watching (explicit detach). */
export function watchTabLock(
  tabId: string,
  onGone: () => void,
  locks: LockManager | undefined = globalThis.navigator?.locks,
): () => void {
  return watchLifetimeLock(tabLockName(tabId), 'exclusive', onGone, locks);
}

/**
 * The v1 long-poll loops: one per org, each polling after the org's cursor, backing off on
 * failures (moving to the next server), and noticing when the server allows v2 again.
 *
 *   ┌─▶ token ─▶ poll(org, cursor, server) ── answer ──▶ onAnswer; v2:true → onV2Allowed ─┐
 *   │                  │                                                                    │
 *   │                  └─ fails ─▶ TOKEN_EXPIRED once: fresh token, at once ───────────────┤
 *   │                            ─▶ refused for good (auth, org, cursor): onRefused, loop ends
 *   │                            ─▶ otherwise: onRetry(next server), backoff(failures) ────┤
 *   └──────────────────────────────────────────────────────────────────────────────────────┘
 *
 * A loop stops when it is stopped, when another loop replaced it for its org, or when the
 * engine's generation moved on (stop, a switch to v2, a restart): its late answers are dropped.
 */
import { ErrorCode, type PollResponse } from '../protocol/index.ts';
import { backoff, type BackoffRange } from './backoff.ts';
import { PollError, type Poll } from './poll.ts';
import type { ServerRing } from './server-ring.ts';
import type { TokenCache } from './token-cache.ts';

/** HTTP error codes after which polling again with a fresh token cannot help. */
const TERMINAL_HTTP_CODES: ReadonlySet<string> = new Set([
  ErrorCode.TOKEN_INVALID,
  ErrorCode.TOKEN_MISSING,
  ErrorCode.FORBIDDEN_ORG,
  ErrorCode.MISSING_SCOPE,
  ErrorCode.ORIGIN_NOT_ALLOWED,
  ErrorCode.BAD_CURSOR,
  ErrorCode.BAD_NAME,
]);

export interface V1PollerOptions {
  poll: Poll;
  tokens: TokenCache;
  /** Where each poll goes; the engine moves it on failures (`onRetry`). */
  ring: ServerRing;
  backoff: BackoffRange;
  random: () => number;
  /** The engine's generation: a loop started under an older one gives up. */
  generation(): number;
  /** The cursor to poll after (null: from the head, answered at once). */
  cursor(org: string): string | null;
  /** A poll is about to go out. */
  onPolling(): void;
  /** A poll of `org` answered (the engine applies resets, positions and events). */
  onAnswer(org: string, response: PollResponse): void;
  /** A poll said the server allows v2 again (its kill switch is off). */
  onV2Allowed(): void;
  /** The server refused `org`'s poll for good; its loop has ended. */
  onRefused(org: string, error: PollError): void;
  /** A poll sent to the server at `position` failed; the loop waits `delay` ms, then polls again. */
  onRetry(org: string, position: number, delay: number, error: unknown): void;
}

export interface V1Poller {
  /** Starts polling `org` unless a loop for it runs already. */
  start(org: string): void;
  /** Ends `org`'s loop, aborting its poll in flight. */
  stop(org: string): void;
  /** Ends every loop. */
  stopAll(): void;
  /** Cuts every loop's backoff short (the network is back). */
  wake(): void;
}

interface PollLoop {
  controller: AbortController;
  wake: () => void;
}

/** Creates the poller; no loop runs until `start(org)`. */
export function createV1Poller(options: V1PollerOptions): V1Poller {
  const { tokens, ring } = options;
  const loops = new Map<string, PollLoop>();

  async function run(org: string, gen: number): Promise<void> {
    let failures = 0;
    let tokenRetried = false;
    const loop: PollLoop = { controller: new AbortController(), wake: () => {} };
    loops.set(org, loop);
    // Only the engine's own transport switches end loops by generation, and a switch to v2
    // always stops them first: a loop of the current generation is a loop on v1.
    const stale = (): boolean => gen !== options.generation() || loops.get(org) !== loop;
    while (!stale()) {
      const controller = new AbortController();
      loop.controller = controller;
      let position = ring.position();
      try {
        const granted = await tokens.reusable();
        if (stale()) break;
        options.onPolling();
        position = ring.position();
        const response = await options.poll({
          org,
          cursor: options.cursor(org),
          token: granted,
          server: ring.url(position),
          signal: controller.signal,
        });
        if (stale()) break;
        failures = 0;
        tokenRetried = false;
        options.onAnswer(org, response);
        // A switch back to v2 stops this loop (stale on the next check).
        if (response.v2) options.onV2Allowed();
      } catch (error) {
        if (stale() || controller.signal.aborted) break;
        if (error instanceof PollError && error.code === ErrorCode.TOKEN_EXPIRED && !tokenRetried) {
          // The reused token ran out between two polls: once, at once, with a fresh one.
          tokenRetried = true;
          tokens.forget();
          continue;
        }
        if (error instanceof PollError && TERMINAL_HTTP_CODES.has(error.code)) {
          options.onRefused(org, error);
          break;
        }
        if (error instanceof PollError && error.code === ErrorCode.TOKEN_EXPIRED) tokens.forget();
        const delay = backoff(failures, options.backoff, options.random);
        failures += 1;
        options.onRetry(org, position, delay, error);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          loop.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        loop.wake = () => {};
      }
    }
    if (loops.get(org) === loop) loops.delete(org);
  }

  return {
    start(org) {
      if (loops.has(org)) return;
      void run(org, options.generation());
    },
    stop(org) {
      loops.get(org)?.controller.abort();
      loops.delete(org);
    },
    stopAll() {
      for (const loop of loops.values()) loop.controller.abort();
      loops.clear();
    },
    wake() {
      for (const loop of loops.values()) loop.wake();
    },
  };
}

/**
 * Asks several sources for the same thing and takes the first answer, without waiting for a slow
 * one to time out before asking the next: a hedged request. Used to get a token from the attached
 * tabs (a tab in the background or on a dead keep-alive connection can take seconds) and by the
 * demo to get one from whichever of several servers answers.
 *
 *   t=0      ask #1
 *   t=hedge  ask #2 (#1 still running: whichever answers first wins)
 *   #2 fails → ask #3 at once
 *   all asked and all failed → reject with the last error
 */

export interface FirstAnswerOptions {
  /** With no answer yet after this long, the next source is asked too (ms). */
  hedgeMs: number;
}

/**
 * Resolves with the first of `ask(source)` to resolve, asking `sources` in order: the next one
 * after `hedgeMs` without an answer, or at once when the previous ones all failed. Requests still
 * running when one wins are not cancelled (their answers are ignored). Rejects with the last error
 * when every source failed (or at once when there is none).
 */
export function firstAnswer<S, T>(sources: readonly S[], ask: (source: S) => Promise<T>, options: FirstAnswerOptions): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let next = 0;
    let running = 0;
    let settled = false;
    let lastError: unknown = new Error('nothing to ask');
    let hedgeTimer: ReturnType<typeof setTimeout> | undefined;

    const settle = (): void => {
      settled = true;
      if (hedgeTimer !== undefined) clearTimeout(hedgeTimer);
      hedgeTimer = undefined;
    };

    function askNext(): void {
      if (hedgeTimer !== undefined) clearTimeout(hedgeTimer);
      hedgeTimer = undefined;
      const source = sources[next];
      if (next >= sources.length || source === undefined) {
        if (running === 0) {
          settle();
          reject(lastError);
        }
        return;
      }
      next += 1;
      running += 1;
      let request: Promise<T>;
      try {
        request = ask(source);
      } catch (error) {
        request = Promise.reject(error);
      }
      request.then(
        (value) => {
          running -= 1;
          if (settled) return;
          settle();
          resolve(value);
        },
        (error: unknown) => {
          running -= 1;
          if (settled) return;
          lastError = error;
          askNext();
        },
      );
      if (next < sources.length) hedgeTimer = setTimeout(askNext, options.hedgeMs);
    }

    askNext();
  });
}

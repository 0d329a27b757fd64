/** The v2 kill switch: on at start unless REALTIME_STREAMING_V2=false, flipped at runtime by the admin endpoint. */
export interface StreamingSwitch {
  readonly enabled: boolean;
  /** Sets the state; listeners run only on a real change. */
  set(enabled: boolean): void;
  onChange(listener: (enabled: boolean) => void): () => void;
}

export function createStreamingSwitch(initial: boolean): StreamingSwitch {
  let enabled = initial;
  const listeners = new Set<(enabled: boolean) => void>();
  return {
    get enabled() {
      return enabled;
    },
    set(next) {
      if (next === enabled) return;
      enabled = next;
      for (const listener of listeners) listener(next);
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

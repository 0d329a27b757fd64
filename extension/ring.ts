/** A bounded first-in-first-out buffer: pushing past `capacity` drops the oldest items. */
export interface Ring<T> {
  readonly capacity: number;
  readonly size: number;
  /** Appends one item; returns the item it evicted, if any. */
  push(item: T): T | undefined;
  /** The items, oldest first (a copy). */
  toArray(): T[];
  clear(): void;
}

/** Creates a ring of at most `capacity` items (a fixed array with a moving head, no shifting). */
export function createRing<T>(capacity: number): Ring<T> {
  if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('ring capacity must be a positive integer');
  let slots: (T | undefined)[] = new Array<T | undefined>(capacity);
  let head = 0; // index of the oldest item
  let size = 0;
  return {
    capacity,
    get size() {
      return size;
    },
    push(item) {
      if (size < capacity) {
        slots[(head + size) % capacity] = item;
        size += 1;
        return undefined;
      }
      const evicted = slots[head];
      slots[head] = item;
      head = (head + 1) % capacity;
      return evicted;
    },
    toArray() {
      const out: T[] = [];
      for (let i = 0; i < size; i += 1) out.push(slots[(head + i) % capacity] as T);
      return out;
    },
    clear() {
      slots = new Array<T | undefined>(capacity);
      head = 0;
      size = 0;
    },
  };
}

/**
 * The failover order across several servers (e.g. processes sharing one Redis log). One is in
 * use at a time; when a request to it fails, the next attempt goes to the next one, round-robin:
 *
 *   A ──fails──▶ B ──fails──▶ C ──fails──▶ A …
 *
 * Positions, not URLs, name a server, so a list that repeats a URL still moves one step a failure.
 * The ring only keeps the order: the caller waits out its backoff and logs the move.
 */

export interface ServerRing {
  /** The position of the server in use (or tried next): hand it to `failed()` if a request sent there fails. */
  position(): number;
  /** The base URL at `position` (default: the one in use). */
  url(position?: number): string;
  /**
   * The server at `position` failed: the next attempt goes to the one after it, whose URL is
   * returned. null (no move) with a single server, or when another failure already moved on from
   * `position`: several poll loops fail together when a server dies, and that is one step, not N.
   */
  failed(position: number): string | null;
}

/** A ring over `servers` (at least one), starting at the first. */
export function createServerRing(servers: readonly string[]): ServerRing {
  const urls = [...servers];
  let current = 0;
  return {
    position: () => current,
    url: (position = current) => urls[position] ?? '',
    failed(position) {
      if (urls.length < 2 || position !== current) return null;
      current = (current + 1) % urls.length;
      return urls[current] ?? '';
    },
  };
}

import { describe, expect, it } from 'vitest';
import { createServerRing } from './server-ring.ts';

describe('server ring', () => {
  it('moves round-robin, one step per failure of the server in use', () => {
    const ring = createServerRing(['http://a', 'http://b', 'http://c']);
    const seen = [ring.url()];
    for (let i = 0; i < 3; i++) {
      expect(ring.failed(ring.position())).toBe(ring.url());
      seen.push(ring.url());
    }
    expect(seen).toEqual(['http://a', 'http://b', 'http://c', 'http://a']);
  });

  it('ignores a failure reported for a server it already moved away from', () => {
    const ring = createServerRing(['http://a', 'http://b', 'http://c']);
    const before = ring.position();
    expect(ring.failed(before)).toBe('http://b');
    // A second poll loop that was also talking to A fails a moment later: still one step.
    expect(ring.failed(before)).toBeNull();
    expect(ring.url()).toBe('http://b');
    expect(ring.url(before)).toBe('http://a');
  });

  it('never moves with a single server, and tells positions apart when a URL repeats', () => {
    const single = createServerRing(['http://a']);
    expect(single.failed(single.position())).toBeNull();
    expect(single.position()).toBe(0);

    const repeated = createServerRing(['http://a', 'http://a']);
    expect(repeated.failed(0)).toBe('http://a');
    expect(repeated.position()).toBe(1);
  });
});

import { describe, expect, it } from 'vitest';
import { describeStore, parseStore, resolveServerOptions } from './config.ts';
import { DEFAULT_RETENTION } from './event-log.ts';

describe('REALTIME_STORE', () => {
  it('selects SQLite when unset, empty or "sqlite", and Redis for redis:// and rediss:// URLs', () => {
    expect(parseStore(undefined)).toEqual({ kind: 'sqlite' });
    expect(parseStore('')).toEqual({ kind: 'sqlite' });
    expect(parseStore('sqlite')).toEqual({ kind: 'sqlite' });
    expect(parseStore('redis://10.0.0.5:6379')).toEqual({ kind: 'redis', url: 'redis://10.0.0.5:6379', keyPrefix: 'realtime:' });
    expect(parseStore('rediss://cache.internal:6380', 'app1:')).toEqual({ kind: 'redis', url: 'rediss://cache.internal:6380', keyPrefix: 'app1:' });
    expect(resolveServerOptions({}, { REALTIME_STORE: 'redis://127.0.0.1:6379', REALTIME_REDIS_PREFIX: 'x:' }).store).toEqual({
      kind: 'redis',
      url: 'redis://127.0.0.1:6379',
      keyPrefix: 'x:',
    });
    expect(resolveServerOptions({}, {}).store).toEqual({ kind: 'sqlite' });
  });

  it('refuses anything else instead of falling back to a single-process store, and never prints a password', () => {
    expect(() => parseStore('postgres://db:5432')).toThrow(/REALTIME_STORE/);
    expect(() => parseStore('127.0.0.1:6379')).toThrow(/REALTIME_STORE/);
    expect(() => parseStore('redis://')).toThrow(/REALTIME_STORE/);
    expect(() => parseStore('http://user:hunter2@host')).toThrow(/user:\*\*\*@host/);
    const described = describeStore(parseStore('redis://default:hunter2@10.0.0.5:6379'), '/data');
    expect(described).toBe('Redis Streams redis://default:***@10.0.0.5:6379 (keys realtime:*)');
    expect(describeStore({ kind: 'sqlite' }, '/srv/data')).toBe('SQLite /srv/data/events.sqlite');
  });
});

describe('retention from the environment', () => {
  it('reads REALTIME_RETENTION_MAX_EVENTS, REALTIME_RETENTION_MAX_AGE_MS and REALTIME_TRIM_INTERVAL_MS', () => {
    const options = resolveServerOptions({}, {
      REALTIME_RETENTION_MAX_EVENTS: '50',
      REALTIME_RETENTION_MAX_AGE_MS: '60000',
      REALTIME_TRIM_INTERVAL_MS: '200',
    });
    expect(options.retention).toEqual({ maxEventsPerOrg: 50, maxAgeMs: 60_000 });
    expect(options.trimIntervalMs).toBe(200);
  });

  it('defaults to the log defaults', () => {
    expect(resolveServerOptions({}, {}).retention).toEqual(DEFAULT_RETENTION);
  });
});

/**
 * CORS on the endpoints a page on another origin calls when it fails over between processes:
 * `/v1/realtime/poll`, `/dev/token` (dev only) and `/v2/realtime/metrics`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../protocol/index.ts';
import { requestJson, startTestServer, type TestServer } from './test-support.ts';

const APP = 'http://app.example';
const EVIL = 'http://evil.example';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function started(options: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  server = await startTestServer({ allowedOrigins: [APP], ...options });
  return server;
}

function preflight(url: string, origin: string | null) {
  return requestJson(url, {
    method: 'OPTIONS',
    headers: {
      ...(origin ? { origin } : {}),
      'access-control-request-method': 'GET',
      'access-control-request-headers': 'authorization',
    },
  });
}

const corsHeaders = (headers: Headers): Record<string, string> =>
  Object.fromEntries([...headers].filter(([name]) => name.startsWith('access-control-')));

describe('CORS for allowed origins', () => {
  it('answers poll, dev token and metrics with Access-Control-Allow-Origin: <origin> and Vary: Origin', async () => {
    const s = await started();
    const token = await s.token();
    const answers = [
      await requestJson(`${s.url}/v1/realtime/poll?org=a`, { headers: { origin: APP, authorization: `Bearer ${token}` } }),
      await requestJson(`${s.url}/dev/token?org=a&scope=read`, { headers: { origin: APP } }),
      await requestJson(`${s.url}/v2/realtime/metrics`, { headers: { origin: APP } }),
    ];
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(corsHeaders(answer.headers)).toEqual({ 'access-control-allow-origin': APP });
      expect(answer.headers.get('vary')).toBe('Origin');
    }
  });

  it('answers a preflight with the allowed methods and the Authorization header', async () => {
    const s = await started();
    for (const path of ['/v1/realtime/poll?org=a', '/dev/token?org=a', '/v2/realtime/metrics']) {
      const answer = await preflight(`${s.url}${path}`, APP);
      expect({ path, status: answer.status }).toEqual({ path, status: 204 });
      expect(corsHeaders(answer.headers)).toEqual({
        'access-control-allow-origin': APP,
        'access-control-allow-methods': 'GET, HEAD, OPTIONS',
        'access-control-allow-headers': 'Authorization',
        'access-control-max-age': '600',
      });
      expect(answer.headers.get('vary')).toContain('Origin');
    }
  });

  it('echoes any origin when ALLOWED_ORIGINS is *, never a wildcard', async () => {
    const s = await started({ allowedOrigins: ['*'] });
    const answer = await requestJson(`${s.url}/v2/realtime/metrics`, { headers: { origin: 'http://any.example' } });
    expect(answer.headers.get('access-control-allow-origin')).toBe('http://any.example');
    expect(answer.headers.get('access-control-allow-credentials')).toBeNull();
  });
});

describe('CORS for other origins', () => {
  it('sends no CORS header to a disallowed origin; its poll stays 403 and its preflight is refused', async () => {
    const s = await started();
    const token = await s.token();
    const poll = await requestJson(`${s.url}/v1/realtime/poll?org=a`, { headers: { origin: EVIL, authorization: `Bearer ${token}` } });
    expect(poll.status).toBe(403);
    expect((poll.body as { error: { code: string } }).error.code).toBe(ErrorCode.ORIGIN_NOT_ALLOWED);
    const metrics = await requestJson(`${s.url}/v2/realtime/metrics`, { headers: { origin: EVIL } });
    const devToken = await requestJson(`${s.url}/dev/token?org=a`, { headers: { origin: EVIL } });
    for (const answer of [poll, metrics, devToken]) expect(corsHeaders(answer.headers)).toEqual({});
    const refused = await preflight(`${s.url}/v1/realtime/poll?org=a`, EVIL);
    expect(refused.status).toBe(403);
    expect((refused.body as { error: { code: string } }).error.code).toBe(ErrorCode.ORIGIN_NOT_ALLOWED);
    expect(corsHeaders(refused.headers)).toEqual({});
  });

  it('adds no CORS to other endpoints, nor to /dev/token in production (there is none)', async () => {
    const s = await started({ production: true });
    const publish = await preflight(`${s.url}/v1/events`, APP);
    expect(corsHeaders(publish.headers)).toEqual({});
    const devToken = await requestJson(`${s.url}/dev/token?org=a`, { headers: { origin: APP } });
    expect(devToken.status).toBe(404);
    expect(corsHeaders(devToken.headers)).toEqual({});
    expect(corsHeaders((await preflight(`${s.url}/dev/token?org=a`, APP)).headers)).toEqual({});
  });

  it('answers OPTIONS without Origin (not a browser) with Allow only', async () => {
    const s = await started();
    const answer = await preflight(`${s.url}/v2/realtime/metrics`, null);
    expect(answer.status).toBe(204);
    expect(answer.headers.get('allow')).toBe('GET, HEAD, OPTIONS');
    expect(corsHeaders(answer.headers)).toEqual({});
  });
});

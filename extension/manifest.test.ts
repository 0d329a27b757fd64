import { describe, expect, it } from 'vitest';
import { DEFAULT_HOSTS, chromiumManifest, firefoxManifest } from './manifest.ts';

describe('manifest', () => {
  it('declares the bridge content script at document_start in the isolated world, and a module worker', () => {
    const manifest = chromiumManifest({ version: '1.2.3' });
    expect(manifest).toMatchObject({
      manifest_version: 3,
      name: 'Realtime Streaming DevTools',
      version: '1.2.3',
      background: { service_worker: 'background.js', type: 'module' },
      devtools_page: 'devtools.html',
      action: { default_popup: 'popup.html' },
      host_permissions: ['http://localhost/*', 'http://127.0.0.1/*'],
      content_scripts: [{ matches: DEFAULT_HOSTS, js: ['content.js'], run_at: 'document_start', world: 'ISOLATED' }],
    });
    expect(manifest.permissions).toEqual(['scripting', 'tabs', 'storage']);
  });

  it('gives Firefox an event-page background and an add-on id, without Chrome-only keys', () => {
    const manifest = firefoxManifest({ version: '1.2.3' });
    expect(manifest.background).toEqual({ scripts: ['background.js'], type: 'module' });
    expect(manifest).toHaveProperty('browser_specific_settings.gecko.id');
    expect(manifest).not.toHaveProperty('minimum_chrome_version');
    expect(JSON.stringify(manifest.content_scripts)).not.toContain('world');
  });
});

/**
 * The extension's manifests, written into the build by vite.extension.ts.
 * Chromium: MV3 with a module service worker. Firefox: the same files, but Firefox MV3 runs the
 * background as an event page (`background.scripts`), and wants an add-on id.
 */

/** Pages the bridge runs on by default; a pattern without a port matches every port. */
export const DEFAULT_HOSTS = ['http://localhost/*', 'http://127.0.0.1/*'];

export interface ManifestOptions {
  version: string;
}

/** The Chromium manifest (dist/extension/manifest.json). */
export function chromiumManifest(options: ManifestOptions): Record<string, unknown> {
  return {
    manifest_version: 3,
    name: 'Realtime Streaming DevTools',
    description: 'Shows the realtime stream of the site in this tab and flips REALTIME_STREAMING_V2.',
    version: options.version,
    minimum_chrome_version: '114',
    action: { default_title: 'Realtime Streaming', default_popup: 'popup.html' },
    devtools_page: 'devtools.html',
    background: { service_worker: 'background.js', type: 'module' },
    // scripting: read/write the flag and register the bridge on granted sites; tabs: the tab's URL
    // for sites reached through optional permissions; storage: storage.session keeps the relay's
    // history across service-worker restarts.
    permissions: ['scripting', 'tabs', 'storage'],
    host_permissions: DEFAULT_HOSTS,
    optional_host_permissions: ['<all_urls>'],
    content_scripts: [
      { matches: DEFAULT_HOSTS, js: ['content.js'], run_at: 'document_start', all_frames: false, world: 'ISOLATED' },
    ],
  };
}

/** The Firefox variant (dist/extension-firefox/manifest.json). */
export function firefoxManifest(options: ManifestOptions): Record<string, unknown> {
  const { background: _background, minimum_chrome_version: _minimum, content_scripts: contentScripts, ...rest } = chromiumManifest(options);
  return {
    ...rest,
    background: { scripts: ['background.js'], type: 'module' },
    // Firefox does not know `world` in manifest content scripts (ISOLATED is its only world there).
    content_scripts: (contentScripts as Array<Record<string, unknown>>).map(({ world: _world, ...script }) => script),
    browser_specific_settings: { gecko: { id: 'realtime-streaming-devtools@example.com', strict_min_version: '115.0' } },
  };
}

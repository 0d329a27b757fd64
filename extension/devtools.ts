/** devtools.html: adds the "Realtime" panel to DevTools. */
import browser from 'webextension-polyfill';

void browser.devtools.panels.create('Realtime', '', 'panel.html');

// A module service worker: no top-level await is allowed here, so it imports headless-imports/lazy,
// whose first call loads the .wasm. No XMLHttpRequest either: uploads go through fetch.
import * as hi from '/node_modules/headless-imports/lazy.js';
import { flows } from '/flows.js';

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('message', (event) => {
  const reply = (message) => event.source.postMessage(message);
  event.waitUntil(
    (async () => {
      // Clients made before the module has loaded: their calls wait for it, and a bad option
      // rejects the first call with the typed error (instead of throwing from `new`).
      const { api, exaKey } = event.data;
      const early = new hi.Exa({ apiKey: exaKey, baseUrl: new URL('/websets', api).href, dangerouslyAllowBrowser: true });
      const bad = new hi.Dromo({ apiKey: 42, dangerouslyAllowBrowser: true });
      const earlyList = await early.imports.list({ limit: 1 });
      const badCall = await bad.imports.list().then(() => 'resolved', (e) => `${e.name}: ${e.message}`);
      const result = await flows(hi, event.data, (progress) => reply({ progress }));
      reply({ ...result, earlyList: Array.isArray(earlyList.data), badCall, xhr: typeof XMLHttpRequest === 'function' });
    })().catch((e) => reply({ error: String(e), stack: e?.stack })),
  );
});

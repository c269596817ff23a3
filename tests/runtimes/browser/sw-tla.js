// The main browser entry in a service worker: its top-level await makes registration fail, which
// is why headless-imports/lazy exists.
import * as hi from '/node_modules/headless-imports/index.js';

self.addEventListener('message', (event) => event.source.postMessage({ loaded: typeof hi.Dromo }));

// A dedicated module worker using the package's browser entry as a page would (no bundler: the
// installed package is served as static files). It runs the flows and posts each progress event.
// The entry awaits its .wasm at the top level, so this module's own code runs only after that: a
// message the page sent earlier would find no handler yet. Hence the handshake: `ready` first.
import * as hi from '/node_modules/headless-imports/index.js';
import { flows } from '/flows.js';

self.onmessage = async ({ data: env }) => {
  try {
    const result = await flows(hi, env, (progress) => self.postMessage({ progress }));
    self.postMessage({ ...result, xhr: typeof XMLHttpRequest === 'function' });
  } catch (e) {
    self.postMessage({ error: String(e), stack: e?.stack });
  }
};
self.postMessage({ ready: true });

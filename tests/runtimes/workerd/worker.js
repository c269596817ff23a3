// @ts-check
// A Cloudflare Worker using the package (bundled by tests/js/runtimes.test.js with esbuild and the
// `workerd` condition, as wrangler does). Routes:
//   GET  /flows                 the shared flows (flows.js) inside the Worker
//   POST /upload?name=F&schema= creates a Dromo import and uploads the body this request carried
//   *    /api/exa/...           createProxyHandler for Exa (the caller "user-1" is whoever sends x-user)
//   POST /hooks/setup           creates an Exa webhook pointing at /hooks/exa; keeps its secret
//   POST /hooks/exa             exa.webhooks.handler(): verified events are kept for GET /hooks/events
import * as hi from 'headless-imports';
const { Dromo, Exa, createProxyHandler } = hi;
import { flows } from '../flows.js';

/** Kept across requests by the isolate: the webhook's secret and the events it verified. */
const state = { /** @type {any} */ handler: undefined, /** @type {any} */ proxy: undefined, /** @type {any[]} */ events: [] };

export default {
  /** @param {Request} request @param {{ HI_ENV: string }} bindings */
  async fetch(request, bindings) {
    const env = JSON.parse(bindings.HI_ENV);
    const url = new URL(request.url);
    const exa = new Exa({ apiKey: env.exaKey, baseUrl: new URL('/websets', env.api).href });
    try {
      if (url.pathname === '/flows') return Response.json(await flows(hi, env));
      if (url.pathname === '/upload') {
        const dromo = new Dromo({ apiKey: env.dromoKey, baseUrl: env.api });
        const file = new File([await request.blob()], url.searchParams.get('name') ?? 'upload.csv');
        const { import: imp, rows } = await dromo.importFile(file, { schema_id: env.schema });
        return Response.json({ status: imp.status, rows: rows.length });
      }
      if (url.pathname.startsWith('/api/exa')) {
        state.proxy ??= createProxyHandler({
          provider: 'exa',
          apiKey: env.exaKey,
          baseUrl: new URL('/websets', env.api).href,
          authorize: (/** @type {Request} */ r) => r.headers.get('x-user'),
        });
        return state.proxy(request);
      }
      if (url.pathname === '/hooks/setup') {
        const hook = await exa.webhooks.create({ url: `${url.origin}/hooks/exa`, events: ['import.completed'] });
        state.handler = exa.webhooks.handler({ secret: hook.secret, onEvent: (/** @type {any} */ e) => void state.events.push(e) });
        return Response.json({ id: hook.id });
      }
      if (url.pathname === '/hooks/exa') return state.handler(request);
      if (url.pathname === '/hooks/events') return Response.json(state.events.map((e) => ({ type: e.type, id: e.data?.id })));
      return new Response('not found', { status: 404 });
    } catch (e) {
      const err = /** @type {any} */ (e);
      return Response.json({ error: String(err), name: err?.name, code: err?.code, stack: err?.stack }, { status: 500 });
    }
  },
};

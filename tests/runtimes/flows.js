// @ts-check
// The calls every runtime row of tests/js/runtimes.test.js makes with the installed package, in
// whatever runtime loads this file (Node, Deno, Bun, a Web Worker, a service worker, workerd):
// Exa's and Dromo's importFile of an in-memory File with progress, a list page of each, and an
// abort once the import exists. It returns what happened; the test decides what must have.
// Plain ES2022 and web APIs only: no node: imports, no runtime globals beyond those.

const COMPANIES = 'url,name\nhttps://acme.example,"Acme, Inc"\nhttps://globex.example,Globex\n';
const CONTACTS = 'First Name,Email Address\nAda,ada@example.com\nGrace,grace@example.com\n';

/**
 * @param {any} hi the package's exports, as this runtime imported them
 * @param {{ api: string, dromoKey: string, exaKey: string, schema: string, browser?: boolean }} env the
 *   emulator, and whether this runs in a browser
 * @param {(event: unknown) => void} [report] each progress event as it fires (a worker posts it)
 */
export async function flows(hi, env, report = () => {}) {
  // Only a browser (a page's workers) needs to be told that a key there is on purpose: a server
  // runtime that looks like one (workerd has WorkerGlobalScope) must not.
  const browser = env.browser ? { dangerouslyAllowBrowser: true } : {};
  const exa = new hi.Exa({ apiKey: env.exaKey, baseUrl: new URL('/websets', env.api).href, ...browser });
  const dromo = new hi.Dromo({ apiKey: env.dromoKey, baseUrl: env.api, ...browser });
  const progress = { exa: /** @type {number[]} */ ([]), dromo: /** @type {number[]} */ ([]) };

  const exaFile = new File([COMPANIES], 'companies.csv', { type: 'text/csv' });
  const { import: exaImport } = await exa.importFile(exaFile, {
    entity: { type: 'company' },
    onProgress: (/** @type {{ loaded: number, total: number }} */ p) => {
      progress.exa.push(p.loaded);
      report({ provider: 'exa', ...p });
    },
  });

  const dromoFile = new Blob([CONTACTS], { type: 'text/csv' });
  const { import: dromoImport, rows } = await dromo.importFile(new File([dromoFile], 'contacts.csv'), {
    schema_id: env.schema,
    onProgress: (/** @type {{ loaded: number, total: number }} */ p) => {
      progress.dromo.push(p.loaded);
      report({ provider: 'dromo', ...p });
    },
  });

  const exaPage = await exa.imports.list({ limit: 1 });
  const dromoPage = await dromo.imports.list({ limit: 1 });

  // Aborted as soon as the import exists: the error says so and still carries the import.
  const stop = new AbortController();
  const aborted = await dromo
    .importFile(new File([CONTACTS], 'abort.csv'), { schema_id: env.schema, signal: stop.signal, onCreated: () => stop.abort() })
    .then(
      () => ({ settled: 'resolved' }),
      (/** @type {any} */ e) => ({ name: e?.name, code: e?.code, isAbort: e instanceof hi.APIUserAbortError, importId: e?.import?.id }),
    );

  return {
    exa: { status: exaImport.status, count: exaImport.count, size: exaFile.size, progress: progress.exa },
    dromo: { status: dromoImport.status, rows, size: dromoFile.size, progress: progress.dromo },
    lists: { exa: exaPage.data.length, dromo: dromoPage.results.length },
    aborted,
  };
}

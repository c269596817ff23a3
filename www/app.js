// The demo page: plain DOM, no framework. Everything that talks to an API goes through the package's
// public API (`Dromo`, `Exa`, the error classes), the same calls an app would make.
import { Dromo, Exa, HeadlessImportsError, APIError, UploadError, ImportFailedError } from 'headless-imports';

const $ = (id) => /** @type {any} */ (document.getElementById(id));
const q = new URLSearchParams(location.search);
// Where the local emulator is (scripts/www.sh puts it in the query string).
const DEFAULTS = {
  dromo: { url: q.get('api') ?? 'https://app.dromo.io/api/v1', testKey: 'test-dromo-key' },
  exa: { url: q.get('exa') ?? 'https://api.exa.ai/websets', testKey: 'test-exa-key' },
};
// Matches the sample CSV; invalid values are kept as null instead of stopping at NEEDS_REVIEW.
const INLINE_DEFAULT = {
  fields: [
    { key: 'name', label: 'First Name', type: 'string', validators: [{ validate: 'required' }] },
    { key: 'email', label: 'Email', type: 'email', alternateMatches: ['Email Address', 'e-mail'] },
    { key: 'age', label: 'Age', type: 'number' },
  ],
  settings: { invalidDataBehavior: 'INCLUDE_INVALID_ROWS' },
};
const SAMPLE = {
  dromo: 'First Name,Last Name,Email Address,Age\nAda,Lovelace,ada@example.com,36\nGrace,Hopper,grace@example.com,85\nAlan,Turing,alan@example.com,41\n',
  exa: 'name,url\nExample Inc,https://example.com\nAcme,https://acme.test\n',
};
const MAX_ROWS = 10;

let file = /** @type {File | null} */ (null);
let controller = /** @type {AbortController | null} */ (null);
let lastRows = /** @type {unknown[] | null} */ (null);
let started = 0;

const provider = () => /** @type {'dromo' | 'exa'} */ (document.querySelector('input[name=provider]:checked').value);
const schemaMode = () => document.querySelector('input[name=schemaMode]:checked').value;
const isLocal = (url) => {
  try {
    return ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url, location.href).hostname);
  } catch {
    return false;
  }
};

// ---------------------------------------------------------------------------------------------
// Form state
// ---------------------------------------------------------------------------------------------

/** Prefills the emulator's public test key only while the base URL points at this machine. */
function syncKey() {
  const local = isLocal($('baseUrl').value);
  const key = $('apiKey');
  const testKeys = [DEFAULTS.dromo.testKey, DEFAULTS.exa.testKey];
  if (local && (key.value === '' || testKeys.includes(key.value))) {
    key.value = DEFAULTS[provider()].testKey;
    $('allowBrowser').checked = true;
  } else if (!local && testKeys.includes(key.value)) {
    key.value = '';
    $('allowBrowser').checked = false;
  }
  syncAllow();
}

function syncAllow() {
  const allow = $('allowBrowser').checked;
  $('keyField').hidden = !allow;
  $('apiKey').disabled = !allow;
  const testKeys = [DEFAULTS.dromo.testKey, DEFAULTS.exa.testKey];
  $('localWarning').hidden = !(allow && isLocal($('baseUrl').value) && testKeys.includes($('apiKey').value));
  renderCode();
}

function syncProvider() {
  const p = provider();
  $('dromoOptions').hidden = p !== 'dromo';
  $('exaOptions').hidden = p !== 'exa';
  $('baseUrl').value = DEFAULTS[p].url;
  $('interval').value = p === 'exa' ? 2000 : 5000;
  $('result').hidden = true;
  syncKey();
}

function syncSchemaMode() {
  $('savedField').hidden = schemaMode() !== 'saved';
  $('inlineField').hidden = schemaMode() !== 'inline';
  renderCode();
}

function setFile(/** @type {File | null} */ f) {
  file = f;
  $('fileInfo').textContent = f ? `${f.name} — ${formatBytes(f.size)}` : 'No file chosen.';
  $('drop').classList.toggle('has-file', !!f);
  renderCode();
}

/** The options object passed to importFile, as the code snippet shows it. */
function importOptions() {
  if (provider() === 'exa') {
    const type = $('entityType').value;
    const entity = type === 'custom' ? { type, description: $('entityDesc').value } : { type };
    return { entity, title: $('title').value };
  }
  if (schemaMode() === 'saved') return { schema_id: $('schemaId').value.trim() };
  const text = $('inlineSchema').value;
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw Object.assign(new Error(`The inline schema is not valid JSON: ${e.message}`), { name: 'SyntaxError', code: 'invalid_json' });
  }
  return parsed;
}

function renderCode() {
  const p = provider();
  const Cls = p === 'dromo' ? 'Dromo' : 'Exa';
  const allow = $('allowBrowser').checked;
  let opts;
  try {
    opts = JSON.stringify(importOptions(), null, 2).replace(/\n/g, '\n  ');
  } catch {
    opts = '{ /* invalid JSON */ }';
  }
  const client = allow
    ? `{ baseUrl: ${JSON.stringify($('baseUrl').value)}, apiKey, dangerouslyAllowBrowser: true }`
    : `{ baseUrl: ${JSON.stringify($('baseUrl').value)} } // proxy adds the key`;
  $('code').textContent = `import { ${Cls} } from 'headless-imports';

const client = new ${Cls}(${client});
const controller = new AbortController();   // Cancel calls controller.abort()
const { import: imp${p === 'dromo' ? ', rows' : ''} } = await client.importFile(file, {
  ...${opts},
  intervalMs: ${Number($('interval').value) || 5000},
  onProgress: ({ loaded, total }) => {},    // the progress bar
  onStatus: (imp) => {},                    // the timeline
  signal: controller.signal,
});${p === 'dromo' ? '  // NEEDS_REVIEW rejects: NeedsReviewError (error.reviewUrl)' : ''}`;
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

function setState(/** @type {string} */ state, /** @type {string} */ text) {
  $('state').dataset.state = state;
  $('state').textContent = text;
  document.body.dataset.state = state;
}

function resetRun() {
  $('progress').value = 0;
  $('progress').max = 100;
  $('progressText').textContent = '0 B';
  $('progressLive').textContent = '';
  $('timeline').replaceChildren();
  $('review').hidden = true;
  $('error').hidden = true;
  $('result').hidden = true;
  $('rowsWrap').replaceChildren();
  $('importFields').replaceChildren();
  $('reviewErrors').replaceChildren();
  lastRows = null;
  lastStatus = null;
}

let lastStatus = /** @type {string | null} */ (null);
/** Adds a timeline entry; statuses repeated by consecutive polls are shown once. */
function addEvent(/** @type {string} */ label, /** @type {string} */ kind, /** @type {string} */ detail = '') {
  if (kind === 'status') {
    if (label === lastStatus) return;
    lastStatus = label;
  }
  const li = document.createElement('li');
  li.className = `ev ev-${kind}`;
  const now = new Date();
  const time = document.createElement('time');
  time.dateTime = now.toISOString();
  time.textContent = now.toLocaleTimeString([], { hour12: false }) + `.${String(now.getMilliseconds()).padStart(3, '0')}`;
  const rel = document.createElement('span');
  rel.className = 'rel';
  rel.textContent = `+${((performance.now() - started) / 1000).toFixed(2)} s`;
  const name = document.createElement('span');
  name.className = kind === 'status' ? `badge st-${label.toLowerCase()}` : 'step';
  name.textContent = label;
  li.append(time, ' ', rel, ' ', name);
  if (detail) li.append(' ', Object.assign(document.createElement('span'), { className: 'detail', textContent: detail }));
  $('timeline').append(li);
}

let announced = -1;
function onProgress({ loaded, total }) {
  const pct = total ? Math.floor((loaded / total) * 100) : 100;
  $('progress').max = total || 1;
  $('progress').value = loaded;
  $('progress').textContent = `${pct}%`;
  $('progressText').textContent = `${formatBytes(loaded)} of ${formatBytes(total)} (${pct}%)`;
  $('progress').dataset.loaded = String(loaded);
  // Screen readers hear every 25%, not every event.
  const step = Math.floor(pct / 25);
  if (step !== announced) {
    announced = step;
    $('progressLive').textContent = `Upload ${pct}%`;
  }
  if (!$('timeline').querySelector('.ev-upload')) addEvent('uploading', 'upload', formatBytes(total));
  // XMLHttpRequest reports the last byte sent before storage answers (it may still refuse the file).
  if (loaded === total && !$('timeline').querySelector('.ev-upload-done')) addEvent('file sent', 'upload-done', formatBytes(total));
}

async function run(/** @type {SubmitEvent} */ ev) {
  ev.preventDefault();
  if (controller) return;
  resetRun();
  if (!file) {
    showError(Object.assign(new Error('Choose a file first (drop one, pick one, or use the sample).'), { name: 'No file' }));
    $('file').focus();
    return;
  }
  const p = provider();
  const apiKey = $('allowBrowser').checked ? $('apiKey').value : undefined;
  started = performance.now();
  announced = -1;
  controller = new AbortController();
  setBusy(true);
  setState('running', `Importing ${file.name}…`);
  addEvent('started', 'step', `${p === 'dromo' ? 'Dromo' : 'Exa'} · ${file.name}`);
  try {
    const opts = importOptions();
    const options = { baseUrl: $('baseUrl').value.trim() };
    if (apiKey) Object.assign(options, { apiKey, dangerouslyAllowBrowser: true });
    const client = p === 'dromo' ? new Dromo(options) : new Exa(options);
    const result = await client.importFile(file, {
      ...opts,
      intervalMs: Number($('interval').value) || 5000,
      onProgress,
      onStatus: (imp) => addEvent(imp.status, 'status'),
      signal: controller.signal,
    });
    const imp = result.import;
    addEvent(imp.status, 'status');
    setState('done', `Done: ${imp.status}.`);
    showResult(p, imp, result.rows);
  } catch (e) {
    // NEEDS_REVIEW is not a result: the import waits for a person at its review URL.
    if (e?.code === 'needs_review') {
      addEvent(e.import.status, 'status');
      setState('review', 'Needs review: a person must finish this import.');
      showReview(e.import);
      return;
    }
    addEvent(e?.code === 'aborted' ? 'canceled' : 'error', 'error', e?.name ?? '');
    setState(e?.code === 'aborted' ? 'idle' : 'failed', e?.code === 'aborted' ? 'Canceled. Idle: ready for another import.' : 'Failed.');
    showError(e, apiKey);
  } finally {
    controller = null;
    setBusy(false);
  }
}

function setBusy(/** @type {boolean} */ busy) {
  const hadFocus = document.activeElement === $('cancel') || document.activeElement === $('start');
  $('start').disabled = busy;
  $('cancel').disabled = !busy;
  $('form').setAttribute('aria-busy', String(busy));
  // Keyboard users keep their place: focus moves to whichever of the two buttons is usable.
  if (hadFocus) (busy ? $('cancel') : $('start')).focus();
}

function showReview(imp) {
  $('review').hidden = false;
  $('reviewLink').href = imp.review_url;
  $('reviewLink').textContent = imp.review_url;
  const said = (imp.import_errors ?? []).slice(0, 5);
  for (const err of said) {
    const li = document.createElement('li');
    li.textContent = [err.row != null ? `row ${err.row}` : '', err.field, err.message].filter(Boolean).join(' · ');
    $('reviewErrors').append(li);
  }
  if (said.length === 0) {
    const li = document.createElement('li');
    li.textContent = 'Nothing: its import_errors are empty. The review page shows what to fix.';
    $('reviewErrors').append(li);
  }
}

function showResult(p, imp, rows) {
  $('result').hidden = false;
  $('rowsWrap').hidden = !rows;
  $('download').hidden = !rows;
  $('rowsNote').hidden = !rows;
  if (rows) {
    lastRows = rows;
    $('resultTitle').textContent = `Result: ${rows.length} row${rows.length === 1 ? '' : 's'}`;
    $('rowsWrap').replaceChildren(table(rows.slice(0, MAX_ROWS)));
    $('rowsNote').textContent = rows.length > MAX_ROWS ? `First ${MAX_ROWS} of ${rows.length} rows.` : 'All rows.';
  } else {
    $('resultTitle').textContent = p === 'exa' ? 'The import' : 'The import (no rows until reviewed)';
  }
  const shown = p === 'exa'
    ? ['id', 'status', 'title', 'entity', 'count', 'format', 'failedReason', 'failedMessage', 'createdAt', 'updatedAt']
    : ['id', 'status', 'schema_id', 'original_filename', 'created_date', 'result_metadata'];
  fillFields($('importFields'), shown.filter((k) => k in imp).map((k) => [k, imp[k]]));
}

function table(/** @type {any[]} */ rows) {
  const t = document.createElement('table');
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const head = t.createTHead().insertRow();
  for (const k of keys) head.append(Object.assign(document.createElement('th'), { scope: 'col', textContent: k }));
  const body = t.createTBody();
  for (const r of rows) {
    const tr = body.insertRow();
    for (const k of keys) {
      const v = r[k];
      tr.insertCell().textContent = v === null || v === undefined ? '—' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    }
  }
  return t;
}

function fillFields(/** @type {HTMLElement} */ dl, /** @type {[string, unknown][]} */ entries) {
  dl.replaceChildren();
  for (const [k, v] of entries) {
    if (v === undefined) continue;
    dl.append(Object.assign(document.createElement('dt'), { textContent: k }));
    dl.append(Object.assign(document.createElement('dd'), { textContent: typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v) }));
  }
}

/** The error panel: name, code, message, the import id and the provider's details. Never the key. */
function showError(e, /** @type {string | undefined} */ apiKey) {
  const scrub = (s) => (apiKey && typeof s === 'string' ? s.split(apiKey).join('•••') : s);
  const aborted = e?.code === 'aborted';
  $('error').hidden = false;
  $('error').classList.toggle('aborted', aborted);
  $('errorTitle').textContent = aborted
    ? 'Canceled'
    : e instanceof UploadError
      ? 'The upload failed'
      : e instanceof ImportFailedError
        ? 'The import failed'
        : e instanceof APIError
          ? 'The API refused the request'
          : e instanceof HeadlessImportsError
            ? 'The import stopped'
            : 'Something went wrong';
  if (e instanceof UploadError) $('progressText').textContent += ' — refused by storage';
  const imp = e?.import;
  fillFields($('errorFields'), [
    ['name', e?.name ?? 'Error'],
    ['code', e?.code],
    ['message', scrub(e?.message ?? String(e))],
    ['import id', imp?.id],
    ['import status', imp?.status],
    ['HTTP status', e?.status],
    ['request id', e?.requestId],
    ['S3 code', e?.s3Code],
    ['URL expired', e?.expired],
    ['import deleted', e?.deleted],
    ['path', e?.path],
    ['failed reason', e?.failedReason],
    ['failed message', scrub(e?.failedMessage)],
  ].filter(([, v]) => v !== undefined && v !== null && v !== ''));
}

function formatBytes(/** @type {number} */ n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 ** 2).toFixed(1)} MB`;
}

// ---------------------------------------------------------------------------------------------
// Wiring
// ---------------------------------------------------------------------------------------------

$('inlineSchema').value = JSON.stringify(INLINE_DEFAULT, null, 2);
for (const r of document.querySelectorAll('input[name=provider]')) r.addEventListener('change', syncProvider);
for (const r of document.querySelectorAll('input[name=schemaMode]')) r.addEventListener('change', syncSchemaMode);
$('baseUrl').addEventListener('input', syncKey);
$('allowBrowser').addEventListener('change', syncAllow);
$('entityType').addEventListener('change', () => {
  $('descField').hidden = $('entityType').value !== 'custom';
  renderCode();
});
for (const id of ['apiKey', 'schemaId', 'inlineSchema', 'entityDesc', 'title', 'interval']) $(id).addEventListener('input', renderCode);
$('file').addEventListener('change', () => setFile($('file').files[0] ?? null));
$('sample').addEventListener('click', () => setFile(new File([SAMPLE[provider()]], `sample-${provider()}.csv`, { type: 'text/csv' })));
$('form').addEventListener('submit', run);
$('cancel').addEventListener('click', () => controller?.abort());
$('download').addEventListener('click', () => {
  if (!lastRows) return;
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([JSON.stringify(lastRows, null, 2)], { type: 'application/json' }));
  a.download = `${(file?.name ?? 'rows').replace(/\.[^.]*$/, '')}.json`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
});

const drop = $('drop');
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  const f = e.dataTransfer?.files?.[0];
  if (f) setFile(f);
});
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && controller) controller.abort();
});

syncProvider();
syncSchemaMode();
setState('idle', 'Idle: choose a file and start an import.');
document.body.dataset.ready = 'true';

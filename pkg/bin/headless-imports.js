#!/usr/bin/env node
// @ts-check
// The `headless-imports` command: Dromo and Exa imports from a shell. See `headless-imports --help`.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { Dromo, Exa, importFiles } from '../node.js';
import { ndjsonReporter, ttyReporter, terminalSafe, jsonText } from './report.js';

const EXIT = { ok: 0, error: 1, usage: 2, review: 3, failed: 4, interrupted: 130 };
const EXA_MAX_SIZE = 50_000_000;
const ENTITIES = ['company', 'person', 'article', 'research_paper', 'custom'];

const EXIT_HELP = `Exit codes:
  0    success (every file imported; --no-wait: every file uploaded)
  1    other errors (network, authentication, not found, timeout, ...)
  2    usage error, or input refused before any request (nothing was sent)
  3    a Dromo import stopped at NEEDS_REVIEW (its review URL is printed)
  4    an import failed (Dromo FAILED, Exa failed/canceled)
  130  interrupted (Ctrl-C): uploads are aborted, the import ids created so far are printed
       (a second Ctrl-C leaves at once, without waiting for cleanups; the ids are printed too)
  With several files the most severe wins: 130, 2, 1, 4, 3, 0.`;

const COMMON_HELP = `Common options:
  --api-key KEY     API key (default: $DROMO_API_KEY for dromo, $EXA_API_KEY for exa; prefer
                    the environment)
  --base-url URL    API base URL, e.g. the local emulator or your proxy
                    (default: $DROMO_BASE_URL / $EXA_BASE_URL, else the provider's own API)
  --json            NDJSON output even on a terminal
  -h, --help        this help`;

const HELP = {
  main: `Usage: headless-imports <dromo|exa> <command> [options]

Headless file imports from the command line (Dromo Headless Import API, Exa Websets imports).

Commands:
  dromo import <files...> (--schema-id ID | --schema FILE) [--no-wait] [--out DIR] [--journal FILE]
                     [--adopt-orphans]
  dromo list [--limit N] [--offset N | --all]
  dromo status <id>
  dromo results <id> [--out FILE] [--ndjson]
  exa import <files...> --entity TYPE [--description TEXT] [--title TEXT] [--identifier N] [--no-wait]
                     [--journal FILE]
  exa list [--limit N] [--cursor C | --all]
  exa status <id>
  dromo|exa webhook listen --port N   print each webhook event received (NDJSON)

  -V, --version     print the version
  -h, --help        help (also after any command: headless-imports dromo import --help)

Output: on a terminal, progress bars and a live status line; otherwise one JSON object per line
(NDJSON) per event: {"event":"created"|"progress"|"status"|"done"|"error"|"aborted", "file", "importId", ...};
--json prints NDJSON on a terminal too.

${EXIT_HELP}`,
  dromo: `Usage: headless-imports dromo <import|list|status|results> [options]

  import <files...> (--schema-id ID | --schema FILE) [--no-wait] [--out DIR] [--concurrency N]
  list [--limit N] [--offset N | --all]
  status <id>
  results <id> [--out FILE] [--ndjson]

Run "headless-imports dromo <command> --help" for a command's options.

${COMMON_HELP}

${EXIT_HELP}`,
  exa: `Usage: headless-imports exa <import|list|status> [options]

  import <files...> --entity TYPE [--description TEXT] [--title TEXT] [--identifier N] [--no-wait]
  list [--limit N] [--cursor C | --all]
  status <id>

Run "headless-imports exa <command> --help" for a command's options.

${COMMON_HELP}

${EXIT_HELP}`,
  'dromo import': `Usage: headless-imports dromo import <files...> (--schema-id ID | --schema FILE) [options]

Creates one import per file, uploads it (streamed from disk), waits for processing and fetches
the cleaned rows.

  --schema-id ID      a saved schema's id
  --schema FILE       an inline schema: a JSON array of fields, or {"fields", "settings"?, "hooks"?}
  --wait / --no-wait  wait for the final status (default) or stop once the file is uploaded
  --out DIR           write each file's rows to DIR/<file name without extension>.json
                      (without --out the rows are not downloaded: see "dromo results")
  --concurrency N     files in flight at once (default 4); Dromo's rate limits are respected
  --interval MS       milliseconds between status polls, at least 1000 (default 5000; the first
                      polls come sooner)
  --timeout MS        give up waiting after this long (default 1800000, 30 minutes)
  --webhook-port N    wait on Dromo's webhooks received on 127.0.0.1:N (a tunnel points there;
                      each is confirmed with a GET), polling once a minute as the fallback
  --journal FILE      record each file's progress in FILE (created if missing); run the same
                      command again after a crash to resume: no file is created twice, uploads
                      resume while their URL is valid, finished files are reported from FILE.
                      An import a killed run may have created but never recorded (or, with a
                      journal restored from an older copy, imported) is left alone and reported
                      ("left" events, the summary's leftBehind): Dromo keeps nothing that proves
                      it ours rather than another client's
  --adopt-orphans     with --journal: use such an import (same file name and schema, waiting for
                      its file, made since the run's intent) instead. Only when no other client
                      creates imports of these file names on this account

${COMMON_HELP}

Events (off a terminal, NDJSON on stdout; treat unknown events and keys as informational):
  {"event":"start","file","phase"}            {"event":"created","file","importId","status","size"}
  {"event":"queued","file","for":"create"|"poll","waitMs"}  (waiting for a rate-limit slot)
  {"event":"progress","file","importId","loaded","total"}  (at most every 200 ms, and at 100 %)
  {"event":"uploaded","file","importId"}      {"event":"status","file","importId","status"}
  {"event":"results","file","importId"}       (fetching the rows, with --out)
  {"event":"done","file","importId","status","rows"?,"out"?,"reviewUrl"?,"waited"}
  {"event":"error","file","importId"?,"code","message","status"?}
  {"event":"aborted","importIds":[...]}       (Ctrl-C)
  With --journal also: {"event":"resumed","file","importId","action":"upload"|"wait"},
  {"event":"abandoned","file","importId","reason","deleted","message"} (a new import follows;
  "deleted":false with "deleteError" when it could not be deleted and is left on the account),
  {"event":"left","file","importId","reason":"possible_orphan"|"possible_duplicate","name",
  "createdAt","status"?,"message"} (an import that may be a killed run's, or this file imported
  already by a run the journal lost, or another client's: left alone, check it),
  {"event":"recovered"|"note","file","message"}, "earlier":true on a file finished in an
  earlier run, and last {"event":"summary","journal","files":[{file,importId,status,outcome,
  leftBehind?}]} (leftBehind: ids of imports left on the account: given up but not deleted,
  or possible orphans and duplicates left alone).

${EXIT_HELP}`,
  'dromo list': `Usage: headless-imports dromo list [--limit N] [--offset N | --all]

Lists imports, newest first: one page, or every page with --all. Off a terminal: one JSON import
per line.

  --limit N           page size, 1..1000 (default 20)
  --offset N          start at the Nth import (0 = the newest)
  --all               every import, page by page

${COMMON_HELP}`,
  'dromo status': `Usage: headless-imports dromo status <id>

Prints an import (its presigned upload URL is omitted). Off a terminal: one JSON line.

${COMMON_HELP}`,
  'dromo results': `Usage: headless-imports dromo results <id> [--out FILE] [--ndjson]

Prints (or writes to FILE) the cleaned rows of a SUCCESSFUL import as a JSON array, streamed as
they download: any size, constant memory. A download cut off is resumed; one that cannot finish
exits 1 (with --out, FILE is then left alone and the rows so far are in FILE.<pid>-<x>.partial).

  --out FILE|DIR/     write the rows here instead of stdout (into a directory: DIR/<id>.json)
  --ndjson            one row per line (JSON Lines) instead of an array

${COMMON_HELP}`,
  'exa import': `Usage: headless-imports exa import <files...> --entity TYPE [options]

Counts each CSV's records, creates an Exa Websets import, uploads the file and waits.
Files over 50,000,000 bytes are refused before any request.

  --entity TYPE       company | person | article | research_paper | custom
  --description TEXT  what a row is (required with --entity custom, 2..200 characters)
  --title TEXT        the import's title
  --identifier N      the column (0-based) that identifies each entity, e.g. a website or
                      profile URL (default: Exa finds one; without one the import fails with
                      missing_identifier)
  --wait / --no-wait  wait for the final status (default) or stop once the file is uploaded
  --concurrency N     files in flight at once (default 4)
  --interval MS       milliseconds between status polls, at least 1000 (default 2000; the first
                      polls come sooner)
  --timeout MS        give up waiting after this long (default 1800000, 30 minutes)
  --webhook-port N    wait on Exa's webhooks received on 127.0.0.1:N (a tunnel points there),
                      polling once a minute as the fallback; needs --webhook-secret or
                      EXA_WEBHOOK_SECRET
  --journal FILE      record each file's progress in FILE; run the same command again after a
                      crash to resume (see "dromo import --help")

${COMMON_HELP}

Events: as for "dromo import" (no rows, no NEEDS_REVIEW).

${EXIT_HELP}`,
  'exa list': `Usage: headless-imports exa list [--limit N] [--cursor C | --all]

Lists imports, newest first: one page, or every page with --all. Off a terminal: one JSON import
per line.

  --limit N           page size, 1..200 (default 20)
  --cursor C          the page after the one that printed this cursor
  --all               every import, page by page

${COMMON_HELP}`,
  'exa status': `Usage: headless-imports exa status <id>

Prints an import. Off a terminal: one JSON line.

${COMMON_HELP}`,
  'dromo webhook': `Usage: headless-imports dromo webhook listen --port N

Receives Dromo's webhooks on http://127.0.0.1:N/ (point a tunnel at it) and prints each event as
one JSON line. Dromo signs nothing: an event is a hint, confirm it with "dromo status <id>".

  --port N            the loopback port to listen on

${COMMON_HELP}`,
  'exa webhook': `Usage: headless-imports exa webhook listen --port N [--webhook-secret S]

Receives Exa's webhooks on http://127.0.0.1:N/ (point a tunnel at it), verifies each delivery's
Exa-Signature and prints each event as one JSON line; a delivery that does not verify is answered
401 and noted on stderr.

  --port N            the loopback port to listen on
  --webhook-secret S  the webhook's signing secret (default: EXA_WEBHOOK_SECRET)

${COMMON_HELP}`,
};

/** The webhook receiver of \`webhook listen\` and \`import --webhook-port\`, on a loopback port. */
async function listen(/** @type {any} */ api, /** @type {string | undefined} */ portArg, /** @type {string | undefined} */ secret, /** @type {(e: any) => void} */ onEvent) {
  const port = intOption(portArg, 'port', 0, 1, 65535);
  if (!port) throw new UsageError('--port is required: the loopback port to receive webhooks on');
  const handler = api.webhooks.handler({ ...(secret ? { secret } : {}), onEvent });
  const server = http.createServer(async (req, res) => {
    await handler.node(req, res);
    if (res.statusCode === 401) process.stderr.write('headless-imports: refused a delivery (401): its signature does not verify\n');
    if (res.statusCode === 400) process.stderr.write('headless-imports: refused a delivery (400): it is not a webhook event\n');
  });
  await new Promise((resolve, reject) => {
    server.once('error', (e) => reject(new Error(`cannot listen on 127.0.0.1:${port}: ${/** @type {any} */ (e).code ?? e}`)));
    server.listen(port, '127.0.0.1', () => resolve(undefined));
  });
  return server;
}

/** The Exa webhook secret: --webhook-secret, else EXA_WEBHOOK_SECRET. @param {Record<string, any>} values */
function webhookSecret(values) {
  return values['webhook-secret'] ?? process.env.EXA_WEBHOOK_SECRET ?? undefined;
}

/** `webhook listen`: prints each event until Ctrl-C. */
async function runWebhookListen(/** @type {'dromo' | 'exa'} */ provider, /** @type {any} */ api, /** @type {Record<string, any>} */ values) {
  const secret = provider === 'exa' ? webhookSecret(values) : undefined;
  if (provider === 'exa' && !secret) throw new UsageError('no webhook secret: pass --webhook-secret or set EXA_WEBHOOK_SECRET (exa.webhooks.create returned it)');
  const server = await listen(api, values.port, secret, (e) => process.stdout.write(jsonText(e) + '\n'));
  process.stderr.write(`listening for ${provider} webhooks on http://127.0.0.1:${/** @type {any} */ (server.address()).port}/ (Ctrl-C stops)\n`);
  await new Promise((resolve) => process.once('SIGINT', resolve));
  await new Promise((resolve) => server.close(() => resolve(undefined)));
  return EXIT.ok;
}

const OPTIONS = /** @type {const} */ ({
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
  'api-key': { type: 'string' },
  'base-url': { type: 'string' },
  'schema-id': { type: 'string' },
  schema: { type: 'string' },
  wait: { type: 'boolean' },
  'no-wait': { type: 'boolean' },
  out: { type: 'string', short: 'o' },
  ndjson: { type: 'boolean' },
  concurrency: { type: 'string', short: 'c' },
  interval: { type: 'string' },
  timeout: { type: 'string' },
  limit: { type: 'string' },
  entity: { type: 'string' },
  description: { type: 'string' },
  title: { type: 'string' },
  identifier: { type: 'string' },
  json: { type: 'boolean' },
  offset: { type: 'string' },
  cursor: { type: 'string' },
  all: { type: 'boolean' },
  port: { type: 'string' },
  'webhook-port': { type: 'string' },
  'webhook-secret': { type: 'string' },
  journal: { type: 'string' },
  'adopt-orphans': { type: 'boolean' },
});

const COMMON = ['help', 'api-key', 'base-url', 'json'];
const ALLOWED = {
  'dromo import': [...COMMON, 'schema-id', 'schema', 'wait', 'no-wait', 'out', 'concurrency', 'interval', 'timeout', 'webhook-port', 'journal', 'adopt-orphans'],
  'dromo webhook': [...COMMON, 'port'],
  'exa webhook': [...COMMON, 'port', 'webhook-secret'],
  'dromo list': [...COMMON, 'limit', 'offset', 'all'],
  'dromo status': COMMON,
  'dromo results': [...COMMON, 'out', 'ndjson'],
  'exa import': [...COMMON, 'entity', 'description', 'title', 'identifier', 'wait', 'no-wait', 'concurrency', 'interval', 'timeout', 'webhook-port', 'webhook-secret', 'journal'],
  'exa list': [...COMMON, 'limit', 'cursor', 'all'],
  'exa status': COMMON,
};

class UsageError extends Error {}

/** Whether to draw for a person (a terminal, unless --json asks for NDJSON anyway). */
let isTTY = Boolean(process.stdout.isTTY);

function version() {
  const pkg = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  return String(pkg.version);
}

/**
 * A non-negative integer option, or the default.
 * @param {string | undefined} v @param {string} name @param {number} dflt @param {number} min @param {number} max
 */
function intOption(v, name, dflt, min, max) {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${v}"`);
  }
  return Number(v);
}

/** Checks files before any request: each must be a readable regular file. @param {string[]} files */
function checkFiles(files) {
  if (files.length === 0) throw new UsageError('no files given');
  for (const f of files) {
    let st;
    try {
      st = fs.statSync(f);
      fs.accessSync(f, fs.constants.R_OK);
    } catch (err) {
      throw new UsageError(`cannot read ${f}: ${/** @type {any} */ (err).code ?? /** @type {any} */ (err).message}`);
    }
    if (!st.isFile()) throw new UsageError(`not a file: ${f}`);
    if (st.size === 0) throw new UsageError(`${f} is empty (0 bytes): nothing to import`);
  }
  return files;
}

/** @param {'dromo' | 'exa'} provider @param {Record<string, any>} values @param {Record<string, unknown>} [extra] more client options */
function client(provider, values, extra = {}) {
  const env = provider === 'dromo' ? 'DROMO' : 'EXA';
  const apiKey = values['api-key'] ?? process.env[`${env}_API_KEY`] ?? undefined;
  keyVar = values['api-key'] !== undefined ? '--api-key' : `${env}_API_KEY`;
  const baseUrl = values['base-url'] ?? process.env[`${env}_BASE_URL`] ?? undefined;
  if (!apiKey && !baseUrl && !extra.apiKey) {
    throw new UsageError(`no API key: set ${env}_API_KEY (or pass --api-key, or --base-url of a proxy that adds it)`);
  }
  /** @type {Record<string, unknown>} */
  const opts = { ...extra };
  if (apiKey) opts.apiKey = apiKey;
  if (baseUrl) opts.baseUrl = baseUrl;
  try {
    return provider === 'dromo' ? new Dromo(opts) : new Exa(opts);
  } catch (err) {
    throw new UsageError(/** @type {Error} */ (err).message);
  }
}

/** Exit code for an error thrown by the library. @param {any} err */
function exitFor(err) {
  if (err instanceof UsageError) return EXIT.usage;
  if (err?.code === 'validation_error') return EXIT.usage;
  // A journal written for other options, damaged, in use or with two names: refused before any request.
  if (['journal_mismatch', 'journal_damaged', 'journal_in_use', 'journal_linked'].includes(err?.code)) return EXIT.usage;
  if (err?.code === 'import_failed') return EXIT.failed;
  if (err?.code === 'needs_review') return EXIT.review;
  if (err?.code === 'aborted') return EXIT.interrupted;
  return EXIT.error;
}

const SEVERITY = [EXIT.interrupted, EXIT.usage, EXIT.error, EXIT.failed, EXIT.review, EXIT.ok];
/** @param {number} a @param {number} b */
const worse = (a, b) => (SEVERITY.indexOf(a) <= SEVERITY.indexOf(b) ? a : b);

/**
 * A single-line message for an error, never with secrets (the library redacts its own) nor with
 * the control characters a server may have put in it.
 * @param {any} err
 */
function message(err) {
  let text = String(err?.message ?? err).replace(/\s+/g, ' ').trim();
  if (err?.code === 'authentication_error' && keyVar) text += keyVar === '--api-key' ? ' Check --api-key.' : ` Check ${keyVar} (or --api-key).`;
  return terminalSafe(text);
}

/** The environment variable the command's key comes from, named on a 401. */
let keyVar = '';

/** Drops the presigned upload URL (its signature is a secret while valid). @param {any} imp */
function publicImport(imp) {
  const out = { ...imp };
  if ('upload' in out) out.upload = out.upload ? '(presigned URL omitted)' : null;
  delete out.uploadUrl;
  return out;
}

// ---------------------------------------------------------------------------------------------
// import
// ---------------------------------------------------------------------------------------------

/**
 * The import plan, fully validated before any request.
 * @param {'dromo' | 'exa'} provider @param {Record<string, any>} values @param {string[]} files
 */
function planImport(provider, values, files) {
  const wait = !values['no-wait'];
  if (values.wait && values['no-wait']) throw new UsageError('--wait and --no-wait are exclusive');
  const concurrency = intOption(values.concurrency, 'concurrency', 4, 1, 64);
  // Unset: the library's pace (quick first polls, then every 5 s for Dromo, 2 s for Exa).
  const intervalMs = values.interval === undefined ? undefined : intOption(values.interval, 'interval', 5000, 1000, 3_600_000);
  const timeoutMs = intOption(values.timeout, 'timeout', 30 * 60_000, 1, 7 * 24 * 3_600_000);
  /** @type {Record<string, any>} */
  const plan = { provider, wait, concurrency, intervalMs, timeoutMs, files: checkFiles(files) };
  const twice = files.find((f, i) => files.findIndex((g) => path.resolve(g) === path.resolve(f)) !== i);
  if (twice !== undefined) {
    const first = files.find((g) => path.resolve(g) === path.resolve(twice));
    throw new UsageError(first === twice ? `${twice} is given twice` : `${twice} is ${first}, given a second time`);
  }
  if (values.journal !== undefined) {
    if (values.journal === '') throw new UsageError('--journal needs the path of the journal file');
    if (fs.existsSync(values.journal) && !fs.statSync(values.journal).isFile()) throw new UsageError(`--journal ${values.journal} is not a file`);
    plan.journal = values.journal;
  }
  if (values['adopt-orphans']) {
    if (plan.journal === undefined) throw new UsageError('--adopt-orphans goes with --journal');
    plan.adoptOrphans = true;
  }

  if (provider === 'dromo') {
    if (values['schema-id'] && values.schema) throw new UsageError('give either --schema-id or --schema, not both');
    if (!values['schema-id'] && !values.schema) throw new UsageError('missing --schema-id ID or --schema FILE');
    if (values['schema-id']) {
      plan.schema = { schema_id: values['schema-id'] };
    } else {
      let parsed;
      try {
        parsed = JSON.parse(fs.readFileSync(values.schema, 'utf8'));
      } catch (err) {
        throw new UsageError(`cannot read the schema ${values.schema}: ${message(err)}`);
      }
      if (Array.isArray(parsed)) parsed = { fields: parsed };
      if (!parsed || typeof parsed !== 'object' || !Array.isArray(parsed.fields)) {
        throw new UsageError(`${values.schema}: expected an array of fields or {"fields": [...], "settings"?, "hooks"?}`);
      }
      const extra = Object.keys(parsed).filter((k) => !['fields', 'settings', 'hooks'].includes(k));
      if (extra.length) throw new UsageError(`${values.schema}: unexpected key ${extra[0]} (fields, settings, hooks only)`);
      plan.schema = parsed;
    }
    if (values.out !== undefined) {
      if (!wait) throw new UsageError('--out needs the rows: it cannot be combined with --no-wait');
      const names = files.map((f) => outName(f));
      const dup = names.find((n, i) => names.indexOf(n) !== i);
      if (dup) throw new UsageError(`two files would both write ${dup} in --out`);
      if (fs.existsSync(values.out) && !fs.statSync(values.out).isDirectory()) {
        throw new UsageError(`--out ${values.out} is not a directory`);
      }
      plan.out = values.out;
    }
  } else {
    const type = values.entity;
    if (!type) throw new UsageError(`missing --entity (${ENTITIES.join(', ')})`);
    if (!ENTITIES.includes(type)) throw new UsageError(`--entity must be one of ${ENTITIES.join(', ')}, got "${type}"`);
    if (type === 'custom') {
      const d = values.description;
      if (!d || d.length < 2 || d.length > 200) throw new UsageError('--entity custom needs --description of 2 to 200 characters');
      plan.entity = { type, description: d };
    } else {
      if (values.description !== undefined) throw new UsageError('--description goes with --entity custom only');
      plan.entity = { type };
    }
    plan.exa = {};
    if (values.title !== undefined) plan.exa.title = values.title;
    if (values.identifier !== undefined) {
      plan.exa.csv = { identifier: intOption(values.identifier, 'identifier', 0, 0, 10_000) };
    }
    for (const f of files) {
      const size = fs.statSync(f).size;
      if (size > EXA_MAX_SIZE) throw new UsageError(`${f} has ${size} bytes; Exa accepts at most ${EXA_MAX_SIZE}`);
    }
  }
  return plan;
}

/** @param {string} file */
function outName(file) {
  const base = path.basename(file);
  const ext = path.extname(base);
  return `${ext ? base.slice(0, -ext.length) : base}.json`;
}

/** The NDJSON `error` event's fields for an error the library reported. @param {any} e */
function errorFields(e) {
  /** @type {Record<string, unknown>} */
  const extra = {};
  if (e?.code === 'import_failed') {
    extra.status = e.import?.status ?? 'FAILED';
    if (e.failedReason) extra.failedReason = e.failedReason;
    if (e.failedMessage) extra.failedMessage = e.failedMessage;
    if (Array.isArray(e.import?.import_errors)) extra.importErrors = e.import.import_errors.slice(0, 10);
  }
  // Whether the import it made was deleted (false: it is still there), and an Exa create's token.
  if (typeof e?.deleted === 'boolean') extra.deleted = e.deleted;
  if (typeof e?.token === 'string') extra.token = e.token;
  const msg =
    e?.code === 'import_failed' && e.import?.import_errors?.[0]?.message
      ? `import failed: ${e.import.import_errors[0].message}`
      : message(e);
  return { code: e?.code ?? (e instanceof UsageError ? 'usage' : 'error'), message: msg, ...extra };
}

/** One line saying how every file ended, this run's and earlier runs'. @param {{ outcome: string, earlier?: boolean, leftBehind?: string[] }[]} files */
function summaryText(files) {
  const left = files.flatMap((f) => f.leftBehind ?? []);
  const count = (/** @type {string} */ o) => files.filter((f) => f.outcome === o).length;
  const earlier = files.filter((f) => f.earlier).length;
  const parts = [
    [count('succeeded'), 'imported'],
    [count('uploaded'), 'uploaded (not waited for)'],
    [count('needs_review'), 'need a review'],
    [count('failed'), 'failed'],
    [count('error'), 'stopped by an error'],
    [count('not_started'), 'not started'],
  ].filter(([n]) => n);
  const leftText = left.length
    ? `; ${left.length} import${left.length > 1 ? 's are' : ' is'} left on the account (given up but not deleted, or possibly an earlier run's that nothing proves ours, or a duplicate: see the messages above, check each and delete those that are yours): ${left.join(', ')}`
    : '';
  return `${files.length} files: ${parts.map(([n, what]) => `${n} ${what}`).join(', ')}${earlier ? ` (${earlier} finished in an earlier run, from the journal)` : ''}${leftText}`;
}

/**
 * Runs the library's `importFiles` (its own flow per file, journaled with --journal) and
 * reports each of its events as this command prints them.
 * @param {any} api Dromo or Exa client
 * @param {Record<string, any>} plan
 */
async function runImport(api, plan) {
  importing = true;
  const names = plan.files.map((/** @type {string} */ f) => path.basename(f));
  /** @type {Map<string, number>} */
  const uses = new Map();
  for (const n of names) uses.set(n, (uses.get(n) ?? 0) + 1);
  // Display name: the path as given when two files share a base name.
  const display = plan.files.map((/** @type {string} */ f, /** @type {number} */ i) => (uses.get(names[i]) === 1 ? names[i] : f));
  const nameOf = new Map(plan.files.map((/** @type {string} */ f, /** @type {number} */ i) => [f, display[i]]));
  const report = isTTY ? ttyReporter(display) : ndjsonReporter();
  const controller = new AbortController();
  const { signal } = controller;
  /** @type {string[]} */
  const created = [];
  /** Of those, the ones a cleanup deleted. @type {Set<string>} */
  const deleted = new Set();
  let interrupted = false;

  /** Says which imports were made so far, once the run is interrupted. */
  const tellCreated = () => {
    report.finish();
    if (isTTY) {
      process.stderr.write(
        `Interrupted: uploads aborted. Imports created so far (${created.length}):\n` +
          created.map((id) => `  ${terminalSafe(id)}${deleted.has(id) ? '  (deleted)' : ''}\n`).join(''),
      );
    } else {
      report.emit({ event: 'aborted', importIds: created, deletedIds: created.filter((id) => deleted.has(id)) });
    }
  };
  const onSignal = () => {
    // A second Ctrl-C: leave at once, without waiting for the cleanups, yet with the ids (writes
    // to a terminal or a pipe are synchronous on Linux and macOS, so they land before the exit).
    if (interrupted) {
      tellCreated();
      process.exit(EXIT.interrupted);
    }
    interrupted = true;
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  if (plan.out) fs.mkdirSync(plan.out, { recursive: true });

  /** What the library tells, as this command reports it. @param {Record<string, any>} e */
  const onEvent = (e) => {
    /** @type {{ event: string, file: string, importId?: string }} */
    const base = { event: String(e.event), file: nameOf.get(e.file) ?? e.file, ...(e.importId ? { importId: e.importId } : {}) };
    const earlier = e.earlier ? { earlier: true } : {};
    switch (e.event) {
      case 'start':
        return report.emit({ ...base, phase: e.phase });
      case 'queued':
        return report.emit({ ...base, for: e.for, waitMs: e.waitMs });
      case 'created':
        created.push(e.importId);
        return report.emit({ ...base, status: e.status, size: e.size, ...(e.count !== undefined ? { count: e.count } : {}) });
      case 'progress':
        return report.emit({ ...base, loaded: e.loaded, total: e.total });
      case 'status':
        return report.emit({ ...base, status: e.status });
      case 'done': {
        if (e.status === 'NEEDS_REVIEW') return report.emit({ ...base, status: e.status, reviewUrl: e.reviewUrl, waited: true, ...earlier });
        if (!e.waited) return report.emit({ ...base, status: e.status, waited: false });
        /** @type {Record<string, unknown>} */
        const extra = {};
        if (plan.out && e.rows) {
          const out = path.join(plan.out, outName(e.file));
          fs.writeFileSync(out, JSON.stringify(e.rows, null, 2) + '\n');
          Object.assign(extra, { rows: e.rows.length, out });
        }
        return report.emit({ ...base, status: e.status, ...extra, waited: true, ...earlier });
      }
      case 'error': {
        // An import the library found and named only on the error (a create whose answer was
        // lost) was created too.
        const id = e.importId ?? e.error?.import?.id;
        if (typeof id === 'string' && !e.earlier) {
          if (!created.includes(id)) created.push(id);
          if (e.error?.deleted === true) deleted.add(id);
        }
        return report.emit({ ...base, ...(typeof id === 'string' ? { importId: id } : {}), ...errorFields(e.error), ...earlier });
      }
      case 'resumed':
        return report.emit({ ...base, action: e.action });
      case 'abandoned':
        return report.emit({ ...base, reason: e.reason, deleted: e.deleted, ...(e.deleteError ? { deleteError: errorFields(e.deleteError) } : {}), message: e.message });
      case 'left':
        return report.emit({ ...base, reason: e.reason, ...(e.name ? { name: e.name } : {}), ...(e.createdAt ? { createdAt: e.createdAt } : {}), ...(e.status ? { status: e.status } : {}), message: e.message });
      case 'recovered':
      case 'note':
        return report.emit({ ...base, message: e.message });
      default:
        // uploaded, results, and whatever a newer library tells
        return report.emit(base);
    }
  };

  /** @type {Record<string, unknown>} */
  const options = {
    ...(plan.provider === 'dromo' ? plan.schema : { entity: plan.entity, ...plan.exa }),
    wait: plan.wait,
    ...(plan.intervalMs ? { intervalMs: plan.intervalMs } : {}),
    timeoutMs: plan.timeoutMs,
    signal,
    concurrency: plan.concurrency,
    // Rows are downloaded only when they are written somewhere.
    ...(plan.provider === 'dromo' ? { rows: Boolean(plan.out) } : {}),
    ...(plan.journal ? { journal: plan.journal } : {}),
    ...(plan.adoptOrphans ? { adoptUnmarkedOrphans: true } : {}),
    onEvent,
  };
  /** @type {{ files: { file: string, importId?: string, status?: string, outcome: string, earlier?: boolean, error?: unknown, leftBehind?: string[] }[] }} */
  let summary;
  try {
    summary = await importFiles(api, plan.files, options);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // Until the process ends (its last output), a Ctrl-C still ends it with the documented code
    // rather than Node's default death by signal.
    const late = () => process.exit(EXIT.interrupted);
    process.on('SIGINT', late);
    process.on('SIGTERM', late);
  }
  let code = EXIT.ok;
  for (const f of summary.files) {
    if (f.outcome === 'needs_review') code = worse(code, EXIT.review);
    else if (f.outcome === 'failed') code = worse(code, EXIT.failed);
    else if (f.outcome === 'error') {
      const c = exitFor(f.error);
      // An abort that was not ours (a timeout's signal) is an error, not an interruption.
      code = worse(code, c === EXIT.interrupted && !signal.aborted ? EXIT.error : c);
    }
  }
  if (plan.journal) {
    const files = summary.files.map((f) => ({
      file: nameOf.get(f.file) ?? f.file,
      ...(f.importId ? { importId: f.importId } : {}),
      ...(f.status ? { status: f.status } : {}),
      outcome: f.outcome,
      ...(f.earlier ? { earlier: true } : {}),
      ...(f.leftBehind ? { leftBehind: f.leftBehind } : {}),
    }));
    if (isTTY) report.note(summaryText(files));
    else report.emit({ event: 'summary', journal: plan.journal, files });
  }
  if (interrupted) {
    tellCreated();
    return EXIT.interrupted;
  }
  report.finish();
  return code;
}

// ---------------------------------------------------------------------------------------------
// list / status / results
// ---------------------------------------------------------------------------------------------

/** @param {any[]} items @param {string[]} cols */
function table(items, cols) {
  const cells = items.map((it) => cols.map((c) => terminalSafe(it[c] ?? '')));
  const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
  const fmt = (/** @type {string[]} */ r) => r.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd();
  return [fmt(cols), ...cells.map(fmt)].join('\n') + '\n';
}

/** @param {'dromo' | 'exa'} provider @param {any} api @param {Record<string, any>} values */
async function runList(provider, api, values) {
  const limit = intOption(values.limit, 'limit', 20, 1, provider === 'dromo' ? 1000 : 200);
  /** @type {Record<string, unknown>} */
  const params = { limit };
  if (values.offset !== undefined) params.offset = intOption(values.offset, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
  if (values.cursor !== undefined) params.cursor = values.cursor;
  const list = api.imports.list(params);
  const cols = provider === 'dromo' ? ['id', 'status', 'created_date', 'original_filename'] : ['id', 'status', 'createdAt', 'count', 'title'];
  if (values.all) {
    // Every page: off a terminal each import is printed as it arrives.
    /** @type {any[]} */
    const items = [];
    for await (const imp of list) {
      if (isTTY) items.push(publicImport(imp));
      else process.stdout.write(jsonText(publicImport(imp)) + '\n');
    }
    if (isTTY) process.stdout.write(items.length ? table(items, cols) : 'no imports\n');
    return EXIT.ok;
  }
  const page = await list;
  const items = (provider === 'dromo' ? page.results : page.data).map(publicImport);
  if (isTTY) {
    process.stdout.write(items.length ? table(items, cols) : 'no imports\n');
    if (provider === 'dromo') {
      const from = Number(params.offset ?? 0);
      if (page.count > from + items.length) {
        process.stdout.write(`(${from + 1}-${from + items.length} of ${page.count}; next: --offset ${from + items.length}, or --all)\n`);
      }
    } else if (page.hasMore && page.nextCursor) {
      process.stdout.write(`(more: --cursor ${terminalSafe(page.nextCursor)}, or --all)\n`);
    }
  } else {
    for (const it of items) process.stdout.write(jsonText(it) + '\n');
    // stdout stays one import per line; where the next page starts goes to stderr for scripts.
    const from = Number(params.offset ?? 0);
    if (provider === 'dromo' && page.count > from + items.length) process.stderr.write(`next: --offset ${from + items.length}\n`);
    if (provider === 'exa' && page.hasMore && page.nextCursor) process.stderr.write(`next: --cursor ${terminalSafe(page.nextCursor)}\n`);
  }
  return EXIT.ok;
}

/** @param {any} api @param {string} id */
async function runStatus(api, id) {
  const imp = publicImport(await api.imports.retrieve(id));
  if (isTTY) {
    const w = Math.max(...Object.keys(imp).map((k) => k.length));
    for (const [k, v] of Object.entries(imp)) {
      process.stdout.write(`${terminalSafe(k).padEnd(w)}  ${v !== null && typeof v === 'object' ? jsonText(v) : terminalSafe(v)}\n`);
    }
  } else {
    process.stdout.write(jsonText(imp) + '\n');
  }
  return EXIT.ok;
}

/**
 * Where `results --out` writes, checked before any request: into a directory (given, or named
 * with a trailing slash) as `<id>.json`; the directory must exist.
 * @param {string} out @param {string} id @param {boolean} ndjson
 */
function resultsFile(out, id, ndjson) {
  const isDir = out.endsWith('/') || out.endsWith(path.sep) || (fs.existsSync(out) && fs.statSync(out).isDirectory());
  const file = isDir ? path.join(out, `${id}.${ndjson ? 'ndjson' : 'json'}`) : out;
  const dir = path.dirname(file);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UsageError(`--out ${out}: the directory ${dir} does not exist`);
  return file;
}

/**
 * Streams an import's rows (`dromo.imports.rows`) to stdout or `out`, as a JSON array or NDJSON.
 * A file is written as `out.partial` and renamed when every row is in: a download that fails
 * never leaves a truncated file under the name asked for.
 * @param {any} api @param {string} id @param {string | undefined} out @param {boolean} ndjson
 */
async function runResults(api, id, out, ndjson) {
  if (out !== undefined) out = resultsFile(out, id, ndjson);
  const rows = api.imports.rows(id)[Symbol.asyncIterator]();
  let next;
  try {
    next = await rows.next();
  } catch (err) {
    // No results yet: say where the import stands instead of the API's bare 4xx.
    const imp = /** @type {any} */ (err)?.status >= 400 ? await api.imports.retrieve(id).catch(() => null) : null;
    if (imp?.status === 'NEEDS_REVIEW') {
      process.stderr.write(`headless-imports: import ${terminalSafe(id)} needs a review first: finish it at ${terminalSafe(imp.review_url)}\n`);
      return EXIT.review;
    }
    if (imp && imp.status !== 'SUCCESSFUL') {
      process.stderr.write(`headless-imports: import ${terminalSafe(id)} is ${terminalSafe(imp.status)}: it has no results${imp.status === 'FAILED' ? '' : ' yet'}\n`);
      return imp.status === 'FAILED' ? EXIT.failed : EXIT.error;
    }
    throw err;
  }
  // A name of our own, created exclusively ('wx'): a file or symlink already there is never
  // written through.
  const partial = out && `${out}.${process.pid}-${Math.random().toString(36).slice(2, 8)}.partial`;
  const target = partial ? fs.createWriteStream(partial, { flags: 'wx' }) : process.stdout;
  if (partial) await once(target, 'open');
  // Waits when the reader is slower than the download (the download then waits too).
  const write = async (/** @type {string} */ text) => {
    if (!target.write(text)) await once(target, 'drain');
  };
  const indent = isTTY || out ? 2 : undefined;
  let count = 0;
  for (; !next.done; next = await rows.next()) {
    const row = jsonText(next.value, indent);
    if (ndjson) await write(`${jsonText(next.value)}\n`);
    // The same text as JSON.stringify(allRows, null, indent), one row at a time.
    else await write(`${count === 0 ? '[' : ','}${indent ? `\n${row.replace(/^/gm, '  ')}` : row}`);
    count++;
  }
  if (!ndjson) await write(count === 0 ? '[]\n' : indent ? '\n]\n' : ']\n');
  if (partial) {
    await new Promise((resolve, reject) => /** @type {fs.WriteStream} */ (target).end((/** @type {unknown} */ e) => (e ? reject(e) : resolve(undefined))));
    fs.renameSync(partial, /** @type {string} */ (out));
    process.stderr.write(`${count} rows written to ${out}\n`);
  }
  return EXIT.ok;
}

// ---------------------------------------------------------------------------------------------
// main
// ---------------------------------------------------------------------------------------------

/**
 * node:util's parse errors, said for this command.
 * @param {{ code?: string, message: string }} err @param {string[]} argv
 */
function parseError(err, argv) {
  const option = /'(-[^' ]+)/.exec(err.message)?.[1] ?? '';
  const command = argv.filter((a) => !a.startsWith('-')).slice(0, 2).join(' ');
  const where = command in ALLOWED ? ` for "${command}" (options: ${ALLOWED[/** @type {keyof typeof ALLOWED} */ (command)].map((o) => `--${o}`).join(' ')})` : '';
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option ${option}${where}`;
  if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    return /does not take/.test(err.message) ? `${option} takes no value` : `${option} needs a value`;
  }
  return message(err);
}

/** @param {string[]} argv */
async function main(argv) {
  // --help wins over everything else, even unknown flags: find the command loosely.
  if (argv.includes('--help') || argv.includes('-h')) {
    const words = argv.filter((a) => !a.startsWith('-'));
    const key = words.slice(0, 2).join(' ');
    const text = /** @type {Record<string, string>} */ (HELP)[key] ?? /** @type {Record<string, string>} */ (HELP)[words[0]] ?? HELP.main;
    process.stdout.write(text + '\n');
    return EXIT.ok;
  }
  /** @type {{ values: Record<string, any>, positionals: string[] }} */
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(parseError(/** @type {any} */ (err), argv));
  }
  const { values, positionals } = parsed;
  if (values.json) isTTY = false;
  if (values.version) {
    process.stdout.write(version() + '\n');
    return EXIT.ok;
  }
  const [provider, command, ...rest] = positionals;
  if (!provider) throw new UsageError('missing a provider: dromo or exa');
  if (provider !== 'dromo' && provider !== 'exa') throw new UsageError(`unknown provider "${provider}" (dromo or exa)`);
  if (!command) throw new UsageError(`missing a command: ${provider} ${provider === 'dromo' ? 'import|list|status|results' : 'import|list|status'}`);
  const key = /** @type {keyof typeof ALLOWED} */ (`${provider} ${command}`);
  if (!(key in ALLOWED)) throw new UsageError(`unknown command "${provider} ${command}"`);
  const wrong = Object.keys(values).find((o) => !ALLOWED[key].includes(o));
  if (wrong) throw new UsageError(`--${wrong} does not apply to "${key}"`);

  if (command === 'webhook') {
    if (rest.length !== 1 || rest[0] !== 'listen') throw new UsageError(`"${key}" takes one subcommand: listen`);
    // Listening calls no API: no key is needed (one given is used as usual).
    const needsNoKey = values['api-key'] ?? process.env[`${provider === 'dromo' ? 'DROMO' : 'EXA'}_API_KEY`] ? {} : { apiKey: 'not-used-to-listen' };
    return runWebhookListen(provider, client(provider, values, needsNoKey), values);
  }
  if (command === 'import') {
    const plan = planImport(provider, values, rest);
    if (values['webhook-port'] === undefined) return runImport(client(provider, values), plan);
    // Waits sleep until the events this receiver gets (a poll a minute stays as the fallback).
    const secret = provider === 'exa' ? webhookSecret(values) : undefined;
    if (provider === 'exa' && !secret) throw new UsageError('--webhook-port needs the webhook secret: --webhook-secret or EXA_WEBHOOK_SECRET');
    const api = client(provider, values, { webhooks: true });
    const server = await listen(api, values['webhook-port'], secret, () => {});
    try {
      return await runImport(api, plan);
    } finally {
      server.close();
    }
  }
  if (command === 'list') {
    if (rest.length) throw new UsageError(`unexpected argument "${rest[0]}"`);
    intOption(values.limit, 'limit', 20, 1, provider === 'dromo' ? 1000 : 200);
    if (values.offset !== undefined) intOption(values.offset, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
    if (values.all && (values.offset !== undefined || values.cursor !== undefined)) {
      throw new UsageError('--all starts at the first import: leave out --offset/--cursor');
    }
    return runList(provider, client(provider, values), values);
  }
  if (rest.length !== 1) throw new UsageError(`"${key}" takes exactly one import id`);
  if (command === 'status') return runStatus(client(provider, values), rest[0]);
  return runResults(client(provider, values), rest[0], values.out, Boolean(values.ndjson));
}

/** Set while an import runs: its output is a log, and the imports must not stop when it is. */
let importing = false;

// `results <id> | head`: the reader left, which is not an error of ours: stop there. An import
// whose reader left goes on (imports half made are worse than a log nobody reads), silently,
// and exits as its outcome says.
process.stdout.on('error', (err) => {
  const code = /** @type {any} */ (err).code;
  if (importing && (code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED')) return;
  if (code === 'EPIPE') process.exit(process.exitCode ?? EXIT.ok);
  throw err;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    // A run that ends before any file with journal_unusable had its journal refused as it opened,
    // before any request (a write failing later is that file's error, not the run's).
    const code = err?.code === 'journal_unusable' ? EXIT.usage : exitFor(err);
    process.stderr.write(`headless-imports: ${message(err)}\n`);
    if (code === EXIT.usage) process.stderr.write('Run "headless-imports --help" for usage.\n');
    process.exitCode = code;
  },
);

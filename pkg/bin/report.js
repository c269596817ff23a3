// @ts-check
// Output of `headless-imports <provider> import`: on a terminal, a live block (one progress bar or
// status line per running file, finished files printed above it for good); anywhere else, one JSON
// object per line (NDJSON) per event, for scripts. No dependency: ANSI escapes only.

/**
 * Control characters (C0, DEL, C1) and the Unicode controls that reorder or hide text (bidi
 * overrides and isolates, line and paragraph separators). Text from a server or a file name could
 * otherwise retitle the terminal, clear the screen or make one thing read as another.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * `text` made safe to print on a terminal: every control character shown as `\uXXXX`, on one line.
 * For anything that came from a server or a file: messages, ids, statuses, names.
 * @param {unknown} text
 */
export function terminalSafe(text) {
  return String(text).replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * One JSON line that is also safe on a terminal: JSON.stringify escapes C0 controls but leaves C1
 * and bidi controls as they are; those are escaped too (still the same JSON value).
 * @param {unknown} value
 * @param {string | number} [indent]
 */
export function jsonText(value, indent) {
  return JSON.stringify(value, null, indent).replace(UNSAFE_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** What JSON.stringify leaves raw in strings (its own output has no other control but newlines). */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * @typedef {{ event: string, file?: string, importId?: string, [k: string]: unknown }} CliEvent
 * @typedef {{ emit(e: CliEvent): void, finish(): void, note(text: string): void }} Reporter
 */

/** NDJSON on stdout. Progress is thinned to the first, the last and one per 200 ms per file. */
export function ndjsonReporter(out = process.stdout) {
  /** @type {Map<string, number>} */
  const lastProgress = new Map();
  return {
    /** @param {CliEvent} e */
    emit(e) {
      if (e.event === 'progress') {
        const key = String(e.file);
        const now = Date.now();
        const last = lastProgress.get(key);
        const final = e.loaded === e.total;
        if (last !== undefined && !final && now - last < 200) return;
        lastProgress.set(key, now);
      }
      out.write(jsonText(e) + '\n');
    },
    finish() {},
    /** @param {string} _text */
    note(_text) {},
  };
}

const BAR = 24;
const SPIN = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** @param {number} n */
function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GB`;
}

/** @param {number} loaded @param {number} total */
export function progressBar(loaded, total) {
  const frac = total > 0 ? Math.min(1, loaded / total) : 1;
  const full = Math.round(frac * BAR);
  const pct = String(Math.floor(frac * 100)).padStart(3);
  return `[${'█'.repeat(full)}${'░'.repeat(BAR - full)}] ${pct}%`;
}

/**
 * Live terminal output. Only running files occupy the redrawn block, so its height stays at most
 * `--concurrency` + 1 lines whatever the number of files.
 * @param {string[]} files display names, in order
 * @param {NodeJS.WriteStream} out
 */
export function ttyReporter(files, out = process.stdout) {
  /** @typedef {{ name: string, phase: string, loaded: number, total: number, status?: string, since: number, id?: string, until?: number, slot?: string }} Row */
  /** @type {Map<string, Row>} */
  const rows = new Map();
  /** @type {string[]} */
  const settled = [];
  let drawn = 0;
  let finished = false;
  let tick = 0;
  let lastDraw = 0;
  const width = Math.max(20, (out.columns || 80) - 1);
  const nameWidth = Math.min(28, Math.max(...files.map((f) => f.length), 4));
  const start = Date.now();
  let done = 0;
  let failed = 0;
  const fit = (/** @type {string} */ s) => ([...s].length > width ? [...s].slice(0, width - 1).join('') + '…' : s);
  const label = (/** @type {string} */ n) => (n.length > nameWidth ? n.slice(0, nameWidth - 1) + '…' : n.padEnd(nameWidth));

  function line(/** @type {Row} */ r) {
    const secs = ((Date.now() - r.since) / 1000).toFixed(1);
    if (r.phase === 'creating') return `${label(r.name)}  ${SPIN[tick % SPIN.length]} creating import…`;
    if (r.phase === 'queued') {
      const left = Math.max(0, Math.ceil(((r.until ?? 0) - Date.now()) / 1000));
      return `${label(r.name)}  ${SPIN[tick % SPIN.length]} waiting for a ${r.slot} slot (rate limit), ${left} s`;
    }
    if (r.phase === 'counting') return `${label(r.name)}  ${SPIN[tick % SPIN.length]} counting records…`;
    if (r.phase === 'uploading') {
      return `${label(r.name)}  ${progressBar(r.loaded, r.total)}  ${bytes(r.loaded)}/${bytes(r.total)}  uploading`;
    }
    if (r.phase === 'waiting') {
      return `${label(r.name)}  ${SPIN[tick % SPIN.length]} status ${r.status ?? '…'}  ${secs}s  (import ${r.id})`;
    }
    if (r.phase === 'results') return `${label(r.name)}  ${SPIN[tick % SPIN.length]} fetching results…`;
    return `${label(r.name)}  ${r.phase}`;
  }

  function draw() {
    lastDraw = Date.now();
    let s = drawn > 0 ? `\x1b[${drawn}F\x1b[J` : '';
    for (const l of settled.splice(0)) s += terminalSafe(l) + '\n'; // printed for good: may wrap
    const active = [...rows.values()];
    for (const r of active) s += fit(terminalSafe(line(r))) + '\n';
    const waiting = files.length - done - active.length;
    const ended = failed ? ` (${failed} failed)` : '';
    const footer = `${done}/${files.length} finished${ended}${waiting > 0 ? `, ${waiting} not started` : ''}  ${((Date.now() - start) / 1000).toFixed(1)}s`;
    s += fit(footer) + '\n';
    drawn = active.length + 1;
    out.write(s);
  }

  out.write('\x1b[?25l'); // hide the cursor while redrawing
  const timer = setInterval(() => {
    tick++;
    draw();
  }, 100);
  timer.unref();

  /** @param {string} file */
  const row = (file) => {
    let r = rows.get(file);
    if (!r) rows.set(file, (r = { name: file, phase: 'creating', loaded: 0, total: 0, since: Date.now() }));
    return r;
  };

  return {
    /** @param {CliEvent} e */
    emit(e) {
      const file = String(e.file ?? '');
      if (e.event === 'start') {
        Object.assign(row(file), { phase: e.phase ?? 'creating', since: Date.now() });
      } else if (e.event === 'queued') {
        const r = row(file);
        // While waiting to create, or between polls: the line says which slot and how long.
        if (r.phase === 'creating' || e.for === 'create') Object.assign(r, { phase: 'queued', slot: e.for, until: Date.now() + Number(e.waitMs) });
      } else if (e.event === 'created') {
        Object.assign(row(file), { phase: 'uploading', id: e.importId, total: Number(e.size ?? 0) });
      } else if (e.event === 'progress') {
        Object.assign(row(file), { phase: 'uploading', loaded: e.loaded, total: e.total });
      } else if (e.event === 'uploaded') {
        Object.assign(row(file), { phase: 'waiting', status: e.status, since: Date.now() });
      } else if (e.event === 'status') {
        const r = row(file);
        if (r.phase !== 'waiting') r.since = Date.now();
        Object.assign(r, { phase: 'waiting', status: e.status });
      } else if (e.event === 'results') {
        Object.assign(row(file), { phase: 'results' });
      } else if (e.event === 'resumed') {
        // A journaled import picked up again (--journal): its upload or its wait goes on.
        Object.assign(row(file), { phase: e.action === 'upload' ? 'uploading' : 'waiting', id: e.importId, since: Date.now() });
      } else if (e.event === 'abandoned' || e.event === 'left' || e.event === 'recovered' || e.event === 'note') {
        settled.push(`${label(file)}  ↻ ${e.message}`);
      } else if (e.event === 'done' || e.event === 'error') {
        rows.delete(file);
        done++;
        if (e.event === 'error') failed++;
        settled.push(`${label(file)}  ${describe(e)}`);
      } else {
        return;
      }
      // Progress may fire thousands of times: redraw at most every 100 ms, and at 100 %.
      if (e.event === 'progress' && e.loaded !== e.total && Date.now() - lastDraw < 100) return;
      draw();
    },
    finish() {
      // Once: the footer is the last line, drawn for good.
      if (finished) return;
      finished = true;
      clearInterval(timer);
      draw();
      out.write('\x1b[?25h');
    },
    /** @param {string} text */
    note(text) {
      settled.push(text);
      draw();
    },
  };
}

/** @param {CliEvent} e */
function describe(e) {
  const id = e.importId ? `  (import ${e.importId})` : '';
  // Whether the import a failed file made is gone: its cleanup deleted it, or could not.
  const gone = e.deleted === true ? ', deleted' : e.deleted === false ? ', NOT deleted' : '';
  const withId = e.importId ? `  (import ${e.importId}${gone})` : '';
  if (e.event === 'error' && e.code === 'aborted') return `✖ interrupted${withId}`;
  if (e.event === 'error') {
    const status = e.status ? `${e.status}: ` : '';
    // Exa's failure messages name the import already.
    const named = e.importId && String(e.message).includes(String(e.importId));
    return `✖ ${status}${e.message}${named ? gone && `  (${gone.slice(2)})` : withId}${e.earlier ? '  (earlier run)' : ''}`;
  }
  if (e.status === 'NEEDS_REVIEW') return `! NEEDS_REVIEW: finish it at ${e.reviewUrl}`;
  if (e.waited === false) return `✔ uploaded, not waiting (status ${e.status})${id}`;
  const rows = typeof e.rows === 'number' ? `  ${e.rows} rows` : '';
  const to = e.out ? ` → ${e.out}` : '';
  return `✔ ${e.status}${rows}${to}${id}${e.earlier ? '  (earlier run)' : ''}`;
}
